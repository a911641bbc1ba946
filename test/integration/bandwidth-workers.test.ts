// Bandwidth caps (`target.maxBytesPerSecond`, issue 16) across two `ferry start --role worker`
// processes sharing one Redis, measured where it matters: the bytes in the partner's SFTP directory
// (temp and final files), polled. Only what load cannot break is asserted: files whole, who delivered,
// what came first, and upper bounds on the bytes a cap allows (never a lower bound on speed: how close
// to the cap the transfers get is `npm run bench -- bandwidth`, docs/performance.md).
//
// The slack on those upper bounds, derived from how the cap works rather than tuned:
// - the shared bucket starts full and holds at most BUCKET_DEPTH_MS of the rate: a burst that size;
// - each process may hold budget from its last lease (LEASE_MS of the rate) plus one piece it has not
//   spent yet, granted before the interval began;
// - each delivery's SFTP writer holds bytes that passed the throttle but are not in the file yet:
//   less than one WRITE (DEFAULT_WRITE_SIZE) being assembled, plus one sent that sftp-server has not
//   written yet (at a capped rate the writes go out fractions of a second apart; more than one in flight
//   would mean sftp-server fell a whole write's worth of time behind). A file's size never runs ahead of
//   what passed the throttle: the throttle serves a delivery's bytes in order.
// Measured from the start of the earlier look to the end of the later one, so a slow poll widens the
// allowance instead of counting against the cap.
import type { S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LEASE_MS, throttlePieceBytes } from '../../src/adapters/bandwidth-limiter.js';
import { DEFAULT_WRITE_SIZE } from '../../src/adapters/pipelined-upload.js';
import { parseByteRate } from '../../src/core/byte-rate.js';
import { BUCKET_DEPTH_MS } from '../../src/ledger/bandwidth-bucket.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { largestExcessOverRate, sampleDirBytes } from '../support/dir-bytes-sampler.js';
import {
  writeFerryConfig,
  writePartnerFile,
  type FerryFixture,
  type PartnerFixture,
} from '../support/ferry-fixture.js';
import { spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { loadConfigOrThrow, putObjects, readPartnerDir, sweepAndWait, waitFor } from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';

const MiB = 1024 * 1024;
const PARTNERS = {
  // Three files in flight at once, from both processes (one connection each carries its deliveries).
  capped: { id: 'capped', maxBytesPerSecond: '4MB', maxFilesInFlight: 3, maxConnections: 2 },
  free: { id: 'free' },
  reload: { id: 'reload', maxBytesPerSecond: '4MB' },
  added: { id: 'added', maxBytesPerSecond: '4MB' },
} satisfies Record<string, PartnerFixture>;
const RELOADED_CAP = '256KiB';
/** How long the reloaded cap is watched: long enough that the old cap would overshoot the slack. */
const WATCH_MS = 2000;
/** Worker processes, each holding its own leases of the shared caps. */
const PROCESSES = 2;
/** Bytes past the throttle not yet in the file, per delivery (see the top of the file). */
const WRITER_SLACK = 2 * DEFAULT_WRITE_SIZE;

const keys = createRedisKeys('{ferry}');
let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let redis: Redis;
let workers: FerryProcess[] = [];

function rate(text: string): number {
  const parsed = parseByteRate(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.bytesPerSecond;
}

/** Budget a process may hold from before an interval: one lease of `leaseRate` and one unspent piece. */
function leaseSlack(leaseRate: number, pieceRate = leaseRate): number {
  return Math.ceil((leaseRate * LEASE_MS) / 1000) + throttlePieceBytes(pieceRate);
}

const sweep = async (partnerId: string) => {
  const { code, summary } = await sweepAndWait(await loadConfigOrThrow(fixture.dir), partnerId, 60);
  return { code, summary };
};

/** The trackingIds of one partner's deliveries a worker logged as completed. */
function completedBy(worker: FerryProcess, partnerId: string): string[] {
  return worker
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; partnerId?: string; trackingId?: string })
    .filter((e) => e.msg === 'delivery completed' && e.partnerId === partnerId)
    .map((e) => String(e.trackingId));
}

/** Samples a partner directory until the test ends, passed or not. */
function watchDir(dir: string) {
  const sampler = sampleDirBytes(dir);
  onTestFinished(async () => {
    await sampler.stop().catch(() => undefined);
  });
  return sampler;
}

const reloadsLogged = (worker: FerryProcess) =>
  worker
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"config reloaded"')).length;

