// Step 5b: the data file is not to be published (src/core/publish-protocol.ts `settle`): a newer
// version won the path, the source is gone, or onExisting keeps the partner's file.
import type { SettleWithoutPublishing } from '../../src/core/publish-protocol.js';
import { PermanentError } from '../job-errors.js';
import type { DeliverResult } from '../../src/queues/payloads.js';
import type { Delivery } from './context.js';
import { releaseTemps } from './temp-files.js';

/** Records the outcome; throws (to the failure step) when onExisting says fail. */
export async function settleUnpublished(
  d: Delivery,
  outcome: SettleWithoutPublishing,
): Promise<DeliverResult> {
  const { deps, id, log } = d;
  await releaseTemps(d); // its temp file was removed with the intent withdrawn
  if (outcome.kind === 'failed') throw new PermanentError(outcome.code, `${d.remotePath} ${outcome.message}`);
  if (outcome.kind === 'superseded') {
    const reason =
      outcome.by === 'newer-published'
        ? 'superseded: a newer version of the object was published to this path'
        : 'superseded: S3 holds a newer version of the object now';
    // The audit trail's answer to "what became of this version?", durable like the delivery receipts.
    await deps.receipts.writeSuperseded({
      version: 1,
      outcome: 'superseded',
      deliveryId: id.deliveryId,
      trackingId: id.deliveryId,
      partnerId: id.partnerId,
      source: { bucket: id.bucket, key: id.key, etag: id.etag, size: d.data.size },
      target: { host: d.partner.target.host, port: d.partner.target.port, path: d.remotePath },
      supersededBy: outcome.by,
      ...(outcome.by === 'newer-published' && d.newestPublishedBy !== undefined
        ? { newerDeliveryId: d.newestPublishedBy }
        : {}),
      attempts: d.job.attemptsMade + 1,
      decidedAt: deps.now().toISOString(),
      ferryVersion: deps.ferryVersion,
    });
    await deps.ledger.record({ ...id, status: 'superseded', reason });
    log.warn({ outcome: 'superseded', by: outcome.by }, `not published: ${reason}`);
    return { outcome: 'superseded', deliveryId: id.deliveryId, bytes: 0, reason };
  }
  // A gone source settles only that read (isSettled): a re-export of the same bytes is delivered again.
  const reason = outcome.reason === 'source-gone' ? 'ERR_SOURCE_GONE' : outcome.reason;
  await deps.ledger.record({ ...id, status: 'skipped', reason });
  log.warn({ outcome: 'skipped', reason }, 'delivery skipped');
  return { outcome: 'skipped', deliveryId: id.deliveryId, bytes: 0, reason };
}
