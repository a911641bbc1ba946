// `manifest:` in Redis: the partner's delivered data files no manifest lists yet, the deliveries the
// next manifest waits for, and each manifest once taken. Taking is one script: the members leave the
// open set, are marked with the manifest on their ledger record and the record is stored, all or
// nothing, so a file is listed by exactly one manifest and a retry sends the same bytes. Every key
// shares the prefix's hash tag (one slot: the scripts work on Redis Cluster).
import { posix } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { classifyError } from '../core/classify-error.js';
import type { ManifestLine, ManifestRecord } from '../core/manifest-plan.js';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

/** At most this many files in one manifest; the rest go into the next one, taken right after. */
export const MAX_MANIFEST_FILES = 10_000;
/** How many of a partner's manifests are kept listed (their records stay; their S3 objects too). */
export const MANIFESTS_LISTED = 200;

/** A manifest as listed: its record and, once queued, its delivery. */
export interface ListedManifest {
  record: ManifestRecord;
  deliveryId?: string;
}

export interface ManifestBatches {
  /** A delivered data file waits for the next manifest (idempotent; never one a manifest listed). */
  join(partnerId: string, deliveryId: string, deliveredAtMs: number): Promise<void>;
  /** When the oldest file no manifest lists yet was delivered (ms); undefined when there is none. */
  oldestOpenMs(partnerId: string): Promise<number | undefined>;
  /** Deliveries a sweep enqueued: the next manifest waits while one is queued or running. */
  waitFor(partnerId: string, deliveryIds: readonly string[]): Promise<void>;
  waitingFor(partnerId: string): Promise<string[]>;
  /** Stops waiting for these; returns how many are still waited for. */
  stopWaiting(partnerId: string, deliveryIds: readonly string[]): Promise<number>;
  /**
   * Takes the files delivered before `cutoffMs` (oldest first, at most MAX_MANIFEST_FILES) into the
   * manifest `scope`. Returns it; the stored one when `scope` was taken before; undefined when no file
   * is left to list.
   */
  take(
    partnerId: string,
    scope: string,
    cutoffMs: number,
    describe: Omit<ManifestRecord, 'partnerId' | 'scope' | 'lines'>,
    openedMs?: number,
  ): Promise<ManifestRecord | undefined>;
  /** The window opening the newest per-window manifest lists (ms). */
  lastOpenedMs(partnerId: string): Promise<number | undefined>;
  /** Manifests taken whose delivery is not yet settled, oldest first. */
  unsent(partnerId: string): Promise<ManifestRecord[]>;
  /** The manifest's delivery is settled (delivered, quarantined or failed for good): no more resumes. */
  settled(partnerId: string, scope: string): Promise<void>;
  read(partnerId: string, scope: string): Promise<ManifestRecord | undefined>;
  /** The delivery that sends the manifest (its S3 object's delivery id). */
  noteDelivery(partnerId: string, scope: string, deliveryId: string): Promise<void>;
  /** The partner's newest manifests, newest first. */
  recent(partnerId: string, count?: number): Promise<ListedManifest[]>;
  /** How many delivered files no manifest lists yet (they wait for the next one). */
  countOpen(partnerId: string): Promise<number>;
}

// KEYS: delivery hash, open zset. ARGV: deliveryId, deliveredAtMs.
const JOIN_LUA = `
if redis.call('HGET', KEYS[1], 'status') ~= 'delivered' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'manifest') == 1 then return 0 end
return redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
`;

// KEYS: record, open zset, unsent zset, last-opened, taken zset, then one delivery hash per member.
// ARGV: scope, record JSON, takenAtMs, openedMs ('' if none), listed count, then the member ids.
// Refuses ('changed') when a member left the open set or was listed meanwhile: the caller reads again.
const TAKE_LUA = `
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
for i = 6, #KEYS do
  local id = ARGV[i]
  if redis.call('ZSCORE', KEYS[2], id) == false or redis.call('HEXISTS', KEYS[i], 'manifest') == 1 then
    return 'changed'
  end
end
redis.call('SET', KEYS[1], ARGV[2])
for i = 6, #KEYS do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HSET', KEYS[i], 'manifest', ARGV[1])
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('SET', KEYS[4], ARGV[4]) end
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -tonumber(ARGV[5]) - 1)
return ARGV[2]
`;

const joinScript = createLuaScript(JOIN_LUA);
const takeScript = createLuaScript(TAKE_LUA);

