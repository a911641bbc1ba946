// What an alert says: its kind and severity, the key repeats are counted under, the JSON body a webhook
// receives, and its signature. Pure: the alerter (src/observability/alerter.ts) does the Redis and HTTP parts.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isPartnerId } from './delivery-id.js';

export type AlertSeverity = 'critical' | 'error' | 'warning';

/**
 * Every kind of alert, with its default severity and a short title for the one-line text. The last
 * three are raised by the SLA and missing-export checks (issue 5, later parts).
 */
export const ALERT_KINDS = {
  'delivery-failed': { severity: 'error', title: 'delivery failed' },
  'retries-exhausted': { severity: 'error', title: 'delivery failed after its last retry' },
  'host-key-mismatch': { severity: 'critical', title: 'partner host key matches no pin' },
  'auth-refused': { severity: 'critical', title: 'partner refused the login' },
  'key-quarantined': { severity: 'warning', title: 'object key quarantined' },
  'config-reload-rejected': { severity: 'error', title: 'config reload rejected' },
  'worker-stalled': { severity: 'warning', title: 'job stalled' },
  'sla-warning': { severity: 'warning', title: 'delivery SLA at risk' },
  'sla-missed': { severity: 'error', title: 'delivery SLA missed' },
  'missing-export': { severity: 'error', title: 'expected export missing' },
  'source-housekeeping-failed': { severity: 'warning', title: 'after.source tag or move failed' },
  'sweep-failed': { severity: 'error', title: 'sweep failed' },
  'worker-error': { severity: 'error', title: 'unhandled error in a Ferry process' },
  'delivery-rejected': { severity: 'error', title: 'partner rejected a delivered file' },
  'ack-overdue': { severity: 'warning', title: 'partner has not acknowledged a delivered file' },
} as const satisfies Record<string, { severity: AlertSeverity; title: string }>;

export type AlertKind = keyof typeof ALERT_KINDS;

/** One thing worth telling a person about. Text fields are plain text; the body escapes them. */
export interface AlertEvent {
  kind: AlertKind;
  partnerId?: string;
  /** The Ferry error code (ERR_…), when there is one: part of the dedup key. */
  errCode?: string;
  message: string;
  /** The delivery (= trackingId in logs and receipts). */
  deliveryId?: string;
  /** The S3 key, as raw text (it is made safe in the body). */
  s3Key?: string;
  /** Tries made, for retries-exhausted. */
  attempts?: number;
  /** Overrides the kind's default severity. */
  severity?: AlertSeverity;
}

/** How many occurrences one alert stands for. `summary`: it reports repeats that were held back. */
export interface AlertOccurrences {
  count: number;
  firstAt: Date;
  lastAt: Date;
  summary: boolean;
}

/** The JSON a webhook receives (`sentAt` is added at each try, so the body is signed per try). */
export interface AlertBody {
  /** One line for chat tools: Slack shows this field (`&`, `<`, `>` escaped as Slack requires). */
  text: string;
  kind: AlertKind;
  severity: AlertSeverity;
  partnerId: string | null;
  errCode: string | null;
  message: string;
  deliveryId: string | null;
  trackingId: string | null;
  s3Key: string | null;
  attempts: number | null;
  count: number;
  firstAt: string;
  lastAt: string;
  summary: boolean;
  /** What to do about it: the runbook for the kind (a delivery failure's: for its error code). */
  runbookUrl: string;
  /** Unique per alert and the same on every try: receivers drop duplicates by it. */
  alertId: string;
  ferry: { version: string; host: string };
}

const MAX_MESSAGE = 1000;
const MAX_TEXT_MESSAGE = 300;
const CODE_LIKE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * The kind of alert for a delivery that failed for good: host key and login refusals get their own
 * kinds (someone must act on the partner side), other permanent causes are `delivery-failed`, and a
 * transient cause that used up every attempt is `retries-exhausted`.
 */
export function alertKindForFailure(errCode: string, intent: 'permanent' | 'transient' | 'skip'): AlertKind {
  if (errCode === 'ERR_HOST_KEY_MISMATCH') return 'host-key-mismatch';
  if (errCode === 'ERR_SFTP_AUTH') return 'auth-refused';
  if (errCode === 'ERR_KEY_HOSTILE' || errCode === 'ERR_CSV_INVALID') return 'key-quarantined';
  return intent === 'permanent' ? 'delivery-failed' : 'retries-exhausted';
}

/** The event's severity: its own, else its kind's; a job that stalled until it failed is an error. */
export function alertSeverity(event: Pick<AlertEvent, 'kind' | 'severity' | 'errCode'>): AlertSeverity {
  if (event.severity !== undefined) return event.severity;
  if (event.kind === 'worker-stalled' && event.errCode === 'ERR_JOB_STALLED') return 'error';
  return ALERT_KINDS[event.kind].severity;
}

/**
 * The dedup key: kind + partner + cause (the error code). Occurrences with the same key within one
 * dedup window are one alert plus a count. Job data is untrusted, so odd ids collapse to "?".
 */
export function alertDedupId(event: Pick<AlertEvent, 'kind' | 'partnerId' | 'errCode'>): string {
  const partner = event.partnerId === undefined ? '-' : isPartnerId(event.partnerId) ? event.partnerId : '?';
  const cause = event.errCode === undefined ? '-' : CODE_LIKE.test(event.errCode) ? event.errCode : '?';
  return `${event.kind}:${partner}:${cause}`;
}

