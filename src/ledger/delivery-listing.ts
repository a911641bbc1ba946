// Listings of the ledger, newest first, for the deliveries API and `ferry deliveries`: the per-partner
// indexes (deliveryId → updatedAt ms) merged, filtered while paging, with bounded work per call.
import type { Cluster, Redis } from 'ioredis';
import { classifyError } from '../core/classify-error.js';
import type { LedgerCursor } from '../core/delivery-cursor.js';
import type { AckStatus } from '../core/delivery-view.js';
import type { DeliveryRecord, DeliveryStatus } from './delivery-record.js';
import type { Ledger } from './redis-ledger.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

export interface DeliveryFilter {
  /** Whose deliveries (the configured partners when listing all). */
  partners: readonly string[];
  status?: DeliveryStatus;
  /** The partner's answer (the record's `ack`, src/core/ack-filter.ts names them for people). */
  ack?: AckStatus;
  /** Case-insensitive substring of the S3 key or the delivery id. */
  q?: string;
  /** Bounds on updatedAt, epoch ms, inclusive. */
  since?: number;
  until?: number;
}

export interface ListOptions extends DeliveryFilter {
  limit: number;
  cursor?: LedgerCursor;
  /** Index entries looked at before the call returns what it found with a cursor (default 10,000). */
  maxScan?: number;
}

export interface ListPage {
  records: DeliveryRecord[];
  /** Where to go on; null when the listing is complete. */
  next: LedgerCursor | null;
  /** Index entries looked at by this call. */
  scanned: number;
}

export interface DeliveryListing {
  list(options: ListOptions): Promise<ListPage>;
  /** Index entries in the time range, all partners summed (ZCOUNT each): the total of an unfiltered listing. */
  count(filter: Pick<DeliveryFilter, 'partners' | 'since' | 'until'>): Promise<number>;
}

interface Entry {
  partner: string;
  id: string;
  score: number;
}

interface Stream {
  partner: string;
  key: string;
  buffer: Entry[];
  /** Fetch position: the next fetch starts at score `s`, skipping the first `k` entries there. */
  s: number;
  k: number;
  done: boolean;
}

const FILTER_BATCH = 1000;
const DEFAULT_MAX_SCAN = 10_000;

export function createDeliveryListing(
  redis: Redis | Cluster,
  keys: RedisKeys,
  ledger: Ledger,
): DeliveryListing {
  async function refill(streams: Stream[], min: string, size: number): Promise<void> {
    const empty = streams.filter((st) => st.buffer.length === 0 && !st.done);
    if (empty.length === 0) return;
    const pipeline = redis.pipeline();
    for (const st of empty) {
      pipeline.zrevrangebyscore(st.key, scoreArg(st.s), min, 'WITHSCORES', 'LIMIT', st.k, size);
    }
    const replies = await redisCall(() => pipeline.exec());
    empty.forEach((st, i) => {
      const [err, reply] = replies?.[i] ?? [null, []];
      if (err) throw classifyError(err, 'redis');
      const flat = (reply ?? []) as string[];
      for (let j = 0; j + 1 < flat.length; j += 2) {
        const score = Number(flat[j + 1]);
        st.buffer.push({ partner: st.partner, id: flat[j]!, score });
        if (score === st.s) st.k += 1;
        else {
          st.s = score;
          st.k = 1;
        }
      }
      if (flat.length / 2 < size) st.done = true;
    });
  }

  return {
    async list(o) {
      const maxScan = o.maxScan ?? DEFAULT_MAX_SCAN;
      const min = o.since === undefined ? '-inf' : String(o.since);
      const start = o.cursor?.s ?? o.until ?? Infinity;
      const streams: Stream[] = o.partners.map((partner) => ({
        partner,
        key: keys.partnerDeliveries(partner),
        buffer: [],
        s: start,
        k: o.cursor?.k[partner] ?? 0,
        done: false,
      }));
      const filtering = o.status !== undefined || o.ack !== undefined || (o.q ?? '') !== '';
      const needle = (o.q ?? '').toLowerCase();
      // What has been consumed, in cursor form.
      let position: LedgerCursor | null = o.cursor ? { ...o.cursor, k: { ...o.cursor.k } } : null;
      const consume = (e: Entry): LedgerCursor => {
        if (position === null || e.score !== position.s) position = { kind: 'ledger', s: e.score, k: {} };
        position.k[e.partner] = (position.k[e.partner] ?? 0) + 1;
        return { kind: 'ledger', s: position.s, k: { ...position.k } };
      };
      const fetchSize = (wanted: number) => Math.min(1000, Math.max(filtering ? 1000 : wanted + 1, 16));

      const next = async (wanted: number): Promise<Entry | undefined> => {
        await refill(streams, min, fetchSize(wanted));
        let best: Stream | undefined;
        for (const st of streams) {
          const head = st.buffer[0];
          if (head === undefined) continue;
          const top = best?.buffer[0];
          if (top === undefined || head.score > top.score || (head.score === top.score && head.id > top.id)) {
            best = st;
          }
        }
        return best?.buffer.shift();
      };
      const exhausted = () => streams.every((st) => st.done && st.buffer.length === 0);

      const taken: { entry: Entry; at: LedgerCursor }[] = [];
      let scanned = 0;
      let resume: LedgerCursor | null = null;
      while (taken.length < o.limit) {
        const wanted = o.limit - taken.length;
        const batch: { entry: Entry; at: LedgerCursor }[] = [];
        const batchSize = Math.min(filtering ? FILTER_BATCH : wanted, maxScan - scanned);
        while (batch.length < batchSize) {
          const entry = await next(wanted);
          if (!entry) break;
          batch.push({ entry, at: consume(entry) });
        }
        scanned += batch.length;
        const matches = filtering ? await filterBatch(batch, o.status, o.ack, needle) : batch;
        const room = o.limit - taken.length;
        taken.push(...matches.slice(0, room));
        if (taken.length === o.limit) {
          // Complete when nothing is left: no later match in this batch, nothing more in the indexes.
          resume = matches.length <= room && exhausted() ? null : taken[taken.length - 1]!.at;
          break;
        }
        if (batch.length < batchSize || exhausted()) break; // listing complete
        if (scanned >= maxScan) {
          resume = position;
          break;
        }
      }

      const records = await Promise.all(taken.map((t) => ledger.get(t.entry.id)));
      return {
        records: records.filter((r): r is DeliveryRecord => r !== undefined),
        next: resume,
        scanned,
      };
    },

    async count({ partners, since, until }) {
      const pipeline = redis.pipeline();
      for (const p of partners) {
        pipeline.zcount(
          keys.partnerDeliveries(p),
          since === undefined ? '-inf' : String(since),
          until === undefined ? '+inf' : String(until),
        );
      }
      const replies = await redisCall(() => pipeline.exec());
      return (replies ?? []).reduce((sum, [err, n]) => {
        if (err) throw classifyError(err, 'redis');
        return sum + Number(n);
      }, 0);
    },
  };

  /** Keeps the entries whose status, answer and key/id match, reading the fields in one pipelined round trip. */
  async function filterBatch<T extends { entry: Entry }>(
    batch: readonly T[],
    status: DeliveryStatus | undefined,
    ack: AckStatus | undefined,
    needle: string,
  ): Promise<T[]> {
    if (batch.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const b of batch) pipeline.hmget(keys.delivery(b.entry.id), 'status', 'key', 'ack');
    const replies = await redisCall(() => pipeline.exec());
    return batch.filter((b, i) => {
      const [err, reply] = replies?.[i] ?? [null, null];
      if (err) throw classifyError(err, 'redis');
      const [st, key, answer] = (reply ?? [null, null, null]) as (string | null)[];
      if (st === null || st === undefined || key === null || key === undefined) return false;
      if (status !== undefined && st !== status) return false;
      if (ack !== undefined && answer !== ack) return false;
      return needle === '' || key.toLowerCase().includes(needle) || b.entry.id.toLowerCase().includes(needle);
    });
  }
}

