// The daily SLA (`expect`) in Redis: sweeps record what they found per SLA day, the checker evaluates
// each partner every minute and alerts once per day and kind.
//
// "Found" for a day = the object versions (deliveryIds) that the sweeps found *not yet delivered*
// between the previous deadline and this one (a sorted set, score = first found, ms). "Delivered" =
// how many of them the ledger records as delivered (by the deadline once it has passed) or settled as
// skipped (already on the partner, or gone from S3). Objects delivered on earlier days are not found
// again, so `atLeast` counts fresh exports, not the prefix's history.
import type { Cluster, Redis } from 'ioredis';
import type { Alerter } from '../observability/alerter.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import {
  collectingSlaDay,
  currentSlaDay,
  evaluateSla,
  isSlaAlertSuppressed,
  windowAllowsSlaDay,
  type SlaAlertKind,
  type SlaEvaluation,
  type SlaStatusValue,
} from '../core/sla.js';
import { isSettled } from '../ledger/delivery-record.js';
import type { RedisKeys } from '../ledger/redis-keys.js';
import type { Ledger } from '../ledger/redis-ledger.js';
import type { Logger } from '../observability/logger.js';

/** Found sets and alert marks outlive their day by this long (the dashboard shows only today). */
const KEEP_MS = 3 * 24 * 3_600_000;
const LEDGER_BATCH = 500;

export interface SlaTracker {
  /** Sweep side: `deliveryIds` were found not yet delivered at `now` (no-op without `expect`). */
  recordFound(partner: PartnerConfig, deliveryIds: readonly string[], now: Date): Promise<void>;
  /** The partner's state for the day shown at `now` (`none` without `expect` or on a day without SLA). */
  read(partner: PartnerConfig, now: Date): Promise<SlaReading>;
}

/** One partner's SLA state (the `sla` of PartnerRuntime, plus the day it was evaluated for). */
export interface SlaReading {
  status: SlaStatusValue | 'none';
  /** ISO deadline of the current day (or the next day with an SLA). */
  by?: string;
  expected?: number;
  found?: number;
  delivered?: number;
  /** Set when an SLA day applies now. */
  day?: { day: string; deadline: Date; evaluation: SlaEvaluation };
}

function appliesOn(partner: PartnerConfig): (day: string) => boolean {
  const { window, expect } = partner;
  if (!window || !expect) return () => true;
  return (day) => windowAllowsSlaDay(window, partner.schedule.timezone, expect.by, day);
}

export function createSlaTracker(redis: Redis | Cluster, keys: RedisKeys, ledger: Ledger): SlaTracker {
  return {
    async recordFound(partner, deliveryIds, now) {
      if (!partner.expect || deliveryIds.length === 0) return;
      const day = collectingSlaDay(now, partner.expect.by, partner.schedule.timezone, appliesOn(partner));
      if (!day) return;
      const key = keys.slaFound(partner.id, day.day);
      const args = deliveryIds.flatMap((id) => [now.getTime(), id]);
      await redis
        .multi()
        .zadd(key, 'NX', ...args)
        .pexpireat(key, day.deadline.getTime() + KEEP_MS)
        .exec();
    },
    async read(partner, now) {
      const expect = partner.expect;
      if (!expect) return { status: 'none' };
      const tz = partner.schedule.timezone;
      const current = currentSlaDay(now, expect.by, tz, appliesOn(partner));
      if (!current) {
        const next = collectingSlaDay(now, expect.by, tz, appliesOn(partner));
        return { status: 'none', ...(next ? { by: next.deadline.toISOString() } : {}) };
      }
      const deadlineMs = current.deadline.getTime();
      const ids = await redis.zrangebyscore(keys.slaFound(partner.id, current.day), '-inf', deadlineMs);
      const passed = now.getTime() >= deadlineMs;
      let delivered = 0;
      for (let i = 0; i < ids.length; i += LEDGER_BATCH) {
        const records = await Promise.all(ids.slice(i, i + LEDGER_BATCH).map((id) => ledger.get(id)));
        for (const r of records) {
          if (!r) continue;
          const onTime = !passed || (r.deliveredAt !== undefined && Date.parse(r.deliveredAt) <= deadlineMs);
          if ((r.status === 'delivered' && onTime) || (r.status === 'skipped' && isSettled(r))) {
            delivered += 1;
          }
        }
      }
      const evaluation = evaluateSla({
        now,
        deadline: current.deadline,
        warnBeforeMinutes: expect.warnBeforeMinutes,
        atLeast: expect.atLeast,
        found: ids.length,
        delivered,
      });
      return {
        status: evaluation.status,
        by: current.deadline.toISOString(),
        expected: expect.atLeast,
        found: ids.length,
        delivered,
        day: { ...current, evaluation },
      };
    },
  };
}

