import type { Cluster, Redis } from 'ioredis';
import { classifyError } from '../core/classify-error.js';
import { ACK_STATUSES, type AckStatus } from '../core/delivery-view.js';
import type { PublishPhase } from '../core/publish-protocol.js';
import type { SidecarKind } from '../core/sidecar-files.js';
import { FerryError } from '../errors.js';
import { isDeliveryStatus, type DeliveryRecord, type DeliveryStatus } from './delivery-record.js';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

export type LedgerUpdate = Omit<Partial<DeliveryRecord>, 'createdAt' | 'updatedAt'> &
  Pick<DeliveryRecord, 'deliveryId' | 'partnerId' | 'bucket' | 'key' | 'etag' | 'status'>;

export interface Ledger {
  get(deliveryId: string): Promise<DeliveryRecord | undefined>;
  /** get() plus the ledger-trust epoch, read in the same round trip (see ledger-trust.ts). */
  getWithTrustEpoch(deliveryId: string): Promise<{ record?: DeliveryRecord; trustEpoch?: string }>;
  /** Status per id, looked up in pipelined batches (500 per round trip); missing ids are absent from the map. */
  getStatuses(deliveryIds: readonly string[]): Promise<Map<string, DeliveryStatus>>;
  /**
   * Upsert fields and status; keeps createdAt, bumps updatedAt, indexes in partnerDeliveries.
   * Never downgrades 'delivered' to anything else (a late/duplicate writer must not un-deliver):
   * once delivered, the record is left as it is. Returns the record as stored.
   */
  record(update: LedgerUpdate): Promise<DeliveryRecord>;
  /** Attempt bookkeeping: increments attempts, stores lastErrorCode/lastError (status unchanged). */
  noteAttempt(deliveryId: string, error?: { code: string; message: string }): Promise<void>;
}

const STATUS_BATCH = 500;

// The only hash fields record() writes besides createdAt/updatedAt (callers may pass wider objects).
const WRITABLE_FIELDS = [
  'deliveryId',
  'partnerId',
  'bucket',
  'key',
  'etag',
  'status',
  'size',
  'sha256',
  'md5',
  'rows',
  'remotePath',
  'attempts',
  'lastErrorCode',
  'lastError',
  'reason',
  'deliveredAt',
  'phase',
  'tempPath',
  'sidecarsPublished',
  'sidecarIntent',
  'sourceLastModified',
] as const satisfies readonly (keyof LedgerUpdate)[];

// KEYS: delivery hash, partner index. ARGV: deliveryId, nowIso, nowMs, field/value pairs.
// Atomic, so a 'delivered' written by one worker can never be overwritten by a slower one.
const RECORD_LUA = `
if redis.call('HGET', KEYS[1], 'status') == 'delivered' then
  return redis.call('HGETALL', KEYS[1])
end
if redis.call('HEXISTS', KEYS[1], 'createdAt') == 0 then
  redis.call('HSET', KEYS[1], 'createdAt', ARGV[2])
end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2], unpack(fields))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return redis.call('HGETALL', KEYS[1])
`;

// KEYS: delivery hash. ARGV: code, message (both empty when the attempt carried no error).
// A delivered record is final; a stray late attempt must not decorate it with an error.
const NOTE_ATTEMPT_LUA = `
if redis.call('HGET', KEYS[1], 'status') == 'delivered' then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'lastErrorCode', ARGV[1], 'lastError', ARGV[2])
end
return 1
`;

// KEYS: delivery hash, trust hash. One command instead of a pipeline: every delivery starts with it,
// and an ioredis pipeline copies each script defined on the connection (BullMQ's ~60) when it is built.
const GET_WITH_TRUST_EPOCH_LUA = `
return { redis.call('HGETALL', KEYS[1]), redis.call('HGET', KEYS[2], 'epoch') }
`;

const recordScript = createLuaScript(RECORD_LUA);
const getWithTrustEpochScript = createLuaScript(GET_WITH_TRUST_EPOCH_LUA);
const noteAttemptScript = createLuaScript(NOTE_ATTEMPT_LUA);