export function createManifestBatches(redis: Redis | Cluster, keys: RedisKeys): ManifestBatches {
  const read = async (partnerId: string, scope: string) =>
    parse(await redisCall(() => redis.get(keys.manifest(partnerId, scope))));

  return {
    async join(partnerId, deliveryId, deliveredAtMs) {
      await redisCall(() =>
        joinScript.run(
          redis,
          [keys.delivery(deliveryId), keys.manifestOpen(partnerId)],
          [deliveryId, deliveredAtMs],
        ),
      );
    },

    async oldestOpenMs(partnerId) {
      const first = await redisCall(() => redis.zrange(keys.manifestOpen(partnerId), '0', '0', 'WITHSCORES'));
      return first[1] === undefined ? undefined : Number(first[1]);
    },

    async waitFor(partnerId, deliveryIds) {
      if (deliveryIds.length > 0) {
        await redisCall(() => redis.sadd(keys.manifestWait(partnerId), ...deliveryIds));
      }
    },

    waitingFor: (partnerId) => redisCall(() => redis.smembers(keys.manifestWait(partnerId))),

    async stopWaiting(partnerId, deliveryIds) {
      const key = keys.manifestWait(partnerId);
      if (deliveryIds.length > 0) await redisCall(() => redis.srem(key, ...deliveryIds));
      return redisCall(() => redis.scard(key));
    },

    async take(partnerId, scope, cutoffMs, describe, openedMs) {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const stored = await read(partnerId, scope);
        if (stored) return stored;
        const ids = await redisCall(() =>
          redis.zrangebyscore(
            keys.manifestOpen(partnerId),
            '-inf',
            `(${cutoffMs}`,
            'LIMIT',
            0,
            MAX_MANIFEST_FILES,
          ),
        );
        if (ids.length === 0) return undefined;
        const lines = await linesOf(redis, keys, ids);
        const record: ManifestRecord = { partnerId, scope, ...describe, lines };
        const reply = await redisCall(() =>
          takeScript.run(
            redis,
            [
              keys.manifest(partnerId, scope),
              keys.manifestOpen(partnerId),
              keys.manifestsUnsent(partnerId),
              keys.manifestLastOpened(partnerId),
              keys.manifestsTaken(partnerId),
              ...ids.map((id) => keys.delivery(id)),
            ],
            [
              scope,
              JSON.stringify(record),
              Date.parse(describe.createdAt),
              openedMs ?? '',
              MANIFESTS_LISTED,
              ...ids,
            ],
          ),
        );
        if (reply !== 'changed') return parse(reply as string);
      }
      throw classifyError(
        new Error(`manifest ${scope}: its files kept changing while it was taken`),
        'redis',
      );
    },

    async lastOpenedMs(partnerId) {
      const text = await redisCall(() => redis.get(keys.manifestLastOpened(partnerId)));
      return text === null ? undefined : Number(text);
    },

    async unsent(partnerId) {
      const scopes = await redisCall(() => redis.zrange(keys.manifestsUnsent(partnerId), '0', '-1'));
      const records: ManifestRecord[] = [];
      for (const scope of scopes) {
        const record = await read(partnerId, scope);
        if (record) records.push(record);
      }
      return records;
    },

    async settled(partnerId, scope) {
      await redisCall(() => redis.zrem(keys.manifestsUnsent(partnerId), scope));
    },

    read,

    async noteDelivery(partnerId, scope, deliveryId) {
      await redisCall(() => redis.hset(keys.manifestDeliveries(partnerId), scope, deliveryId));
    },

    async recent(partnerId, count = 20) {
      const scopes = await redisCall(() => redis.zrevrange(keys.manifestsTaken(partnerId), 0, count - 1));
      if (scopes.length === 0) return [];
      const ids = await redisCall(() => redis.hmget(keys.manifestDeliveries(partnerId), ...scopes));
      const listed: ListedManifest[] = [];
      for (const [i, scope] of scopes.entries()) {
        const record = await read(partnerId, scope);
        const deliveryId = ids[i];
        if (record) listed.push({ record, ...(deliveryId ? { deliveryId } : {}) });
      }
      return listed;
    },

    countOpen: (partnerId) => redisCall(() => redis.zcard(keys.manifestOpen(partnerId))),
  };
}

/** Each member's line, from its ledger record as it stands (delivered records no longer change). */
async function linesOf(
  redis: Redis | Cluster,
  keys: RedisKeys,
  ids: readonly string[],
): Promise<ManifestLine[]> {
  const pipeline = redis.pipeline();
  for (const id of ids) {
    pipeline.hmget(keys.delivery(id), 'remotePath', 'size', 'sha256', 'rows', 'deliveredAt');
  }
  const replies = (await redisCall(() => pipeline.exec())) ?? [];
  return ids.map((deliveryId, i) => {
    const [err, fields] = replies[i] ?? [];
    if (err) throw classifyError(err, 'redis');
    const [path, size, sha256, rows, deliveredAt] = (fields ?? []) as (string | null)[];
    return {
      deliveryId,
      name: posix.basename(path ?? ''),
      bytes: Number(size ?? 0),
      sha256: sha256 ?? '',
      ...(rows === null || rows === undefined || rows === '' ? {} : { rows: Number(rows) }),
      deliveredAt: deliveredAt ?? '',
    };
  });
}

function parse(text: string | null): ManifestRecord | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as ManifestRecord;
  } catch {
    return undefined; // not ours: the publisher treats the scope as never taken
  }
}
