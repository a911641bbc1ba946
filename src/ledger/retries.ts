// Retries of failed deliveries: a person asks for a delivery that failed for good to run again, with a
// reason. The delivery resumes from its recorded phase (a failed record keeps its publish intent and
// the temp file its evidence), so the same delivery id runs again; nothing is sent twice. One place for
// the CLI, the API and the web UI.
import type { Job, Queue } from 'bullmq';
import type { ObjectSource } from '../core/ports.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { parseRedeliveryId } from '../core/redelivery.js';
import { DeliverJobData } from '../queues/payloads.js';
import type { AuditLog } from './audit-log.js';
import type { DeliveryRecord } from './delivery-record.js';
import type { Ledger } from './redis-ledger.js';

export type RetryOutcome =
  | {
      ok: true;
      deliveryId: string;
      jobId: string;
      /** `retried`: the failed job moved back to wait; `requeued`: it was gone, a new one was added from the ledger. */
      how: 'retried' | 'requeued';
      partnerId: string;
    }
  | {
      ok: false;
      /** `not-found` answers 404; every other problem 409 (the delivery is not in a state a retry fixes). */
      problem: 'not-found' | 'not-failed' | 'job-not-failed' | 'partner-unavailable' | 'cannot-requeue';
      message: string;
    };

export interface Retries {
  /**
   * Retries `deliveryId` (the job id): the ledger must say `failed`, the partner be configured and
   * enabled, and the deliver job be in BullMQ's failed set (moved back to wait) or gone (re-added from
   * the ledger record). Writes the audit entry once the job is queued again.
   */
  retry(input: { deliveryId: string; reason: string; by: string }): Promise<RetryOutcome>;
}

export interface RetriesDeps {
  ledger: Pick<Ledger, 'get'>;
  audit: Pick<AuditLog, 'append'>;
  deliverQueue: Pick<Queue, 'getJob'>;
  /**
   * HeadObject when the job is re-added: the source size and LastModified (for `{date}` in
   * `naming.filename`) a sweep would put in the job; the ledger keeps neither.
   */
  source?: Pick<ObjectSource, 'head'>;
  getConfig(): FerryConfig;
  /** The sweep's enqueue path (src/queues/queues.ts enqueueDeliveries). */
  enqueue(partner: PartnerConfig, job: DeliverJobData): Promise<void>;
  now?(): Date;
}

export function createRetries(deps: RetriesDeps): Retries {
  return {
    async retry({ deliveryId, reason, by }) {
      const record = await deps.ledger.get(deliveryId);
      if (!record) return { ok: false, problem: 'not-found', message: `no delivery ${deliveryId}` };
      if (record.status !== 'failed') {
        return { ok: false, problem: 'not-failed', message: notFailedMessage(record) };
      }
      const partner = deps.getConfig().partners.get(record.partnerId);
      if (!partner?.enabled) {
        return {
          ok: false,
          problem: 'partner-unavailable',
          message: `partner ${record.partnerId} is ${partner ? 'disabled' : 'not configured'}: enable it before retrying`,
        };
      }
      const job = (await deps.deliverQueue.getJob(deliveryId)) as Job | undefined;
      let how: 'retried' | 'requeued';
      if (job) {
        const moved = await moveBackToWait(job);
        if (moved !== true) {
          return {
            ok: false,
            problem: 'job-not-failed',
            message: `the job of delivery ${deliveryId} is ${moved}, not failed: ${
              moved === 'completed' ? 'it has already run again' : 'it is already queued or running'
            }`,
          };
        }
        how = 'retried';
      } else {
        // Failed jobs are removed after 30 days (or by hand): add it again, as a sweep would.
        const data = await jobDataFrom(record, deps.source);
        if (!data.success) {
          return {
            ok: false,
            problem: 'cannot-requeue',
            message: `the job of delivery ${deliveryId} is gone and its ledger record cannot rebuild it (${data.error.issues
              .map((i) => `${i.path.join('.')}: ${i.message}`)
              .join('; ')})`,
          };
        }
        await deps.enqueue(partner, data.data);
        how = 'requeued';
      }
      // Written after the job is queued again: a refused or lost race leaves no entry claiming a retry.
      await deps.audit.append({
        at: (deps.now?.() ?? new Date()).toISOString(),
        user: by,
        action: 'retry',
        reason,
        deliveryId,
        partnerId: partner.id,
      });
      return { ok: true, deliveryId, jobId: deliveryId, how, partnerId: partner.id };
    },
  };
}

function notFailedMessage(record: DeliveryRecord): string {
  const id = record.deliveryId;
  switch (record.status) {
    case 'delivered':
      return `delivery ${id} is delivered, not failed: redeliver it to send it again`;
    case 'publishing':
      return `delivery ${id} is publishing, not failed: it is still running or retrying on its own`;
    case 'quarantined':
      return `delivery ${id} is quarantined, not failed: a retry would fail the same validation; fix the export (a new version is a new delivery)`;
    default:
      return `delivery ${id} is ${record.status}, not failed: there is nothing to retry`;
  }
}

/**
 * Moves a failed job back to wait (BullMQ keeps its attempts count: one more attempt, as Bull Board's
 * retry). Returns true, or the state the job is in when it is not failed (including a retry that
 * another operator made between our read and our move).
 */
async function moveBackToWait(job: Job): Promise<true | string> {
  const state = await job.getState();
  if (state !== 'failed') return state;
  try {
    await job.retry('failed');
    return true;
  } catch (err) {
    const now = await job.getState();
    if (now !== 'failed') return now;
    throw err;
  }
}

/** The job's `lastModified`: the one recorded for the delivery (identity version), else S3's now. */
export function lastModifiedOf(
  record: Pick<DeliveryRecord, 'sourceLastModified'>,
  current: { lastModified: Date } | undefined,
): { lastModified?: string } {
  if (record.sourceLastModified !== undefined) return { lastModified: record.sourceLastModified };
  return current === undefined ? {} : { lastModified: current.lastModified.toISOString() };
}

/** The deliver job a sweep would build for this record (a redelivery keeps its number), validated. */
async function jobDataFrom(
  record: DeliveryRecord,
  source: Pick<ObjectSource, 'head'> | undefined,
): Promise<ReturnType<typeof DeliverJobData.safeParse>> {
  const head = await source?.head(record.bucket, record.key);
  // Another version (or none): the run completes as skipped (ERR_SOURCE_CHANGED / GONE) anyway.
  const current = head?.etag === record.etag ? head : undefined;
  const { n } = parseRedeliveryId(record.deliveryId);
  return DeliverJobData.safeParse({
    v: 1,
    deliveryId: record.deliveryId,
    partnerId: record.partnerId,
    bucket: record.bucket,
    key: record.key,
    etag: record.etag,
    // The source object's size, as a sweep lists it: the ledger's `size` is what was sent (after transforms).
    size: current?.size ?? 0,
    // identity version: the recorded LastModified is part of the id (HeadObject's may be another write).
    ...lastModifiedOf(record, current),
    ...(n === undefined ? {} : { redelivery: n }),
  });
}
