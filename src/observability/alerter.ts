// Webhook alerts: what processors and the composition root call when something needs a person.
// notify() never throws and never waits: dedup (Redis), URL and key lookup, and sending run behind it.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { FerryConfig } from '../config/load-config.js';
import type { AlertReceiver, AlertSettings } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import {
  ALERT_KINDS,
  alertDedupId,
  buildAlertBody,
  type AlertEvent,
  type AlertOccurrences,
} from '../core/alert-message.js';
import { DEFAULT_RUNBOOK_BASE_URL, runbookForAlert, runbookUrl } from '../core/runbook-for.js';
import { checkWebhookUrl } from '../core/webhook-url.js';
import { FerryError } from '../errors.js';
import type { RedisKeys } from '../ledger/redis-keys.js';
import type { Logger } from './logger.js';
import type { RedisClient } from '../queues/redis-connection.js';
import { createAlertDedup, type AlertDedup } from './alert-dedup.js';
import {
  createAlertSender,
  type AlertSender,
  type AlertSenderOptions,
  type AlertSenderStats,
} from './alert-sender.js';

export type { AlertEvent } from '../core/alert-message.js';

/** Raises alerts. Fire-and-forget: never throws, never blocks the caller. */
export interface Alerter {
  notify(event: AlertEvent): void;
}

/** For callers with nowhere to send alerts (their log lines still carry `alert: true`). */
export const noopAlerter: Alerter = { notify: () => undefined };

export interface AlerterDeps {
  /** Read at every alert: a reload changes receivers and settings at once. */
  getConfig(): FerryConfig;
  redis: RedisClient;
  keys: RedisKeys;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  version: string;
  host?: string;
  /** Test seams for the sender (backoff, HTTP client). */
  sender?: Omit<AlertSenderOptions, 'logger'>;
}

export interface RunningAlerter extends Alerter {
  /** Sends one alert per ended dedup window that held back repeats (also runs on a timer). */
  flush(): Promise<void>;
  stats(): AlertSenderStats & { suppressed: number };
  /** Stops the flush timer; alerts in flight get a short grace (see AlertSender.close). */
  close(): Promise<void>;
}

/** A dedup lookup slower than this sends the alert without dedup (Redis down must not silence alerts). */
const DEDUP_TIMEOUT_MS = 5000;
/** At most this many alerts between notify() and the sender's queue. */
const MAX_PENDING = 1000;

/** The receiver for a partner's alerts: its own `alerts`, else ferry.yaml's. */
export function alertReceiverFor(
  config: FerryConfig,
  partnerId: string | undefined,
): AlertReceiver | undefined {
  const own = partnerId === undefined ? undefined : config.partners.get(partnerId)?.alerts;
  return own ?? config.service.alerts?.receiver;
}

/**
 * Creates the alerter of one process. With no receiver configured, notify() does nothing (checked per
 * event, so a reload can add or remove receivers). Repeats are held back across processes through Redis
 * for `alerts.dedupMinutes`; a timer in every process flushes ended windows (each claimed once).
 */