/** The Redis ledger index: one hash per delivery plus a per-partner sorted set of ids. */
export function createRedisLedger(redis: Redis | Cluster, keys: RedisKeys): Ledger {
  return {
    async get(deliveryId) {
      const hash = await redisCall(() => redis.hgetall(keys.delivery(deliveryId)));
      return parseRecord(hash);
    },

    async getWithTrustEpoch(deliveryId) {
      const reply = await redisCall(() =>
        getWithTrustEpochScript.run(redis, [keys.delivery(deliveryId), keys.ledgerTrust], []),
      );
      // [HGETALL pairs, epoch or nil]
      const [pairs, epoch] = Array.isArray(reply) ? (reply as unknown[]) : [];
      const record = parseRecord(pairsToObject(pairs));
      return {
        ...(record === undefined ? {} : { record }),
        ...(typeof epoch === 'string' ? { trustEpoch: epoch } : {}),
      };
    },

    async getStatuses(deliveryIds) {
      const statuses = new Map<string, DeliveryStatus>();
      for (let start = 0; start < deliveryIds.length; start += STATUS_BATCH) {
        const batch = deliveryIds.slice(start, start + STATUS_BATCH);
        const pipeline = redis.pipeline();
        for (const id of batch) pipeline.hget(keys.delivery(id), 'status');
        const replies = await redisCall(() => pipeline.exec());
        batch.forEach((id, i) => {
          const [err, value] = replies?.[i] ?? [null, null];
          if (err) throw classifyError(err, 'redis');
          if (isDeliveryStatus(value)) statuses.set(id, value);
        });
      }
      return statuses;
    },

    async record(update) {
      const now = new Date();
      const args: string[] = [update.deliveryId, now.toISOString(), String(now.getTime())];
      for (const field of WRITABLE_FIELDS) {
        const value = update[field];
        if (value !== undefined) args.push(field, String(value));
      }
      const reply = await redisCall(() =>
        recordScript.run(
          redis,
          [keys.delivery(update.deliveryId), keys.partnerDeliveries(update.partnerId)],
          args,
        ),
      );
      const stored = parseRecord(pairsToObject(reply));
      if (!stored) throw new FerryError('ERR_UNKNOWN', `ledger record ${update.deliveryId} is unreadable`);
      return stored;
    },

    async noteAttempt(deliveryId, error) {
      await redisCall(() =>
        noteAttemptScript.run(redis, [keys.delivery(deliveryId)], [error?.code ?? '', error?.message ?? '']),
      );
    },
  };
}

function pairsToObject(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/** Hash → record; undefined until record() has written one (noteAttempt alone leaves only a counter). */
function parseRecord(hash: Record<string, string>): DeliveryRecord | undefined {
  const { deliveryId, partnerId, bucket, key, etag, status, createdAt, updatedAt } = hash;
  if (
    deliveryId === undefined ||
    partnerId === undefined ||
    bucket === undefined ||
    key === undefined ||
    etag === undefined ||
    createdAt === undefined ||
    updatedAt === undefined ||
    !isDeliveryStatus(status)
  ) {
    return undefined;
  }
  const record: DeliveryRecord = {
    deliveryId,
    partnerId,
    bucket,
    key,
    etag,
    status,
    attempts: toNumber(hash.attempts) ?? 0,
    createdAt,
    updatedAt,
  };
  const size = toNumber(hash.size);
  if (size !== undefined) record.size = size;
  const rows = toNumber(hash.rows);
  if (rows !== undefined) record.rows = rows;
  for (const field of [
    'sha256',
    'md5',
    'remotePath',
    'lastErrorCode',
    'lastError',
    'reason',
    'deliveredAt',
    'tempPath',
    'sourceLastModified',
  ] as const) {
    const value = hash[field];
    if (value !== undefined) record[field] = value;
  }
  if (isPublishPhase(hash.phase)) record.phase = hash.phase;
  // Written by src/ledger/ack-index.ts, never by record().
  if ((ACK_STATUSES as readonly string[]).includes(hash.ack ?? '')) record.ack = hash.ack as AckStatus;
  // ackAt…: src/ledger/ack-index.ts; manifest: src/ledger/manifest-batches.ts (never record()).
  for (const field of ['ackAt', 'ackFile', 'ackReason', 'manifest'] as const) {
    const value = hash[field];
    if (value !== undefined) record[field] = value;
  }
  if (isSidecarKind(hash.sidecarIntent)) record.sidecarIntent = hash.sidecarIntent;
  if (hash.sidecarsPublished !== undefined) {
    record.sidecarsPublished = hash.sidecarsPublished.split(',').filter(isSidecarKind);
  }
  return record;
}

function isPublishPhase(value: string | undefined): value is PublishPhase {
  return value === 'none' || value === 'writing' || value === 'intent' || value === 'published';
}

function isSidecarKind(value: string | undefined): value is SidecarKind {
  return value === 'checksum' || value === 'done';
}

function toNumber(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
