// sweep: one partner prefix with many objects (100,000 by default) that the ledger already records as
// delivered. A sweep (`ferry sweep` → the sweep job in a `ferry start --role worker` child process) must
// list them all and enqueue nothing, within 10 s and 300 MiB peak RSS; then, with N of them replaced by
// new versions, it must enqueue exactly N deliver jobs (the deliver queue is paused, so none runs). The
// anchor is a bare paged ListObjectsV2 loop (AWS SDK) over the same prefix in the same run: s3rver's own
// listing cost, which no sweep can beat. s3rver re-reads and stats the whole prefix directory for every
// page, so that cost grows with the square of the key count (about 6 s for 20,000 keys, 2 min for
// 100,000 here): against s3rver the ratio sweep/listing is the figure that speaks about Ferry.
// Seeding writes s3rver's on-disk store directly (100,000 PutObjects take ~5 min; `--seed put` does it).
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { posix } from 'node:path';
import { parseArgs } from 'node:util';
import type { FerryConfig } from '../src/config/load-config.js';
import { computeDeliveryId } from '../src/core/delivery-id.js';
import type { SweepResult } from '../src/queues/payloads.js';
import type { FerryQueues } from '../src/queues/queues.js';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { loadConfigOrThrow } from '../test/support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../test/support/services.js';
import { cpuMsOf, memoryOf, startFerryWorker, stopFerryWorker, syncDisks, verdict } from './baselines.js';
import { putVersion, recordDelivered, seedS3rverStore, type Seeded } from './seed-store.js';
import { openSweepQueues, sweepOnce } from './sweep-queues.js';

const PARTNER = 'sweep';
const PREFIX = 'sweep/';
const TARGET_SECONDS = 10;
const TARGET_PEAK_MIB = 300;
// Every state a deliver job can be in (BullMQ 6 keeps the jobs of a paused queue in 'waiting').
const JOB_STATES = [
  'waiting',
  'prioritized',
  'delayed',
  'active',
  'completed',
  'failed',
  'waiting-children',
] as const;

/** `npm run bench -- sweep [--objects N] [--new N] [--size BYTES] [--seed disk|put]`. */
export async function runSweepBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      objects: { type: 'string', default: '100000' },
      new: { type: 'string', default: '1000' },
      size: { type: 'string', default: '64' },
      seed: { type: 'string', default: 'disk' },
    },
  });
  const count = Number(values.objects);
  const fresh = Number(values.new);
  const size = Number(values.size);
  if (values.seed !== 'disk' && values.seed !== 'put') throw new Error('--seed is disk or put');
  if (!(fresh >= 0 && fresh <= count)) throw new Error('--new must be between 0 and --objects');
  const progress = (line: string) => process.stderr.write(`bench sweep: ${line}\n`);

  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  const s3 = s3ClientFor(services.s3);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  let queues: FerryQueues | undefined;
  let events: QueueEvents | undefined;
  try {
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    const fixture = await writeFerryConfig(services, {
      partners: [{ id: PARTNER, prefix: PREFIX }],
      // The production default; the worker's 'ferry started' line is logged at info.
      logLevel: 'info',
    });
    const config = await loadConfigOrThrow(fixture.dir);
    const prefix = config.service.redis.prefix;

    let t0 = performance.now();
    const seeded =
      values.seed === 'put'
        ? await seedByPut(s3, fixture.bucket, count, size, progress)
        : await seedS3rverStore(services, s3, fixture.bucket, { count, size, keyOf, progress });
    progress(`seeded ${count} objects (${values.seed}) in ${seconds(t0).toFixed(1)} s`);

    t0 = performance.now();
    const directory = config.partners.get(PARTNER)!.target.directory;
    await recordDelivered(redis, config, PARTNER, fixture.bucket, seeded, (key) =>
      posix.join(directory, key.slice(PREFIX.length)),
    );
    progress(`ledger: ${count} deliveries recorded as delivered in ${seconds(t0).toFixed(1)} s`);

    // No delivery may run: the job count must be exactly what the sweep enqueued.
    ({ queues, events } = await openSweepQueues(services, redis, prefix));
    const env = { ...process.env };

    const label = (n: number) => `sweep ${count} keys (${n} new)`;
    const settledRun = await measureRun(services, s3, fixture, config, queues, events, env, seeded, progress);
    const okTime = settledRun.seconds <= TARGET_SECONDS;
    const okMemory = settledRun.peakMiB <= TARGET_PEAK_MIB;
    const okJobs0 = settledRun.jobs === 0 && settledRun.result.listed === count;
    printRun(label(0), settledRun, 0);
    console.log(
      `${label(0)}: target ≤ ${TARGET_SECONDS} s: ${verdict(okTime)}, target peak RSS ≤ ${TARGET_PEAK_MIB} MiB: ${verdict(okMemory)}, no job enqueued: ${verdict(okJobs0)}`,
    );

    let okJobsN = true;
    if (fresh > 0) {
      t0 = performance.now();
      const replaced = await replaceSome(s3, fixture.bucket, seeded, fresh, size);
      progress(`replaced ${fresh} objects with new versions (PutObject) in ${seconds(t0).toFixed(1)} s`);
      const newRun = await measureRun(services, s3, fixture, config, queues, events, env, seeded, progress);
      const expected = new Set(
        replaced.map((o) =>
          computeDeliveryId({ partnerId: PARTNER, bucket: fixture.bucket, key: o.key, etag: o.etag }),
        ),
      );
      const queued = await queues.deliver.getJobs([...JOB_STATES]);
      const exact = queued.length === expected.size && queued.every((j) => expected.has(j.id ?? ''));
      okJobsN = newRun.jobs === fresh && exact && newRun.result.listed === count;
      printRun(label(fresh), newRun, fresh);
      console.log(
        `${label(fresh)}: jobs enqueued ${newRun.jobs} (expected ${fresh}, ids ${exact ? 'exactly the new versions' : 'DIFFER from the new versions'}): ${verdict(okJobsN)}, target ≤ ${TARGET_SECONDS} s: ${verdict(newRun.seconds <= TARGET_SECONDS)}, target peak RSS ≤ ${TARGET_PEAK_MIB} MiB: ${verdict(newRun.peakMiB <= TARGET_PEAK_MIB)}`,
      );
    }
    return okJobs0 && okJobsN ? 0 : 1;
  } finally {
    await events?.close();
    await queues?.close();
    redis.disconnect();
    s3.destroy();
    await services.stop();
  }
}

