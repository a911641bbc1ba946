// `after.source` steps (tag, move) that failed after a delivery and are still to redo. The record is
// durable (Redis, beside the ledger) so a failed tag or move is retried by the partner's sweeps instead
// of being lost; it is removed when a later run of the step succeeds, the object is gone, or the config
// no longer asks for the step. The partner's list is ordered by the last failure, so retries go round:
// an entry that keeps failing (a permanent AccessDenied) goes to the back instead of starving the rest.
import type { Cluster, Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';

/** One delivery's failed housekeeping: the object version, the tag value, and how it has failed. */
export interface PendingHousekeeping {
  deliveryId: string;
  partnerId: string;
  bucket: string;
  key: string;
  etag: string;
  size: number;
  /** The tag value (delivery time, ISO, or the delivery id). */
  mark: string;
  /** Failed runs so far (the first one included). */
  attempts: number;
  lastErrCode: string;
  /** The step that failed last: `tag` or `move`. */
  step: string;
  firstFailedAt: string;
  lastFailedAt: string;
}

export type HousekeepingFailure = Omit<PendingHousekeeping, 'attempts' | 'firstFailedAt' | 'lastFailedAt'>;

export interface HousekeepingPendingStore {
  /** Records (or updates) the failure of one delivery's step and moves it to the back; returns the attempts so far. */
  recordFailure(failure: HousekeepingFailure, at: Date): Promise<number>;
  /** Removes the entry; true when there was one. */
  resolve(partnerId: string, deliveryId: string): Promise<boolean>;
  /** The partner's entries, least recently failed first, at most `limit`. */
  oldest(partnerId: string, limit: number): Promise<PendingHousekeeping[]>;
  /** How many entries the partner has. */
  count(partnerId: string): Promise<number>;
}

export function createHousekeepingPending(redis: Redis | Cluster, keys: RedisKeys): HousekeepingPendingStore {
  return {
    async recordFailure(f, at) {
      const entry = keys.housekeepingEntry(f.deliveryId);
      const iso = at.toISOString();
      // One MULTI (same hash tag: one slot): the entry and its place in the partner's list never part.
      const replies = await redis
        .multi()
        .hsetnx(entry, 'firstFailedAt', iso)
        .hset(entry, {
          deliveryId: f.deliveryId,
          partnerId: f.partnerId,
          bucket: f.bucket,
          key: f.key,
          etag: f.etag,
          size: String(f.size),
          mark: f.mark,
          lastErrCode: f.lastErrCode,
          step: f.step,
          lastFailedAt: iso,
        })
        .hincrby(entry, 'attempts', 1)
        // Scored by this failure (not the first): the next pass tries the others before this one again.
        .zadd(keys.housekeepingPending(f.partnerId), at.getTime(), f.deliveryId)
        .exec();
      const attempts = replies?.[2]?.[1];
      return typeof attempts === 'number' ? attempts : Number(attempts ?? 1);
    },

    async resolve(partnerId, deliveryId) {
      const replies = await redis
        .multi()
        .del(keys.housekeepingEntry(deliveryId))
        .zrem(keys.housekeepingPending(partnerId), deliveryId)
        .exec();
      return Number(replies?.[1]?.[1] ?? 0) > 0 || Number(replies?.[0]?.[1] ?? 0) > 0;
    },

    async oldest(partnerId, limit) {
      if (limit <= 0) return [];
      const ids = await redis.zrange(keys.housekeepingPending(partnerId), '0', String(limit - 1));
      const out: PendingHousekeeping[] = [];
      for (const id of ids) {
        const parsed = parseEntry(await redis.hgetall(keys.housekeepingEntry(id)));
        // A listed id without a readable entry can never be retried: drop it from the list.
        if (parsed === undefined || parsed.partnerId !== partnerId) {
          await redis.zrem(keys.housekeepingPending(partnerId), id);
          continue;
        }
        out.push(parsed);
      }
      return out;
    },

    count: (partnerId) => redis.zcard(keys.housekeepingPending(partnerId)),
  };
}

function parseEntry(h: Record<string, string>): PendingHousekeeping | undefined {
  const { deliveryId, partnerId, bucket, key, etag, mark } = h;
  const size = Number(h.size);
  if (!deliveryId || !partnerId || !bucket || !key || !etag || mark === undefined || !Number.isFinite(size)) {
    return undefined;
  }
  return {
    deliveryId,
    partnerId,
    bucket,
    key,
    etag,
    size,
    mark,
    attempts: Number(h.attempts ?? 0),
    lastErrCode: h.lastErrCode ?? 'ERR_UNKNOWN',
    step: h.step ?? 'tag',
    firstFailedAt: h.firstFailedAt ?? '',
    lastFailedAt: h.lastFailedAt ?? '',
  };
}
