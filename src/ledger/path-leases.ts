// One writer per remote path (PROTOCOL.md "A path has one writer at a time"): a lease per partner +
// final path with a fencing token, and a path record of the newest source version published there,
// so an older version is never published after a newer one, whatever order the workers run in.
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

/** What Ferry knows of one remote path: the version last published there, a fragment left on it. */
export interface PathRecord {
  /** LastModified (ms) of the newest source version published to the path. */
  publishedLastModifiedMs?: number;
  /** The delivery that published it. */
  publishedBy?: string;
  /** Direct mode: a delivery that started writing the final name in place and has not verified it. */
  fragmentOf?: string;
}

export type PathLeaseAcquired =
  { ok: true; fence: number; record: PathRecord } | { ok: false; holder: string };

export interface PathLeases {
  /**
   * Takes the lease of one remote path for `ttlMs`, or takes it again for the same delivery (a retry
   * after a crash need not wait for its own lease to expire). A new fence is given each time.
   */
  acquire(
    partnerId: string,
    remotePath: string,
    deliveryId: string,
    ttlMs: number,
  ): Promise<PathLeaseAcquired>;
  /** Renews the lease; false when it is no longer this delivery's with this fence (expired and taken). */
  renew(
    partnerId: string,
    remotePath: string,
    deliveryId: string,
    fence: number,
    ttlMs: number,
  ): Promise<boolean>;
  /** Records a published version (the newest LastModified wins) and clears a fragment mark. */
  notePublished(
    partnerId: string,
    remotePath: string,
    published: { deliveryId: string; lastModifiedMs: number },
  ): Promise<void>;
  /** Direct mode: this delivery is about to write the final name in place. */
  markFragment(partnerId: string, remotePath: string, deliveryId: string): Promise<void>;
  /** Gives the lease back, if this delivery still holds it. */
  release(partnerId: string, remotePath: string, deliveryId: string): Promise<void>;
}

/** How long a path record outlives its last publish: a version older than that is no longer compared. */
export const PATH_RECORD_TTL_MS = 90 * 24 * 3600 * 1000;

// KEYS: lease, record. ARGV: deliveryId, ttlMs, recordTtlMs.
const ACQUIRE_LUA = `
local current = redis.call('GET', KEYS[1])
if current then
  local holder = string.match(current, '^(%S+)')
  if holder ~= ARGV[1] then return {0, holder} end
end
local fence = redis.call('HINCRBY', KEYS[2], 'fence', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. fence, 'PX', ARGV[2])
local r = redis.call('HMGET', KEYS[2], 'lastModified', 'publishedBy', 'fragmentOf')
return {1, fence, r[1] or '', r[2] or '', r[3] or ''}
`;

// KEYS: lease. ARGV: deliveryId fence, ttlMs.
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

// KEYS: record. ARGV: deliveryId, lastModifiedMs, recordTtlMs.
const NOTE_PUBLISHED_LUA = `
local last = tonumber(redis.call('HGET', KEYS[1], 'lastModified') or '')
if last == nil or tonumber(ARGV[2]) >= last then
  redis.call('HSET', KEYS[1], 'lastModified', ARGV[2], 'publishedBy', ARGV[1])
end
redis.call('HDEL', KEYS[1], 'fragmentOf')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

// KEYS: lease. ARGV: deliveryId.
const RELEASE_LUA = `
local current = redis.call('GET', KEYS[1])
if current and string.match(current, '^(%S+)') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

const acquireScript = createLuaScript(ACQUIRE_LUA);
const renewScript = createLuaScript(RENEW_LUA);
const notePublishedScript = createLuaScript(NOTE_PUBLISHED_LUA);
const releaseScript = createLuaScript(RELEASE_LUA);

/** Path leases and records in Redis (keys built by src/ledger/redis-keys.ts; one Cluster slot). */
export function createPathLeases(redis: Redis | Cluster, keys: RedisKeys): PathLeases {
  const lease = (partnerId: string, path: string) => keys.pathLease(partnerId, pathHash(path));
  const record = (partnerId: string, path: string) => keys.pathRecord(partnerId, pathHash(path));
  return {
    async acquire(partnerId, remotePath, deliveryId, ttlMs) {
      const reply = await redisCall(() =>
        acquireScript.run(
          redis,
          [lease(partnerId, remotePath), record(partnerId, remotePath)],
          [deliveryId, ttlMs, PATH_RECORD_TTL_MS],
        ),
      );
      const [ok, fenceOrHolder, lastModified, publishedBy, fragmentOf] = reply as unknown[];
      if (ok !== 1) return { ok: false, holder: String(fenceOrHolder) };
      const found: PathRecord = {};
      if (typeof lastModified === 'string' && lastModified !== '') {
        found.publishedLastModifiedMs = Number(lastModified);
      }
      if (typeof publishedBy === 'string' && publishedBy !== '') found.publishedBy = publishedBy;
      if (typeof fragmentOf === 'string' && fragmentOf !== '') found.fragmentOf = fragmentOf;
      return { ok: true, fence: Number(fenceOrHolder), record: found };
    },

    async renew(partnerId, remotePath, deliveryId, fence, ttlMs) {
      const reply = await redisCall(() =>
        renewScript.run(redis, [lease(partnerId, remotePath)], [`${deliveryId} ${fence}`, ttlMs]),
      );
      return reply === 1;
    },

    async notePublished(partnerId, remotePath, published) {
      await redisCall(() =>
        notePublishedScript.run(
          redis,
          [record(partnerId, remotePath)],
          [published.deliveryId, published.lastModifiedMs, PATH_RECORD_TTL_MS],
        ),
      );
    },

    async markFragment(partnerId, remotePath, deliveryId) {
      const key = record(partnerId, remotePath);
      await redisCall(() =>
        redis.multi().hset(key, 'fragmentOf', deliveryId).pexpire(key, PATH_RECORD_TTL_MS).exec(),
      );
    },

    async release(partnerId, remotePath, deliveryId) {
      await redisCall(() => releaseScript.run(redis, [lease(partnerId, remotePath)], [deliveryId]));
    },
  };
}

/** Remote paths can be long and hostile: keys name them by a digest. */
function pathHash(remotePath: string): string {
  return createHash('sha256').update(remotePath).digest('hex').slice(0, 32);
}