/** Runs `write` (a config change) and resolves once every worker logged that it reloaded the config. */
async function reloaded(what: string, write: () => Promise<void>): Promise<void> {
  const before = workers.map(reloadsLogged);
  await write();
  await waitFor(
    () => workers.every((w, i) => reloadsLogged(w) > before[i]!),
    `both workers to log 'config reloaded' after ${what} was rewritten`,
    15_000,
    20,
  );
}

/** Rewrites a partner file and resolves once every worker logged that it reloaded the config. */
const reloadPartner = (p: PartnerFixture) =>
  reloaded(`${p.id}.yaml`, () => writePartnerFile(fixture.dir, services, p, fixture.partnerDirs[p.id]!));

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  // Two job slots per process: the capped partner's three deliveries cannot all land in one of them.
  fixture = await writeFerryConfig(services, {
    partners: Object.values(PARTNERS),
    worker: 'concurrency: 2',
  });
  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
  const env = { ...process.env, FERRY_ADMIN_PASSWORD: 'bandwidth-test-password', LOG_LEVEL: 'info' };
  workers = Array.from({ length: PROCESSES }, () =>
    spawnFerry(['start', '--role', 'worker', '--config', fixture.dir], env),
  );
  await Promise.all(workers.map((w) => w.waitForLine(/ferry started/)));
});

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  redis?.disconnect();
  s3?.destroy();
  await services?.stop();
});

