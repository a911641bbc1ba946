// scale-out: N objects (200 × 5 MiB by default) split over two partners (each its own prefix, remote dir and
// SSH key, maxConnections 4 each) on the harness sshd, delivered by one `ferry start --role worker` child
// process, then by W of them on the same Redis. Both partners are swept at once; a run is timed from the
// sweep start to the last receipt of both. Each run has its own partner ids, so it finds no ledger entry
// or receipt of the other run and delivers every file again. Also per run: the CPU of the workers, sshd
// (sessions included), s3rver, redis and the bench's own sweep pollers next to the machine's busy time
// (they all share its cores), each worker's peak RSS, and how many deliveries each worker logged.
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import type { FerryProcess } from '../test/support/ferry-process.js';
import { loadConfigOrThrow, putObjects, readPartnerDir, sweepAndWait } from '../test/support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../test/support/services.js';
import {
  cpuMsOf,
  formatSize,
  machineCpuMs,
  mbPerSecond,
  memoryOf,
  startFerryWorker,
  startTreeCpuSampler,
  stopFerryWorker,
  syncDisks,
} from './baselines.js';

const PARTNERS = ['alpha', 'beta'] as const;

interface ScaleOutOptions {
  count: number;
  size: number;
  maxConnections: number;
  concurrency: number;
  idleTimeoutSeconds: number | undefined;
  /** Raw YAML `target.auth` per partner (the same key for both makes them share one connection pool). */
  auth: Record<(typeof PARTNERS)[number], string>;
  /** Remote file name → sha256, per partner. */
  expected: Record<(typeof PARTNERS)[number], Map<string, string>>;
}

/** CPU readings (ms) at one moment; a run reports the difference of two. */
interface CpuReading {
  workers: number[];
  s3rver: number;
  redis: number;
  bench: number;
  machine: { busyMs: number; stealMs: number; totalMs: number };
}

interface LoggedDelivery {
  trackingId: string;
  partnerId: string;
}

interface ScaleOutRun {
  workers: number;
  seconds: number;
  /** CPU used during the run, in ms; sshd's sampled over its whole process tree (sessions included). */
  cpu: CpuReading & { sshd: number };
  peakKiB: number[];
  /** Deliveries each worker logged as completed (trackingIds), and deliveries it found already done. */
  delivered: LoggedDelivery[][];
  repeats: number[];
  summaries: string[];
}

/** `npm run bench -- scale-out [--files N] [--size BYTES] [--workers W] [--max-connections N] [--concurrency N] [--idle-timeout S] [--shared-key]`. */
export async function runScaleOutBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      files: { type: 'string', default: '200' },
      size: { type: 'string', default: String(5 * 1024 * 1024) },
      workers: { type: 'string', default: '2' },
      'max-connections': { type: 'string', default: '4' },
      concurrency: { type: 'string', default: '8' },
      // worker.idleTimeoutSeconds (Ferry's default when omitted): how long an idle pooled connection keeps its slot.
      'idle-timeout': { type: 'string' },
      // Both partners on the harness key: one connection key (connectionKeyFor in src/main.ts), one pool.
      'shared-key': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.files);
  const size = Number(values.size);
  const workers = Number(values.workers);
  if (!(workers >= 2)) throw new Error('scale-out: --workers must be 2 or more (1 worker always runs first)');
  const progress = (line: string) => process.stderr.write(`bench scale-out: ${line}\n`);

  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  try {
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    const runDir = join(services.sshd.dir, '..');
    // Ferry pools connections per server account (host, port, user, host keys, auth): partners that share
    // one would share one pool and one partner's connection cap. Real partners have their own accounts.
    const betaKey = join(runDir, 'beta_ed25519');
    await copyFile(services.sshd.privateKeyPath, betaKey);
    await chmod(betaKey, 0o600);
    const auth = {
      alpha: `{ privateKeyFile: ${services.sshd.privateKeyPath} }`,
      beta: `{ privateKeyFile: ${values['shared-key'] ? services.sshd.privateKeyPath : betaKey} }`,
    };

    progress(`seeding ${count} objects of ${size} bytes over ${PARTNERS.join(' and ')}…`);
    const expected = await seedObjects(services, count, size);
    const options: ScaleOutOptions = {
      count,
      size,
      maxConnections: Number(values['max-connections']),
      concurrency: Number(values.concurrency),
      idleTimeoutSeconds: values['idle-timeout'] === undefined ? undefined : Number(values['idle-timeout']),
      auth,
      expected,
    };
    const one = await runScaleOut(services, runDir, 1, options, progress);
    const many = await runScaleOut(services, runDir, workers, options, progress);

    const mb = (count * size) / 1e6;
    const label = `scale-out ${count}×${formatSize(size)} (${mb.toFixed(0)} MB, ${PARTNERS.length} partners × maxConnections ${options.maxConnections}, concurrency ${options.concurrency}${options.idleTimeoutSeconds === undefined ? '' : `, idleTimeoutSeconds ${options.idleTimeoutSeconds}`}${values['shared-key'] ? ', shared key' : ''})`;
    const s = (ms: number) => (ms / 1000).toFixed(1);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const name = (run: ScaleOutRun) => `${run.workers} worker${run.workers === 1 ? '' : 's'}`;
    for (const run of [one, many]) {
      console.log(
        `${label}: ${name(run)} ${run.seconds.toFixed(2)} s sweep → last receipt, ${count} files, ${mb.toFixed(0)} MB, ${mbPerSecond(count * size, run.seconds).toFixed(1)} MB/s (${(count / run.seconds).toFixed(1)} files/s)`,
      );
    }
    console.log(
      `${label}: speed-up ${name(many)} / 1 worker ${(one.seconds / many.seconds).toFixed(2)}× (wall time ratio)`,
    );
    for (const run of [one, many]) {
      console.log(
        `${label}: ${name(run)} CPU ${s(sum(run.cpu.workers))} s (${run.cpu.workers.map(s).join(' + ')}), ${(sum(run.cpu.workers) / count).toFixed(1)} CPU-ms per file, peak RSS ${run.peakKiB.map((k) => (k / 1024).toFixed(0)).join(' / ')} MiB`,
      );
    }
    for (const run of [one, many]) {
      const measured = sum(run.cpu.workers) + run.cpu.sshd + run.cpu.s3rver + run.cpu.redis + run.cpu.bench;
      const { busyMs, stealMs, totalMs } = run.cpu.machine;
      console.log(
        `${label}: ${name(run)} where the CPU went: ferry ${s(sum(run.cpu.workers))} s, sshd ${s(run.cpu.sshd)} s, s3rver ${s(run.cpu.s3rver)} s, redis ${s(run.cpu.redis)} s, bench pollers ${s(run.cpu.bench)} s, anything else ${s(busyMs - measured)} s; machine busy ${s(busyMs)} of ${s(totalMs)} core-s (${((100 * busyMs) / totalMs).toFixed(0)} %, steal ${s(stealMs)} s)`,
      );
    }
    console.log(
      `${label}: deliveries per worker (${name(many)}, from each worker's 'delivery completed' log lines): ${many.delivered.map(describeShare).join(' + ')} = ${sum(many.delivered.map((d) => d.length))}, already-delivered repeats ${sum(many.repeats)}`,
    );
    console.log(
      `${label}: verified after each run: ${count} files, each exactly once (one completed delivery per trackingId across workers, no leftover temp file), right size and sha256; sweeps: ${[...one.summaries, ...many.summaries].join(' | ')}`,
    );
    return 0;
  } finally {
    await services.stop();
  }
}