interface Listing {
  seconds: number;
  /** s3rver's CPU while it served the listing. */
  s3rverCpuS: number;
}

interface RunFigures {
  seconds: number;
  /** The bare listing before and after the sweep. */
  anchors: [Listing, Listing];
  peakMiB: number;
  startMiB: number;
  cpuS: number;
  s3rverCpuS: number;
  jobs: number;
  result: SweepResult;
}

/**
 * One sweep in a fresh worker process (so its VmHWM is this run's peak), between two anchor listings:
 * `ferry sweep` enqueues the sweep job, the QueueEvents 'completed' event ends the clock.
 */
async function measureRun(
  services: Services,
  s3: S3Client,
  fixture: { dir: string; bucket: string },
  config: FerryConfig,
  queues: FerryQueues,
  events: QueueEvents,
  env: NodeJS.ProcessEnv,
  seeded: readonly Seeded[],
  progress: (line: string) => void,
): Promise<RunFigures> {
  await syncDisks(); // the seeding's dirty pages must not be written back during the measurements
  progress('anchor: bare ListObjectsV2 loop…');
  const before = await bareListing(s3, services.s3.pid, fixture.bucket, seeded);
  const worker = await startFerryWorker(fixture.dir, env);
  try {
    const start = await memoryOf(worker.pid);
    const cpu0 = await cpuMsOf(worker.pid);
    const s3cpu0 = await cpuMsOf(services.s3.pid);
    progress('ferry sweep…');
    const t0 = performance.now();
    const result = await sweepOnce(config, PARTNER, queues, events);
    const elapsed = seconds(t0);
    const cpuS = ((await cpuMsOf(worker.pid)) - cpu0) / 1000;
    const s3rverCpuS = ((await cpuMsOf(services.s3.pid)) - s3cpu0) / 1000;
    const { peakKiB } = await memoryOf(worker.pid);
    const counts = await queues.deliver.getJobCounts(...JOB_STATES);
    // s3rver's speed drifts on a shared machine: the anchor is the mean of a listing before and after.
    progress('anchor again…');
    const after = await bareListing(s3, services.s3.pid, fixture.bucket, seeded);
    return {
      seconds: elapsed,
      anchors: [before, after],
      peakMiB: peakKiB / 1024,
      startMiB: start.rssKiB / 1024,
      cpuS,
      s3rverCpuS,
      jobs: Object.values(counts).reduce((sum, n) => sum + n, 0),
      result,
    };
  } catch (err) {
    progress(`ferry worker output (tail):\n${worker.output().slice(-4000)}`);
    throw err;
  } finally {
    await stopFerryWorker(worker);
  }
}

