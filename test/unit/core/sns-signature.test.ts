// The pure half of SNS signature checking: the string to sign (AWS's documented examples), the
// SignatureVersion → algorithm table, the SigningCertURL check, and the RSA check with a key of the
// test's own (test/support/sns-signer.ts signs as SNS does).
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkSigningCertUrl,
  isSnsSignatureValid,
  readSnsSignature,
  signatureAlgorithmFor,
  snsStringToSign,
} from '../../../src/core/sns-signature.js';
import { createSnsSigner } from '../../support/sns-signer.js';

const TOPIC = 'arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P';
const signer = createSnsSigner();
const key = createPublicKey(signer.publicKeyPem);

const notification = (extra: Record<string, string> = {}) => ({
  Type: 'Notification',
  MessageId: '4d4dc071-ddbf-465d-bba8-08f81c89da64',
  TopicArn: TOPIC,
  Message: '{"Records":[{"eventName":"ObjectCreated:Put"}]}\nline two',
  Timestamp: '2019-01-31T04:37:04.321Z',
  ...extra,
});
const confirmation = (type = 'SubscriptionConfirmation') => ({
  Type: type,
  MessageId: '3d891288-136d-417f-bc05-901c108273ee',
  Token: '233abc',
  TopicArn: TOPIC,
  Message: 'You have chosen to subscribe to the topic.',
  SubscribeURL: `https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=233abc`,
  Timestamp: '2019-01-31T19:25:13.719Z',
});

/** readSnsSignature then isSnsSignatureValid, as the route does. */
function verifies(fields: Record<string, unknown>): boolean {
  const read = readSnsSignature(fields['Type'] as 'Notification', fields);
  if (!read.ok) throw new Error(read.problem);
  return isSnsSignatureValid(read.signed, key);
}

describe('snsStringToSign', () => {
  it("builds AWS's example for a Notification with a Subject", () => {
    const text = snsStringToSign('Notification', {
      ...notification({ Subject: 'My subject' }),
      Message: 'My Test Message',
      SignatureVersion: '1',
      UnsubscribeURL: 'https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe',
    });
    expect(text).toEqual({
      ok: true,
      text:
        'Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\nSubject\nMy subject\n' +
        `Timestamp\n2019-01-31T04:37:04.321Z\nTopicArn\n${TOPIC}\nType\nNotification\n`,
    });
  });

  it('leaves Subject out of a Notification that has none', () => {
    const text = snsStringToSign('Notification', notification());
    expect(text.ok && text.text).not.toContain('Subject');
    expect(text.ok && text.text.startsWith('Message\n{"Records"')).toBe(true);
  });

  it.each(['SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const)(
    "builds AWS's example for a %s (SubscribeURL and Token signed)",
    (type) => {
      const text = snsStringToSign(type, { ...confirmation(type), Message: 'My Test Message' });
      expect(text).toEqual({
        ok: true,
        text:
          'Message\nMy Test Message\nMessageId\n3d891288-136d-417f-bc05-901c108273ee\n' +
          `SubscribeURL\nhttps://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=233abc\n` +
          `Timestamp\n2019-01-31T19:25:13.719Z\nToken\n233abc\nTopicArn\n${TOPIC}\nType\n${type}\n`,
      });
    },
  );

  it.each([
    ['Notification', 'Timestamp'],
    ['Notification', 'MessageId'],
    ['SubscriptionConfirmation', 'Token'],
  ] as const)('is not ok when a %s lacks %s', (type, field) => {
    const fields: Record<string, unknown> = type === 'Notification' ? notification() : confirmation();
    delete fields[field];
    expect(snsStringToSign(type, fields)).toEqual({
      ok: false,
      problem: `SNS ${type} lacks ${field} as a string`,
    });
  });
});

describe('signatureAlgorithmFor', () => {
  it.each([
    ['1', 'RSA-SHA1'],
    ['2', 'RSA-SHA256'],
    ['3', undefined],
    [1, undefined],
    [undefined, undefined],
  ])('maps SignatureVersion %j to %s', (version, algorithm) => {
    expect(signatureAlgorithmFor(version)).toBe(algorithm);
  });
});

describe('checkSigningCertUrl', () => {
  it.each([
    'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem',
    'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-3250158c6506d40628b19a9d5fbbe5e4.pem',
  ])('accepts %s', (url) => {
    expect(checkSigningCertUrl(url).ok).toBe(true);
  });

  it.each([
    ['http://sns.us-east-1.amazonaws.com/x.pem', 'SigningCertURL is not https'],
    [
      'https://evil.example/SimpleNotificationService-1.pem',
      'SigningCertURL host is not sns.<region>.amazonaws.com',
    ],
    ['https://sns.us-east-1.amazonaws.com.evil.example/x.pem', 'SigningCertURL host is not'],
    ['https://s3.us-east-1.amazonaws.com/bucket/x.pem', 'SigningCertURL host is not'],
    ['https://sns.us-east-1.amazonaws.com:8443/x.pem', 'SigningCertURL names a port'],
    ['https://u:p@sns.us-east-1.amazonaws.com/x.pem', 'SigningCertURL carries credentials'],
    ['https://sns.us-east-1.amazonaws.com/?Action=x', 'SigningCertURL is not a .pem file'],
    ['https://sns.us-east-1.amazonaws.com/x.pem/other', 'SigningCertURL is not a .pem file'],
    ['not a url', 'SigningCertURL is not a URL'],
  ])('refuses %s', (url, problem) => {
    const checked = checkSigningCertUrl(url);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.problem).toContain(problem);
  });
});

