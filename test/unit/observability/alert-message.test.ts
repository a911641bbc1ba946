import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ALERT_KINDS,
  alertDedupId,
  alertKindForFailure,
  alertSeverity,
  buildAlertBody,
  formatAlertText,
  signAlertBody,
  verifyAlertSignature,
  type AlertEvent,
  type AlertOccurrences,
} from '../../../src/core/alert-message.js';

const AT = new Date('2026-11-25T10:00:00.000Z');
const ONCE: AlertOccurrences = { count: 1, firstAt: AT, lastAt: AT, summary: false };
const RUNBOOK = 'https://github.com/ferry-dev/ferry/blob/main/docs/runbooks/sftp-remote-path.md';
const META = { alertId: 'a1b2', version: '0.1.0', host: 'worker-1', runbookUrl: RUNBOOK };

function event(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return {
    kind: 'delivery-failed',
    partnerId: 'acme',
    errCode: 'ERR_SFTP_NO_SUCH_PATH',
    message: 'remote directory /inbound/acme does not exist',
    deliveryId: `dlv-acme-${'0'.repeat(32)}`,
    s3Key: 'acme/orders.csv',
    ...overrides,
  };
}

describe('alertKindForFailure', () => {
  it.each([
    ['ERR_HOST_KEY_MISMATCH', 'permanent', 'host-key-mismatch'],
    ['ERR_SFTP_AUTH', 'permanent', 'auth-refused'],
    ['ERR_KEY_HOSTILE', 'permanent', 'key-quarantined'],
    ['ERR_CSV_INVALID', 'permanent', 'key-quarantined'],
    ['ERR_SFTP_NO_SUCH_PATH', 'permanent', 'delivery-failed'],
    ['ERR_REMOTE_EXISTS', 'permanent', 'delivery-failed'],
    ['ERR_SFTP_UNREACHABLE', 'transient', 'retries-exhausted'],
    ['ERR_SIZE_MISMATCH', 'transient', 'retries-exhausted'],
  ] as const)('maps %s (%s) to %s', (code, intent, kind) => {
    expect(alertKindForFailure(code, intent)).toBe(kind);
  });
});

describe('alertSeverity', () => {
  it('takes the kind default, an explicit severity, and raises a job that stalled for good to error', () => {
    expect(alertSeverity({ kind: 'host-key-mismatch' })).toBe('critical');
    expect(alertSeverity({ kind: 'key-quarantined' })).toBe('warning');
    expect(alertSeverity({ kind: 'worker-stalled' })).toBe('warning');
    expect(alertSeverity({ kind: 'worker-stalled', errCode: 'ERR_JOB_STALLED' })).toBe('error');
    expect(alertSeverity({ kind: 'delivery-failed', severity: 'critical' })).toBe('critical');
  });

  it('has a severity and title for every kind, the later SLA ones included', () => {
    expect(Object.keys(ALERT_KINDS)).toEqual(
      expect.arrayContaining(['sla-warning', 'sla-missed', 'missing-export']),
    );
    for (const { severity, title } of Object.values(ALERT_KINDS)) {
      expect(['critical', 'error', 'warning']).toContain(severity);
      expect(title).not.toBe('');
    }
  });
});

describe('alertDedupId', () => {
  it('is kind + partner + cause, so other deliveries with the same cause count as repeats', () => {
    expect(alertDedupId(event())).toBe('delivery-failed:acme:ERR_SFTP_NO_SUCH_PATH');
    expect(alertDedupId(event({ deliveryId: 'other', s3Key: 'acme/b.csv', message: 'x' }))).toBe(
      'delivery-failed:acme:ERR_SFTP_NO_SUCH_PATH',
    );
    expect(alertDedupId({ kind: 'config-reload-rejected', errCode: 'ERR_CONFIG_INVALID' })).toBe(
      'config-reload-rejected:-:ERR_CONFIG_INVALID',
    );
    expect(alertDedupId({ kind: 'worker-stalled' })).toBe('worker-stalled:-:-');
  });

  it('collapses ids from untrusted job data that could not be partner ids or codes', () => {
    expect(alertDedupId({ kind: 'worker-stalled', partnerId: 'a:b\n', errCode: 'rm -rf' })).toBe(
      'worker-stalled:?:?',
    );
  });
});

describe('buildAlertBody', () => {
  it('carries every field a receiver needs, null where there is nothing to say', () => {
    const body = buildAlertBody(event(), ONCE, META);
    expect(body).toEqual({
      text: expect.stringContaining('delivery-failed') as string,
      kind: 'delivery-failed',
      severity: 'error',
      partnerId: 'acme',
      errCode: 'ERR_SFTP_NO_SUCH_PATH',
      message: 'remote directory /inbound/acme does not exist',
      deliveryId: `dlv-acme-${'0'.repeat(32)}`,
      trackingId: `dlv-acme-${'0'.repeat(32)}`,
      s3Key: 'acme/orders.csv',
      attempts: null,
      count: 1,
      firstAt: '2026-11-25T10:00:00.000Z',
      lastAt: '2026-11-25T10:00:00.000Z',
      summary: false,
      runbookUrl: RUNBOOK,
      alertId: 'a1b2',
      ferry: { version: '0.1.0', host: 'worker-1' },
    });
    const bare = buildAlertBody({ kind: 'worker-stalled', message: 'stalled' }, ONCE, META);
    expect(bare).toMatchObject({ partnerId: null, errCode: null, deliveryId: null, s3Key: null });
  });

  it('neutralises control characters in keys and messages and bounds their length', () => {
    const body = buildAlertBody(
      event({ s3Key: 'acme/a\r\nb\u202e.csv', message: 'x'.repeat(5000) }),
      ONCE,
      META,
    );
    expect(body.s3Key).toBe('acme/a\\u000d\\u000ab\\u202e.csv');
    expect(body.message.length).toBe(1000);
    expect(body.text).not.toMatch(/[\r\n]/);
  });
});

