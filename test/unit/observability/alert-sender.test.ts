// The alert sender's queue, retries and signing, with an in-memory stand-in for the HTTP client.
import { describe, expect, it } from 'vitest';
import {
  createAlertSender,
  type PostJson,
  type PostResult,
} from '../../../src/observability/alert-sender.js';
import { buildAlertBody, verifyAlertSignature, type AlertBody } from '../../../src/core/alert-message.js';
import { captureLogger, waitFor } from '../../support/pipeline.js';

const URL_TOKEN = 'T0CANARY/B0CANARY/urlTokenCanary4d7e';
const URL = `https://hooks.example.com/services/${URL_TOKEN}`;
const SECRET = 'hmac-secret-canary-77aa';
const AT = new Date('2026-11-25T10:00:00.000Z');

interface Call {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** Answers each POST with the next scripted outcome (a status, 'hang' until released, or a network error). */
function fakeReceiver(script: (number | 'hang' | 'refused')[], fallback: number | 'hang' = 200) {
  const calls: Call[] = [];
  const hanging: (() => void)[] = [];
  const post: PostJson = (url, body, headers, { signal }) => {
    calls.push({ url, body, headers });
    const step = script.shift() ?? fallback;
    if (step === 'refused') {
      return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    }
    if (step === 'hang') {
      return new Promise<PostResult>((resolve, reject) => {
        hanging.push(() => resolve({ status: 200 }));
        signal.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' })),
        );
      });
    }
    return Promise.resolve({ status: step });
  };
  return { post, calls, release: () => hanging.splice(0).forEach((r) => r()) };
}

function body(alertId: string): AlertBody {
  return buildAlertBody(
    {
      kind: 'host-key-mismatch',
      partnerId: 'acme',
      errCode: 'ERR_HOST_KEY_MISMATCH',
      message: 'pin mismatch',
    },
    { count: 1, firstAt: AT, lastAt: AT, summary: false },
    {
      alertId,
      version: '0.1.0',
      host: 'test',
      runbookUrl: 'https://runbooks.example.com/host-key-mismatch.md',
    },
  );
}

function senderWith(post: PostJson, extra: { maxQueue?: number; maxInFlight?: number } = {}) {
  const logs = captureLogger();
  const sender = createAlertSender({ logger: logs.logger, post, backoffMs: 10, maxBackoffMs: 40, ...extra });
  return { sender, logs };
}

