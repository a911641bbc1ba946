// Alert dedup shared by every Ferry process through Redis: the first occurrence of a dedup key in a window
// is sent at once, repeats only count; when the window has ended, the next occurrence or a flush sends
// one alert carrying the count. Every decision is one Lua script on the Redis clock, so two processes
// never both send, and host clock skew does not move windows.
import { ALERT_KINDS, type AlertEvent } from '../core/alert-message.js';
import { createLuaScript } from '../ledger/lua-script.js';
import type { RedisKeys } from '../ledger/redis-keys.js';
import type { RedisClient } from '../queues/redis-connection.js';

/** What `record` decided. `send`: count = suppressed repeats of the ended window + this occurrence. */
export type DedupDecision =
  | { send: true; count: number; firstAt: Date; lastAt: Date; summary: boolean }
  | { send: false; suppressed: number };

/** An ended window with held-back repeats: send one alert for them. */
export interface DueSummary {
  event: AlertEvent;
  count: number;
  firstAt: Date;
  lastAt: Date;
}

export interface AlertDedup {
  /** Counts one occurrence of `event` under `dedupId` and says whether to send an alert now. */
  record(dedupId: string, event: AlertEvent, windowMs: number): Promise<DedupDecision>;
  /** Claims every ended window that held back repeats (each claimed by exactly one caller). */
  flushDue(limit?: number): Promise<DueSummary[]>;
}

// A window's hash outlives its end by a day, so a flush after a restart still finds the count.
const KEEP_AFTER_WINDOW_MS = 24 * 3600_000;

const NOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS: window hash, windows index. ARGV: dedupId, windowMs, ttlMs, event JSON.
// Returns {0, suppressed} (held back) or {1, suppressedBefore, firstAt, now} (send).
const RECORD_LUA = `${NOW_LUA}
local windowEnd = tonumber(redis.call('HGET', KEYS[1], 'windowEnd'))
if windowEnd and now < windowEnd then
  local n = redis.call('HINCRBY', KEYS[1], 'suppressed', 1)
  if n == 1 then redis.call('HSET', KEYS[1], 'firstAt', now) end
  redis.call('HSET', KEYS[1], 'lastAt', now, 'event', ARGV[4])
  return {0, n}
end
local prev = redis.call('HMGET', KEYS[1], 'suppressed', 'firstAt')
local suppressed = tonumber(prev[1]) or 0
local firstAt = now
if suppressed > 0 then firstAt = tonumber(prev[2]) or now end
redis.call('DEL', KEYS[1])
local ends = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'windowEnd', ends, 'suppressed', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ends, ARGV[1])
return {1, suppressed, firstAt, now}
`;

// KEYS: windows index. ARGV: limit. The ids whose window ended.
const DUE_LUA = `${NOW_LUA}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
`;

// KEYS: window hash, windows index. ARGV: dedupId. Closes an ended window; returns its held-back
// repeats {suppressed, firstAt, lastAt, event} or nil. A window reopened meanwhile stays.
const CLAIM_LUA = `${NOW_LUA}
local h = redis.call('HMGET', KEYS[1], 'windowEnd', 'suppressed', 'firstAt', 'lastAt', 'event')
local windowEnd = tonumber(h[1])
if windowEnd and now < windowEnd then
  redis.call('ZADD', KEYS[2], windowEnd, ARGV[1])
  return false
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local n = tonumber(h[2]) or 0
if n == 0 or not h[5] then return false end
return {n, h[3], h[4], h[5]}
`;

const recordScript = createLuaScript(RECORD_LUA);
const dueScript = createLuaScript(DUE_LUA);
const claimScript = createLuaScript(CLAIM_LUA);

/** The Redis-backed dedup store (keys from src/ledger/redis-keys.ts, all under the hash tag). */
export function createAlertDedup(redis: RedisClient, keys: RedisKeys): AlertDedup {
  return {
    async record(dedupId, event, windowMs) {
      const reply = (await recordScript.run(
        redis,
        [keys.alertWindow(dedupId), keys.alertWindows],
        [
          dedupId,
          Math.max(1, Math.round(windowMs)),
          Math.round(windowMs) + KEEP_AFTER_WINDOW_MS,
          JSON.stringify(event),
        ],
      )) as number[];
      if (reply[0] === 0) return { send: false, suppressed: Number(reply[1]) };
      const suppressed = Number(reply[1]);
      return {
        send: true,
        count: suppressed + 1,
        firstAt: new Date(Number(reply[2])),
        lastAt: new Date(Number(reply[3])),
        summary: suppressed > 0,
      };
    },

    async flushDue(limit = 100) {
      const due = (await dueScript.run(redis, [keys.alertWindows], [limit])) as string[];
      const out: DueSummary[] = [];
      for (const dedupId of due) {
        const claimed = (await claimScript.run(
          redis,
          [keys.alertWindow(dedupId), keys.alertWindows],
          [dedupId],
        )) as [number, string, string, string] | null;
        if (!claimed) continue;
        const event = parseEvent(claimed[3]);
        if (!event) continue;
        const lastAt = new Date(Number(claimed[2]));
        out.push({
          event,
          count: Number(claimed[0]),
          firstAt: new Date(Number(claimed[1]) || lastAt.getTime()),
          lastAt,
        });
      }
      return out;
    },
  };
}

// Written by record() above; anything else (an operator's edit) is dropped rather than trusted.
function parseEvent(json: string): AlertEvent | undefined {
  try {
    const value = JSON.parse(json) as Partial<AlertEvent> | null;
    if (!value || typeof value.kind !== 'string' || !(value.kind in ALERT_KINDS)) return undefined;
    if (typeof value.message !== 'string') return undefined;
    return value as AlertEvent;
  } catch {
    return undefined;
  }
}
