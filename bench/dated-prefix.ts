// dated-prefix: a year-plus of daily exports (100,000 historical keys by default, 200 per day) already
// delivered, and 200 new ones of today. The same exports twice: `flat/<date>_part-0001.csv` for a
// partner with the plain prefix `flat/` (every sweep lists all of it), `dated/<date>/part-0001.csv` for
// one with `dated/{date:yyyy-MM-dd}/` and lookbackDays 3 (lists today's partition and 3 days before it). Both sweeps run in one worker process
// (`ferry start --role worker`), flat, dated, dated, flat, with the deliver queue paused; the figure is
// the sweep's own durationMs and what it listed and enqueued. Seeding writes s3rver's on-disk store
// directly, as bench/sweep.ts does (s3rver's listing cost grows with the square of the keys under the
// listed prefix, so a flat sweep of 100,000 keys takes minutes on s3rver: `--objects 20000` for a quick run).
import type { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { posix } from 'node:path';
import { parseArgs } from 'node:util';
import { addDays, zonedParts } from '../src/core/zoned-time.js';
import type { SweepResult } from '../src/queues/payloads.js';
import type { FerryQueues } from '../src/queues/queues.js';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { loadConfigOrThrow } from '../test/support/pipeline.js';
import { s3ClientFor, startServices } from '../test/support/services.js';
import { startFerryWorker, stopFerryWorker, syncDisks } from './baselines.js';
import { putVersion, recordDelivered, seedS3rverStore } from './seed-store.js';
import { openSweepQueues, sweepOnce } from './sweep-queues.js';

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
      // PER_DAY keys a day in the days before today, newest first.
      const keyOfHistorical = (i: number) =>
        keyOf(
          layout,
          addDays(today, -1 - Math.floor(i / PER_DAY)),
          `part-${String(i % PER_DAY).padStart(4, '0')}.csv`,
        );
      const seeded = await seedS3rverStore(services, s3, fixture.bucket, {
        count: historical,
        size: SIZE,
        keyOf: keyOfHistorical,
        progress: (line) => progress(`${layout}: ${line}`),
      });
      await recordDelivered(
        redis,
        config,
        layout,
        fixture.bucket,
        seeded,
        (key) => `/inbound/${posix.basename(key)}`,
      );
      for (let i = 0; i < fresh; i += 32) {
        const batch = Array.from({ length: Math.min(32, fresh - i) }, (_, j) =>
          keyOf(layout, today, `new-${String(i + j).padStart(4, '0')}.csv`),
        );
        await Promise.all(batch.map((key) => putVersion(s3, fixture.bucket, key, SIZE)));
      }
    }
    progress(
      `seeded ${historical} historical keys over ${Math.ceil(historical / PER_DAY)} days (recorded as delivered) and ${fresh} new ones, per layout, in ${seconds(t0).toFixed(1)} s`,
    );

    ({ queues, events } = await openSweepQueues(services, redis, config.service.redis.prefix));
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

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}