describe('alert sender', () => {
  it('retries a failing receiver with the same alert, signed afresh on every try, until it accepts', async () => {
    const receiver = fakeReceiver([500, 503, 200]);
    const { sender, logs } = senderWith(receiver.post);
    sender.enqueue({ url: URL, secret: SECRET, body: body('alert-1'), timeoutMs: 1000 });
    await waitFor(() => sender.stats().sent === 1, 'the alert to be accepted');

    expect(receiver.calls).toHaveLength(3);
    for (const call of receiver.calls) {
      expect(call.url).toBe(URL);
      const sent = JSON.parse(call.body) as AlertBody & { sentAt: string };
      expect(sent.alertId).toBe('alert-1');
      expect(call.headers['x-ferry-alert-id']).toBe('alert-1');
      const t = Math.floor(Date.parse(sent.sentAt) / 1000);
      expect(call.headers['x-ferry-signature']).toMatch(new RegExp(`^t=${t},v1=[0-9a-f]{64}$`));
      expect(call.headers['x-ferry-timestamp']).toBe(String(t));
      const now = new Date(sent.sentAt);
      expect(verifyAlertSignature(call.body, call.headers['x-ferry-signature'], SECRET, { now })).toBe(true);
    }
    expect(sender.stats()).toEqual({ sent: 1, dropped: 0, failedTries: 2, queued: 0 });
    const retries = logs.lines().filter((l) => l.msg === 'alert webhook failed; will retry');
    expect(retries.map((l) => l.status)).toEqual([500, 503]);
    expect(logs.lines().find((l) => l.msg === 'alert sent')).toMatchObject({
      receiver: 'https://hooks.example.com',
      try: 3,
      kind: 'host-key-mismatch',
      partnerId: 'acme',
    });
    expect(logs.text()).not.toContain(URL_TOKEN);
    expect(logs.text()).not.toContain(SECRET);
    await sender.close();
  });

  it('retries network errors and gives up after the last try, logging the drop without the URL', async () => {
    const failing = fakeReceiver(['refused', 'refused', 502, 'refused', 500]);
    const { sender, logs } = senderWith(failing.post);
    sender.enqueue({ url: URL, body: body('alert-2'), timeoutMs: 1000 });
    await waitFor(() => sender.stats().dropped === 1, 'the alert to be given up');

    expect(failing.calls).toHaveLength(5);
    expect(sender.stats()).toEqual({ sent: 0, dropped: 1, failedTries: 5, queued: 0 });
    const drop = logs.lines().find((l) => l.msg === 'alert not delivered: the receiver failed 5 tries');
    expect(drop).toMatchObject({ errCode: 'ERR_ALERT_WEBHOOK', status: 500, try: 5, droppedTotal: 1 });
    expect(logs.lines().filter((l) => l.errno === 'ECONNREFUSED')).toHaveLength(3);
    expect(logs.text()).not.toContain(URL_TOKEN);
    await sender.close();
  });

  it('does not retry an alert the receiver refuses (4xx), and sends no signature without a key', async () => {
    const receiver = fakeReceiver([400]);
    const { sender } = senderWith(receiver.post);
    sender.enqueue({ url: URL, body: body('alert-3'), timeoutMs: 1000 });
    await waitFor(() => sender.stats().dropped === 1, 'the refused alert to be dropped');
    expect(receiver.calls).toHaveLength(1);
    expect(receiver.calls[0]!.headers['x-ferry-signature']).toBeUndefined();
    expect(receiver.calls[0]!.headers['x-ferry-timestamp']).toBeUndefined();
    await sender.close();
  });

  it('keeps the queue bounded: the oldest waiting alert is dropped and counted, the one in flight goes on', async () => {
    const receiver = fakeReceiver(['hang', 200, 200]);
    const { sender, logs } = senderWith(receiver.post, { maxQueue: 3, maxInFlight: 1 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      sender.enqueue({ url: URL, body: body(id), timeoutMs: 1000 });
    }
    expect(sender.stats()).toMatchObject({ dropped: 2, queued: 3 });
    receiver.release();
    await waitFor(() => sender.stats().sent === 3, 'the queued alerts to be sent');
    const sentIds = receiver.calls.map((c) => (JSON.parse(c.body) as AlertBody).alertId);
    expect(sentIds).toEqual(['a', 'd', 'e']);
    const drops = logs.lines().filter((l) => l.msg === 'alert not delivered: the alert queue is full (3)');
    expect(drops.map((l) => l.alertId)).toEqual(['b', 'c']);
    await sender.close();
  });

  it('on close, drops what waits for a retry and aborts a request still in flight after the grace', async () => {
    const receiver = fakeReceiver(['hang', 500]);
    const { sender, logs } = senderWith(receiver.post, { maxInFlight: 1 });
    sender.enqueue({ url: URL, body: body('slow'), timeoutMs: 60_000 });
    sender.enqueue({ url: URL, body: body('waiting'), timeoutMs: 1000 });
    await sender.close(50);
    expect(sender.stats()).toMatchObject({ sent: 0, dropped: 2, queued: 0 });
    expect(
      logs
        .lines()
        .filter((l) => l.errCode === 'ERR_ALERT_WEBHOOK')
        .map((l) => l.alertId),
    ).toEqual(['waiting', 'slow']);
    sender.enqueue({ url: URL, body: body('late'), timeoutMs: 1000 });
    expect(sender.stats().dropped).toBe(3);
  });
});
