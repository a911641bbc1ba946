// Posts alert bodies to webhooks in the background: a bounded in-memory queue, a few requests at once,
// retries with exponential backoff, a timeout per try. Callers never wait for it; what cannot be sent
// is counted and logged. Logs name the receiver by its origin only: webhook paths often hold tokens.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { computeBackoffMs } from '../core/backoff.js';
import { signAlertBody, type AlertBody } from '../core/alert-message.js';
import { webhookOrigin } from '../core/webhook-url.js';
import type { Logger } from './logger.js';

/** One alert for one receiver, with its URL and HMAC key already read. */
export interface AlertDelivery {
  /** The full URL: a secret, never logged. */
  url: string;
  /** The HMAC key; when set, each try is signed with its own time (X-Ferry-Signature `t=…,v1=…`). */
  secret?: string;
  body: AlertBody;
  timeoutMs: number;
}

/** What a receiver answered (status 0 never happens: a network failure rejects). */
export interface PostResult {
  status: number;
  retryAfterSeconds?: number;
}

/** One HTTP POST; rejects on network errors and timeouts (the error's `code`, e.g. ECONNREFUSED, ETIMEDOUT). */
export type PostJson = (
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; signal: AbortSignal },
) => Promise<PostResult>;

export interface AlertSenderOptions {
  logger: Logger;
  /** Alerts waiting or in flight, at most; beyond it the oldest waiting one is dropped. Default 1000. */
  maxQueue?: number;
  /** Requests at once. Default 4 (a dead receiver does not hold up the others for long). */
  maxInFlight?: number;
  /** Tries per alert. Default 5. */
  tries?: number;
  /** First retry delay ceiling (doubles each retry, equal jitter). Default 1000 ms. */
  backoffMs?: number;
  /** Retry delay cap. Default 30 s. */
  maxBackoffMs?: number;
  /** The HTTP client (tests may pass their own). */
  post?: PostJson;
  userAgent?: string;
}

export interface AlertSenderStats {
  /** Alerts a receiver accepted (2xx). */
  sent: number;
  /** Alerts given up: queue full, every try failed, refused (4xx), or still waiting at shutdown. */
  dropped: number;
  /** Tries that failed (each retried or, on the last, counted in dropped). */
  failedTries: number;
  /** Waiting or in flight now. */
  queued: number;
}

export interface AlertSender {
  /** Queues the alert and returns at once. */
  enqueue(delivery: AlertDelivery): void;
  stats(): AlertSenderStats;
  /** Stops taking alerts, gives requests in flight up to `graceMs`, then drops what is left (logged). */
  close(graceMs?: number): Promise<void>;
}

interface Item {
  delivery: AlertDelivery;
  receiver: string;
  tries: number;
  notBefore: number;
}

const MAX_RETRY_AFTER_MS = 60_000;