/** "104 (alpha 52, beta 52)": one worker's deliveries, by partner. */
function describeShare(deliveries: LoggedDelivery[]): string {
  const parts = PARTNERS.map(
    (partner) => `${partner} ${deliveries.filter((d) => d.partnerId.startsWith(`${partner}-`)).length}`,
  );
  return `${deliveries.length} (${parts.join(', ')})`;
}

/** Puts `count` random objects, alternately under each partner's prefix; returns their sha256 by name. */
async function seedObjects(
  services: Services,
  count: number,
  size: number,
): Promise<ScaleOutOptions['expected']> {
  const s3 = s3ClientFor(services.s3);
  const expected = { alpha: new Map<string, string>(), beta: new Map<string, string>() };
  const names = Array.from({ length: count }, (_, i) => ({
    partner: PARTNERS[i % PARTNERS.length]!,
    name: `file_${String(i).padStart(6, '0')}.csv`,
  }));
  // Four at a time, so at most four bodies are held at once.
  for (let i = 0; i < names.length; i += 4) {
    await Promise.all(
      names.slice(i, i + 4).map(async ({ partner, name }) => {
        const [seeded] = await putObjects(s3, 'warehouse-exports', [
          { key: `scale/${partner}/${name}`, size },
        ]);
        expected[partner].set(name, seeded!.sha256);
      }),
    );
  }
  s3.destroy();
  return expected;
}

/**
 * Starts `workers` worker processes on a fresh pair of partner ids (`alpha-<W>w`, `beta-<W>w`: their own
 * ledger entries, receipts and remote dirs), sweeps both partners at once and waits for every delivery,
 * reads CPU and peak RSS, stops the workers, then checks every file and counts each worker's deliveries.
 */
