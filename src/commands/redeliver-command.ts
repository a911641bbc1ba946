// `ferry redeliver <partner> <s3-key> --reason "…" [--replace] [--etag E] [--by USER]`: a deliberate
// resend of a delivered file, as its own delivery (`<deliveryId>-r<n>`) with its own receipt and an
// audit entry; `--replace` replaces the partner's file if it is still there. An object no sweep sends
// because it is older than `source.maxAgeDays` (never delivered) is sent here as its first delivery,
// under the id a sweep would give it (src/ledger/request-object-delivery.ts, shared with the API).
import { createReceiptStore } from '../adapters/receipt-store.js';
import { createS3Client, createS3Source } from '../adapters/s3-source.js';
import type { ObjectSource } from '../core/ports.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { printable } from '../core/format-deliveries.js';
import { createAuditLog } from '../ledger/audit-log.js';
import { createRedeliveries } from '../ledger/redeliveries.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { manifestPartner } from '../../jobs/delivery/manifest-partner.js';
import { manifestScopeOfKey } from '../core/manifest-plan.js';
import { createRedisLedger } from '../ledger/redis-ledger.js';
import { requestObjectDelivery } from '../ledger/request-object-delivery.js';
import type { Logger } from '../observability/logger.js';
import type { DeliverJobData } from '../queues/payloads.js';
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
    const keys = createRedisKeys(svc.redis.prefix);
    const ledger = createRedisLedger(redis, keys);
    const audit = createAuditLog(redis, keys);
    const enqueue = (p: PartnerConfig, job: DeliverJobData) => enqueueDeliveries(queues.deliver, p, [job]);
    const redeliveries = createRedeliveries({
      redis,
      keys,
      ledger,
      audit,
      receipts: createReceiptStore(source, svc.receipts),
      source,
      getConfig: () => o.config,
      enqueue,
    });
    const replace = o.replace === true;
    const outcome = await requestObjectDelivery(
      { redeliveries, source, audit, enqueue, log: o.audit },
      {
        // A manifest's key (beside the receipts): its delivery is of the receipts bucket's object.
        partner:
          manifestScopeOfKey(svc.receipts.prefix, partner.id, o.key) === undefined
            ? partner
            : manifestPartner(partner, svc.receipts.bucket, o.key),
        key: o.key,
        reason: o.reason,
        by: o.by,
        replace,
        etag: o.etag,
        now: o.now ?? new Date(),
      },
    );
    if (!outcome.ok) {
      o.err(`ferry redeliver: ${outcome.message}`);
      return 1;
    }
    if (outcome.kind === 'stale') {
      o.out(
        `delivery ${outcome.deliveryId} queued for ${partner.id}: ${printable(o.key)} (older than source.maxAgeDays: sent on request)`,
      );
      return 0;
    }
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