describe('formatAlertText', () => {
  it('is one Slack-safe line naming severity, kind, partner, code, message and key', () => {
    expect(formatAlertText(event(), ONCE)).toBe(
      '[ferry] ERROR delivery-failed · partner acme · ERR_SFTP_NO_SUCH_PATH: remote directory /inbound/acme does not exist · key acme/orders.csv',
    );
  });

  it('escapes what Slack would read as mentions or links', () => {
    const text = formatAlertText(event({ s3Key: 'acme/<!channel>&<https://evil.example|x>.csv' }), ONCE);
    expect(text).toContain('key acme/&lt;!channel&gt;&amp;&lt;https://evil.example|x&gt;.csv');
    expect(text).not.toMatch(/[<>]/);
  });

  it('says how many occurrences a summary stands for, and attempts when known', () => {
    const summary = { count: 3, firstAt: AT, lastAt: new Date(AT.getTime() + 60_000), summary: true };
    expect(formatAlertText(event({ attempts: 10 }), summary)).toMatch(
      / · after 10 attempts · 3 times since 2026-11-25T10:00:00\.000Z$/,
    );
  });
});

describe('signAlertBody / verifyAlertSignature', () => {
  const raw = JSON.stringify({ kind: 'delivery-failed', text: 'é' });
  const SENT = new Date('2026-11-25T10:00:00.750Z');
  const T = 1_795_600_800; // SENT in Unix seconds, rounded down
  const hmac = (key: string, t: number | string, body = raw) =>
    createHmac('sha256', key)
      .update(Buffer.from(`${t}.${body}`, 'utf8'))
      .digest('hex');
  const at = (seconds: number) => ({ now: new Date(seconds * 1000) });

  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">, with the same t as X-Ferry-Timestamp', () => {
    expect(signAlertBody(raw, 'k3y', SENT)).toEqual({
      timestamp: String(T),
      signature: `t=${T},v1=${hmac('k3y', T)}`,
    });
  });

  it('accepts the right signature within the tolerance window, either side', () => {
    const { signature } = signAlertBody(raw, 'k3y', SENT);
    expect(verifyAlertSignature(raw, signature, 'k3y', at(T))).toBe(true);
    expect(verifyAlertSignature(raw, signature, 'k3y', at(T + 300))).toBe(true);
    expect(verifyAlertSignature(raw, signature, 'k3y', at(T - 300))).toBe(true);
    expect(
      verifyAlertSignature(raw, signature, 'k3y', { now: new Date((T + 30) * 1000), toleranceSeconds: 30 }),
    ).toBe(true);
  });

  it('refuses another key or a changed body', () => {
    const { signature } = signAlertBody(raw, 'k3y', SENT);
    expect(verifyAlertSignature(raw, signature, 'other', at(T))).toBe(false);
    expect(verifyAlertSignature(`${raw} `, signature, 'k3y', at(T))).toBe(false);
  });

  it('refuses a rewritten t: the timestamp is signed with the body', () => {
    const { signature } = signAlertBody(raw, 'k3y', SENT);
    const replayedAt = T + 3600;
    const rewritten = signature.replace(`t=${T}`, `t=${replayedAt}`);
    expect(rewritten).not.toBe(signature);
    expect(verifyAlertSignature(raw, rewritten, 'k3y', at(replayedAt))).toBe(false);
  });

  it('refuses a stale t and a t too far in the future, by the default 300 s or a given tolerance', () => {
    const { signature } = signAlertBody(raw, 'k3y', SENT);
    expect(verifyAlertSignature(raw, signature, 'k3y', at(T + 301))).toBe(false);
    expect(verifyAlertSignature(raw, signature, 'k3y', at(T - 301))).toBe(false);
    expect(
      verifyAlertSignature(raw, signature, 'k3y', { now: new Date((T + 31) * 1000), toleranceSeconds: 30 }),
    ).toBe(false);
  });

  it('accepts any of several v1 entries (a key being rotated) and ignores other schemes', () => {
    const header = `t=${T},v1=${hmac('old-key', T)},v1=${hmac('new-key', T)},v0=legacy`;
    expect(verifyAlertSignature(raw, header, 'old-key', at(T))).toBe(true);
    expect(verifyAlertSignature(raw, header, 'new-key', at(T))).toBe(true);
    expect(verifyAlertSignature(raw, header, 'third-key', at(T))).toBe(false);
    expect(verifyAlertSignature(raw, ` t=${T} , v1=${hmac('k3y', T).toUpperCase()} `, 'k3y', at(T))).toBe(
      true,
    );
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['the old sha256= format', `sha256=${createHmac('sha256', 'k3y').update(raw).digest('hex')}`],
    ['no t', `v1=${hmac('k3y', T)}`],
    ['no v1', `t=${T}`],
    ['two t', `t=${T},t=${T},v1=${hmac('k3y', T)}`],
    ['a t that is not whole seconds', `t=${T}.0,v1=${hmac('k3y', `${T}.0`)}`],
    ['a negative t', `t=-${T},v1=${hmac('k3y', -T)}`],
    ['a short v1', `t=${T},v1=${hmac('k3y', T).slice(0, 62)}`],
    ['a v1 that is not hex', `t=${T},v1=${'z'.repeat(64)}`],
    ['a part without =', `t=${T},v1=${hmac('k3y', T)},junk`],
  ])('refuses a malformed header: %s', (_, header) => {
    expect(verifyAlertSignature(raw, header, 'k3y', at(T))).toBe(false);
  });
});
