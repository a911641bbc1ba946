// dated-prefix: a year-plus of daily exports (100,000 historical keys by default, 200 per day) already
// delivered, and 200 new ones of today. The same exports twice: `flat/<date>_part-0001.csv` for a
// partner with the plain prefix `flat/` (every sweep lists all of it), `dated/<date>/part-0001.csv` for
// one with `dated/{date:yyyy-MM-dd}/` and lookbackDays 3 (lists today's partition and 3 days before it). Both sweeps run in one worker process
// (`ferry start --role worker`), flat, dated, dated, flat, with the deliver queue paused; the figure is
// the sweep's own durationMs and what it listed and enqueued. Seeding writes s3rver's on-disk store
// directly, as bench/sweep.ts does (s3rver's listing cost grows with the square of the keys under the
// listed prefix, so a flat sweep of 100,000 keys takes minutes on s3rver: `--objects 20000` for a quick run).
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Job, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { parseArgs } from 'node:util';
import { runSweepCommand } from '../src/commands/sweep-command.js';
import type { FerryConfig } from '../src/config/load-config.js';
import { computeDeliveryId } from '../src/core/delivery-id.js';
import { addDays, zonedParts } from '../src/core/zoned-time.js';
import { createRedisKeys } from '../src/ledger/redis-keys.js';
import { createRedisLedger } from '../src/ledger/redis-ledger.js';
import type { SweepResult } from '../src/queues/payloads.js';
import { createQueues, type FerryQueues } from '../src/queues/queues.js';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { loadConfigOrThrow } from '../test/support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../test/support/services.js';
import { startFerryWorker, stopFerryWorker, syncDisks } from './baselines.js';

const PER_DAY = 200;
const LOOKBACK = 3;
const SIZE = 64;
const LAYOUTS = ['flat', 'dated'] as const;
type Layout = (typeof LAYOUTS)[number];

/** Where one export lands: `flat/<date>_<name>` or `dated/<date>/<name>` (the partner id is the layout). */
function keyOf(layout: Layout, date: string, name: string): string {
  return layout === 'flat' ? `flat/${date}_${name}` : `dated/${date}/${name}`;
}

/** `npm run bench -- dated-prefix [--objects N] [--new N]`. */
export async function runDatedPrefixBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      objects: { type: 'string', default: '100000' },
      new: { type: 'string', default: '200' },
    },
  });
  const historical = Number(values.objects);
  const fresh = Number(values.new);
  const progress = (line: string) => process.stderr.write(`bench dated-prefix: ${line}\n`);
  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  const s3 = s3ClientFor(services.s3);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  let queues: FerryQueues | undefined;
  let events: QueueEvents | undefined;
  try {
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    const fixture = await writeFerryConfig(services, {
      partners: [
        { id: 'flat', prefix: 'flat/' },
        { id: 'dated', prefix: 'dated/{date:yyyy-MM-dd}/', lookbackDays: LOOKBACK },
      ],
      logLevel: 'info',
    });
    const config = await loadConfigOrThrow(fixture.dir);
    const today = zonedParts(new Date(), 'UTC').date;

    const t0 = performance.now();
    for (const layout of LAYOUTS) {
      const seeded = await seedOnDisk(services, s3, fixture.bucket, historical, today, layout, progress);
      await markDelivered(redis, config, layout, fixture.bucket, seeded);
      for (let i = 0; i < fresh; i += 32) {
        const batch = Array.from({ length: Math.min(32, fresh - i) }, (_, j) =>
          keyOf(layout, today, `new-${String(i + j).padStart(4, '0')}.csv`),
        );
        await Promise.all(batch.map((key) => putObject(s3, fixture.bucket, key)));
      }
    }
    progress(
      `seeded ${historical} historical keys over ${Math.ceil(historical / PER_DAY)} days (recorded as delivered) and ${fresh} new ones, per layout, in ${seconds(t0).toFixed(1)} s`,
    );

    queues = createQueues(redis, config.service.redis.prefix);
    await queues.deliver.pause();
    const url = new URL(services.redis.url);
    events = new QueueEvents(queues.sweep.name, {
      connection: { host: url.hostname, port: Number(url.port) },
      prefix: config.service.redis.prefix,
    });
    await events.waitUntilReady();
    await syncDisks();
    const worker = await startFerryWorker(fixture.dir, { ...process.env });
    const runs: Record<string, SweepResult[]> = { flat: [], dated: [] };
    try {
      for (const partnerId of ['flat', 'dated', 'dated', 'flat']) {
        progress(`sweep ${partnerId}…`);
        runs[partnerId]!.push(await sweepOnce(config, partnerId, queues, events));
      }
    } finally {
      await stopFerryWorker(worker);
    }
    const label = `${historical} historical keys + ${fresh} new`;
    const mean = (rs: SweepResult[]) => rs.reduce((s, r) => s + r.durationMs, 0) / rs.length / 1000;
    for (const id of ['flat', 'dated'] as const) {
      const [a, b] = runs[id] as [SweepResult, SweepResult];
      console.log(
        `${label}: ${id === 'flat' ? 'plain prefix flat/' : `dated prefix dated/{date:yyyy-MM-dd}/, lookbackDays ${LOOKBACK}`}: sweep ${mean(runs[id]!).toFixed(2)} s (runs ${(a.durationMs / 1000).toFixed(2)} s, ${(b.durationMs / 1000).toFixed(2)} s), listed ${a.listed}, enqueued ${a.enqueued} (first run)`,
      );
    }
    const [flat, dated] = [mean(runs.flat!), mean(runs.dated!)];
    console.log(
      `${label}: dated/plain sweep time ${(dated / flat).toFixed(3)} (${(flat / dated).toFixed(0)}× faster)`,
    );
    const ok = runs.flat![0]!.enqueued === fresh && runs.dated![0]!.enqueued === fresh;
    console.log(`${label}: both sweeps enqueued exactly the ${fresh} new keys: ${ok ? 'PASS' : 'FAIL'}`);
    return ok ? 0 : 1;
  } finally {
    await events?.close();
    await queues?.close();
    redis.disconnect();
    s3.destroy();
    await services.stop();
  }
}

