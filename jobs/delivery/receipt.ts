// Step 6: the durable witness. The S3 receipt is written before the ledger says delivered, so a
// ledger lost with Redis is rebuilt from receipts and never causes a redelivery.
import { hitFailpoint } from '../../src/failpoints.js';
import type { RedeliveryRequest } from '../../src/ledger/redeliveries.js';
import type { Delivery } from './context.js';
import type { DataFileOutcome } from './publish.js';

type Published = Extract<DataFileOutcome, { kind: 'published' }>;

/** Writes the receipt, then records the delivery delivered (in that order). Returns when it was delivered. */
export async function recordDelivered(
  d: Delivery,
  outcome: Published & { sidecars: { path: string; kind: 'checksum' | 'done' }[] },
  context: { startedAt: Date; seq?: { scope: string; n: number }; redelivery?: RedeliveryRequest },
): Promise<Date> {
  const { deps, partner, id, data, job, remotePath } = d;
  const { startedAt, seq, redelivery } = context;
  const deliveredAt = deps.now();
  await deps.receipts.write({
    version: 1,
    deliveryId: id.deliveryId,
    trackingId: id.deliveryId,
    partnerId: partner.id,
    source: {
      bucket: id.bucket,
      key: id.key,
      etag: id.etag,
      size: outcome.source?.bytes ?? (outcome.transform ? data.size : outcome.size),
      ...(outcome.source ? { sha256: outcome.source.sha256 } : {}),
      ...(id.sourceLastModified === undefined ? {} : { lastModified: id.sourceLastModified }),
    },
    target: {
      host: partner.target.host,
      port: partner.target.port,
      path: remotePath,
      mode: `0${partner.target.fileMode.toString(8)}`,
    },
    sha256: outcome.sha256,
    ...(outcome.md5 === undefined ? {} : { md5: outcome.md5 }),
    bytes: outcome.size,
    ...(outcome.transform ? { transform: outcome.transform } : {}),
    ...(outcome.csv ? { csv: outcome.csv } : {}),
    ...(outcome.sidecars.length > 0 ? { sidecars: outcome.sidecars } : {}),
    ...(seq ? { naming: { seqScope: seq.scope, seq: seq.n } } : {}),
    attempts: job.attemptsMade + 1,
    publish: partner.target.publish,
    startedAt: startedAt.toISOString(),
    deliveredAt: deliveredAt.toISOString(),
    durationMs: deliveredAt.getTime() - startedAt.getTime(),
    ferryVersion: deps.ferryVersion,
    ...(redelivery
      ? {
          redeliveryOf: redelivery.of,
          reason: redelivery.reason,
          requestedBy: redelivery.by,
          requestedAt: redelivery.at,
        }
      : {}),
  });
  await hitFailpoint('after_receipt');
  await deps.ledger.record({
    ...id,
    status: 'delivered',
    size: outcome.size,
    sha256: outcome.sha256,
    ...(outcome.md5 === undefined ? {} : { md5: outcome.md5 }),
    remotePath,
    // Failed attempts were counted by noteAttempt; this one succeeded.
    attempts: job.attemptsMade + 1,
    deliveredAt: deliveredAt.toISOString(),
  });
  await hitFailpoint('after_ledger');
  return deliveredAt;
}
