// `ferry sweep <partner> [--wait]`: asks the running service to sweep now, optionally follows every delivery.
import type { Job, Queue } from 'bullmq';
import type { FerryConfig } from '../config/load-config.js';
import { FerryError } from '../errors.js';
import {
  formatSummary,
  summarizeOutcomes,
  summaryExitCode,
  type DeliveryOutcome,
} from '../core/summarize-deliveries.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createRedisLedger, type Ledger } from '../ledger/redis-ledger.js';
import { JOB } from '../queues/names.js';
import type { DeliverResult, SweepResult } from '../queues/payloads.js';
import { createQueues } from '../queues/queues.js';
import { createRedisConnection, describeRedisTarget } from '../queues/redis-connection.js';

export interface SweepCommandOptions {
  config: FerryConfig;
  partnerId: string;
  wait: boolean;
  timeoutSeconds: number;
  /** `--since 30d`: a dated prefix's partitions back to that many days are listed by this sweep. */
  sinceDays?: number;
  out(line: string): void;
  err(line: string): void;
  /** Poll interval for job states (the CLI polls; it holds no blocking Redis connection). */
  pollMs?: number;
}

type Observed = DeliveryOutcome | 'pending';

export async function runSweepCommand(o: SweepCommandOptions): Promise<number> {
  const partner = o.config.partners.get(o.partnerId);
  if (!partner) {
    o.err(
      `ferry sweep: unknown partner "${o.partnerId}" (configured: ${[...o.config.partners.keys()].join(', ')})`,
    );
    return 2;
  }
  if (!partner.enabled) {
    o.err(`ferry sweep: partner "${o.partnerId}" is disabled`);
    return 2;
  }
  if (o.sinceDays !== undefined && partner.source.prefixTemplate === undefined) {
    o.err(
      `ferry sweep: --since applies to a dated prefix (source.prefix with {date:…}); ${partner.id}'s sweeps list all of ${partner.source.prefix || 'the bucket'} already`,
    );
    return 2;
  }
  const svc = o.config.service;
  const redis = createRedisConnection(svc.redis, 'producer');
  // Without a listener ioredis prints every connection error with a stack; we report it once, below.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw redisUnavailable(describeRedisTarget(svc.redis), lastError ?? err);
  }
  const queues = createQueues(redis, svc.redis.prefix);
  const ledger = createRedisLedger(redis, createRedisKeys(svc.redis.prefix));
  const pollMs = o.pollMs ?? 250;
  const deadline = Date.now() + o.timeoutSeconds * 1000;
  try {
    const job = await queues.sweep.add(
      JOB.sweep,
      {
        v: 1,
        partnerId: partner.id,
        reason: 'manual',
        ...(o.sinceDays === undefined ? {} : { sinceDays: o.sinceDays }),
      },
      { jobId: `sweep-manual-${partner.id}-${Date.now()}`, attempts: 1 },
    );
    o.out(`sweep queued for ${partner.id} (job ${job.id ?? '?'})`);
    if (!o.wait) return 0;

    const sweep = await waitForSweep(queues.sweep, job.id ?? '', deadline, pollMs);
    if (sweep === 'timeout') {
      o.err(`ferry sweep: timed out waiting for the sweep to run (is a worker running?)`);
      return 1;
    }
    if (sweep === 'failed') {
      const failed = await queues.sweep.getJob(job.id ?? '');
      o.err(`ferry sweep: the sweep failed: ${failed?.failedReason ?? 'unknown reason'}`);
      return 1;
    }
    o.out(
      `sweep listed ${sweep.listed} objects: ${sweep.eligible} eligible, ${sweep.pending.length} to deliver, ` +
        `${sweep.settled.delivered + sweep.settled.quarantined + sweep.settled.skipped + sweep.settled.failed} already settled` +
        (sweep.settled.failed > 0 ? ` (${sweep.settled.failed} failed earlier: ferry retry <id>)` : ''),
    );

    const outcomes = new Map<string, Observed>(sweep.pending.map((id) => [id, 'pending']));
    let lastLine = '';
    for (let poll = 0; ; poll += 1) {
      await refresh(outcomes, queues.deliver, ledger, poll % 8 === 0);
      const done = [...outcomes.values()].filter((v) => v !== 'pending').length;
      const line = `deliveries: ${done}/${outcomes.size} settled`;
      if (line !== lastLine) {
        o.err(line);
        lastLine = line;
      }
      if (done === outcomes.size || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    const summary = summarizeOutcomes(outcomes.values());
    summary.alreadyDelivered += sweep.settled.delivered;
    summary.quarantined += sweep.settled.quarantined;
    summary.skipped += sweep.settled.skipped;
    // Still failed: it waits for `ferry retry`, as it did while its failed job was followed here.
    summary.failed += sweep.settled.failed;
    const timedOut = summary.pending > 0;
    o.out(formatSummary(summary) + (timedOut ? `, still pending ${summary.pending} (timed out)` : ''));
    return summaryExitCode(summary, timedOut);
  } catch (err) {
    // Producers fail fast instead of waiting for Redis (the next sweep or a rerun tries again).
    if (redis.status !== 'ready') throw redisUnavailable(describeRedisTarget(svc.redis), lastError ?? err);
    throw err;
  } finally {
    await queues.close();
    await redis.quit().catch(() => undefined);
  }
}

async function waitForSweep(
  queue: Queue,
  jobId: string,
  deadline: number,
  pollMs: number,
): Promise<SweepResult | 'failed' | 'timeout'> {
  for (;;) {
    const job = await queue.getJob(jobId);
    const state = job ? await job.getState() : 'unknown';
    if (state === 'completed') {
      // The job object may predate its completion: read the result afresh.
      const result = (await queue.getJob(jobId))?.returnvalue as SweepResult | null | undefined;
      if (result) return result;
    }
    if (state === 'failed') return 'failed';
    if (Date.now() >= deadline) return 'timeout';
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Settles what can be settled. The ledger (one pipelined read per 500 ids) says which deliveries reached
 * a terminal status; only those jobs are read, for their exact outcome. Every `fullEvery`-th poll reads
 * every open job too, for failures that never reach the ledger (e.g. a payload rejected before it).
 */
async function refresh(
  outcomes: Map<string, Observed>,
  queue: Queue,
  ledger: Ledger,
  full: boolean,
): Promise<void> {
  const open = [...outcomes].filter(([, v]) => v === 'pending').map(([id]) => id);
  const statuses = await ledger.getStatuses(open);
  const toRead = full ? open : open.filter((id) => (statuses.get(id) ?? 'publishing') !== 'publishing');
  for (let i = 0; i < toRead.length; i += 100) {
    await Promise.all(
      toRead.slice(i, i + 100).map(async (id) => {
        const job: Job | undefined = await queue.getJob(id);
        const state = job ? await job.getState() : 'missing';
        const status = statuses.get(id);
        if (state === 'completed') {
          // The job object may predate its completion: read the result afresh.
          const result = (await queue.getJob(id))?.returnvalue as DeliverResult | null | undefined;
          if (result) outcomes.set(id, result.outcome);
        } else if (state === 'failed') {
          // The ledger was read before the job: a quarantine recorded in between would pass for a failure.
          const settled = status === 'quarantined' ? status : (await ledger.get(id))?.status;
          outcomes.set(id, settled === 'quarantined' ? 'quarantined' : 'failed');
        } else if (state === 'missing' && status && status !== 'publishing') {
          outcomes.set(id, status === 'failed' ? 'failed' : status);
        }
      }),
    );
  }
}

/** A clear error naming where Redis was expected (describeRedisTarget: never the URL's password). */
function redisUnavailable(where: string, cause: unknown): FerryError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new FerryError('ERR_REDIS_UNAVAILABLE', `cannot reach ${where} (${reason})`, { cause });
}