async function sweepOnce(
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

interface Seeded {
  key: string;
  etag: string;
  size: number;
}

async function putObject(s3: S3Client, bucket: string, key: string): Promise<Seeded> {
  const body = randomBytes(SIZE);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { key, etag: createHash('md5').update(body).digest('hex'), size: SIZE };
}

/**
 * `historical` keys, PER_DAY a day in the days before `today` (newest first), written into s3rver's
 * filesystem store directly (layout copied from one object put over HTTP, as bench/sweep.ts does).
 */
async function seedOnDisk(
  services: Services,
  s3: S3Client,
  bucket: string,
  historical: number,
  today: string,
  layout: Layout,
  progress: (line: string) => void,
): Promise<Seeded[]> {
  const historicalKey = (i: number) =>
    keyOf(
      layout,
      addDays(today, -1 - Math.floor(i / PER_DAY)),
      `part-${String(i % PER_DAY).padStart(4, '0')}.csv`,
    );
  const first = await putObject(s3, bucket, historicalKey(0));
  const fileOf = (key: string, resource: string) =>
    join(
      services.s3.dir,
      'data',
      bucket,
      ...posix.dirname(key).split('/'),
      `${posix.basename(key)}._S3rver_${resource}`,
    );
  const metadata = await readFile(fileOf(first.key, 'metadata.json'));
  const seeded: Seeded[] = [first];
  for (let i = 1; i < historical; i += 256) {
    const batch = Array.from({ length: Math.min(256, historical - i) }, (_, j) => historicalKey(i + j));
    seeded.push(
      ...(await Promise.all(
        batch.map(async (key) => {
          const body = randomBytes(SIZE);
          const etag = createHash('md5').update(body).digest('hex');
          await mkdir(posix.dirname(fileOf(key, 'object')), { recursive: true });
          await writeFile(fileOf(key, 'object'), body);
          await Promise.all([
            writeFile(fileOf(key, 'object.md5'), etag),
            writeFile(fileOf(key, 'metadata.json'), metadata),
          ]);
          return { key, etag, size: SIZE };
        }),
      )),
    );
    if (seeded.length % 20_000 < 256) progress(`${layout}: wrote ${seeded.length}/${historical}`);
  }
  return seeded;
}

/** Records every seeded key as delivered to `partnerId`, as a delivery's last step does. */
async function markDelivered(
  redis: Redis,
  config: FerryConfig,
  partnerId: string,
  bucket: string,
  seeded: readonly Seeded[],
): Promise<void> {
  const ledger = createRedisLedger(redis, createRedisKeys(config.service.redis.prefix));
  const deliveredAt = new Date().toISOString();
  for (let i = 0; i < seeded.length; i += 1000) {
    await Promise.all(
      seeded.slice(i, i + 1000).map((o) =>
        ledger.record({
          deliveryId: computeDeliveryId({ partnerId, bucket, key: o.key, etag: o.etag }),
          partnerId,
          bucket,
          key: o.key,
          etag: o.etag,
          status: 'delivered',
          size: o.size,
          sha256: '0'.repeat(64),
          remotePath: `/inbound/${posix.basename(o.key)}`,
          deliveredAt,
        }),
      ),
    );
  }
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}
