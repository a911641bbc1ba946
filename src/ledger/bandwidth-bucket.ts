// Bandwidth caps across every worker process and host: one token bucket per cap in Redis, filled at
// the cap's rate (by Redis's clock, so hosts' clocks do not matter), from which each process takes a
// lease of a few hundred milliseconds of budget at a time (src/adapters/bandwidth-limiter.ts), so
// Redis is asked a few times a second per busy process, not per write.
import type { Cluster, Redis } from 'ioredis';
import { createLuaScript } from './lua-script.js';
import { redisCall } from './redis-call.js';

export interface BandwidthLease {
  /** Bytes granted now (0 when the bucket is empty). */
  granted: number;
  /** When nothing was granted: how long until `want` bytes will have refilled (ms). */
  waitMs: number;
}

export interface BandwidthBucket {
  /** Takes up to `want` bytes from the bucket `key` filled at `bytesPerSecond`. */
  take(key: string, bytesPerSecond: number, want: number): Promise<BandwidthLease>;
}

/** The bucket holds at most this much time's worth of the rate: an idle cap allows a short burst only. */
export const BUCKET_DEPTH_MS = 500;

// KEYS: the bucket hash (tokens, at). ARGV: rate (bytes/s), depth (ms), want (bytes).
// A new bucket starts full. Partial grants keep a big request from starving behind small ones.
const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local depth = rate * tonumber(ARGV[2]) / 1000
local want = tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or depth)
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or now)
-- Clamped even when no time passed (same millisecond, clock stepped back): a lowered rate lowers the depth.
tokens = math.min(depth, tokens + math.max(0, now - at) * rate / 1000)
local granted = math.floor(math.min(want, tokens))
local wait = 0
if granted < 1 then
  granted = 0
  wait = math.ceil((math.min(want, depth) - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - granted), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], 60000)
return { granted, wait }
`;

const takeScript = createLuaScript(TAKE_LUA);

export function createBandwidthBucket(redis: Redis | Cluster): BandwidthBucket {
  return {
    async take(key, bytesPerSecond, want) {
      const reply = (await redisCall(() =>
        takeScript.run(redis, [key], [bytesPerSecond, BUCKET_DEPTH_MS, want]),
      )) as [number, number];
      const granted = Number(reply[0]);
      return { granted, waitMs: granted > 0 ? 0 : Math.max(1, Number(reply[1])) };
    },
  };
}
