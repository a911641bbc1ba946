// How a delivery is shown by the API, the web UI and `ferry deliveries --json`.

export type DeliveryViewStatus =
  'publishing' | 'delivered' | 'quarantined' | 'skipped' | 'superseded' | 'failed' | 'queued';

export const ACK_STATUSES = ['pending', 'acknowledged', 'rejected', 'overdue'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];

/** The ledger fields a view is made from (src/ledger/delivery-record.ts DeliveryRecord fits). */
export interface DeliveryFacts {
  deliveryId: string;
  partnerId: string;
  bucket: string;
  key: string;
  etag: string;
  status: DeliveryViewStatus;
  size?: number;
  sha256?: string;
  /** md5 of the delivered bytes, when the partner's checksum file is md5. */
  md5?: string;
  /**
   * Data rows in the delivered file (recorded with the intent): those the partner's `shape` wrote, else
   * those its `validate.csv` counted (the header row aside when the rules name one).
   */
  rows?: number;
  remotePath?: string;
  /**
   * The partner's answer (`ack:`): `pending` from delivery until one is read, `overdue` once `ack.within`
   * passed without one (an answer may still come), then `acknowledged` or `rejected`.
   */
  ack?: AckStatus;
  /** When the answer was read (or the delivery found overdue). */
  ackAt?: string;
  /** The answer file's name in the partner's ack directory. */
  ackFile?: string;
  /** A reject's text (at most 4 KiB), as the partner wrote it. */
  ackReason?: string;
  /** `manifest:`: the manifest (its scope, e.g. w-2026-12-07) that lists this delivered file. */
  manifest?: string;
  attempts: number;
  lastErrorCode?: string;
  lastError?: string;
  reason?: string;
  createdAt: string;
  updatedAt: string;
  deliveredAt?: string;
}

/** The facts as the API shows them: `id` for `deliveryId`, plus where to find the job. */
export type DeliveryView = Omit<DeliveryFacts, 'deliveryId'> & {
  id: string;
  /** The BullMQ job id (= the delivery id). */
  jobId: string;
  /** The job's page in Bull Board (the job may be gone: completed jobs are kept 7 days). */
  boardUrl: string;
};

/** The Bull Board page of a deliver job. */
export function boardUrlFor(jobId: string, basePath = '/admin'): string {
  return `${basePath}/queue/deliver/${encodeURIComponent(jobId)}`;
}

export function toDeliveryView(facts: DeliveryFacts): DeliveryView {
  const { deliveryId, ...rest } = facts;
  return { id: deliveryId, ...rest, jobId: deliveryId, boardUrl: boardUrlFor(deliveryId) };
}