describe('readSnsSignature and isSnsSignatureValid', () => {
  it.each(['1', '2'] as const)('verifies a Notification signed with SignatureVersion %s', (version) => {
    expect(verifies(signer.sign(notification(), { version }))).toBe(true);
  });

  it('verifies a Notification with a Subject, and refuses it once the Subject is removed or changed', () => {
    const signed = signer.sign(notification({ Subject: 'Amazon S3 Notification' }));
    expect(verifies(signed)).toBe(true);
    const { Subject: _gone, ...withoutSubject } = signed;
    expect(verifies(withoutSubject)).toBe(false);
    expect(verifies({ ...signed, Subject: 'Amazon S3 Notification!' })).toBe(false);
  });

  it('refuses a Notification signed without a Subject once one is added', () => {
    expect(verifies({ ...signer.sign(notification()), Subject: 'added' })).toBe(false);
  });

  it.each(['SubscriptionConfirmation', 'UnsubscribeConfirmation'])('verifies a signed %s', (type) => {
    expect(verifies(signer.sign(confirmation(type), { version: '1' }))).toBe(true);
  });

  it.each(['Message', 'MessageId', 'Timestamp', 'TopicArn'])(
    'refuses a Notification whose %s was changed',
    (field) => {
      const signed = signer.sign(notification());
      expect(verifies({ ...signed, [field]: `${signed[field]}x` })).toBe(false);
    },
  );

  it('refuses a confirmation whose SubscribeURL was changed', () => {
    const signed = signer.sign(confirmation());
    expect(verifies({ ...signed, SubscribeURL: 'https://sns.us-east-2.amazonaws.com/?Token=other' })).toBe(
      false,
    );
  });

  it('refuses a signature made with SHA-1 but announced as SignatureVersion 2', () => {
    expect(verifies({ ...signer.sign(notification(), { version: '1' }), SignatureVersion: '2' })).toBe(false);
  });

  it('refuses a signature by another key', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const read = readSnsSignature('Notification', signer.sign(notification()));
    expect(read.ok && isSnsSignatureValid(read.signed, other)).toBe(false);
  });

  it('refuses a key that is not RSA', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const read = readSnsSignature('Notification', signer.sign(notification()));
    expect(read.ok && isSnsSignatureValid(read.signed, ec)).toBe(false);
  });

  it.each([
    ['no Signature', { Signature: undefined }, 'SNS Notification has no Signature'],
    ['a Signature that is not base64', { Signature: 'not base64!' }, 'SNS Signature is not base64'],
    ['SignatureVersion 3', { SignatureVersion: '3' }, 'SNS SignatureVersion is not "1" or "2"'],
    ['no SigningCertURL', { SigningCertURL: undefined }, 'SNS Notification has no SigningCertURL'],
    [
      'a SigningCertURL on another host',
      { SigningCertURL: 'https://evil.example/cert.pem' },
      'SigningCertURL host is not sns.<region>.amazonaws.com',
    ],
    ['no Timestamp', { Timestamp: undefined }, 'SNS Notification lacks Timestamp as a string'],
  ])('is not ok with %s, naming the topic and the reason', (_label, change, problem) => {
    const fields = { ...signer.sign(notification()), ...change };
    const read = readSnsSignature('Notification', fields);
    expect(read).toMatchObject({ ok: false, problem, topicArn: TOPIC });
  });

  it('names the host of a refused SigningCertURL', () => {
    const read = readSnsSignature('Notification', {
      ...signer.sign(notification()),
      SigningCertURL: 'https://evil.example/cert.pem',
    });
    expect(read).toMatchObject({ ok: false, host: 'evil.example' });
  });
});