/** Builds the webhook body for `event` standing for `occurrences`; `meta.runbookUrl` from runbookForAlert(). */
export function buildAlertBody(
  event: AlertEvent,
  occurrences: AlertOccurrences,
  meta: { alertId: string; version: string; host: string; runbookUrl: string },
): AlertBody {
  const severity = alertSeverity(event);
  const message = truncate(plainText(event.message), MAX_MESSAGE);
  const s3Key = event.s3Key === undefined ? null : truncate(plainText(event.s3Key), MAX_MESSAGE);
  return {
    text: formatAlertText(event, occurrences),
    kind: event.kind,
    severity,
    partnerId: event.partnerId ?? null,
    errCode: event.errCode ?? null,
    message,
    deliveryId: event.deliveryId ?? null,
    trackingId: event.deliveryId ?? null,
    s3Key,
    attempts: event.attempts ?? null,
    count: occurrences.count,
    firstAt: occurrences.firstAt.toISOString(),
    lastAt: occurrences.lastAt.toISOString(),
    summary: occurrences.summary,
    runbookUrl: meta.runbookUrl,
    alertId: meta.alertId,
    ferry: { version: meta.version, host: meta.host },
  };
}

/**
 * The one-line text, e.g. `[ferry] CRITICAL host-key-mismatch · partner acme · ERR_HOST_KEY_MISMATCH:
 * … · key orders.csv`; a summary ends with `· 3 times since <firstAt>`. Slack-escaped, control
 * characters shown as \uXXXX, so an S3 key cannot forge lines or mentions.
 */
export function formatAlertText(event: AlertEvent, occurrences: AlertOccurrences): string {
  const parts = [`[ferry] ${alertSeverity(event).toUpperCase()} ${event.kind}`];
  if (event.partnerId !== undefined) parts.push(`partner ${event.partnerId}`);
  const message = truncate(plainText(event.message), MAX_TEXT_MESSAGE);
  parts.push(event.errCode === undefined ? message : `${event.errCode}: ${message}`);
  if (event.s3Key !== undefined) parts.push(`key ${truncate(plainText(event.s3Key), 200)}`);
  if (event.attempts !== undefined) parts.push(`after ${event.attempts} attempts`);
  if (occurrences.summary) {
    parts.push(
      `${occurrences.count} ${occurrences.count === 1 ? 'time' : 'times'} since ${occurrences.firstAt.toISOString()}`,
    );
  }
  return slackEscape(parts.join(' · '));
}

/** The headers that sign one try of an alert: the same `t` in both, so readers may show either. */
export interface AlertSignatureHeaders {
  /** X-Ferry-Timestamp: `t` again, for readers; unsigned, so receivers must not trust it. */
  timestamp: string;
  /** X-Ferry-Signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
  signature: string;
}

/**
 * Signs one try of an alert sent at `sentAt`. The timestamp is inside the HMAC (Stripe/Slack style), so a
 * captured alert cannot be replayed later by rewriting a header: changing `t` breaks the signature.
 */
export function signAlertBody(rawBody: string, secret: string, sentAt: Date): AlertSignatureHeaders {
  const t = Math.floor(sentAt.getTime() / 1000);
  return { timestamp: String(t), signature: `t=${t},v1=${alertHmac(rawBody, secret, String(t))}` };
}

/**
 * Checks an X-Ferry-Signature header against the raw body (for receivers and tests): true only if one
 * of its `v1=` entries (several may come while a key is rotated) is the HMAC of `"<t>.<raw body>"`,
 * compared in constant time, and the signed `t` is within `toleranceSeconds` of `now` either way.
 * A malformed header (no `t` or two, no `v1`, a `v1` that is not 64 hex digits) is simply false.
 */
export function verifyAlertSignature(
  rawBody: string,
  header: string | undefined,
  secret: string,
  { now, toleranceSeconds = 300 }: { now: Date; toleranceSeconds?: number },
): boolean {
  const parsed = header === undefined ? undefined : parseAlertSignature(header);
  if (parsed === undefined) return false;
  if (Math.abs(now.getTime() / 1000 - Number(parsed.t)) > toleranceSeconds) return false;
  const expected = Buffer.from(alertHmac(rawBody, secret, parsed.t), 'hex');
  // Every entry is compared, so the time taken does not say which one matched.
  let matched = false;
  for (const v1 of parsed.v1) matched = timingSafeEqual(Buffer.from(v1, 'hex'), expected) || matched;
  return matched;
}

function alertHmac(rawBody: string, secret: string, t: string): string {
  return createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex');
}

// `t=<digits>` exactly once and at least one `v1=<64 hex>`; other schemes (a future v2) are ignored.
function parseAlertSignature(header: string): { t: string; v1: string[] } | undefined {
  let t: string | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined || !/^[0-9]{1,12}$/.test(value)) return undefined;
      t = value;
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return undefined;
      v1.push(value);
    }
  }
  return t === undefined || v1.length === 0 ? undefined : { t, v1 };
}

// Control and bidi-override characters as \uXXXX (the same set the logger neutralises).
function plainText(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
