// What POST /api/events/s3 does with an SNS HTTP(S) subscription's control messages. Pure: the message
// type header and the parsed body come in, a decision goes out; the GET of a SubscribeURL is an adapter's.
//
// SNS posts `SubscriptionConfirmation` once, when the subscription is made: the subscription stays
// pending until its SubscribeURL is fetched. Ferry fetches it only when it is an AWS SNS https URL, so a
// holder of the events token cannot make Ferry request any other address (no SSRF through this route).
// `UnsubscribeConfirmation` needs no answer. A `Notification` is an S3 event (object-events.ts). Each
// of the three is signed by SNS, and its signature checked before it gets here (sns-signature.ts).

/** The `x-amz-sns-message-type` values read here; any other goes the S3-event way. */
export const SNS_CONTROL_TYPES = ['SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const;
export type SnsControlType = (typeof SNS_CONTROL_TYPES)[number];

export type SnsControlMessage =
  | { type: 'SubscriptionConfirmation'; topicArn: string; subscribeUrl: string }
  | { type: 'UnsubscribeConfirmation'; topicArn: string };

/** The `Type` of every message SNS posts to an HTTP(S) subscription, each signed by SNS. */
export const SNS_MESSAGE_TYPES = ['Notification', ...SNS_CONTROL_TYPES] as const;
export type SnsMessageType = (typeof SNS_MESSAGE_TYPES)[number];

/**
 * The SNS message type of a parsed body: a JSON object whose `Type` is one SNS posts. Undefined for
 * anything else (MinIO's and EventBridge's bodies have no `Type`), which is not an SNS message.
 */
export function snsMessageTypeOf(body: unknown): SnsMessageType | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const type = (body as Record<string, unknown>)['Type'];
  return (SNS_MESSAGE_TYPES as readonly unknown[]).includes(type) ? (type as SnsMessageType) : undefined;
}

/** The hosts of SubscribeURLs and signing certificates: sns.<region>.amazonaws.com (.com.cn in China). */
export const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** True when the request's `x-amz-sns-message-type` header names a control message read here. */
export function isSnsControlType(header: string | undefined): header is SnsControlType {
  return (SNS_CONTROL_TYPES as readonly (string | undefined)[]).includes(header);
}

/**
 * Reads a control message's body (parsed). Not ok (a 400 for the caller) when it is not a JSON object,
 * its `Type` is not the header's, or it lacks `TopicArn` (or `SubscribeURL` for a confirmation).
 */
export function readSnsControlMessage(
  header: SnsControlType,
  body: unknown,
): { ok: true; message: SnsControlMessage } | { ok: false; problem: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, problem: `SNS ${header} body must be a JSON object` };
  }
  const fields = body as Record<string, unknown>;
  if (fields['Type'] !== header) {
    return { ok: false, problem: `SNS message Type does not match x-amz-sns-message-type (${header})` };
  }
  const topicArn = fields['TopicArn'];
  if (typeof topicArn !== 'string' || topicArn === '') {
    return { ok: false, problem: `SNS ${header} lacks TopicArn` };
  }
  if (header === 'UnsubscribeConfirmation') return { ok: true, message: { type: header, topicArn } };
  const subscribeUrl = fields['SubscribeURL'];
  if (typeof subscribeUrl !== 'string' || subscribeUrl === '') {
    return { ok: false, problem: 'SNS SubscriptionConfirmation lacks SubscribeURL' };
  }
  return { ok: true, message: { type: header, topicArn, subscribeUrl } };
}

/**
 * Whether a SubscribeURL may be fetched: https, on an SNS host (SNS_HOST), default port, no credentials
 * in it. The refusal's `host` (never the URL: it carries the confirmation token) is for the log line.
 */
export function checkSubscribeUrl(
  subscribeUrl: string,
): { ok: true; url: URL } | { ok: false; problem: string; host?: string } {
  return checkSnsUrl(subscribeUrl, 'SubscribeURL');
}

/**
 * Whether a URL an SNS message names (`field`: SubscribeURL, SigningCertURL) is on SNS itself: https,
 * a host matching SNS_HOST, default port, no credentials. The problems name `field`.
 */
export function checkSnsUrl(
  raw: string,
  field: string,
): { ok: true; url: URL } | { ok: false; problem: string; host?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: `${field} is not a URL` };
  }
  const host = url.hostname;
  if (url.protocol !== 'https:') return { ok: false, problem: `${field} is not https`, host };
  if (!SNS_HOST.test(host)) {
    return { ok: false, problem: `${field} host is not sns.<region>.amazonaws.com`, host };
  }
  if (url.port !== '') return { ok: false, problem: `${field} names a port`, host };
  if (url.username !== '' || url.password !== '') {
    return { ok: false, problem: `${field} carries credentials`, host };
  }
  return { ok: true, url };
}

/** The SubscriptionArn in SNS's ConfirmSubscription answer (XML), for the log; undefined when absent. */
export function subscriptionArnIn(answer: string): string | undefined {
  return /<SubscriptionArn>\s*([^<\s]+)\s*<\/SubscriptionArn>/.exec(answer)?.[1];
}
