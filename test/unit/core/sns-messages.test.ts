import { describe, expect, it } from 'vitest';
import {
  checkSubscribeUrl,
  isSnsControlType,
  readSnsControlMessage,
  subscriptionArnIn,
} from '../../../src/core/sns-messages.js';

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:exports';
const SUBSCRIBE_URL =
  'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:111122223333:exports&Token=2336412f37';

describe('checkSubscribeUrl', () => {
  it.each([
    ['a commercial region', SUBSCRIBE_URL],
    ['a China region', 'https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=x'],
    ['a GovCloud region', 'https://sns.us-gov-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x'],
    ['an upper-case host (URLs lower-case it)', 'https://SNS.US-EAST-1.AMAZONAWS.COM/?Token=x'],
    ['an explicit default port', 'https://sns.us-east-1.amazonaws.com:443/?Token=x'],
  ])('fetches %s', (_label, url) => {
    expect(checkSubscribeUrl(url).ok).toBe(true);
  });

  it.each([
    [
      'http',
      'http://sns.us-east-1.amazonaws.com/?Token=x',
      'SubscribeURL is not https',
      'sns.us-east-1.amazonaws.com',
    ],
    [
      'another AWS service',
      'https://s3.us-east-1.amazonaws.com/x',
      'host is not',
      's3.us-east-1.amazonaws.com',
    ],
    [
      'a look-alike suffix',
      'https://sns.us-east-1.amazonaws.com.evil.example/',
      'host is not',
      'sns.us-east-1.amazonaws.com.evil.example',
    ],
    [
      'a look-alike prefix',
      'https://evilsns.us-east-1.amazonaws.com/',
      'host is not',
      'evilsns.us-east-1.amazonaws.com',
    ],
    [
      'a sub-domain of the host',
      'https://x.sns.us-east-1.amazonaws.com/',
      'host is not',
      'x.sns.us-east-1.amazonaws.com',
    ],
    ['a dotted region', 'https://sns.us.east.amazonaws.com/', 'host is not', 'sns.us.east.amazonaws.com'],
    [
      'a trailing dot',
      'https://sns.us-east-1.amazonaws.com./',
      'host is not',
      'sns.us-east-1.amazonaws.com.',
    ],
    ['a loopback address', 'https://127.0.0.1/', 'host is not', '127.0.0.1'],
    ['the metadata address', 'http://169.254.169.254/latest/meta-data/', 'not https', '169.254.169.254'],
    [
      'another port',
      'https://sns.us-east-1.amazonaws.com:8443/',
      'names a port',
      'sns.us-east-1.amazonaws.com',
    ],
    [
      'credentials',
      'https://a:b@sns.us-east-1.amazonaws.com/',
      'carries credentials',
      'sns.us-east-1.amazonaws.com',
    ],
    [
      'credentials hiding the host',
      'https://sns.us-east-1.amazonaws.com@evil.example/',
      'host is not',
      'evil.example',
    ],
    ['not a URL', 'sns.us-east-1.amazonaws.com/?Token=x', 'not a URL', undefined],
  ])('refuses %s', (_label, url, problem, host) => {
    const checked = checkSubscribeUrl(url);
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.problem).toContain(problem);
    expect(checked.host).toBe(host);
  });
});

describe('readSnsControlMessage', () => {
  const confirmation = {
    Type: 'SubscriptionConfirmation',
    MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
    Token: '2336412f37',
    TopicArn: TOPIC,
    Message: 'You have chosen to subscribe to the topic …',
    SubscribeURL: SUBSCRIBE_URL,
    Timestamp: '2026-12-07T05:00:00.000Z',
    SignatureVersion: '1',
  };

  it('reads a SubscriptionConfirmation', () => {
    expect(readSnsControlMessage('SubscriptionConfirmation', confirmation)).toEqual({
      ok: true,
      message: { type: 'SubscriptionConfirmation', topicArn: TOPIC, subscribeUrl: SUBSCRIBE_URL },
    });
  });

  it('reads an UnsubscribeConfirmation', () => {
    const body = { ...confirmation, Type: 'UnsubscribeConfirmation' };
    expect(readSnsControlMessage('UnsubscribeConfirmation', body)).toEqual({
      ok: true,
      message: { type: 'UnsubscribeConfirmation', topicArn: TOPIC },
    });
  });

  it.each([
    ['an array', [], /must be a JSON object/],
    ['a Type other than the header', { ...confirmation, Type: 'Notification' }, /does not match/],
    ['no TopicArn', { ...confirmation, TopicArn: undefined }, /lacks TopicArn/],
    ['no SubscribeURL', { ...confirmation, SubscribeURL: '' }, /lacks SubscribeURL/],
  ])('refuses %s', (_label, body, problem) => {
    const read = readSnsControlMessage('SubscriptionConfirmation', body);
    expect(read.ok).toBe(false);
    expect(read.ok ? '' : read.problem).toMatch(problem);
  });
});

describe('isSnsControlType', () => {
  it.each([
    ['SubscriptionConfirmation', true],
    ['UnsubscribeConfirmation', true],
    ['Notification', false],
    [undefined, false],
  ])('%s → %s', (header, expected) => {
    expect(isSnsControlType(header)).toBe(expected);
  });
});

describe('subscriptionArnIn', () => {
  it('finds the SubscriptionArn of a ConfirmSubscription answer', () => {
    const answer = `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ConfirmSubscriptionResult><SubscriptionArn>${TOPIC}:8a21d249</SubscriptionArn></ConfirmSubscriptionResult>
</ConfirmSubscriptionResponse>`;
    expect(subscriptionArnIn(answer)).toBe(`${TOPIC}:8a21d249`);
    expect(subscriptionArnIn('<Other/>')).toBeUndefined();
  });
});
