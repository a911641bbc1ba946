import { describe, expect, it } from 'vitest';
import { decodeS3EventKey, parseObjectEvents } from '../../../src/core/object-events.js';

/** An S3 event notification record as S3 (or MinIO, with `s3:` before the name) sends it. */
function record(key: string, overrides: { eventName?: string; bucket?: string; eTag?: string } = {}) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    eventName: overrides.eventName ?? 'ObjectCreated:Put',
    s3: {
      s3SchemaVersion: '1.0',
      bucket: { name: overrides.bucket ?? 'exports', arn: 'arn:aws:s3:::exports' },
      object: { key, size: 5, eTag: overrides.eTag ?? 'b1946ac92492d2347c6235b4d2611184', sequencer: '0A' },
    },
  };
}

/** An EventBridge "Object Created" event as an API destination sends it. */
function eventBridge(key: string, detailType = 'Object Created') {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': detailType,
    source: 'aws.s3',
    detail: {
      version: '0',
      bucket: { name: 'exports' },
      object: { key, size: 5, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '617f08299329d189' },
      reason: 'PutObject',
    },
  };
}

const parse = (body: unknown) => parseObjectEvents(JSON.stringify(body));

describe('parseObjectEvents', () => {
  it('reads the bucket, key and etag of each S3 notification record', () => {
    expect(parse({ Records: [record('acme/a.csv'), record('acme/b.csv', { eTag: '"abc"' })] })).toEqual({
      ok: true,
      format: 's3-notification',
      events: [
        { bucket: 'exports', key: 'acme/a.csv', etag: 'b1946ac92492d2347c6235b4d2611184' },
        { bucket: 'exports', key: 'acme/b.csv', etag: 'abc' },
      ],
      ignored: 0,
    });
  });

  it('decodes notification keys the S3 way: "+" is a space and "%2B" a plus', () => {
    const parsed = parse({ Records: [record('acme/red+flower.csv'), record('acme/a%2Bb.csv')] });
    expect(parsed.ok && parsed.events.map((e) => e.key)).toEqual(['acme/red flower.csv', 'acme/a+b.csv']);
  });

  it('decodes the "%2F" MinIO sends for "/" and non-ASCII keys', () => {
    const parsed = parse({
      Records: [record('acme%2F2026%2Fd%C3%A9j%C3%A0.csv', { eventName: 's3:ObjectCreated:Put' })],
    });
    expect(parsed.ok && parsed.events.map((e) => e.key)).toEqual(['acme/2026/déjà.csv']);
  });

  it('counts deletes and other event names as ignored', () => {
    const parsed = parse({
      Records: [
        record('acme/a.csv', { eventName: 'ObjectRemoved:Delete' }),
        record('acme/b.csv', { eventName: 's3:ObjectRemoved:DeleteMarkerCreated' }),
        record('acme/c.csv', { eventName: 's3:ObjectCreated:CompleteMultipartUpload' }),
      ],
    });
    expect(parsed).toMatchObject({ ok: true, ignored: 2, events: [{ key: 'acme/c.csv' }] });
  });

  it('takes an EventBridge key as it is (EventBridge does not URL-encode it)', () => {
    expect(parse(eventBridge('acme/red+flower %2B.csv'))).toEqual({
      ok: true,
      format: 'eventbridge',
      events: [
        { bucket: 'exports', key: 'acme/red+flower %2B.csv', etag: 'b1946ac92492d2347c6235b4d2611184' },
      ],
      ignored: 0,
    });
  });

  it('ignores EventBridge events other than Object Created, and reads a batch of them', () => {
    expect(parse(eventBridge('acme/a.csv', 'Object Deleted'))).toMatchObject({
      ok: true,
      events: [],
      ignored: 1,
    });
    expect(parse([eventBridge('acme/a.csv'), eventBridge('acme/b.csv', 'Object Deleted')])).toMatchObject({
      ok: true,
      events: [{ key: 'acme/a.csv' }],
      ignored: 1,
    });
  });

  it('unwraps an SNS notification envelope', () => {
    const sns = {
      Type: 'Notification',
      MessageId: 'm',
      Message: JSON.stringify({ Records: [record('acme/a.csv')] }),
    };
    expect(parse(sns)).toMatchObject({ ok: true, events: [{ key: 'acme/a.csv' }] });
  });

  it('tells an SNS subscription message sent without its x-amz-sns-message-type header', () => {
    expect(
      parse({ Type: 'SubscriptionConfirmation', SubscribeURL: 'https://sns.eu-west-1.amazonaws.com/' }),
    ).toEqual({
      ok: false,
      message: 'an SNS SubscriptionConfirmation needs its x-amz-sns-message-type header',
    });
  });

  it('ignores the s3:TestEvent S3 sends when a notification is configured', () => {
    expect(parse({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'exports' })).toMatchObject({
      ok: true,
      events: [],
      ignored: 1,
    });
  });

  it('keeps an event without an etag (the object is read with HeadObject anyway)', () => {
    const r = record('acme/a.csv');
    delete (r.s3.object as { eTag?: string }).eTag;
    expect(parse({ Records: [r] })).toMatchObject({
      ok: true,
      events: [{ bucket: 'exports', key: 'acme/a.csv' }],
    });
  });

  it.each([
    ['not JSON', '{"Records": [', /^body is not JSON/],
    ['a JSON string', '"hello"', /must be a JSON object/],
    ['an unknown shape', '{"foo": 1}', /not an S3 event/],
    [
      'a record without a key',
      JSON.stringify({
        Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: {} } }],
      }),
      /Records\[0\]\.s3\.object\.key is missing/,
    ],
    ['a malformed encoding', JSON.stringify({ Records: [record('acme/%E0%A4%A.csv')] }), /not URL-encoded/],
    [
      'an EventBridge event without a bucket',
      JSON.stringify({ 'detail-type': 'Object Created', detail: { object: { key: 'k' } } }),
      /detail\.bucket\.name is missing/,
    ],
  ])('refuses %s with a clear message', (_label, text, message) => {
    const parsed = parseObjectEvents(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toMatch(message);
  });
});

describe('decodeS3EventKey', () => {
  it.each([
    ['a+b', 'a b'],
    ['a%2Bb', 'a+b'],
    ['a%20b', 'a b'],
    ['plain/key.csv', 'plain/key.csv'],
  ])('decodes %s to %s', (encoded, key) => {
    expect(decodeS3EventKey(encoded)).toBe(key);
  });
});