export interface SlaCheckerDeps {
  getConfig(): FerryConfig;
  tracker: SlaTracker;
  redis: Redis | Cluster;
  keys: RedisKeys;
  alerts: Alerter;
  logger: Logger;
  now(): Date;
  /** Whether the partner is paused (config or operator): its SLA alerts are then held back. Default: never. */
  isPaused?(partner: PartnerConfig): Promise<boolean>;
  /** How often every partner is evaluated (default 60 s). */
  intervalMs?: number;
}

export interface SlaChecker {
  /** The last evaluated status of each partner with `expect`. */
  states(): ReadonlyMap<string, SlaReading['status']>;
  /** Evaluates every partner now (also runs on the timer). */
  check(): Promise<void>;
  /** Stops the timer and waits for a check in progress. */
  close(): Promise<void>;
}

/**
 * Evaluates every partner's SLA on a timer and raises sla-warning, sla-missed and missing-export
 * alerts. Every scheduler process may run one: a Redis mark per partner, day and kind (SET NX) makes
 * each alert go out once per day. A paused partner's alerts are logged as suppressed instead (once per
 * day and kind) without claiming that mark: if the condition still holds after a resume, it alerts then.
 */
export function startSlaChecker(deps: SlaCheckerDeps): SlaChecker {
  const states = new Map<string, SlaReading['status']>();
  let running: Promise<void> | undefined;

  /** Claims a once-per-day mark (SET NX across processes); true for the one caller that got it. */
  const claimOnce = async (key: string): Promise<boolean> =>
    (await deps.redis.set(key, '1', 'PX', KEEP_MS, 'NX')) === 'OK';

  const checkPartner = async (partner: PartnerConfig, now: Date): Promise<void> => {
    const reading = await deps.tracker.read(partner, now);
    states.set(partner.id, reading.status);
    if (!reading.day) return;
    const { day, deadline, evaluation } = reading.day;
    const log = deps.logger.child({ partnerId: partner.id, slaDay: day, deadline: deadline.toISOString() });
    const figures = `${reading.delivered ?? 0} of ${reading.found ?? 0} found file(s) delivered, at least ${reading.expected ?? 0} expected`;
    let paused: Promise<boolean> | undefined; // read once per check, and only when an alert is due
    const raise = async (kind: SlaAlertKind, message: string) => {
      paused ??= deps.isPaused?.(partner) ?? Promise.resolve(false);
      const alerted = deps.keys.slaAlerted(partner.id, day, kind);
      if (isSlaAlertSuppressed(kind, await paused)) {
        // The alert's own mark stays free, so a miss still standing after a same-day resume alerts then.
        // A second mark keeps the suppression to one log line per day and kind, across processes.
        if ((await deps.redis.exists(alerted)) > 0) return; // sent before the pause: nothing held back
        if (!(await claimOnce(deps.keys.slaAlerted(partner.id, day, `${kind}:suppressed`)))) return;
        log.info(
          { kind, suppressed: 'paused', found: reading.found, delivered: reading.delivered },
          `${kind} alert suppressed: the partner is paused (${message})`,
        );
        return;
      }
      if (!(await claimOnce(alerted))) return;
      log.warn({ alert: true, kind, found: reading.found, delivered: reading.delivered }, message);
      deps.alerts.notify({ kind, partnerId: partner.id, message });
    };
    const by = `${partner.expect!.by} ${partner.schedule.timezone}`;
    if (evaluation.status === 'warning') {
      await raise('sla-warning', `deadline ${by} (${day}) is near: ${figures}`);
    }
    if (now.getTime() >= deadline.getTime()) {
      if (evaluation.shortBy > 0) {
        await raise(
          'missing-export',
          `by ${by} (${day}) the sweeps found ${reading.found ?? 0} new object(s), expected at least ${reading.expected ?? 0}`,
        );
      }
      if (evaluation.late > 0) {
        await raise('sla-missed', `deadline ${by} (${day}) missed: ${figures}`);
      }
    }
  };

  const check = (): Promise<void> => {
    running ??= (async () => {
      const now = deps.now();
      const config = deps.getConfig();
      for (const id of states.keys()) {
        const p = config.partners.get(id);
        if (!p?.expect || !p.enabled) states.delete(id);
      }
      for (const partner of config.partners.values()) {
        if (!partner.enabled || !partner.expect) continue;
        try {
          await checkPartner(partner, now);
        } catch (err) {
          deps.logger.warn({ partnerId: partner.id, err: (err as Error).message }, 'SLA check failed');
        }
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => void check(), deps.intervalMs ?? 60_000);
  timer.unref();
  void check();
  return {
    states: () => states,
    check,
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