/** Creates the sender. Timers are unref'd: a pending retry never keeps a process alive. */
export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const { logger } = options;
  const maxQueue = options.maxQueue ?? 1000;
  const maxInFlight = options.maxInFlight ?? 4;
  const tries = options.tries ?? 5;
  const policy = {
    backoffSeconds: (options.backoffMs ?? 1000) / 1000,
    maxBackoffSeconds: (options.maxBackoffMs ?? 30_000) / 1000,
  };
  const post = options.post ?? postJson;
  const userAgent = options.userAgent ?? 'ferry';
  const aborter = new AbortController();
  const waiting: Item[] = [];
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const counts = { sent: 0, dropped: 0, failedTries: 0 };

  const describe = (item: Item) => ({
    receiver: item.receiver,
    alertId: item.delivery.body.alertId,
    kind: item.delivery.body.kind,
    partnerId: item.delivery.body.partnerId ?? undefined,
    alertErrCode: item.delivery.body.errCode ?? undefined,
  });

  const drop = (item: Item, why: string, extra: Record<string, unknown> = {}): void => {
    counts.dropped += 1;
    logger.error(
      { ...describe(item), ...extra, errCode: 'ERR_ALERT_WEBHOOK', droppedTotal: counts.dropped },
      `alert not delivered: ${why}`,
    );
  };

  const pump = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    const now = Date.now();
    while (inFlight.size < maxInFlight) {
      const i = waiting.findIndex((item) => item.notBefore <= now);
      if (i < 0) break;
      const [item] = waiting.splice(i, 1);
      const running: Promise<void> = attempt(item!).finally(() => {
        inFlight.delete(running);
        pump();
      });
      inFlight.add(running);
    }
    if (waiting.length > 0 && inFlight.size < maxInFlight) {
      const next = Math.min(...waiting.map((item) => item.notBefore));
      timer = setTimeout(pump, Math.max(0, next - now));
      timer.unref();
    }
  };

  const attempt = async (item: Item): Promise<void> => {
    item.tries += 1;
    const { delivery } = item;
    const sentAt = new Date();
    const raw = JSON.stringify({ ...delivery.body, sentAt: sentAt.toISOString() });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': userAgent,
      'x-ferry-alert-id': delivery.body.alertId,
    };
    if (delivery.secret !== undefined) {
      // Signed per try with this try's time: a receiver's tolerance window then holds for retries too.
      const signed = signAlertBody(raw, delivery.secret, sentAt);
      headers['x-ferry-timestamp'] = signed.timestamp;
      headers['x-ferry-signature'] = signed.signature;
    }
    let failure: { retry: boolean; status?: number; errno?: string; retryAfterMs?: number };
    try {
      const result = await post(delivery.url, raw, headers, {
        timeoutMs: delivery.timeoutMs,
        signal: aborter.signal,
      });
      if (result.status >= 200 && result.status < 300) {
        counts.sent += 1;
        logger.info(
          {
            ...describe(item),
            status: result.status,
            try: item.tries,
            count: delivery.body.count,
            // From the (last) occurrence to this try: the alert latency, plus the backoff of failed tries.
            ageMs: sentAt.getTime() - Date.parse(delivery.body.lastAt),
          },
          'alert sent',
        );
        return;
      }
      const retry = result.status >= 500 || result.status === 408 || result.status === 429;
      failure = {
        retry,
        status: result.status,
        ...(result.retryAfterSeconds === undefined
          ? {}
          : { retryAfterMs: Math.min(result.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS) }),
      };
    } catch (err) {
      failure = { retry: true, errno: errnoOf(err) };
    }
    counts.failedTries += 1;
    const facts = {
      ...(failure.status === undefined ? {} : { status: failure.status }),
      ...(failure.errno === undefined ? {} : { errno: failure.errno }),
      try: item.tries,
      tries,
    };
    if (closed) return drop(item, 'Ferry is shutting down', facts);
    if (!failure.retry) return drop(item, 'the receiver refused it', facts);
    if (item.tries >= tries) return drop(item, `the receiver failed ${tries} tries`, facts);
    const delayMs = Math.max(computeBackoffMs(item.tries, policy), failure.retryAfterMs ?? 0);
    item.notBefore = Date.now() + delayMs;
    waiting.push(item);
    logger.warn(
      { ...describe(item), ...facts, errCode: 'ERR_ALERT_WEBHOOK', retryInMs: delayMs },
      'alert webhook failed; will retry',
    );
  };

  return {
    enqueue(delivery) {
      const item: Item = { delivery, receiver: webhookOrigin(delivery.url), tries: 0, notBefore: 0 };
      if (closed) return drop(item, 'Ferry is shutting down');
      if (waiting.length + inFlight.size >= maxQueue) {
        // The oldest waiting alert is the one a dead receiver has held longest; with none waiting, the new one goes.
        const oldest = waiting.shift();
        drop(oldest ?? item, `the alert queue is full (${maxQueue})`);
        if (!oldest) return;
      }
      waiting.push(item);
      pump();
    },

    stats: () => ({ ...counts, queued: waiting.length + inFlight.size }),

    async close(graceMs = 2000) {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      for (const item of waiting.splice(0)) drop(item, 'Ferry is shutting down before its next try');
      if (inFlight.size > 0) {
        let graceTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise<void>((resolve) => {
            graceTimer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(graceTimer);
      }
      aborter.abort();
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * POSTs `body` with node:http(s): no redirects followed (a redirect would send the body elsewhere), no
 * keep-alive (alerts are rare), the whole exchange bounded by `timeoutMs`. Resolves with the status once
 * the response headers arrive; the response body is discarded.
 */
export const postJson: PostJson = (url, body, headers, { timeoutMs, signal }) =>
  new Promise<PostResult>((resolve, reject) => {
    const target = new URL(url);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        signal,
      },
      (res) => {
        // The deadline stays armed until the (discarded) response body ends: a dripping body is cut off.
        res.on('close', () => clearTimeout(deadline));
        res.on('error', () => undefined);
        res.resume();
        const retryAfter = Number(res.headers['retry-after']);
        resolve({
          status: res.statusCode ?? 0,
          ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
        });
      },
    );
    const deadline = setTimeout(() => {
      req.destroy(Object.assign(new Error('alert webhook timed out'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    req.end(body);
  });

/** The error's code (ECONNREFUSED, ETIMEDOUT, ABORT_ERR, …): logged instead of its message. */
function errnoOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return err instanceof Error ? err.name : 'unknown';
}
