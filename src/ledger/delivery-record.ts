export type DeliveryStatus = 'publishing' | 'delivered' | 'quarantined' | 'skipped' | 'failed';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'publishing',
  'delivered',
  'quarantined',
  'skipped',
  'failed',
];

/** One delivery (partner + object version) as the ledger index holds it. */
export interface DeliveryRecord {
  deliveryId: string;
  partnerId: string;
  bucket: string;
  key: string;
  etag: string;
  status: DeliveryStatus;
  size?: number;
  sha256?: string;
  remotePath?: string;
  attempts: number;
  lastErrorCode?: string;
  lastError?: string;
  reason?: string;
  /** ISO timestamps. */
  createdAt: string;
  updatedAt: string;
  deliveredAt?: string;
}

/** True for a string that names a known status (values read back from Redis are untrusted). */
export function isDeliveryStatus(value: unknown): value is DeliveryStatus {
  return typeof value === 'string' && (DELIVERY_STATUSES as readonly string[]).includes(value);
}