function printRun(label: string, run: RunFigures, fresh: number): void {
  const r = run.result;
  const [before, after] = run.anchors.map((a) => a.seconds) as [number, number];
  const anchor = (before + after) / 2;
  const anchorCpu = (run.anchors[0].s3rverCpuS + run.anchors[1].s3rverCpuS) / 2;
  console.log(
    `${label}: ferry ${run.seconds.toFixed(2)} s (enqueue → sweep job completed), bare listing ${anchor.toFixed(2)} s (mean of ${before.toFixed(2)} s before and ${after.toFixed(2)} s after), ratio ferry/listing ${(run.seconds / anchor).toFixed(2)}`,
  );
  console.log(
    `${label}: objects seen ${r.listed}, eligible ${r.eligible}, already delivered ${r.settled.delivered}, jobs enqueued ${run.jobs} (expected ${fresh})`,
  );
  console.log(
    `${label}: ferry worker peak RSS ${run.peakMiB.toFixed(0)} MiB (${run.startMiB.toFixed(0)} MiB before the sweep), CPU ${run.cpuS.toFixed(2)} s (${((run.cpuS * 1e6) / r.listed).toFixed(0)} µs per key); s3rver CPU ${run.s3rverCpuS.toFixed(2)} s during the sweep, ${anchorCpu.toFixed(2)} s per bare listing`,
  );
}

/** A paged ListObjectsV2 loop and nothing else; checks every listed key and ETag against the seed. */
async function bareListing(
  s3: S3Client,
  s3rverPid: number,
  bucket: string,
  seeded: readonly Seeded[],
): Promise<Listing> {
  const expected = new Map(seeded.map((o) => [o.key, o.etag]));
  const cpu0 = await cpuMsOf(s3rverPid);
  const t0 = performance.now();
  let keys = 0;
  let mismatched = 0;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: PREFIX })) {
    for (const item of page.Contents ?? []) {
      keys += 1;
      if (`"${expected.get(item.Key ?? '')}"` !== item.ETag) mismatched += 1;
    }
  }
  const elapsed = seconds(t0);
  const s3rverCpuS = ((await cpuMsOf(s3rverPid)) - cpu0) / 1000;
  if (keys !== seeded.length || mismatched > 0) {
    throw new Error(
      `listing: ${keys} keys (expected ${seeded.length}), ${mismatched} with an unexpected ETag`,
    );
  }
  return { seconds: elapsed, s3rverCpuS };
}

function keyOf(i: number): string {
  return `${PREFIX}file_${String(i).padStart(6, '0')}.csv`;
}

/** PutObject over HTTP, 32 at a time. */
async function seedByPut(
  s3: S3Client,
  bucket: string,
  count: number,
  size: number,
  progress: (line: string) => void,
): Promise<Seeded[]> {
  const seeded: Seeded[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i += 32) {
    const batch = Array.from({ length: Math.min(32, count - i) }, (_, j) => keyOf(i + j));
    seeded.push(...(await Promise.all(batch.map((key) => putVersion(s3, bucket, key, size)))));
    if ((i + 32) % 10_000 < 32) {
      progress(`put ${seeded.length}/${count} (${(seeded.length / seconds(t0)).toFixed(0)}/s)`);
    }
  }
  return seeded;
}

/** Puts new bytes (a new ETag, so a new delivery) under `fresh` keys spread over the whole listing. */
async function replaceSome(
  s3: S3Client,
  bucket: string,
  seeded: Seeded[],
  fresh: number,
  size: number,
): Promise<Seeded[]> {
  const step = seeded.length / fresh;
  const indexes = Array.from({ length: fresh }, (_, i) => Math.floor(i * step));
  const replaced: Seeded[] = [];
  for (let i = 0; i < indexes.length; i += 32) {
    const batch = indexes.slice(i, i + 32);
    const versions = await Promise.all(batch.map((at) => putVersion(s3, bucket, seeded[at]!.key, size)));
    batch.forEach((at, j) => (seeded[at] = versions[j]!));
    replaced.push(...versions);
  }
  return replaced;
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}
