// What each partner's last sweep found, kept in Redis for the API and the web UI: counts, and the
// objects left out as `stale` (older than `source.maxAgeDays`), which are sent only on request.
import { z } from 'zod';
import type { RedisClient } from '../queues/redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

/** At most this many stale objects are kept per sweep (the counts cover them all). */
export const MAX_STALE_LISTED = 20;

const StaleObject = z.object({
  key: z.string(),
  size: z.number(),
  /** ISO time. */
  lastModified: z.string(),
  etag: z.string(),
});
export type StaleObject = z.infer<typeof StaleObject>;

const SweepSummary = z.object({
  /** ISO time of the sweep (the clock it selected by). */
  at: z.string(),
  listed: z.number(),
  eligible: z.number(),
  enqueued: z.number(),
  /** Objects not eligible, by skip reason (as SweepResult.skipped). */
  skipped: z.record(z.string(), z.number()),
  /** The first MAX_STALE_LISTED stale objects in listing order. */
  stale: z.array(StaleObject),
});
export type SweepSummary = z.infer<typeof SweepSummary>;

export interface SweepSummaries {
  /** Replaces the partner's last sweep summary (one SET). */
  record(partnerId: string, summary: SweepSummary): Promise<void>;
  /** The partner's last sweep summary; undefined when none was recorded (or it cannot be read). */
  read(partnerId: string): Promise<SweepSummary | undefined>;
}

export function createSweepSummaries(redis: RedisClient, keys: RedisKeys): SweepSummaries {
  return {
    async record(partnerId, summary) {
      const kept = { ...summary, stale: summary.stale.slice(0, MAX_STALE_LISTED) };
      await redisCall(() => redis.set(keys.lastSweep(partnerId), JSON.stringify(kept)));
    },
    async read(partnerId) {
      const text = await redisCall(() => redis.get(keys.lastSweep(partnerId)));
      if (text === null) return undefined;
      try {
        const parsed = SweepSummary.safeParse(JSON.parse(text));
        return parsed.success ? parsed.data : undefined;
      } catch {
        return undefined; // not JSON: written by something else; the next sweep replaces it
      }
    },
  };
}
