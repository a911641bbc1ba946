// When each partner's last S3 event came (POST /api/events/s3): shown by `ferry plan`, GET
// /api/partners and the web UI. A key per partner, no expiry.
import type { Cluster, Redis } from 'ioredis';
import { redisCall } from './redis-call.js';
import type { RedisKeys } from './redis-keys.js';

/** Reads and writes each partner's last event time. */
export function createEventTimes(redis: Redis | Cluster, keys: RedisKeys) {
  return {
    async record(partnerId: string, at: Date): Promise<void> {
      await redisCall(() => redis.set(keys.partnerLastEvent(partnerId), at.toISOString()));
    },
    async last(partnerId: string): Promise<string | undefined> {
      return (await redisCall(() => redis.get(keys.partnerLastEvent(partnerId)))) ?? undefined;
    },
  };
}
export type EventTimes = ReturnType<typeof createEventTimes>;
