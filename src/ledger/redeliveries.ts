// Redelivery requests: a person asks for a delivered object version to be sent again, with a reason.
// The request is kept in Redis (the worker reads who and why into the receipt) and in the audit trail.
import type { Cluster, Redis } from 'ioredis';
import type { ObjectSource } from '../core/ports.js';
import type { ReceiptStore } from '../adapters/receipt-store.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { parseRedeliveryId, redeliveryIdFor } from '../core/redelivery.js';
import type { DeliverJobData } from '../queues/payloads.js';
import type { AuditLog } from './audit-log.js';
import { lastModifiedOf } from './retries.js';
import type { Ledger } from './redis-ledger.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

/** Who asked for a redelivery and why (kept at {ferry}:redelivery:<id>). */
export interface RedeliveryRequest {
  /** The delivery it repeats. */
  of: string;
  n: number;
  reason: string;
  by: string;
  /** ISO time of the request. */
  at: string;
  /** The operator chose to replace the partner's file (`--replace`): published as `onExisting: overwrite`. */
  replace?: true;
}

export type RedeliveryOutcome =
  | { ok: true; deliveryId: string; jobId: string; n: number; of: string }
  | {
      ok: false;
      problem: 'not-found' | 'not-delivered' | 'partner-unavailable' | 'replace-unsupported';
      message: string;
    };

export interface Redeliveries {
  /** The request behind a redelivery id; undefined when nobody asked for it (e.g. a hand-made job). */
  get(redeliveryId: string): Promise<RedeliveryRequest | undefined>;
  /**
   * Asks for the next redelivery of `deliveryId` (a redelivery's id stands for its original): the
   * original must be recorded as delivered and its partner configured and enabled. Writes the request
   * and the audit entry (on both trails), then enqueues the job. `replace`: the partner's file at the
   * final name is replaced (rename mode only; refused for a `publish: direct` partner).
   */
  request(input: {
    deliveryId: string;
    reason: string;
    by: string;
    replace?: boolean;
  }): Promise<RedeliveryOutcome>;
}

export interface RedeliveriesDeps {
  redis: Redis | Cluster;
  keys: RedisKeys;
  ledger: Ledger;
  audit: AuditLog;
  /** Read before a number is used: a Redis that lost the counter must not reuse a delivered id. */
  receipts: Pick<ReceiptStore, 'read'>;
  /**
   * The object's LastModified is read here (HeadObject), at request time, for `{date}` in
   * `naming.filename`: neither the ledger nor the receipt records it. Without it, a redelivery's
   * `{date}` is the job's creation time.
   */
  source?: Pick<ObjectSource, 'head'>;
  getConfig(): FerryConfig;
  enqueue(partner: PartnerConfig, job: DeliverJobData): Promise<void>;
  now?(): Date;
}

// A counter that went backwards (Redis restored from an old snapshot) skips at most this many used numbers.
const MAX_NUMBER_TRIES = 20;

export function createRedeliveries(deps: RedeliveriesDeps): Redeliveries {
  const { redis, keys, ledger } = deps;
  return {
    async get(redeliveryId) {
      const hash = await redisCall(() => redis.hgetall(keys.redeliveryRequest(redeliveryId)));
      const n = Number(hash.n);
      if (!hash.of || !hash.reason || !hash.by || !hash.at || !Number.isInteger(n) || n < 1) return undefined;
      return {
        of: hash.of,
        n,
        reason: hash.reason,
        by: hash.by,
        at: hash.at,
        ...(hash.replace === '1' ? { replace: true as const } : {}),
      };
    },

    async request({ deliveryId, reason, by, replace = false }) {
      const baseId = parseRedeliveryId(deliveryId).baseId;
      const original = await ledger.get(baseId);
      if (!original) return { ok: false, problem: 'not-found', message: `no delivery ${baseId}` };
      if (original.status !== 'delivered') {
        return {
          ok: false,
          problem: 'not-delivered',
          message: `delivery ${baseId} is ${original.status}, not delivered: retry it instead of redelivering`,
        };
      }
      const partner = deps.getConfig().partners.get(original.partnerId);
      if (!partner?.enabled) {
        return {
          ok: false,
          problem: 'partner-unavailable',
          message: `partner ${original.partnerId} is ${partner ? 'disabled' : 'not configured'}`,
        };
      }
      if (replace && partner.target.publish === 'direct') {
        // direct writes in place: replacing would truncate the partner's file before the new one is verified.
        return {
          ok: false,
          problem: 'replace-unsupported',
          message: `partner ${partner.id} has publish: direct, which cannot replace a file safely; have the partner remove it, then redeliver without replace`,
        };
      }
      let n = 0;
      let id = '';
      for (let tries = 0; ; tries++) {
        n = await redisCall(() => redis.incr(keys.redeliveryCount(baseId)));
        id = redeliveryIdFor(baseId, n);
        const used =
          (await ledger.get(id)) !== undefined || (await deps.receipts.read(partner.id, id)) !== undefined;
        if (!used || tries >= MAX_NUMBER_TRIES) break;
      }
      const stored = await storedVersion(deps.source, original);
      const at = (deps.now?.() ?? new Date()).toISOString();
      await redisCall(() =>
        redis.hset(keys.redeliveryRequest(id), {
          of: baseId,
          n: String(n),
          reason,
          by,
          at,
          ...(replace ? { replace: '1' } : {}),
        }),
      );
      await deps.audit.append(
        {
          at,
          user: by,
          action: 'redeliver',
          reason,
          deliveryId: id,
          partnerId: partner.id,
          ...(replace ? { replace: true as const } : {}),
        },
        [baseId, id],
      );
      await deps.enqueue(partner, {
        v: 1,
        deliveryId: id,
        partnerId: partner.id,
        bucket: original.bucket,
        key: original.key,
        etag: original.etag,
        // The ledger's size is what was delivered (after any gzip/PGP): the job carries S3's.
        size: stored?.size ?? original.size ?? 0,
        ...lastModifiedOf(original, stored),
        redelivery: n,
        ...(replace ? { replace: true as const } : {}),
      });
      return { ok: true, deliveryId: id, jobId: id, n, of: baseId };
    },
  };
}

/** Size and LastModified of the delivered version, if S3 still holds that version (same ETag). */
async function storedVersion(
  source: Pick<ObjectSource, 'head'> | undefined,
  original: { bucket: string; key: string; etag: string },
): Promise<{ size: number; lastModified: Date } | undefined> {
  const now = await source?.head(original.bucket, original.key);
  // Another version (or none): the redelivery fails reading it anyway (ERR_SOURCE_CHANGED / GONE).
  return now?.etag === original.etag ? { size: now.size, lastModified: now.lastModified } : undefined;
}
