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

/** Enqueue deliveries in bulk; the job id makes a repeat add a no-op while the job exists. */
export async function enqueueDeliveries(
  queue: Queue,
  partner: PartnerConfig,
  jobs: DeliverJobData[],
): Promise<void> {
  for (let i = 0; i < jobs.length; i += 500) {
    await queue.addBulk(
      jobs
        .slice(i, i + 500)
        .map((data) => ({ name: JOB.deliver, data, opts: deliverJobOptions(partner, data.deliveryId) })),
    );
  }
}
