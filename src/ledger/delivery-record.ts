import type { DeliveryFacts } from '../core/delivery-view.js';
import type { PublishPhase } from '../core/publish-protocol.js';
import type { SidecarKind } from '../core/sidecar-files.js';
import type { ErrorCode } from '../errors.js';

export type DeliveryStatus = 'publishing' | 'delivered' | 'quarantined' | 'skipped' | 'superseded' | 'failed';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'publishing',
  'delivered',
  'quarantined',
  'skipped',
  'superseded',
  'failed',
];

/**
 * One delivery (partner + object version) as the ledger index holds it: the facts every view shows
 * (src/core/delivery-view.ts; timestamps ISO, md5 recorded with the intent when the partner's
 * checksum file is md5), with a ledger status (never `queued`: that is a job, not a record).
 */
export interface DeliveryRecord extends Omit<DeliveryFacts, 'status'> {
  status: DeliveryStatus;
  /** Where the data file stands in the publish protocol (src/core/publish-protocol.ts); kept by a failed record. */
  phase?: PublishPhase;
  /** Rename mode: the verified temp file the intent names (evidence until the rename consumes it). */
  tempPath?: string;
  /** The sidecars recorded as published, in order: never published again. */
  sidecarsPublished?: SidecarKind[];
  /** The sidecar whose temp file (or in-place write) was verified and is being published. */
  sidecarIntent?: SidecarKind;
  /** `source.identity: version`: the object's LastModified (ISO, as listed), part of the id; retries rebuild it. */
  sourceLastModified?: string;
}

/** True for a string that names a known status (values read back from Redis are untrusted). */
export function isDeliveryStatus(value: unknown): value is DeliveryStatus {
  return typeof value === 'string' && (DELIVERY_STATUSES as readonly string[]).includes(value);
}

// Skips that record what one read found, not a decision about the object version.
const SOURCE_SKIP_REASONS: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_SOURCE_GONE',
  'ERR_SOURCE_CHANGED',
]);

/**
 * True when a record settles its delivery for good: delivered, quarantined, or skipped for a reason
 * that still holds. A skip because the object was gone or had changed when it was read settles only
 * that read: if the same version is listed again (deleted and re-exported with the same bytes, or
 * changed and changed back), it must still be delivered.
 */
export function isSettled(record: Pick<DeliveryRecord, 'status' | 'reason'>): boolean {
  if (record.status === 'skipped') return !SOURCE_SKIP_REASONS.has(record.reason ?? '');
  return record.status === 'delivered' || record.status === 'quarantined' || record.status === 'superseded';
}

/**
 * False when no S3 receipt can exist for this delivery given its record: receipts are written only
 * after the publish intent (status publishing, with remotePath) is recorded, and a later failed or
 * skipped record keeps the intent's fields.
 */
export function receiptMayExist(
  record: Pick<DeliveryRecord, 'status' | 'sha256' | 'remotePath'> | undefined,
): boolean {
  if (record === undefined) return false;
  return (
    record.status === 'publishing' ||
    record.status === 'delivered' ||
    record.sha256 !== undefined ||
    record.remotePath !== undefined
  );
}
