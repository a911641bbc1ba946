// `ferry retry <deliveryId> --reason "…" [--by USER] [--wait]`: runs a delivery that failed for good
// again, after its cause was fixed. It resumes from its recorded phase (src/ledger/retries.ts).
import type { Queue } from 'bullmq';
import { createS3Client, createS3Source } from '../adapters/s3-source.js';
import type { ObjectSource } from '../core/ports.js';
import type { FerryConfig } from '../config/load-config.js';
import { printable } from '../core/format-deliveries.js';
import { createAuditLog } from '../ledger/audit-log.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createRedisLedger, type Ledger } from '../ledger/redis-ledger.js';
import { createRetries } from '../ledger/retries.js';
import type { Logger } from '../observability/logger.js';
import type { DeliverResult } from '../queues/payloads.js';
import { createQueues, enqueueDeliveries } from '../queues/queues.js';
import { connectProducer } from './connect-producer.js';

export interface RetryCommandOptions {
  config: FerryConfig;
  deliveryId: string;
  reason: string;
  by: string;
  /** Follow the job until it completes or fails again, and print how it ended. */
  wait: boolean;
  timeoutSeconds: number;
  out(line: string): void;
  err(line: string): void;
  /** Where the audit line goes (one JSON line). */
  audit: Logger;
  /** Test seam: the S3 side (default: built from ferry.yaml). */
  source?: ObjectSource;
  /** Poll interval for the job state with --wait (the CLI holds no blocking Redis connection). */
  pollMs?: number;
}

/**
 * Exit codes: 0 queued again (with --wait: and it then completed); 1 refused (unknown id, not failed,
 * job not in the failed state, partner disabled) or, with --wait, it failed again or the wait timed out;
 * 2 usage (checked by src/cli.ts).
 */
export async function runRetryCommand(o: RetryCommandOptions): Promise<number> {
  const svc = o.config.service;
  const s3 = o.source === undefined ? createS3Client(svc.s3) : undefined;
  const source = o.source ?? createS3Source(s3!);
  const redis = await connectProducer(o.config);
  const queues = createQueues(redis, svc.redis.prefix);
  try {
    const keys = createRedisKeys(svc.redis.prefix);
    const ledger = createRedisLedger(redis, keys);
    const retries = createRetries({
      ledger,
      audit: createAuditLog(redis, keys),
      deliverQueue: queues.deliver,
      source,
      getConfig: () => o.config,
      enqueue: (p, job) => enqueueDeliveries(queues.deliver, p, [job]),
    });
    const outcome = await retries.retry({ deliveryId: o.deliveryId, reason: o.reason, by: o.by });
    if (!outcome.ok) {
      o.err(`ferry retry: ${printable(outcome.message)}`);
      return 1;
    }
    o.audit.info(
      {
        audit: true,
        action: 'retry',
        user: o.by,
        reason: o.reason,
        partnerId: outcome.partnerId,
        deliveryId: outcome.deliveryId,
        trackingId: outcome.deliveryId,
        how: outcome.how,
      },
      'retry requested',
    );
    o.out(
      `retry of ${outcome.deliveryId} queued for ${outcome.partnerId} (${
        outcome.how === 'retried'
          ? 'failed job moved back to wait'
          : 'its failed job was gone: added again from the ledger record'
      })`,
    );
    if (!o.wait) return 0;

    const deadline = Date.now() + o.timeoutSeconds * 1000;
    const ended = await waitForEnd(queues.deliver, ledger, outcome.deliveryId, deadline, o.pollMs ?? 250);
    if (ended.kind === 'timeout') {
      o.err(
        `ferry retry: timed out after ${o.timeoutSeconds}s; delivery ${outcome.deliveryId} is still queued or running (is a worker running? is the partner paused?)`,
      );
      return 1;
    }
    if (ended.kind === 'failed') {
      o.err(`ferry retry: delivery ${outcome.deliveryId} failed again: ${printable(ended.reason)}`);
      return 1;
    }
    const r = ended.result;
    o.out(
      `${r.outcome}: ${outcome.deliveryId}${r.remotePath ? ` → ${printable(r.remotePath)}` : ''}${
        r.reason ? ` (${printable(r.reason)})` : ''
      }`,
    );
    return 0;
  } finally {
    await queues.close();
    await redis.quit().catch(() => undefined);
    s3?.destroy();
  }
}

type Ended =
  | { kind: 'completed'; result: Pick<DeliverResult, 'outcome' | 'remotePath' | 'reason'> }
  | { kind: 'failed'; reason: string }
  | { kind: 'timeout' };

/** Polls the job until it completes or fails; a job removed meanwhile is read from the ledger. */
async function waitForEnd(
  queue: Queue,
  ledger: Ledger,
  jobId: string,
  deadline: number,
  pollMs: number,
): Promise<Ended> {
  for (;;) {
    // Read afresh each time: a job object read earlier keeps its old return value and reason.
    const job = await queue.getJob(jobId);
    const state = job ? await job.getState() : 'missing';
    if (state === 'completed') {
      const result = (await queue.getJob(jobId))?.returnvalue as DeliverResult | null | undefined;
      if (result) return { kind: 'completed', result };
    } else if (state === 'failed') {
      const failed = await queue.getJob(jobId);
      const record = await ledger.get(jobId);
      const reason =
        record?.status === 'quarantined'
          ? `quarantined: ${record.reason ?? ''}`
          : (failed?.failedReason ?? 'unknown reason');
      return { kind: 'failed', reason };
    } else if (state === 'missing') {
      const record = await ledger.get(jobId);
      if (record && record.status !== 'failed' && record.status !== 'publishing') {
        if (record.status === 'quarantined') {
          return { kind: 'failed', reason: `quarantined: ${record.reason ?? ''}` };
        }
        return {
          kind: 'completed',
          result: {
            outcome: record.status,
            ...(record.remotePath === undefined ? {} : { remotePath: record.remotePath }),
            ...(record.reason === undefined ? {} : { reason: record.reason }),
          },
        };
      }
    }
    if (Date.now() >= deadline) return { kind: 'timeout' };
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