function scoreArg(score: number): string {
  return score === Infinity ? '+inf' : String(score);
}

/** What the partners overview shows next to each partner's runtime state. */
export interface PartnerDeliveryStats {
  lastDelivery: { at: string; key: string; deliveryId: string } | null;
  /** Records now `failed` among those updated in the last 7 days. */
  failed: number;
  /** Records `delivered` in the last 24 hours. */
  delivered24h: number;
}

const DAY_MS = 86_400_000;
const STATS_BATCH = 1000;
const STATS_MAX_SCAN = 10_000;

/**
 * Reads the newest entries of a partner's index (the last 7 days, and further back only until a
 * delivered one is found; at most 10,000 entries), statuses in pipelined batches.
 */
export async function readPartnerStats(
  redis: Redis | Cluster,
  keys: RedisKeys,
  partnerId: string,
  now: Date,
): Promise<PartnerDeliveryStats> {
  const stats: PartnerDeliveryStats = { lastDelivery: null, failed: 0, delivered24h: 0 };
  const weekAgo = now.getTime() - 7 * DAY_MS;
  const dayAgo = now.getTime() - DAY_MS;
  for (let offset = 0; offset < STATS_MAX_SCAN; offset += STATS_BATCH) {
    const flat = await redisCall(() =>
      redis.zrevrange(keys.partnerDeliveries(partnerId), offset, offset + STATS_BATCH - 1, 'WITHSCORES'),
    );
    const entries: { id: string; score: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ id: flat[i]!, score: Number(flat[i + 1]) });
    const pipeline = redis.pipeline();
    for (const e of entries) pipeline.hmget(keys.delivery(e.id), 'status', 'key', 'deliveredAt');
    const replies = entries.length > 0 ? await redisCall(() => pipeline.exec()) : [];
    let older = false;
    entries.forEach((e, i) => {
      const [err, reply] = replies?.[i] ?? [null, null];
      if (err) throw classifyError(err, 'redis');
      const [status, key, deliveredAt] = (reply ?? []) as (string | null)[];
      if (e.score < weekAgo) older = true;
      if (status === 'delivered') {
        if (stats.lastDelivery === null && key) {
          stats.lastDelivery = { at: deliveredAt ?? new Date(e.score).toISOString(), key, deliveryId: e.id };
        }
        if (e.score >= dayAgo) stats.delivered24h += 1;
      } else if (status === 'failed' && e.score >= weekAgo) {
        stats.failed += 1;
      }
    });
    if (entries.length < STATS_BATCH || (older && stats.lastDelivery !== null)) break;
  }
  return stats;
}
