import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { ObjectSource } from '../core/ports.js';
import { parseDeliveryId } from '../core/delivery-id.js';
import type { DeliveryReceipt, ReceiptStore } from '../adapters/receipt-store.js';
import type { Logger } from '../observability/logger.js';
import { createLuaScript } from './lua-script.js';
import { createNameSequence, type NameSequence } from './name-sequence.js';
import type { Ledger } from './redis-ledger.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * Ledger trust: when may a delivery read "no ledger record" as "never delivered" without also reading
 * its S3 receipt (one GetObject per delivery, a third of a small file's S3 requests)?
 *
 * Only while the ledger provably holds a record for every receipt. The trust hash in Redis names an
 * epoch, the Redis server(s) it was established on (run_id: it changes on every restart or failover)
 * and `seenAt`, a heartbeat. It is (re)established by rebuilding the ledger from the receipts:
 * - no trust hash (a new install, or a Redis that lost everything): every receipt is restored;
 * - the server changed (a restart that may have lost its last writes, a failover to a replica that
 *   lagged): the receipts written since the last heartbeat that reached Redis (minus a clock-skew
 *   margin) are restored. Redis persists writes in order, so a surviving heartbeat at T means every
 *   ledger write before T survived too, and a lost publish intent belongs to a receipt written after T.
 * Until then — and whenever the epoch read with a record differs from the one this process checked —
 * deliveries read the receipt as before, so trust only ever saves work, it never decides alone.
 * `{seq}` counters (name-sequence.ts) are raised from the receipts by the same rebuild, and no new
 * number is given before trust is established on the current server: the order that keeps a lost
 * counter from restarting below a number already delivered.
 */
export interface LedgerTrust {
  /** True when a missing record, read together with `trustEpoch`, proves that no receipt exists. */
  trusts(trustEpoch: string | undefined): boolean;
  /** Checks at once, then every `checkIntervalMs`; rebuilds from receipts when needed. */
  start(): void;
  /** Resolves after the next check that finds the ledger trusted (tests, benches). */
  whenTrusted(): Promise<void>;
  close(): Promise<void>;
}

export interface LedgerTrustOptions {
  redis: Redis | Cluster;
  keys: RedisKeys;
  ledger: Ledger;
  source: ObjectSource;
  receipts: ReceiptStore;
  receiptsLocation: { bucket: string; prefix: string };
  logger: Logger;
  checkIntervalMs?: number;
  /** Receipts this much older than the last heartbeat are re-read too (clocks of hosts and S3 differ). */
  clockSkewMarginMs?: number;
}

const REBUILD_LOCK_MS = 60_000;
const RESTORE_CONCURRENCY = 16;

// KEYS: trust hash. ARGV: epoch, nowMs. The heartbeat only moves forward under the epoch it checked.
const HEARTBEAT_LUA = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seenAt', ARGV[2])
return 1
`;
// KEYS: trust hash, rebuild lock. ARGV: lock token, new epoch, server, nowMs, epoch seen before the rebuild.
const ESTABLISH_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if (redis.call('HGET', KEYS[1], 'epoch') or '') ~= ARGV[5] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'epoch', ARGV[2], 'server', ARGV[3], 'seenAt', ARGV[4])
redis.call('DEL', KEYS[2])
return 1
`;
const heartbeatScript = createLuaScript(HEARTBEAT_LUA);
const establishScript = createLuaScript(ESTABLISH_LUA);

export function createLedgerTrust(options: LedgerTrustOptions): LedgerTrust {
  const { redis, keys, logger } = options;
  const intervalMs = options.checkIntervalMs ?? 10_000;
  const marginMs = options.clockSkewMarginMs ?? 5 * 60_000;
  let verifiedEpoch: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  const waiting = new Set<() => void>();
  const wakeWaiters = (): void => {
    for (const wake of waiting) wake();
    waiting.clear();
  };

  // A restarted server drops every connection: stop trusting until the server is checked again.
  const distrust = (): void => {
    verifiedEpoch = undefined;
  };
  redis.on('close', distrust);
  redis.on('reconnecting', distrust);
  redis.on('-node', distrust);
  // Back on a server (maybe a new one): check it now rather than at the next interval.
  const recheck = (): void => tick();
  redis.on('ready', recheck);

  const check = async (): Promise<void> => {
    const server = await serverIdentity(redis);
    const trust = await redis.hgetall(keys.ledgerTrust);
    if (trust.epoch && trust.server === server) {
      if (verifiedEpoch !== trust.epoch) logger.info({ epoch: trust.epoch }, 'ledger trusted');
      verifiedEpoch = trust.epoch;
      await heartbeatScript.run(redis, [keys.ledgerTrust], [trust.epoch, Date.now()]);
      wakeWaiters();
      return;
    }
    verifiedEpoch = undefined;
    const token = randomUUID();
    const locked = await redis.set(keys.ledgerRebuildLock, token, 'PX', REBUILD_LOCK_MS, 'NX');
    if (locked !== 'OK') return; // another worker rebuilds; the next check picks up its result
    const seenAt = Number(trust.seenAt);
    const since = trust.epoch && Number.isFinite(seenAt) ? new Date(seenAt - marginMs) : undefined;
    const renew = setInterval(() => {
      void redis.pexpire(keys.ledgerRebuildLock, REBUILD_LOCK_MS).catch(() => undefined);
    }, REBUILD_LOCK_MS / 3);
    try {
      logger.warn(
        {
          reason: trust.epoch ? 'redis-server-changed' : 'no-trust-record',
          since: since?.toISOString() ?? 'all receipts',
        },
        'ledger not trusted yet: restoring records from S3 receipts (deliveries read receipts meanwhile)',
      );
      const started = Date.now();
      const counts = await restoreFromReceipts(options, since);
      // Established only if the server did not change again while we read the receipts.
      if ((await serverIdentity(redis)) !== server) return;
      const epoch = randomUUID();
      const ok = await establishScript.run(
        redis,
        [keys.ledgerTrust, keys.ledgerRebuildLock],
        [token, epoch, server, Date.now(), trust.epoch ?? ''],
      );
      if (ok === 1) {
        verifiedEpoch = epoch;
        wakeWaiters();
        logger.info(
          { epoch, ...counts, durationMs: Date.now() - started },
          'ledger rebuilt from receipts: trusted',
        );
      }
    } finally {
      clearInterval(renew);
    }
  };

  const tick = (): void => {
    if (closed || running) return;
    running = check()
      .catch((err: unknown) => {
        verifiedEpoch = undefined;
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'ledger trust check failed');
      })
      .finally(() => {
        running = undefined;
      });
  };

  return {
    trusts: (trustEpoch) => verifiedEpoch !== undefined && trustEpoch === verifiedEpoch,
    start() {
      tick();
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    whenTrusted() {
      return new Promise((resolve) => {
        waiting.add(resolve);
        tick();
      });
    },
    async close() {
      closed = true;
      clearInterval(timer);
      redis.off('close', distrust);
      redis.off('reconnecting', distrust);
      redis.off('-node', distrust);
      redis.off('ready', recheck);
      await running;
    },
  };
}

/** The run_id of every master: any restart or failover changes it. */
async function serverIdentity(redis: Redis | Cluster): Promise<string> {
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  const ids = await Promise.all(
    nodes.map(async (node) => /run_id:(\w+)/.exec(await node.info('server'))?.[1] ?? '?'),
  );
  return ids.sort().join(',');
}

/**
 * Records `delivered` in the ledger from a receipt (the durable witness), and first its `{seq}`
 * number: a record restored without it would let the rebuild skip this receipt and a counter stay
 * below a number the partner has.
 */
export async function restoreFromReceipt(
  ledger: Ledger,
  receipt: DeliveryReceipt,
  sequence?: NameSequence,
): Promise<void> {
  if (receipt.naming && sequence) {
    // A redelivery's number belongs to its original (name-sequence.ts deliveryRemoteName).
    await sequence.restore(
      receipt.partnerId,
      receipt.naming.seqScope,
      receipt.redeliveryOf ?? receipt.deliveryId,
      receipt.naming.seq,
    );
  }
  // The data rows: those shape wrote, else those validate.csv counted (the record's `rows`).
  const rows = receipt.transform?.shape?.rows ?? receipt.csv?.rows;
  await ledger.record({
    deliveryId: receipt.deliveryId,
    partnerId: receipt.partnerId,
    bucket: receipt.source.bucket,
    key: receipt.source.key,
    etag: receipt.source.etag,
    ...(receipt.source.lastModified === undefined ? {} : { sourceLastModified: receipt.source.lastModified }),
    status: 'delivered',
    size: receipt.bytes,
    sha256: receipt.sha256,
    ...(receipt.md5 === undefined ? {} : { md5: receipt.md5 }),
    ...(rows === undefined ? {} : { rows }),
    remotePath: receipt.target.path,
    deliveredAt: receipt.deliveredAt,
  });
}

/** Restores every receipt written since `since` (all when undefined) that the ledger lacks as delivered. */
async function restoreFromReceipts(
  options: LedgerTrustOptions,
  since: Date | undefined,
): Promise<{ receiptsSeen: number; restored: number }> {
  const { bucket, prefix } = options.receiptsLocation;
  const sequence = createNameSequence(options.redis, options.keys);
  let receiptsSeen = 0;
  let restored = 0;
  for await (const page of options.source.listPages(bucket, prefix)) {
    const candidates: { partnerId: string; deliveryId: string }[] = [];
    for (const object of page) {
      // `<partner>/<deliveryId>.json` only (`<id>.superseded.json` is not a delivery receipt).
      const receipt = receiptOf(object.key.slice(prefix.length));
      if (!receipt || (since !== undefined && object.lastModified < since)) continue;
      candidates.push(receipt);
    }
    receiptsSeen += candidates.length;
    const statuses = await options.ledger.getStatuses(candidates.map((c) => c.deliveryId));
    const missing = candidates.filter((c) => statuses.get(c.deliveryId) !== 'delivered');
    for (let i = 0; i < missing.length; i += RESTORE_CONCURRENCY) {
      await Promise.all(
        missing.slice(i, i + RESTORE_CONCURRENCY).map(async ({ partnerId, deliveryId }) => {
          // A corrupt receipt throws ERR_RECEIPT_INVALID: trust waits until someone fixes it.
          const receipt = await options.receipts.read(partnerId, deliveryId);
          if (receipt === undefined) return; // removed since the listing
          await restoreFromReceipt(options.ledger, receipt, sequence);
          restored++;
        }),
      );
    }
  }
  return { receiptsSeen, restored };
}

/** The delivery a receipt path (`<partner>/<deliveryId>.json`, under the prefix) is for; else undefined. */
function receiptOf(path: string): { partnerId: string; deliveryId: string } | undefined {
  const match = /^([^/]+)\/([^/]+)\.json$/.exec(path);
  const parsed = parseDeliveryId(match?.[2]);
  if (match?.[1] === undefined || parsed === undefined || parsed.partnerId !== match[1]) return undefined;
  return { partnerId: match[1], deliveryId: match[2]! };
}
