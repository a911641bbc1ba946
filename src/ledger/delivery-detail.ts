// One delivery in full: the ledger record (or its waiting job), the S3 receipt, the redelivery request
// and the audit trail. `GET /api/deliveries/:id` and `ferry deliveries show` both answer with this.
import type { Job, Queue } from 'bullmq';
import type { DeliveryReceipt, ReceiptStore, SupersededReceipt } from '../adapters/receipt-store.js';
import { toDeliveryView, type DeliveryView } from '../core/delivery-view.js';
import { manifestScopeOfKey } from '../core/manifest-plan.js';
import { parseRedeliveryId } from '../core/redelivery.js';
import { DEFAULT_RUNBOOK_BASE_URL, runbookForDelivery, runbookUrl } from '../core/runbook-for.js';
import { FerryError } from '../errors.js';
import { DeliverJobData } from '../queues/payloads.js';
import type { AuditEntry, AuditLog } from './audit-log.js';
import { receiptMayExist } from './delivery-record.js';
import type { RedeliveryRequest, Redeliveries } from './redeliveries.js';
import type { Ledger } from './redis-ledger.js';

/** The view plus everything known about the delivery; the API's JSON, field for field. */
export type DeliveryDetail = DeliveryView & {
  /** `manifest:`: this delivery sends the partner's manifest of that scope (e.g. w-2026-12-07). */
  sendsManifest?: string;
  /** null while none can exist (not published yet) or none was found. */
  receipt: DeliveryReceipt | null;
  /** Why the receipt could not be read (corrupt, S3 unreachable); the rest of the detail still shows. */
  receiptError?: string;
  /** A superseded delivery's witness: which newer version won its path (src/adapters/receipt-store.ts). */
  supersededReceipt?: SupersededReceipt;
  /** Who asked for this redelivery and why (only on a `<id>-r<n>` that was asked for). */
  redelivery?: RedeliveryRequest;
  /** Operators' actions on this delivery, oldest first. */
  audit: AuditEntry[];
  /** What to do about a failed or quarantined delivery: its runbook (by the last error code). */
  runbookUrl?: string;
};

export interface DeliveryDetailDeps {
  ledger: Pick<Ledger, 'get'>;
  receipts: Pick<ReceiptStore, 'read' | 'readSuperseded'>;
  deliverQueue: Pick<Queue, 'getJob'>;
  redeliveries: Pick<Redeliveries, 'get'>;
  audit: Pick<AuditLog, 'forDelivery'>;
  /** ferry.yaml `alerts.runbookBaseUrl` (default: DEFAULT_RUNBOOK_BASE_URL). */
  runbookBaseUrl?: string;
  /** ferry.yaml `receipts`: manifests' S3 objects are kept there, so their deliveries are known by key. */
  receiptsLocation?: { bucket: string; prefix: string };
}

// The ledger knows a delivery once it starts; before that, only its waiting job does.
const WAITING_STATES: ReadonlySet<string> = new Set(['waiting', 'delayed', 'prioritized', 'active']);

/**
 * Reads the detail of a delivery id (= its BullMQ job id), or undefined when neither the ledger nor a
 * waiting or running job knows it. Redis errors propagate; an unreadable receipt becomes
 * `receiptError` (a FerryError's code and message, else a generic text).
 */
export async function readDeliveryDetail(
  deps: DeliveryDetailDeps,
  id: string,
): Promise<DeliveryDetail | undefined> {
  const record = await deps.ledger.get(id);
  let view: DeliveryView | undefined = record ? toDeliveryView(record) : undefined;
  if (!view) {
    const job = (await deps.deliverQueue.getJob(id)) as Job | undefined;
    const state = job ? await job.getState() : undefined;
    view = job && state !== undefined && WAITING_STATES.has(state) ? queuedJobView(job) : undefined;
  }
  if (!view) return undefined;
  let receipt: DeliveryReceipt | null = null;
  let receiptError: string | undefined;
  let supersededReceipt: SupersededReceipt | undefined;
  try {
    if (record?.status === 'superseded') {
      supersededReceipt = await deps.receipts.readSuperseded(record.partnerId, record.deliveryId);
    } else if (record && receiptMayExist(record)) {
      receipt = (await deps.receipts.read(record.partnerId, record.deliveryId)) ?? null;
    }
  } catch (err) {
    receiptError = err instanceof FerryError ? `${err.code}: ${err.message}` : 'receipt unreadable';
  }
  const { n } = parseRedeliveryId(id);
  const redelivery = n === undefined ? undefined : await deps.redeliveries.get(id);
  const runbook = runbookForDelivery(view);
  const where = deps.receiptsLocation;
  const sendsManifest =
    where !== undefined && view.bucket === where.bucket
      ? manifestScopeOfKey(where.prefix, view.partnerId, view.key)
      : undefined;
  return {
    ...view,
    ...(sendsManifest === undefined ? {} : { sendsManifest }),
    receipt,
    ...(receiptError === undefined ? {} : { receiptError }),
    ...(supersededReceipt === undefined ? {} : { supersededReceipt }),
    ...(redelivery === undefined ? {} : { redelivery }),
    audit: await deps.audit.forDelivery(id),
    ...(runbook === undefined
      ? {}
      : { runbookUrl: runbookUrl(deps.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL, runbook) }),
  };
}

/** A waiting deliver job shown as a `queued` delivery; undefined for job data that is not a delivery's. */
export function queuedJobView(job: Job): DeliveryView | undefined {
  const parsed = DeliverJobData.safeParse(job.data);
  if (!parsed.success || job.id !== parsed.data.deliveryId) return undefined;
  const d = parsed.data;
  const at = new Date(job.timestamp).toISOString();
  return toDeliveryView({
    deliveryId: d.deliveryId,
    partnerId: d.partnerId,
    bucket: d.bucket,
    key: d.key,
    etag: d.etag,
    size: d.size,
    status: 'queued',
    attempts: job.attemptsMade,
    ...(job.failedReason ? { lastError: job.failedReason } : {}),
    createdAt: at,
    updatedAt: new Date(job.processedOn ?? job.timestamp).toISOString(),
  });
}