async function runScaleOut(
  services: Services,
  runDir: string,
  workers: number,
  options: ScaleOutOptions,
  progress: (line: string) => void,
): Promise<ScaleOutRun> {
  const ids = PARTNERS.map((partner) => `${partner}-${workers}w`);
  const fixture = await writeFerryConfig(
    services,
    {
      partners: PARTNERS.map((partner, i) => ({
        id: ids[i]!,
        prefix: `scale/${partner}/`,
        maxConnections: options.maxConnections,
        auth: options.auth[partner],
      })),
      worker:
        `concurrency: ${options.concurrency}` +
        (options.idleTimeoutSeconds === undefined
          ? ''
          : `, idleTimeoutSeconds: ${options.idleTimeoutSeconds}`),
      // The production default; 'ferry started' and 'delivery completed' are logged at info.
      logLevel: 'info',
    },
    join(runDir, `config-${workers}w`),
  );
  const config = await loadConfigOrThrow(fixture.dir);
  await syncDisks();
  const env = { ...process.env };
  const procs = await Promise.all(Array.from({ length: workers }, () => startFerryWorker(fixture.dir, env)));
  let stopped = false;
  try {
    progress(`${workers} worker${workers === 1 ? '' : 's'} (partners ${ids.join(', ')})…`);
    const sshd = await startTreeCpuSampler(services.sshd.pid);
    const before = await readCpu(services, procs);
    const started = performance.now();
    const sweeps = await Promise.all(ids.map((id) => sweepAndWait(config, id, 3600)));
    const seconds = (performance.now() - started) / 1000;
    const after = await readCpu(services, procs);
    const sshdMs = await sshd.stop();
    const peakKiB = (await Promise.all(procs.map((p) => memoryOf(p.pid)))).map((m) => m.peakKiB);
    sweeps.forEach(({ code, summary }, i) => {
      if (code !== 0) throw new Error(`ferry sweep ${ids[i]} exited ${code}: ${summary}`);
    });
    // Stopped before reading their logs, so every line they wrote has arrived.
    await Promise.all(procs.map((p) => stopFerryWorker(p)));
    stopped = true;
    const logs = procs.map((p) => deliveriesInLog(p.output()));
    await verifyRun(
      fixture.partnerDirs,
      ids,
      options,
      logs.flatMap((l) => l.delivered.map((d) => d.trackingId)),
    );
    return {
      workers,
      seconds,
      cpu: { ...difference(after, before), sshd: sshdMs },
      peakKiB,
      delivered: logs.map((l) => l.delivered),
      repeats: logs.map((l) => l.repeats),
      summaries: sweeps.map(({ summary }, i) => `${ids[i]}: ${summary}`),
    };
  } catch (err) {
    for (const p of procs) progress(`worker ${p.pid} output (tail):\n${p.output().slice(-4000)}`);
    throw err;
  } finally {
    if (!stopped) await Promise.all(procs.map((p) => stopFerryWorker(p)));
  }
}

async function readCpu(services: Services, procs: FerryProcess[]): Promise<CpuReading> {
  const [workers, s3rver, redis, machine] = await Promise.all([
    Promise.all(procs.map((p) => cpuMsOf(p.pid))),
    cpuMsOf(services.s3.pid),
    cpuMsOf(services.redis.pid),
    machineCpuMs(),
  ]);
  const own = process.cpuUsage();
  return { workers, s3rver, redis, bench: (own.user + own.system) / 1000, machine };
}

function difference(after: CpuReading, before: CpuReading): CpuReading {
  return {
    workers: after.workers.map((ms, i) => ms - before.workers[i]!),
    s3rver: after.s3rver - before.s3rver,
    redis: after.redis - before.redis,
    bench: after.bench - before.bench,
    machine: {
      busyMs: after.machine.busyMs - before.machine.busyMs,
      stealMs: after.machine.stealMs - before.machine.stealMs,
      totalMs: after.machine.totalMs - before.machine.totalMs,
    },
  };
}

/** The trackingIds a worker's JSON log reports as delivered, and how many deliveries it found already done. */
function deliveriesInLog(output: string): { delivered: LoggedDelivery[]; repeats: number } {
  const delivered: LoggedDelivery[] = [];
  let repeats = 0;
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as {
      msg?: unknown;
      outcome?: unknown;
      trackingId?: unknown;
      partnerId?: unknown;
    };
    if (typeof entry.trackingId !== 'string') continue;
    if (
      entry.msg === 'delivery completed' ||
      entry.msg === 'delivery recovered after a lost acknowledgement'
    ) {
      delivered.push({ trackingId: entry.trackingId, partnerId: String(entry.partnerId) });
    } else if (entry.outcome === 'already-delivered') {
      repeats += 1;
    }
  }
  return { delivered, repeats };
}

/**
 * Every seeded file is in its partner's dir with its size and sha256, nothing else is (no temp file), and
 * the workers together logged exactly one completed delivery per file.
 */
async function verifyRun(
  partnerDirs: Record<string, string>,
  ids: string[],
  options: ScaleOutOptions,
  trackingIds: string[],
): Promise<void> {
  for (const [i, partner] of PARTNERS.entries()) {
    const { finals, temps } = await readPartnerDir(partnerDirs[ids[i]!]!);
    const want = options.expected[partner];
    if (temps.length > 0) throw new Error(`${ids[i]}: temp files left: ${temps.join(', ')}`);
    if (finals.size !== want.size) throw new Error(`${ids[i]}: ${finals.size} files, expected ${want.size}`);
    for (const [name, sha256] of want) {
      const got = finals.get(name);
      if (!got || got.size !== options.size || got.sha256 !== sha256) {
        throw new Error(`${ids[i]}: ${name} missing or different (${got?.size ?? 'no'} bytes)`);
      }
    }
  }
  const distinct = new Set(trackingIds).size;
  if (trackingIds.length !== options.count || distinct !== options.count) {
    throw new Error(
      `workers logged ${trackingIds.length} completed deliveries (${distinct} distinct), expected ${options.count}`,
    );
  }
}
