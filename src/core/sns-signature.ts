// The signature SNS puts on every message it posts to an HTTP(S) subscription, checked before the
// message is acted on (http.events.snsSignatures: verify). Pure: which fields are signed and how, which
// certificate URL may be fetched, and the RSA check itself; fetching the certificate is an adapter's
// (adapters/sns-certificates.ts).
//
// AWS, "Verifying the signatures of Amazon SNS messages": the string to sign is "Name\nValue\n" for each
// signed field, in byte order of the names — for a Notification Message, MessageId, Subject (only when
// the message has one), Timestamp, TopicArn, Type; for a SubscriptionConfirmation or an
// UnsubscribeConfirmation Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type. The values
// are the JSON strings decoded (escapes turned back into their characters). `Signature` is base64 of
// SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2) over it, by the key of the X.509 certificate
// at `SigningCertURL`.
import { createVerify, type KeyObject } from 'node:crypto';
import { checkSnsUrl, type SnsMessageType } from './sns-messages.js';

/** The node:crypto algorithm of each SignatureVersion SNS uses. */
export const SNS_SIGNATURE_ALGORITHMS = { '1': 'RSA-SHA1', '2': 'RSA-SHA256' } as const;
export type SnsSignatureAlgorithm = (typeof SNS_SIGNATURE_ALGORITHMS)[keyof typeof SNS_SIGNATURE_ALGORITHMS];

const SIGNED_FIELDS: Record<SnsMessageType, readonly string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** A message's signature, ready to check against its certificate's key. */
export interface SnsSignedMessage {
  type: SnsMessageType;
  topicArn: string;
  algorithm: SnsSignatureAlgorithm;
  signature: Buffer;
  certUrl: URL;
  stringToSign: string;
}

/** The algorithm of a SignatureVersion ("1" or "2"); undefined for any other. */
export function signatureAlgorithmFor(version: unknown): SnsSignatureAlgorithm | undefined {
  return version === '1' || version === '2' ? SNS_SIGNATURE_ALGORITHMS[version] : undefined;
}

/**
 * The string SNS signed for a message of `type`: "Name\nValue\n" per signed field, in AWS's order.
 * Not ok when a field it needs is missing or not a string (a Notification's Subject is optional).
 */
export function snsStringToSign(
  type: SnsMessageType,
  fields: Record<string, unknown>,
): { ok: true; text: string } | { ok: false; problem: string } {
  let text = '';
  for (const name of SIGNED_FIELDS[type]) {
    const value = fields[name];
    if (name === 'Subject' && value === undefined) continue;
    if (typeof value !== 'string') return { ok: false, problem: `SNS ${type} lacks ${name} as a string` };
    text += `${name}\n${value}\n`;
  }
  return { ok: true, text };
}

/**
 * Whether a SigningCertURL may be fetched: what checkSnsUrl asks of any SNS URL (https, an SNS host,
 * default port, no credentials), and a path ending in `.pem` (SNS serves its certificates as
 * /SimpleNotificationService-<hash>.pem).
 */
export function checkSigningCertUrl(
  raw: string,
): { ok: true; url: URL } | { ok: false; problem: string; host?: string } {
  const checked = checkSnsUrl(raw, 'SigningCertURL');
  if (!checked.ok) return checked;
  if (!checked.url.pathname.endsWith('.pem')) {
    return { ok: false, problem: 'SigningCertURL is not a .pem file', host: checked.url.hostname };
  }
  return checked;
}

/**
 * Reads what checking an SNS message's signature needs. Not ok (the message is refused, nothing done)
 * when the signature is missing or not base64, its version is not 1 or 2, its SigningCertURL is not
 * an SNS .pem URL, or a signed field is missing. `topicArn` and `host` are for the refusal's log line.
 */
export function readSnsSignature(
  type: SnsMessageType,
  fields: Record<string, unknown>,
): { ok: true; signed: SnsSignedMessage } | { ok: false; problem: string; topicArn?: string; host?: string } {
  const topicArn = typeof fields['TopicArn'] === 'string' ? fields['TopicArn'] : undefined;
  const refuse = (problem: string, host?: string) => ({
    ok: false as const,
    problem,
    ...(topicArn === undefined ? {} : { topicArn }),
    ...(host === undefined ? {} : { host }),
  });
  const signature = fields['Signature'];
  if (typeof signature !== 'string' || signature === '') return refuse(`SNS ${type} has no Signature`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return refuse('SNS Signature is not base64');
  const algorithm = signatureAlgorithmFor(fields['SignatureVersion']);
  if (algorithm === undefined) return refuse('SNS SignatureVersion is not "1" or "2"');
  const certUrl = fields['SigningCertURL'];
  if (typeof certUrl !== 'string' || certUrl === '') return refuse(`SNS ${type} has no SigningCertURL`);
  const checked = checkSigningCertUrl(certUrl);
  if (!checked.ok) return refuse(checked.problem, checked.host);
  const toSign = snsStringToSign(type, fields);
  if (!toSign.ok) return refuse(toSign.problem, checked.url.hostname);
  return {
    ok: true,
    signed: {
      type,
      topicArn: topicArn ?? '',
      algorithm,
      signature: Buffer.from(signature, 'base64'),
      certUrl: checked.url,
      stringToSign: toSign.text,
    },
  };
}

/**
 * True when `signed.signature` is the RSA signature of its string to sign by `key` (the public key of
 * the SigningCertURL's certificate). A key that is not RSA never verifies: SNS signs with RSA only.
 */
export function isSnsSignatureValid(signed: SnsSignedMessage, key: KeyObject): boolean {
  if (key.asymmetricKeyType !== 'rsa') return false;
  const verifier = createVerify(signed.algorithm);
  verifier.update(signed.stringToSign, 'utf8');
  return verifier.verify(key, signed.signature);
}
