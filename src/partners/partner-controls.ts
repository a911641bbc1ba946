// Partner runtime controls: the operator's pause flag (Redis), and what each partner is doing now —
// paused or not, inside its delivery window or not, where it stands against its SLA.
import type { Cluster, Redis } from 'ioredis';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { delayUntilOpen, windowStatus } from '../core/delivery-window.js';
import { nextRuns } from '../core/schedule.js';
import type { RedisKeys } from '../ledger/redis-keys.js';
import { createRedisLedger } from '../ledger/redis-ledger.js';
import { createSlaTracker } from './sla-tracker.js';

export interface PauseState {
  paused: boolean;
  source?: 'config' | 'operator';
  by?: string;
  at?: string;
  reason?: string;
}
export interface WindowState {
  configured: boolean;
  open: boolean;
  nextOpen?: string /* ISO */;
  nextClose?: string;
}
export type SlaStatus = 'none' | 'ok' | 'pending' | 'warning' | 'missed' | 'missing-export';
export interface SlaState {
  status: SlaStatus;
  by?: string /* ISO deadline of the current/next day */;
  expected?: number;
  found?: number;
  delivered?: number;
}
export interface PartnerRuntime {
  id: string;
  enabled: boolean;
  schedule: { cron: string; timezone: string; nextRun?: string };
  pause: PauseState;
  window: WindowState;
  sla: SlaState;
}
export interface PartnerControls {
  /** Sets the operator pause flag {ferry}:partner:<id>:pause (hash: by, at, reason). */
  pause(partnerId: string, who: string, reason: string): Promise<void>;
  /** Clears the operator pause flag (a config `paused: true` stays in force). */
  resume(partnerId: string, who: string, reason: string): Promise<void>;
  /** Config `paused: true` OR the operator's Redis flag. */
  pauseState(partner: PartnerConfig): Promise<PauseState>;
  /** Everything /api/partners needs except ledger stats. */
  runtime(config: FerryConfig, now: Date): Promise<PartnerRuntime[]>;
}

/** Reads the SLA state of one partner (default: from the sweeps' found sets and the ledger in Redis). */
export type SlaReader = (partner: PartnerConfig, now: Date) => Promise<SlaState>;

export interface PartnerControlsOptions {
  /** Told about every pause and resume (the audit log line). */
  onChange?: (change: {
    action: 'pause' | 'resume';
    partnerId: string;
    by: string;
    at: string;
    reason: string;
  }) => void;
  sla?: SlaReader;
}

/** The window part of a partner's runtime state at `now`. */
export function windowStateFor(partner: PartnerConfig, now: Date): WindowState {
  if (!partner.window) return { configured: false, open: true };
  const status = windowStatus(partner.window, partner.schedule.timezone, now);
  return {
    configured: true,
    open: status.open,
    ...(status.nextOpen ? { nextOpen: status.nextOpen.toISOString() } : {}),
    ...(status.nextClose ? { nextClose: status.nextClose.toISOString() } : {}),
  };
}

/** Pause state from config and the operator's flag (a hash as HGETALL returns it). */
export function pauseStateFrom(partner: PartnerConfig, flag: Record<string, string>): PauseState {
  if (partner.paused === true) return { paused: true, source: 'config' };
  if (flag.at === undefined) return { paused: false };
  return {
    paused: true,
    source: 'operator',
    ...(flag.by === undefined ? {} : { by: flag.by }),
    at: flag.at,
    ...(flag.reason === undefined ? {} : { reason: flag.reason }),
  };
}

export function createPartnerControls(
  redis: Redis | Cluster,
  keys: RedisKeys,
  options: PartnerControlsOptions = {},
): PartnerControls {
  const readFlag = (partnerId: string) => redis.hgetall(keys.partnerPause(partnerId));
  const tracker = options.sla ? undefined : createSlaTracker(redis, keys, createRedisLedger(redis, keys));
  const sla: SlaReader =
    options.sla ??
    (async (partner, now) => {
      const { day: _day, ...state } = await tracker!.read(partner, now);
      return state;
    });
  return {
    async pause(partnerId, who, reason) {
      const at = new Date().toISOString();
      await redis.hset(keys.partnerPause(partnerId), { by: who, at, reason });
      options.onChange?.({ action: 'pause', partnerId, by: who, at, reason });
    },
    async resume(partnerId, who, reason) {
      await redis.del(keys.partnerPause(partnerId));
      options.onChange?.({ action: 'resume', partnerId, by: who, at: new Date().toISOString(), reason });
    },
    async pauseState(partner) {
      if (partner.paused === true) return { paused: true, source: 'config' };
      return pauseStateFrom(partner, await readFlag(partner.id));
    },
    async runtime(config, now) {
      const partners = [...config.partners.values()];
      return Promise.all(
        partners.map(async (partner): Promise<PartnerRuntime> => {
          const [flag, slaState] = await Promise.all([readFlag(partner.id), sla(partner, now)]);
          let nextRun: string | undefined;
          try {
            nextRun = partner.enabled
              ? nextRuns(partner.schedule.cron, partner.schedule.timezone, now, 1)[0]?.toISOString()
              : undefined;
          } catch {
            nextRun = undefined;
          }
          return {
            id: partner.id,
            enabled: partner.enabled,
            schedule: {
              cron: partner.schedule.cron,
              timezone: partner.schedule.timezone,
              ...(nextRun === undefined ? {} : { nextRun }),
            },
            pause: pauseStateFrom(partner, flag),
            window: windowStateFor(partner, now),
            sla: slaState,
          };
        }),
      );
    },
  };
}

/** Why and how long a delivery waits before it may take a connection slot. */
export interface DeliveryHold {
  reason: 'paused' | 'window';
  delayMs: number;
}

export interface DeliveryHoldOptions {
  /** How often a paused partner's queued deliveries look again (default 60 s). */
  pauseRecheckMs?: number;
  /** Up to this much is added to a window's opening, so a backlog does not start at once (default 30 s). */
  jitterMs?: number;
  random?: () => number;
}

/**
 * Whether a delivery of `partner` must wait at `now` — paused (config or operator), or outside its
 * delivery window — and for how long. undefined: go ahead.
 */
export async function deliveryHoldFor(
  controls: Pick<PartnerControls, 'pauseState'>,
  partner: PartnerConfig,
  now: Date,
  options: DeliveryHoldOptions = {},
): Promise<DeliveryHold | undefined> {
  const recheck = options.pauseRecheckMs ?? 60_000;
  if ((await controls.pauseState(partner)).paused) return { reason: 'paused', delayMs: recheck };
  if (!partner.window) return undefined;
  const delayMs = delayUntilOpen(partner.window, partner.schedule.timezone, now, {
    jitterMs: options.jitterMs ?? 30_000,
    // A window that never opens again (every later day a blackout date): look again now and then.
    fallbackMs: 3_600_000,
    ...(options.random ? { random: options.random } : {}),
  });
  return delayMs > 0 ? { reason: 'window', delayMs } : undefined;
}