describe('bandwidth caps across two worker processes', () => {
  it("holds a partner's deliveries from both processes together under its cap, while an uncapped partner goes unthrottled", async () => {
    const cap = rate(PARTNERS.capped.maxBytesPerSecond);
    const cappedFiles = ['a', 'b', 'c'];
    const seeded = await putObjects(s3, fixture.bucket, [
      ...cappedFiles.map((n) => ({ key: `capped/${n}.bin`, size: 8 * MiB })),
      { key: 'free/big.bin', size: 4 * MiB },
    ]);
    const sampler = watchDir(fixture.partnerDirs.capped!);
    const start = await sampler.until(() => true, 'a look before the sweep');
    expect(start.bytes).toBe(0);

    let cappedSwept = false;
    const capped = sweep('capped').finally(() => (cappedSwept = true));
    const free = await sweep('free');
    // Ordering, not timing: three 8 MiB files at 4 MB/s (the cap) take seconds whatever the machine does.
    const cappedStillGoing = !cappedSwept;
    const { summary } = await capped;
    const samples = await sampler.stop();

    expect(free.summary).toMatch(/^delivered 1, /);
    expect(cappedStillGoing).toBe(true);
    expect(summary).toMatch(/^delivered 3, /);
    const dir = await readPartnerDir(fixture.partnerDirs.capped!);
    expect(dir.temps).toEqual([]);
    expect(new Map([...dir.finals].map(([name, f]) => [name, f.sha256]))).toEqual(
      new Map(seeded.slice(0, 3).map((o) => [o.key.slice('capped/'.length), o.sha256])),
    );
    expect((await readPartnerDir(fixture.partnerDirs.free!)).finals.get('big.bin')?.sha256).toBe(
      seeded[3]!.sha256,
    );

    // The cap is shared, not per process: each process delivered part of the three.
    const [byA, byB] = workers.map((w) => completedBy(w, 'capped'));
    expect(byA!.length).toBeGreaterThanOrEqual(1);
    expect(byB!.length).toBeGreaterThanOrEqual(1);
    expect(new Set([...byA!, ...byB!]).size).toBe(3);

    // From before the first byte: nothing but the full bucket's burst on top of the rate.
    const depth = (cap * BUCKET_DEPTH_MS) / 1000;
    for (const s of samples) {
      expect(s.bytes).toBeLessThanOrEqual((cap * (s.endMs - start.startMs)) / 1000 + depth);
    }
    // Between any two looks: the burst, what each process may hold from a lease, what each writer holds.
    const slack = depth + PROCESSES * leaseSlack(cap) + cappedFiles.length * WRITER_SLACK;
    expect(largestExcessOverRate(samples, cap)!.excess).toBeLessThanOrEqual(slack);

    // The uncapped partner never asked for a lease: only the capped one has a bucket.
    expect(await redis.keys('{ferry}:bandwidth:*')).toEqual([keys.bandwidthPartner('capped')]);
  });

  it('applies a cap lowered by a config reload to the transfer in flight, and its removal too', async () => {
    const oldCap = rate(PARTNERS.reload.maxBytesPerSecond);
    const newCap = rate(RELOADED_CAP);
    // 32 MiB at 4 MB/s: over 7 s to go, time for the reload however long it takes to be logged.
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'reload/big.bin', size: 32 * MiB }]);
    const sampler = watchDir(fixture.partnerDirs.reload!);
    const sweeping = sweep('reload');
    await sampler.until((s) => s.bytes > 0, 'the first bytes at the partner');

    await reloadPartner({ ...PARTNERS.reload, maxBytesPerSecond: RELOADED_CAP });
    const reloadedAt = performance.now();
    const from = await sampler.until((s) => s.startMs >= reloadedAt, 'a look after the reload');
    const to = await sampler.until((s) => s.startMs >= from.startMs + WATCH_MS, 'the end of the watch');
    const watched = sampler.samples.slice(sampler.samples.indexOf(from), sampler.samples.indexOf(to) + 1);

    // Still going, and from the reload on no faster than the new cap. Slack: the new bucket's depth
    // (a lowered rate also lowers what the bucket holds), what each process may hold from a lease at
    // the old rate (the piece size stays the old one's), one writer's bytes in flight.
    expect(to.bytes).toBeLessThan(object!.body.length);
    const slack = (newCap * BUCKET_DEPTH_MS) / 1000 + PROCESSES * leaseSlack(oldCap) + WRITER_SLACK;
    expect(largestExcessOverRate(watched, newCap)!.excess).toBeLessThanOrEqual(slack);

    // No cap at all: the rest goes at once, whole (at 256 KiB/s it would take two minutes).
    const { maxBytesPerSecond: _cap, ...uncapped } = PARTNERS.reload;
    await reloadPartner(uncapped);
    const { summary } = await sweeping;
    await sampler.stop();
    expect(summary).toMatch(/^delivered 1, /);
    const dir = await readPartnerDir(fixture.partnerDirs.reload!);
    expect(dir.finals.get('big.bin')?.sha256).toBe(object!.sha256);
    expect(dir.temps).toEqual([]);
  });

  it('puts a transfer in flight under a total cap a reload added', async () => {
    const ownCap = rate(PARTNERS.added.maxBytesPerSecond);
    const totalCap = rate(RELOADED_CAP);
    const ferryYaml = join(fixture.dir, 'ferry.yaml');
    const original = await readFile(ferryYaml, 'utf8');
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'added/big.bin', size: 32 * MiB }]);
    const sampler = watchDir(fixture.partnerDirs.added!);
    const sweeping = sweep('added');
    await sampler.until((s) => s.bytes > 0, 'the first bytes at the partner');

    // A cap the transfer was not under when it started: all partners together, from ferry.yaml.
    await reloaded('ferry.yaml', () =>
      writeFile(ferryYaml, `${original}defaults: { target: { maxBytesPerSecond: ${RELOADED_CAP} } }\n`),
    );
    const reloadedAt = performance.now();
    const from = await sampler.until((s) => s.startMs >= reloadedAt, 'a look after the reload');
    const to = await sampler.until((s) => s.startMs >= from.startMs + WATCH_MS, 'the end of the watch');
    const watched = sampler.samples.slice(sampler.samples.indexOf(from), sampler.samples.indexOf(to) + 1);

    // Slack: the new total bucket starts full (its depth), each process may hold a lease and a piece of
    // the partner's own cap from before, one writer's bytes in flight.
    expect(to.bytes).toBeLessThan(object!.body.length);
    const slack = (totalCap * BUCKET_DEPTH_MS) / 1000 + PROCESSES * leaseSlack(ownCap) + WRITER_SLACK;
    expect(largestExcessOverRate(watched, totalCap)!.excess).toBeLessThanOrEqual(slack);
    expect(await redis.exists(keys.bandwidthTotal)).toBe(1);

    // Both caps gone: the rest goes at once, whole.
    await reloaded('ferry.yaml', () => writeFile(ferryYaml, original));
    const { maxBytesPerSecond: _cap, ...uncapped } = PARTNERS.added;
    await reloadPartner(uncapped);
    const { summary } = await sweeping;
    await sampler.stop();
    expect(summary).toMatch(/^delivered 1, /);
    const dir = await readPartnerDir(fixture.partnerDirs.added!);
    expect(dir.finals.get('big.bin')?.sha256).toBe(object!.sha256);
  });
});
