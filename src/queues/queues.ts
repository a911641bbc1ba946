import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { PartnerConfig } from '../config/schema.js';
import { QUEUE, JOB } from './names.js';
import type { DeliverJobData, SweepJobData } from './payloads.js';

export interface FerryQueues {
  sweep: Queue;
  deliver: Queue;
  close(): Promise<void>;
}

const DAY_S = 24 * 3600;

/** Sweep jobs: cheap to repeat (level-triggered), so a few quick retries. */
export const SWEEP_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 },
  removeOnComplete: { age: DAY_S, count: 1000 },
  removeOnFail: { age: 7 * DAY_S },
};

/**
 * Asks for one sweep of the partner (`reason`), however many ask before it runs: the job id `jobId`
 * is held while the sweep waits, and freed once it ends (failed too), so the next ask adds one again.
 */
export async function requestSweep(
  queue: Queue,
  partnerId: string,
  reason: SweepJobData['reason'],
  jobId: string,
): Promise<void> {
  await queue.add(JOB.sweep, { v: 1, partnerId, reason } satisfies SweepJobData, {
    ...SWEEP_JOB_OPTIONS,
    jobId,
    removeOnComplete: true,
    removeOnFail: true,
  });
}

/** Deliver job options from the partner's retry policy; backoff is computed by the worker's strategy. */
export function deliverJobOptions(partner: PartnerConfig, deliveryId: string): JobsOptions {
  return {
    jobId: deliveryId,
    attempts: partner.retry.attempts,
    backoff: { type: 'ferry' },
    // Completed jobs may go: the ledger, not the job id, says "already delivered". Failed ones stay for retry.
    removeOnComplete: { age: 7 * DAY_S, count: 50_000 },
    removeOnFail: { age: 30 * DAY_S },
  };
}

export function createQueues(connection: ConnectionOptions, prefix: string): FerryQueues {
  const sweep = new Queue<SweepJobData>(QUEUE.sweep, {
    connection,
    prefix,
    defaultJobOptions: SWEEP_JOB_OPTIONS,
  });
  const deliver = new Queue<DeliverJobData>(QUEUE.deliver, { connection, prefix });
  return {
    sweep: sweep as Queue,
    deliver: deliver as Queue,
    async close() {
      await Promise.all([sweep.close(), deliver.close()]);
    },
  };
}

/**
 * Enqueue deliveries in bulk; the job id makes a repeat add a no-op while the job waits, runs or has
 * failed. A completed job is replaced: callers ask only for deliveries the ledger has not settled, so
 * a completed one ended without settling (e.g. skipped because its object was gone, and it is back).
 */
export async function enqueueDeliveries(
  queue: Queue,
  partner: PartnerConfig,
  jobs: DeliverJobData[],
  /** Wait this long before the jobs may run (an S3 event's object still settling). */
  delayMs = 0,
): Promise<void> {
  for (let i = 0; i < jobs.length; i += 500) {
    const batch = jobs.slice(i, i + 500);
    await removeCompleted(
      queue,
      batch.map((data) => data.deliveryId),
    );
    await queue.addBulk(
      batch.map((data) => ({
        name: JOB.deliver,
        data,
        opts: { ...deliverJobOptions(partner, data.deliveryId), ...(delayMs > 0 ? { delay: delayMs } : {}) },
      })),
    );
  }
}

/** Removes those of `jobIds` that are completed (ZSCORE on the completed set: O(log n) each). */
async function removeCompleted(queue: Queue, jobIds: readonly string[]): Promise<void> {
  const client = await queue.getBackend().client;
  const completedKey = queue.keys.completed!;
  const scores = await Promise.all(jobIds.map((id) => client.zscore(completedKey, id)));
  const completed = jobIds.filter((_, i) => scores[i] !== null);
  // remove() leaves a job another worker has locked, which is the job we want anyway.
  await Promise.all(completed.map((id) => queue.remove(id)));
}
