// `ferry redeliver <partner> <s3-key> --reason "…" [--replace] [--etag E] [--by USER]`: a deliberate
// resend of a delivered file, as its own delivery (`<deliveryId>-r<n>`) with its own receipt and an
// audit entry; `--replace` replaces the partner's file if it is still there. An object no sweep sends
// because it is older than `source.maxAgeDays` (never delivered) is sent here as its first delivery,
// under the id a sweep would give it.
import { createReceiptStore } from '../adapters/receipt-store.js';
import { createS3Client, createS3Source } from '../adapters/s3-source.js';
import type { ObjectSource, SourceObject } from '../adapters/ports.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { deliveryIdFor } from '../core/delivery-id.js';
import { printable } from '../core/format-deliveries.js';
import { selectObjects } from '../core/select-objects.js';
import { createAuditLog } from '../ledger/audit-log.js';
import { createRedeliveries } from '../ledger/redeliveries.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createRedisLedger } from '../ledger/redis-ledger.js';
import type { Logger } from '../observability/logger.js';
import { createQueues, enqueueDeliveries } from '../queues/queues.js';
import { connectProducer } from './connect-producer.js';

export interface RedeliverCommandOptions {
  config: FerryConfig;
  partnerId: string;
  key: string;
  reason: string;
  by: string;
  /** Replace the partner's file if it is still there (as `onExisting: overwrite`, this delivery only). */
  replace?: boolean;
  /** The object version; default: the one S3 holds now (the only one a delivery can read). */
  etag?: string;
  out(line: string): void;
  err(line: string): void;
  /** Where the audit line goes (one JSON line). */
  audit: Logger;
  /** Test seam: the S3 side (default: built from ferry.yaml). */
  source?: ObjectSource;
  /** Test seam: the clock `source.maxAgeDays` is judged by (default: now). */
  now?: Date;
}

export async function runRedeliverCommand(o: RedeliverCommandOptions): Promise<number> {
  const partner = o.config.partners.get(o.partnerId);
  if (!partner) {
    o.err(
      `ferry redeliver: unknown partner "${o.partnerId}" (configured: ${[...o.config.partners.keys()].join(', ')})`,
    );
    return 2;
  }
  const svc = o.config.service;
  const s3 = o.source === undefined ? createS3Client(svc.s3) : undefined;
  const source = o.source ?? createS3Source(s3!);
  const redis = await connectProducer(o.config);
  const queues = createQueues(redis, svc.redis.prefix);
  try {
    const bucket = partner.source.bucket;
    const listed = await currentObject(source, bucket, o.key);
    let etag = o.etag;
    if (etag === undefined) {
      etag = listed?.etag;
      if (etag === undefined) {
        o.err(
          `ferry redeliver: s3://${bucket}/${printable(o.key)} does not exist now; a redelivery reads the object again (give --etag only for the version S3 still holds)`,
        );
        return 1;
      }
    }
    const keys = createRedisKeys(svc.redis.prefix);
    const ledger = createRedisLedger(redis, keys);
    // identity version: the version is the write S3 holds now (its LastModified names it).
    const current = listed?.etag === etag ? listed : undefined;
    if (partner.source.identity === 'version' && current === undefined) {
      o.err(
        `ferry redeliver: ${partner.id} has source.identity: version; only the version S3 holds now can be redelivered (leave out --etag)`,
      );
      return 1;
    }
    const deliveryId = deliveryIdFor(partner, {
      bucket,
      key: o.key,
      etag,
      lastModified: current?.lastModified,
    });
    const redeliveries = createRedeliveries({
      redis,
      keys,
      ledger,
      audit: createAuditLog(redis, keys),
      receipts: createReceiptStore(source, svc.receipts),
      source,
      getConfig: () => o.config,
      enqueue: (p, job) => enqueueDeliveries(queues.deliver, p, [job]),
    });
    const replace = o.replace === true;
    const outcome = await redeliveries.request({ deliveryId, reason: o.reason, by: o.by, replace });
    const stale = listed?.etag === etag && isStale(listed, partner, o.now ?? new Date());
    if (!outcome.ok && outcome.problem === 'not-found' && stale && listed) {
      if (!partner.enabled) {
        o.err(`ferry redeliver: partner ${partner.id} is disabled`);
        return 1;
      }
      await enqueueDeliveries(queues.deliver, partner, [
        {
          v: 1,
          deliveryId,
          partnerId: partner.id,
          bucket,
          key: o.key,
          etag,
          size: listed.size,
          lastModified: listed.lastModified.toISOString(),
        },
      ]);
      await createAuditLog(redis, keys).append({
        at: new Date().toISOString(),
        user: o.by,
        action: 'redeliver',
        reason: o.reason,
        deliveryId,
        partnerId: partner.id,
      });
      o.audit.info(
        {
          audit: true,
          action: 'redeliver',
          user: o.by,
          reason: o.reason,
          partnerId: partner.id,
          deliveryId,
          trackingId: deliveryId,
          stale: true,
        },
        'delivery of a stale object requested',
      );
      o.out(
        `delivery ${deliveryId} queued for ${partner.id}: ${printable(o.key)} (older than source.maxAgeDays: sent on request)`,
      );
      return 0;
    }
    if (!outcome.ok) {
      o.err(
        outcome.problem === 'not-found'
          ? `ferry redeliver: version ${etag} of ${printable(o.key)} was never delivered to ${partner.id} (${deliveryId})`
          : `ferry redeliver: ${outcome.message}`,
      );
      return 1;
    }
    o.audit.info(
      {
        audit: true,
        action: 'redeliver',
        user: o.by,
        reason: o.reason,
        ...(replace ? { replace } : {}),
        partnerId: partner.id,
        deliveryId: outcome.deliveryId,
        trackingId: outcome.deliveryId,
        redeliveryOf: outcome.of,
      },
      'redelivery requested',
    );
    o.out(
      `redelivery ${outcome.deliveryId} queued for ${partner.id}: ${printable(o.key)} (of ${outcome.of})${replace ? ", replacing the partner's file" : ''}`,
    );
    if (partner.target.onExisting !== 'overwrite' && !replace) {
      const original = await ledger.get(outcome.of);
      o.err(
        `note: ${partner.id} has onExisting: ${partner.target.onExisting}; if the partner still has ${printable(original?.remotePath ?? 'the file')}, the redelivery ${partner.target.onExisting === 'fail' ? 'fails with ERR_REMOTE_EXISTS' : 'is skipped (remote-exists)'} (--replace replaces it)`,
      );
    }
    return 0;
  } finally {
    await queues.close();
    await redis.quit().catch(() => undefined);
    s3?.destroy();
  }
}

/** True when a sweep leaves the object out only for its age (`source.maxAgeDays`). */
function isStale(object: SourceObject, partner: PartnerConfig, now: Date): boolean {
  return selectObjects([object], partner.source, now).skipped[0]?.reason === 'stale';
}

/** The object S3 holds now at exactly `key` (a listing with the key as prefix, first page). */
async function currentObject(
  source: ObjectSource,
  bucket: string,
  key: string,
): Promise<SourceObject | undefined> {
  for await (const page of source.listPages(bucket, key, 1000)) {
    const found = page.find((object) => object.key === key);
    if (found) return found;
    // Keys sort after their prefix: once past it on a page, it is not there.
    if (page.some((object) => object.key > key)) return undefined;
  }
  return undefined;
}
