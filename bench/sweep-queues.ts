// The sweep benches' hold on Ferry's queues: deliveries paused (the job count is exactly what a sweep
// enqueued), and one sweep run through `ferry sweep` and awaited to its result.
import { Job, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { runSweepCommand } from '../src/commands/sweep-command.js';
import type { FerryConfig } from '../src/config/load-config.js';
import type { SweepResult } from '../src/queues/payloads.js';
import { createQueues, type FerryQueues } from '../src/queues/queues.js';
import type { Services } from '../test/support/services.js';

/** The queues with the deliver queue paused, and the sweep queue's events (close both when done). */
export async function openSweepQueues(
  services: Services,
  redis: Redis,
  prefix: string,
): Promise<{ queues: FerryQueues; events: QueueEvents }> {
  const queues = createQueues(redis, prefix);
  await queues.deliver.pause();
  const url = new URL(services.redis.url);
  const events = new QueueEvents(queues.sweep.name, {
    connection: { host: url.hostname, port: Number(url.port) },
    prefix,
  });
  await events.waitUntilReady();
  return { queues, events };
}

/** Queues one sweep of the partner as `ferry sweep` does and resolves with its result. */
export async function sweepOnce(
  config: FerryConfig,
  partnerId: string,
  queues: FerryQueues,
  events: QueueEvents,
): Promise<SweepResult> {
  const out: string[] = [];
  const code = await runSweepCommand({
    config,
    partnerId,
    wait: false,
    timeoutSeconds: 1800,
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  });
  const jobId = /\(job (.+)\)$/.exec(out[0] ?? '')?.[1];
  if (code !== 0 || jobId === undefined) throw new Error(`ferry sweep exited ${code}: ${out.join('\n')}`);
  const job = await Job.fromId(queues.sweep, jobId);
  if (!job) throw new Error(`sweep job ${jobId} not found`);
  return (await job.waitUntilFinished(events)) as SweepResult;
}
