import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import {
  acquiredSlotLease,
  nextSlotLeaseState,
  type SlotLeaseEvent,
  type SlotLeaseState,
  type SlotLossReason,
} from '../core/slot-lease-state.js';
import { FerryError } from '../errors.js';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

export interface SlotLease {
  readonly holder: string;
  /**
   * Aborts, with a FerryError ERR_SLOT_LOST as its reason, once the slot may belong to someone else:
   * a renewal was answered "not held", or none was confirmed for a lease period by the local clock
   * (Redis unreachable). It fires no later than the lease's expiry in Redis. Whatever the slot
   * guards (a partner connection) must be given up at once.
   */
  readonly lost: AbortSignal;
  /**
   * Gives the slot back; never rejects (an unreleased lease expires on its own). Once lost it does
   * not wait for Redis: it only asks Redis, in the background, to drop this holder's entry.
   */
  release(): Promise<void>;
}

export interface Semaphore {
  /**
   * Waits (polling with jitter, ~50–250 ms, abortable by signal, bounded by timeoutMs → FerryError
   * ERR_SLOT_TIMEOUT) until fewer than `max` live leases exist, then takes one. The lease is renewed
   * every leaseMs/3 until released; a crashed process's lease expires after leaseMs. The lease's
   * `lost` signal tells when it can no longer be trusted.
   * An abort rejects with the signal's reason. Without timeoutMs it waits until aborted.
   */
  acquire(
    name: string,
    max: number,
    options?: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<SlotLease>;
  /**
   * Takes a slot only if fewer than `max` live leases exist now (one script run): a pool that could
   * share a connection asks this before opening another. Does not mark the slot wanted.
   */
  tryAcquire(name: string, max: number): Promise<SlotLease | undefined>;
  /** Live (unexpired) leases. */
  count(name: string): Promise<number>;
  /** True while another process has been waiting for a slot of `name` within the last few seconds. */
  wantedElsewhere(name: string): Promise<boolean>;
  /** Stops renew timers (does not release; held leases then count as lost a lease period later). */
  close(): void;
}

const DEFAULT_LEASE_MS = 30_000;
const POLL_MIN_MS = 50;
const POLL_JITTER_MS = 200;
// How long one failed acquire advertises that a slot is wanted (it is refreshed on every poll).
const WANTED_MS = 2_000;

// Every script reads the Redis clock, so the skew between worker hosts never shortens or stretches a lease.
const NOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// Keep the set itself alive as long as its longest lease, so a removed partner leaves nothing behind.
const KEEP_KEY_LUA = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
`;

// KEYS: slots set. ARGV: holder, leaseMs, max.
const ACQUIRE_LUA = `${NOW_LUA}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
${KEEP_KEY_LUA}
return 1
`;

// KEYS: slots set. ARGV: holder, leaseMs. 0 = the lease expired (another holder may own the slot now).
const RENEW_LUA = `${NOW_LUA}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
${KEEP_KEY_LUA}
return 1
`;

// KEYS: slots set.
const COUNT_LUA = `${NOW_LUA}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

const acquireScript = createLuaScript(ACQUIRE_LUA);
const renewScript = createLuaScript(RENEW_LUA);
const countScript = createLuaScript(COUNT_LUA);

/** Per-partner connection slots, shared by every worker process through one sorted set of leases. */
export function createRedisSemaphore(
  redis: Redis | Cluster,
  keys: RedisKeys,
  options: { leaseMs?: number } = {},
): Semaphore {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const timers = new Set<NodeJS.Timeout>();
  // Marks this process's "slot wanted" signals, so its own pool does not give connections away to itself.
  const processToken = randomUUID();

  function startLease(name: string, key: string, holder: string, sentAtMs: number): SlotLease {
    let state: SlotLeaseState = acquiredSlotLease(sentAtMs, leaseMs);
    let released = false;
    let renewing = false;
    const lost = new AbortController();
    let deadline: NodeJS.Timeout | undefined;

    const apply = (event: SlotLeaseEvent): void => {
      if (released || state.kind === 'lost') return;
      state = nextSlotLeaseState(state, event, leaseMs);
      if (state.kind === 'lost') {
        stop();
        clearTimeout(deadline);
        lost.abort(
          new FerryError('ERR_SLOT_LOST', `connection slot lease of ${name} lost (${state.reason})`, {
            details: { partnerId: name, holder, reason: state.reason },
          }),
        );
        return;
      }
      armDeadline(state.validUntilMs);
    };
    // The local-clock rule: re-armed on every confirmation, fires when the lease may have expired.
    const armDeadline = (validUntilMs: number): void => {
      clearTimeout(deadline);
      deadline = setTimeout(
        () => apply({ kind: 'tick', nowMs: performance.now() }),
        Math.max(0, validUntilMs - performance.now()),
      );
      deadline.unref();
    };

    const timer = setInterval(
      () => {
        if (renewing || released || state.kind !== 'held') return;
        renewing = true;
        // Taken before the call: Redis cannot run the renewal earlier than this.
        const sent = performance.now();
        renewScript
          .run(redis, [key], [holder, leaseMs])
          .then((alive) => apply(alive === 0 ? { kind: 'not-held' } : { kind: 'confirmed', sentAtMs: sent }))
          // A failed renewal is retried on the next tick; the local clock decides when to give up.
          .catch(() => undefined)
          .finally(() => {
            renewing = false;
          });
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    timers.add(timer);
    const stop = (): void => {
      clearInterval(timer);
      timers.delete(timer);
    };
    if (state.kind === 'held') armDeadline(state.validUntilMs);

    return {
      holder,
      lost: lost.signal,
      async release() {
        stop();
        clearTimeout(deadline);
        if (released) return;
        released = true;
        if (state.kind === 'lost') {
          // Redis may be away: never wait for it here. Removing our own holder id is always safe.
          void redis.zrem(key, holder).catch(() => undefined);
          return;
        }
        await redis.zrem(key, holder).catch(() => undefined);
      },
    };
  }

  /** One attempt: a lease when fewer than `max` live leases exist, else undefined. */
  const takeNow = async (name: string, max: number): Promise<SlotLease | undefined> => {
    const key = keys.slots(name);
    const holder = `${process.pid}:${randomUUID()}`;
    const sentAtMs = performance.now();
    const taken = await redisCall(() => acquireScript.run(redis, [key], [holder, leaseMs, max]));
    return taken === 1 ? startLease(name, key, holder, sentAtMs) : undefined;
  };

  return {
    async acquire(name, max, { signal, timeoutMs } = {}) {
      const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
      for (;;) {
        signal?.throwIfAborted();
        const lease = await takeNow(name, max);
        if (lease) {
          if (signal?.aborted) {
            await lease.release();
            signal.throwIfAborted();
          }
          return lease;
        }
        // Tells pools elsewhere to give back idle connections (and their slots) instead of keeping them.
        await redis.set(keys.slotsWanted(name), processToken, 'PX', WANTED_MS).catch(() => undefined);
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw new FerryError(
            'ERR_SLOT_TIMEOUT',
            `no free connection slot for ${name} within ${timeoutMs} ms`,
            {
              details: { partnerId: name, max, timeoutMs },
            },
          );
        }
        await pause(Math.min(remaining, POLL_MIN_MS + Math.random() * POLL_JITTER_MS), signal);
      }
    },

    tryAcquire: takeNow,

    async wantedElsewhere(name) {
      const by = await redisCall(() => redis.get(keys.slotsWanted(name)));
      return by !== null && by !== processToken;
    },

    async count(name) {
      const live = await redisCall(() => countScript.run(redis, [keys.slots(name)], []));
      return Number(live);
    },

    close() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
    },
  };
}

/** Why a lease was lost, read from its `lost` signal's reason (an ERR_SLOT_LOST FerryError). */
export function slotLossReasonOf(reason: unknown): SlotLossReason {
  return reason instanceof FerryError && reason.details.reason === 'not-held' ? 'not-held' : 'unconfirmed';
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