export function createAlerter(deps: AlerterDeps): RunningAlerter {
  const { logger } = deps;
  const dedup: AlertDedup = createAlertDedup(deps.redis, deps.keys);
  const sender: AlertSender = createAlertSender({
    userAgent: `ferry/${deps.version}`,
    ...deps.sender,
    logger,
  });
  const host = deps.host ?? hostname();
  const pending = new Set<Promise<void>>();
  let suppressed = 0;
  let closed = false;
  let flushTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;

  const settings = (): AlertSettings | undefined => deps.getConfig().service.alerts;
  const anyReceiver = (): boolean => {
    const config = deps.getConfig();
    return (
      config.service.alerts?.receiver !== undefined || [...config.partners.values()].some((p) => p.alerts)
    );
  };
  const windowMs = (): number => (settings()?.dedupMinutes ?? 60) * 60_000;

  const track = (work: Promise<void>): void => {
    const tracked: Promise<void> = work
      .catch((err: unknown) => {
        logger.warn({ errCode: 'ERR_ALERT_WEBHOOK', err: messageOf(err) }, 'alert could not be prepared');
      })
      .finally(() => pending.delete(tracked));
    pending.add(tracked);
  };

  /** Reads the receiver's URL and key now (rotations need no reload) and queues the alert. */
  const dispatch = async (event: AlertEvent, occurrences: AlertOccurrences): Promise<void> => {
    const config = deps.getConfig();
    const receiver = alertReceiverFor(config, event.partnerId);
    if (receiver === undefined) return;
    const facts = { kind: event.kind, partnerId: event.partnerId, alertErrCode: event.errCode };
    let url: string;
    let secret: string | undefined;
    try {
      url = await readWebhookUrl(receiver, config.dir, deps.env);
      if (receiver.secret !== undefined) {
        secret = await resolveSecret(inDir(receiver.secret, config.dir), deps.env);
      }
    } catch (err) {
      // Sending unsigned to a receiver that expects signatures would only get the alert rejected there.
      const code = err instanceof FerryError ? err.code : 'ERR_SECRET_MISSING';
      logger.error(
        { ...facts, errCode: code, err: messageOf(err), message: event.message },
        'alert not sent: its webhook URL or signing key cannot be read',
      );
      return;
    }
    const body = buildAlertBody(event, occurrences, {
      alertId: randomUUID(),
      version: deps.version,
      host,
      runbookUrl: runbookUrl(settings()?.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL, runbookForAlert(event)),
    });
    const timeoutMs = (settings()?.timeoutSeconds ?? 10) * 1000;
    sender.enqueue({ url, ...(secret === undefined ? {} : { secret }), body, timeoutMs });
  };

  const handle = async (event: AlertEvent): Promise<void> => {
    const window = windowMs();
    let occurrences: AlertOccurrences | undefined;
    if (window > 0) {
      try {
        const decision = await withTimeout(
          dedup.record(alertDedupId(event), event, window),
          DEDUP_TIMEOUT_MS,
        );
        if (!decision.send) {
          suppressed += 1;
          logger.debug(
            {
              kind: event.kind,
              partnerId: event.partnerId,
              alertErrCode: event.errCode,
              repeats: decision.suppressed,
            },
            'alert held back: a repeat within the dedup window',
          );
          return;
        }
        occurrences = decision;
      } catch (err) {
        logger.warn(
          {
            kind: event.kind,
            partnerId: event.partnerId,
            errCode: 'ERR_REDIS_UNAVAILABLE',
            err: messageOf(err),
          },
          'alert dedup unavailable; sending without it',
        );
      }
    }
    const now = new Date();
    await dispatch(event, occurrences ?? { count: 1, firstAt: now, lastAt: now, summary: false });
  };

  const flush = (): Promise<void> => {
    flushing ??= (async () => {
      try {
        for (const due of await dedup.flushDue()) {
          await dispatch(due.event, {
            count: due.count,
            firstAt: due.firstAt,
            lastAt: due.lastAt,
            summary: true,
          });
        }
      } finally {
        flushing = undefined;
      }
    })();
    return flushing;
  };

  const scheduleFlush = (): void => {
    if (closed) return;
    // A quarter of the window (1 s … 60 s): a summary leaves at most that long after its window ended.
    const every = Math.min(60_000, Math.max(1000, windowMs() / 4));
    flushTimer = setTimeout(() => {
      const run = anyReceiver() ? flush() : Promise.resolve();
      run
        .catch((err: unknown) =>
          logger.warn(
            { errCode: 'ERR_REDIS_UNAVAILABLE', err: messageOf(err) },
            'alert flush failed; will retry',
          ),
        )
        .finally(scheduleFlush);
    }, every);
    flushTimer.unref();
  };
  scheduleFlush();

  return {
    notify(event) {
      if (closed || !(event.kind in ALERT_KINDS)) return;
      if (alertReceiverFor(deps.getConfig(), event.partnerId) === undefined) return;
      if (pending.size >= MAX_PENDING) {
        logger.error(
          { kind: event.kind, partnerId: event.partnerId, errCode: 'ERR_ALERT_WEBHOOK' },
          `alert not delivered: ${MAX_PENDING} alerts are already being prepared`,
        );
        return;
      }
      track(handle(event));
    },
    flush,
    stats: () => ({ ...sender.stats(), suppressed }),
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(flushTimer);
      await Promise.allSettled([...pending, flushing]);
      await sender.close();
    },
  };
}

async function readWebhookUrl(receiver: AlertReceiver, dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const ref = receiver.webhook;
  if ('url' in ref) return ref.url;
  const url = (
    await resolveSecret('env' in ref ? { env: ref.env } : inDir({ file: ref.file }, dir), env)
  ).trim();
  const problem = checkWebhookUrl(url, false);
  if (problem !== undefined) {
    const where = 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
    throw new FerryError('ERR_CONFIG_INVALID', `the alert webhook in ${where} ${problem}`);
  }
  return url;
}

// Relative secret files are relative to the config directory, like every other file reference.
function inDir(ref: { env?: string; file?: string }, dir: string): { env?: string; file?: string } {
  return ref.file === undefined || isAbsolute(ref.file) ? ref : { file: resolve(dir, ref.file) };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined); // a late failure after the timeout is not unhandled
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
