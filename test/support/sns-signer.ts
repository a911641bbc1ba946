// Signs SNS messages as SNS does, with a key pair of the test's own, and serves its public key as the
// "certificate" at the SigningCertURL through a fake fetch (node:crypto verifies with a public key PEM
// as with a certificate). The string to sign is written out here from AWS's documentation, not taken
// from src/core, so a mistake there does not sign and verify alike.
import { createSign, generateKeyPairSync } from 'node:crypto';
import type { CertFetchLike } from '../../src/adapters/sns-certificates.js';

export const TEST_SIGNING_CERT_URL =
  'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000a.pem';

export interface SnsSigner {
  /** The message with Signature, SignatureVersion and SigningCertURL added (SignatureVersion 2 unless said). */
  sign(
    message: Record<string, string>,
    options?: { version?: '1' | '2'; certUrl?: string },
  ): Record<string, string>;
  /** A fake fetch serving the public key PEM at any URL; `fetched` lists the URLs asked for. */
  certFetch: CertFetchLike;
  fetched: string[];
  publicKeyPem: string;
}

export function createSnsSigner(): SnsSigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const fetched: string[] = [];
  return {
    sign: (message, options = {}) => {
      const version = options.version ?? '2';
      const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
      signer.update(stringToSign(message));
      return {
        ...message,
        SignatureVersion: version,
        Signature: signer.sign(privateKey, 'base64'),
        SigningCertURL: options.certUrl ?? TEST_SIGNING_CERT_URL,
      };
    },
    certFetch: (url) => {
      fetched.push(url);
      return Promise.resolve(new Response(publicKeyPem));
    },
    fetched,
    publicKeyPem,
  };
}

/** AWS's string to sign: "Name\nValue\n" for the signed fields of the message's Type, in this order. */
function stringToSign(message: Record<string, string>): string {
  const names =
    message['Type'] === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return names
    .filter((name) => message[name] !== undefined)
    .map((name) => `${name}\n${message[name]}\n`)
    .join('');
}
