// The object-created events POST /api/events/s3 accepts, read into (bucket, key, etag). Pure: the body
// comes in as text, so bad JSON is told here with the same clear message as a bad shape.
//
// Two formats, both what a user can point at Ferry without writing code:
//   - the S3 event notification (`Records[].s3…`): what S3 puts on SQS/SNS and MinIO's webhook target
//     sends. Its keys are form-URL-encoded ("red flower.jpg" arrives as "red+flower.jpg", a "+" as
//     "%2B"; MinIO also encodes "/" as "%2F"), so they are decoded here.
//   - the EventBridge event (`detail-type: "Object Created"`, `detail.object…`): what an EventBridge API
//     destination sends. AWS documents its `detail.object.key` as the key name, without the URL encoding
//     it documents for notifications, so it is taken as it is.
// An SNS HTTP(S) notification envelope (`Type: "Notification"`, `Message: "<the S3 event as text>"`)
// is unwrapped, its signature checked before (sns-signature.ts); its subscription's confirmations are sns-messages.ts'. Anything else that is well-formed (deletes, s3:TestEvent, other detail-types) is
// counted as ignored, never an error: S3 sends them to the same target.

/** One object-created event: which object version to check. */
export interface ObjectEvent {
  bucket: string;
  /** The key as S3 stores it (decoded). */
  key: string;
  /** The ETag the event names, without quotes; undefined when the event carries none. */
  etag?: string;
}

export type ObjectEventsParse =
  | { ok: true; format: 's3-notification' | 'eventbridge' | 'none'; events: ObjectEvent[]; ignored: number }
  | { ok: false; message: string };

/** At most this many records in one request: a body this large is not an S3 event. */
export const MAX_EVENTS_PER_REQUEST = 10_000;

/**
 * Reads a POST /api/events/s3 body. Not ok (a 400 for the caller) when the text is not JSON, is not one
 * of the formats, or an object-created event lacks its bucket or key or has a malformed encoding.
 */
export function parseObjectEvents(text: string): ObjectEventsParse {
  const json = parseJsonBody(text);
  return json.ok ? readObjectEvents(json.body) : json;
}

/** A request body as JSON, or the 400's message (the route parses once, then reads what it is). */
export function parseJsonBody(text: string): { ok: true; body: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: `body is not JSON: ${(err as Error).message}` };
  }
}

/** parseObjectEvents for a body already parsed (the route parses once to look for an SNS signature). */
export function readObjectEvents(parsed: unknown): ObjectEventsParse {
  let body = parsed;
  // Answered only with the header SNS sends (sns-messages.ts): without it, say so rather than "not an event".
  if (
    isRecord(body) &&
    (body['Type'] === 'SubscriptionConfirmation' || body['Type'] === 'UnsubscribeConfirmation')
  ) {
    return { ok: false, message: `an SNS ${body['Type']} needs its x-amz-sns-message-type header` };
  }
  if (isRecord(body) && body['Type'] === 'Notification' && typeof body['Message'] === 'string') {
    try {
      body = JSON.parse(body['Message']);
    } catch (err) {
      return { ok: false, message: `SNS Message is not JSON: ${(err as Error).message}` };
    }
  }
  if (Array.isArray(body)) {
    // Several EventBridge events in one body (an input transformer or a replay may batch them).
    return collect(body, 'eventbridge', readEventBridge);
  }
  if (!isRecord(body)) return { ok: false, message: 'body must be a JSON object' };
  if (Array.isArray(body['Records'])) return collect(body['Records'], 's3-notification', readRecord);
  if (typeof body['detail-type'] === 'string') return collect([body], 'eventbridge', readEventBridge);
  // s3:TestEvent (sent when a notification is configured) and other well-formed messages: nothing to do.
  if (typeof body['Event'] === 'string' || typeof body['EventName'] === 'string') {
    return { ok: true, format: 'none', events: [], ignored: 1 };
  }
  return {
    ok: false,
    message:
      'not an S3 event: expected an S3 event notification (Records[].s3) or an EventBridge event (detail-type, detail)',
  };
}

/** The S3 way: "+" is a space, then percent-decoding (so "%2B" is a plus). Undefined when malformed. */
export function decodeS3EventKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

type Read = (item: unknown, at: string) => ObjectEvent | 'ignored' | { problem: string };

function collect(items: unknown[], format: 's3-notification' | 'eventbridge', read: Read): ObjectEventsParse {
  if (items.length > MAX_EVENTS_PER_REQUEST) {
    return { ok: false, message: `more than ${MAX_EVENTS_PER_REQUEST} events in one request` };
  }
  const events: ObjectEvent[] = [];
  let ignored = 0;
  for (const [i, item] of items.entries()) {
    const at = format === 's3-notification' ? `Records[${i}]` : items.length === 1 ? 'event' : `[${i}]`;
    const result = read(item, at);
    if (result === 'ignored') ignored += 1;
    else if ('problem' in result) return { ok: false, message: result.problem };
    else events.push(result);
  }
  return { ok: true, format, events, ignored };
}

const readRecord: Read = (record, at) => {
  if (!isRecord(record)) return { problem: `${at} must be an object` };
  const name = record['eventName'];
  if (typeof name !== 'string') return { problem: `${at}.eventName must be a string` };
  // AWS: "ObjectCreated:Put"; MinIO: "s3:ObjectCreated:Put".
  if (!/^(s3:)?ObjectCreated:/.test(name)) return 'ignored';
  const s3 = record['s3'];
  const bucket = isRecord(s3) && isRecord(s3['bucket']) ? s3['bucket']['name'] : undefined;
  const object = isRecord(s3) ? s3['object'] : undefined;
  const encodedKey = isRecord(object) ? object['key'] : undefined;
  if (typeof bucket !== 'string' || bucket === '') return { problem: `${at}.s3.bucket.name is missing` };
  if (typeof encodedKey !== 'string' || encodedKey === '') {
    return { problem: `${at}.s3.object.key is missing` };
  }
  const key = decodeS3EventKey(encodedKey);
  if (key === undefined) return { problem: `${at}.s3.object.key is not URL-encoded as S3 encodes keys` };
  return withEtag({ bucket, key }, isRecord(object) ? object['eTag'] : undefined);
};

const readEventBridge: Read = (event, at) => {
  if (!isRecord(event)) return { problem: `${at} must be an object` };
  const type = event['detail-type'];
  if (typeof type !== 'string') return { problem: `${at}.detail-type must be a string` };
  if (type !== 'Object Created') return 'ignored';
  const detail = event['detail'];
  const bucket = isRecord(detail) && isRecord(detail['bucket']) ? detail['bucket']['name'] : undefined;
  const object = isRecord(detail) ? detail['object'] : undefined;
  const key = isRecord(object) ? object['key'] : undefined;
  if (typeof bucket !== 'string' || bucket === '') return { problem: `${at}.detail.bucket.name is missing` };
  if (typeof key !== 'string' || key === '') return { problem: `${at}.detail.object.key is missing` };
  return withEtag({ bucket, key }, isRecord(object) ? object['etag'] : undefined);
};

function withEtag(event: ObjectEvent, etag: unknown): ObjectEvent {
  if (typeof etag !== 'string' || etag === '') return event;
  return { ...event, etag: etag.replace(/^"|"$/g, '') };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
