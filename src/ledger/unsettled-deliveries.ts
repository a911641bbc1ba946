// Which eligible object versions still need a delivery, by the ledger: the one rule a sweep and an S3
// event share, so that both enqueue exactly the same jobs (same ids) for the same objects.
import type { PartnerConfig } from '../config/schema.js';
import { deliveryIdFor } from '../core/delivery-id.js';
import type { SourceObject } from '../core/ports.js';
import type { DeliverJobData } from '../queues/payloads.js';
import { isSettled, type DeliveryStatus } from './delivery-record.js';
import type { Ledger } from './redis-ledger.js';

export type SettledStatus = Exclude<DeliveryStatus, 'publishing'>;

export interface DeliveryCandidate<T extends SourceObject> {
  object: T;
  deliveryId: string;
}

export interface LedgerSorting<T extends SourceObject> {
  /** Every object with its delivery id, in the order given. */
  candidates: DeliveryCandidate<T>[];
  statuses: Map<string, DeliveryStatus>;
  /** The deliver jobs for the versions not settled, in the order given. */
  jobs: DeliverJobData[];
  /** How many were settled already, by status. */
  settled: Record<SettledStatus, number>;
}

/**
 * Splits eligible objects into settled ones and deliver jobs for the rest. `failed` (recorded only once
 * the last attempt failed) counts as settled: it waits for an operator's retry, and its failed job is
 * removed after 30 days, when the file must not go out again by itself. A `skipped` one whose skip no
 * longer holds (the object was gone or changed when read, and this very version is here again) is not.
 */
export async function sortByLedger<T extends SourceObject>(
  ledger: Pick<Ledger, 'get' | 'getStatuses'>,
  partner: PartnerConfig,
  objects: readonly T[],
): Promise<LedgerSorting<T>> {
  const candidates = objects.map((object) => ({ object, deliveryId: deliveryIdFor(partner, object) }));
  const statuses = await ledger.getStatuses(candidates.map((c) => c.deliveryId));
  const reopened = await reopenedSkips(
    ledger,
    candidates.filter((c) => statuses.get(c.deliveryId) === 'skipped').map((c) => c.deliveryId),
  );
  const settled: Record<SettledStatus, number> = {
    delivered: 0,
    quarantined: 0,
    skipped: 0,
    superseded: 0,
    failed: 0,
  };
  const jobs: DeliverJobData[] = [];
  for (const c of candidates) {
    const status = statuses.get(c.deliveryId);
    if (status !== undefined && status !== 'publishing' && !reopened.has(c.deliveryId)) {
      settled[status] += 1;
      continue;
    }
    jobs.push({
      v: 1,
      deliveryId: c.deliveryId,
      partnerId: partner.id,
      bucket: c.object.bucket,
      key: c.object.key,
      etag: c.object.etag,
      size: c.object.size,
      lastModified: c.object.lastModified.toISOString(),
    });
  }
  return { candidates, statuses, jobs, settled };
}

/**
 * Skipped deliveries whose skip no longer holds: the object was gone or had changed when it was read,
 * and this very version is listed again (e.g. deleted and re-exported with the same bytes).
 */
async function reopenedSkips(
  ledger: Pick<Ledger, 'get'>,
  skippedIds: readonly string[],
): Promise<Set<string>> {
  const records = await Promise.all(skippedIds.map((id) => ledger.get(id)));
  return new Set(records.flatMap((r) => (r !== undefined && !isSettled(r) ? [r.deliveryId] : [])));
}
