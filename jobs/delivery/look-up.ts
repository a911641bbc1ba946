// Step 1 of a delivery (ARCHITECTURE "Delivery algorithm" 2): the ledger, or the S3 receipt when the
// ledger cannot prove there is none, says whether this delivery is already settled.
import type { PartnerConfig } from '../../src/config/schema.js';
import { isSettled, receiptMayExist, type DeliveryRecord } from '../../src/ledger/delivery-record.js';
import { restoreFromReceipt } from '../../src/ledger/ledger-trust.js';
import type { Logger } from '../../src/observability/logger.js';
import type { DeliverResult } from '../../src/queues/payloads.js';
import type { DeliverDeps, Identity } from './context.js';

export type LookUp =
  /** `recordLost`: restored from its receipt with no ledger record at all (Redis lost it). */
  | { settled: DeliverResult; housekeepingMark?: string; recordLost?: true }
  | { settled?: undefined; known: DeliveryRecord | undefined };

/** The delivery's ledger record, or its result when the ledger or a receipt shows it settled. */
export async function lookUpDelivery(
  deps: DeliverDeps,
  partner: PartnerConfig,
  id: Identity,
  log: Logger,
): Promise<LookUp> {
  const { record: known, trustEpoch } = await deps.ledger.getWithTrustEpoch(id.deliveryId);
  if (known?.status === 'delivered') {
    log.info({ outcome: 'already-delivered', remotePath: known.remotePath }, 'delivery already recorded');
    return {
      settled: alreadyDelivered(id, known.remotePath),
      housekeepingMark: known.deliveredAt ?? id.deliveryId,
    };
  }
  if (
    (known?.status === 'quarantined' || known?.status === 'skipped' || known?.status === 'superseded') &&
    isSettled(known)
  ) {
    log.info({ outcome: known.status, reason: known.reason }, 'delivery already settled');
    return {
      settled: {
        outcome: known.status,
        deliveryId: id.deliveryId,
        bytes: 0,
        ...(known.reason ? { reason: known.reason } : {}),
      },
    };
  }
  // A trusted ledger proves there is no receipt unless this delivery got as far as publishing.
  const receipt =
    deps.trust.trusts(trustEpoch) && !receiptMayExist(known)
      ? undefined
      : await deps.receipts.read(partner.id, id.deliveryId);
  if (!receipt) return { known };
  // Redis lost the record (e.g. restarted empty); the receipt is the durable witness.
  await restoreFromReceipt(deps.ledger, receipt, deps.nameSequence);
  log.info(
    { outcome: 'already-delivered', remotePath: receipt.target.path },
    'delivery restored from receipt',
  );
  return {
    settled: alreadyDelivered(id, receipt.target.path),
    housekeepingMark: receipt.deliveredAt,
    ...(known === undefined ? { recordLost: true as const } : {}),
  };
}

function alreadyDelivered(id: Identity, remotePath: string | undefined): DeliverResult {
  return {
    outcome: 'already-delivered',
    deliveryId: id.deliveryId,
    ...(remotePath === undefined ? {} : { remotePath }),
    bytes: 0,
  };
}
