// bandwidth: target.maxBytesPerSecond measured on the partner side (issue 16). Two `ferry start --role
// worker` child processes share one Redis. Three files (16 MiB each by default) go to a partner capped at
// 4MB while an uncapped partner receives three files of the same size five times. "Is an uncapped partner
// slowed" is measured apart, in pairs run back to back: the uncapped partner receives one file (of the
// three files' bytes) alone and next to a partner capped at 4MB, in an order drawn per pair; the figure
// is the median of the per-pair ratios. Then a reload in flight: a partner capped at 2MB gets 6MB written
// into its partner file ~2 s into its transfer (hot reload), and the bench reports how soon the new rate
// showed. The bench polls each partner's SFTP directory (temp and final files, their sizes) every
// ~100 ms; a rate is taken over the middle of a transfer (10 % → 90 % of its bytes), so neither the
// bucket's initial half second of burst nor the publish at the end counts.
//
// Why pairs of one file (docs/performance.md): an uncapped transfer is CPU-bound (sshd, s3rver, the
// workers and the bench share the cores), so its rate follows the CPU that other processes on the box
// leave it, in bursts of seconds; a pair's two runs see nearly the same load. Three files are three jobs,
// and one picked up late left an idle gap inside 10 % → 90 % of the bytes. The services run on tmpfs
// (/dev/shm) when there is one, so no fsync or writeback of the disk is in the path.
import { access, chmod, copyFile, readdir, readFile, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseByteRate, formatByteRate } from '../src/core/byte-rate.js';
import { writeFerryConfig, writePartnerFile, type PartnerFixture } from '../test/support/ferry-fixture.js';
import type { FerryProcess } from '../test/support/ferry-process.js';
import { loadConfigOrThrow, putObjects, sweepAndWait } from '../test/support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../test/support/services.js';
import { sampleDirBytes, type DirBytesSample } from '../test/support/dir-bytes-sampler.js';
import { formatSize, startFerryWorker, stopFerryWorker, syncDisks, treeCpuMsOf } from './baselines.js';

const POLL_MS = 100;
/** Uncapped transfers take well under a second on loopback: polled more often, so 10 %→90 % spans several samples. */
const FAST_POLL_MS = 20;
/** A "window" when looking for the moment a reloaded cap showed. */
const WINDOW_MS = 500;
/** Uncapped runs back to back while the capped partner's 3 files go (load for "capped while the uncapped one ran"). */
const LOAD_ROUNDS = 5;
/** Where the services' run dir goes when it can: a RAM disk, so the disk's fsync and writeback stay out. */
const TMPFS = '/dev/shm';

/** Bytes in a partner's directory (temp and final files) at one moment. */
interface Sample {
  atMs: number;
  bytes: number;
}

interface DirPoller {
  samples: Sample[];
  /** Resolves with the first sample at or above `bytes`. */
  reached(bytes: number): Promise<Sample>;
  stop(): Promise<Sample[]>;
}

/** `npm run bench -- bandwidth [--size BYTES] [--files N] [--cap RATE] [--reload-from RATE] [--reload-to RATE] [--reload-after-ms MS]`. */
export async function runBandwidthBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: String(16 * 1024 * 1024) },
      files: { type: 'string', default: '3' },
      cap: { type: 'string', default: '4MB' },
      'reload-from': { type: 'string', default: '2MB' },
      'reload-to': { type: 'string', default: '6MB' },
      'reload-after-ms': { type: 'string', default: '2000' },
      // Pairs (uncapped alone, then next to a capped partner): their ratios' median is the figure.
      rounds: { type: 'string', default: '20' },
    },
  });
  const size = Number(values.size);
  const files = Number(values.files);
  const rate = (text: string) => {
    const parsed = parseByteRate(text);
    if (!parsed.ok) throw new Error(`bandwidth: ${text}: ${parsed.message}`);
    return parsed.bytesPerSecond;
  };
  const cap = rate(values.cap);
  const reloadFrom = rate(values['reload-from']);
  const reloadTo = rate(values['reload-to']);
  const reloadAfterMs = Number(values['reload-after-ms']);
  const rounds = Number(values.rounds);
  const progress = (line: string) => process.stderr.write(`bench bandwidth: ${line}\n`);

  // TMPDIR only for this process and the workers it starts: the services' temp dir (s3rver's store,
  // the partners' SFTP dirs, Redis) lands on tmpfs; put back when the bench ends.
  const savedTmpDir = process.env.TMPDIR;
  const onTmpfs = await access(TMPFS).then(
    () => true,
    () => false,
  );
  if (onTmpfs) process.env.TMPDIR = TMPFS;
  let services: Services;
  try {
    services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  } catch (err) {
    restoreEnv('TMPDIR', savedTmpDir);
    throw err;
  }
  const procs: FerryProcess[] = [];
  try {
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    const runDir = join(services.sshd.dir, '..');
    // Ferry pools connections per server account: each partner gets its own key, as real partners would.
    const authFor = async (name: string) => {
      const key = join(runDir, `${name}_ed25519`);
      await copyFile(services.sshd.privateKeyPath, key);
      await chmod(key, 0o600);
      return `{ privateKeyFile: ${key} }`;
    };
    // One partner per run, all on the same objects: each run delivers them afresh on a new connection.
    const partnersOf = async (
      name: string,
      count: number,
      fields: Omit<PartnerFixture, 'id' | 'auth'>,
    ): Promise<PartnerFixture[]> => {
      const out: PartnerFixture[] = [];
      for (let r = 1; r <= count; r++) {
        out.push({ id: `${name}-${r}`, ...fields, auth: await authFor(`${name}-${r}`) });
      }
      return out;
    };
    const loads = await partnersOf('free-load', LOAD_ROUNDS, { prefix: 'bw/free/' });
    // The pairs' uncapped runs move the same bytes as one file: three files start as three jobs, picked
    // up as much as a second apart now and then, and that gap would count as a slow transfer.
    const alones = await partnersOf('free-alone', rounds, { prefix: 'bw/free-one/' });
    const frees = await partnersOf('free', rounds, { prefix: 'bw/free-one/' });
    // Each pair's own capped partner: one file of 3 s at the cap (half a second of it the bucket's burst),
    // enough to outlast an uncapped run, short enough to keep the pairs close together.
    const pairCappedBytes = Math.round(cap * 3);
    const pairCapped = await partnersOf('capped-pair', rounds, {
      prefix: 'bw/capped-pair/',
      maxBytesPerSecond: values.cap,
    });
    const partners = {
      capped: {
        id: 'capped',
        prefix: 'bw/capped/',
        maxBytesPerSecond: values.cap,
        auth: await authFor('capped'),
      },
      reload: {
        id: 'reloaded',
        prefix: 'bw/reload/',
        maxBytesPerSecond: values['reload-from'],
        auth: await authFor('reload'),
      },
    } satisfies Record<string, PartnerFixture>;

    progress(
      `seeding ${files} objects of ${size} bytes under each of bw/free, bw/capped, bw/reload, 1 of ${files * size} bytes under bw/free-one, 1 of ${pairCappedBytes} under bw/capped-pair (services in ${services.dir})…`,
    );
    await seedObjects(services, ['bw/free/', 'bw/capped/', 'bw/reload/'], files, size);
    await seedObjects(services, ['bw/free-one/'], 1, files * size);
    await seedObjects(services, ['bw/capped-pair/'], 1, pairCappedBytes);
    const fixture = await writeFerryConfig(
      services,
      {
        partners: [...loads, ...alones, ...frees, ...pairCapped, ...Object.values(partners)],
        logLevel: 'info',
      },
      join(runDir, 'config-bandwidth'),
    );
    const config = await loadConfigOrThrow(fixture.dir);
    const env = { ...process.env };
    procs.push(...(await Promise.all([0, 1].map(() => startFerryWorker(fixture.dir, env)))));
    const total = files * size;
    const dirOf = (p: PartnerFixture) => fixture.partnerDirs[p.id]!;
    const sweep = async (p: PartnerFixture, count = files) => {
      const { code, summary } = await sweepAndWait(config, p.id, 3600);
      if (code !== 0 || !summary.startsWith(`delivered ${count},`)) {
        throw new Error(`ferry sweep ${p.id} exited ${code}: ${summary}`);
      }
      return summary;
    };

    const cores = cpus().length;
    /**
     * One uncapped partner's sweep: its rate over 10 % → 90 % of its bytes, when that was, and the share
     * of the box's CPU that processes other than the bench's own tree used meanwhile (the noise).
     * `total` bytes in `count` files; they are removed afterwards (tmpfs is memory).
     */
    const uncappedRun = async (p: PartnerFixture, count = files) => {
      const cpu0 = await cpuSplit();
      const poller = startDirPoller(dirOf(p), FAST_POLL_MS);
      const startedAt = performance.now();
      await sweep(p, count);
      const samples = await poller.stop();
      const ms = performance.now() - startedAt;
      const cpu1 = await cpuSplit();
      for (const name of await readdir(dirOf(p))) await rm(join(dirOf(p), name), { force: true });
      return {
        ...middleRate(samples, total),
        from: timeAt(samples, total * 0.1)!,
        to: timeAt(samples, total * 0.9)!,
        // At least 0: /proc/stat counts in ticks, the processes' times more finely; a quiet box can dip below.
        othersShare: Math.max(0, (cpu1.busyMs - cpu0.busyMs - (cpu1.oursMs - cpu0.oursMs)) / (ms * cores)),
      };
    };

    // 1. "Is an uncapped partner slowed": pairs back to back, each the uncapped partner alone and next
    // to that pair's capped partner once it is past its bucket's burst (at its steady rate). Which of
    // the two goes first is drawn per pair, so a load on the box that comes and goes in step with the
    // pairs cannot favour one side.
    progress(`${rounds} pairs: uncapped partner alone and next to a partner capped at ${values.cap}…`);
    const pairs = [];
    const steadyBytes = cap * 0.75; // the half second of burst, then a quarter second at the cap
    for (let i = 0; i < rounds; i++) {
      await syncDisks(); // earlier runs' dirty pages (if on disk) would be written back during this pair
      const aloneFirst = Math.random() < 0.5;
      const alone = aloneFirst ? await uncappedRun(alones[i]!, 1) : undefined;
      const pairPoller = startDirPoller(dirOf(pairCapped[i]!));
      const pairSweep = sweep(pairCapped[i]!, 1);
      await Promise.race([pairPoller.reached(steadyBytes), pairSweep]);
      const next = await uncappedRun(frees[i]!, 1);
      const cappedBusy = bytesAt(pairPoller.samples, next.to) < pairCappedBytes;
      await pairSweep;
      await pairPoller.stop();
      const pair = { alone: alone ?? (await uncappedRun(alones[i]!, 1)), next, cappedBusy, aloneFirst };
      progress(
        `pair ${i + 1}: alone ${(pair.alone.rate / 1e6).toFixed(1)} MB/s (others ${Math.round(pair.alone.othersShare * 100)} %), next to the capped one ${(next.rate / 1e6).toFixed(1)} MB/s (others ${Math.round(next.othersShare * 100)} %)${aloneFirst ? '' : ', alone second'}: ${(next.rate / pair.alone.rate).toFixed(2)}×`,
      );
      pairs.push(pair);
    }

    // 2. The capped partner, and the uncapped one LOAD_ROUNDS times in a row once the capped one is
    // under way (10 % of its bytes), so the uncapped transfers run while the capped one is at its steady rate.
    progress(`capped partner at ${values.cap} with the uncapped one, ${LOAD_ROUNDS}×…`);
    const cappedPoller = startDirPoller(dirOf(partners.capped));
    const cappedSweep = sweep(partners.capped);
    await Promise.race([cappedPoller.reached(total * 0.1), cappedSweep]);
    const free = [];
    for (const p of loads) {
      await syncDisks(); // the previous run's dirty pages (if on disk) would be written back during this one
      free.push(await uncappedRun(p));
    }
    const cappedBusy = cappedPoller.samples.at(-1)!.bytes < total * 0.9;
    await cappedSweep;
    const cappedSamples = await cappedPoller.stop();
    const capped = middleRate(cappedSamples, total);
    const freeSpan = { from: free[0]!.from, to: free.at(-1)!.to };
    const cappedDuringFree = rateBetween(cappedSamples, freeSpan.from, freeSpan.to);
    const cappedStall = longestStall(cappedSamples, total);

    // 3. A reload in flight: the partner file is rewritten with the new cap ~2 s into the transfer.
    progress(`capped partner at ${values['reload-from']}, rewritten to ${values['reload-to']} in flight…`);
    const reloadPoller = startDirPoller(dirOf(partners.reload));
    const reloadSweep = sweep(partners.reload);
    const first = await Promise.race([reloadPoller.reached(1), reloadSweep.then(() => undefined)]);
    if (!first) throw new Error('reload: the transfer ended before its first byte was seen');
    await new Promise((resolve) => setTimeout(resolve, reloadAfterMs));
    const writtenAtMs = performance.now();
    const writtenAtWallMs = Date.now();
    await writePartnerFile(
      fixture.dir,
      services,
      { ...partners.reload, maxBytesPerSecond: values['reload-to'] },
      dirOf(partners.reload),
    );
    await reloadSweep;
    const reloadSamples = await reloadPoller.stop();
    // Before: from a second after the first byte (past the full bucket's half second of burst) to the write.
    const before = rateBetween(reloadSamples, first.atMs + 1000, writtenAtMs);
    const beforePeak = peakWindowRate(reloadSamples, first.atMs + 1000, writtenAtMs);
    const shownMidway = firstWindowAbove(reloadSamples, writtenAtMs, (reloadFrom + reloadTo) / 2);
    const shown = firstWindowAbove(reloadSamples, writtenAtMs, reloadFrom);
    const ninety = timeAt(reloadSamples, total * 0.9);
    const after =
      shownMidway === undefined || ninety === undefined
        ? undefined
        : rateBetween(reloadSamples, shownMidway + WINDOW_MS, ninety);
    const writtenBytes = bytesAt(reloadSamples, writtenAtMs);
    // Each worker's 'config reloaded' line (pino's ISO time): when the new cap reached its rateOf.
    const reloadedAfter = procs.map((p) => {
      const line = p
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"config reloaded"'))
        .map((l) => Date.parse(String((JSON.parse(l) as { time?: unknown }).time)) - writtenAtWallMs)
        .find((ms) => ms >= -5);
      return line === undefined ? 'none' : `${(line / 1000).toFixed(2)} s`;
    });

    const mb = (bytesPerSecond: number) => (bytesPerSecond / 1e6).toFixed(2);
    const label = `bandwidth ${files}×${formatSize(size)}, 2 worker processes, ${cores} cores${onTmpfs ? `, services on ${TMPFS}` : ''}`;
    console.log(
      `${label}: capped partner (${values.cap} = ${formatByteRate(cap)}) aggregate ${mb(capped.rate)} MB/s over 10 %→90 % of its bytes (${capped.seconds.toFixed(1)} s), ${(capped.rate / cap).toFixed(3)}× the cap (issue 16 target 0.9–1.1×: ${mb(cap * 0.9)}–${mb(cap * 1.1)} MB/s)`,
    );
    console.log(
      `${label}: capped partner while the uncapped one ran (${((freeSpan.to - freeSpan.from) / 1000).toFixed(1)} s, 10 % of the first → 90 % of the last uncapped run${cappedBusy ? '' : '; WARNING: the capped transfer was past 90 % before they ended'}): ${cappedDuringFree === undefined ? 'n/a' : `${mb(cappedDuringFree)} MB/s, ${(cappedDuringFree / cap).toFixed(3)}× the cap`}; longest stretch without a new byte between 10 % and 90 %: ${cappedStall.ms} ms (poll ${POLL_MS} ms; ${cappedStall.ms === 0 ? 'none' : cappedStall.fromMs + cappedStall.ms >= freeSpan.from && cappedStall.fromMs <= freeSpan.to ? 'while the uncapped one ran' : 'while the capped one ran alone'})`,
    );
    const alone = pairs.map((p) => p.alone);
    const next = pairs.map((p) => p.next);
    const ratios = pairs.map((p) => p.next.rate / p.alone.rate);
    const list = (runs: { rate: number }[]) => runs.map((r) => mb(r.rate)).join(', ');
    const percent = (share: number) => `${Math.round(share * 100)} %`;
    const others = [...alone, ...next].map((r) => r.othersShare);
    const cappedDone = pairs.filter((p) => !p.cappedBusy).length;
    const sorted = [...ratios].sort((a, b) => a - b);
    const quarter = (q: number) => sorted[Math.round((sorted.length - 1) * q)]!;
    console.log(
      `${label}: uncapped partner (one file of ${formatSize(files * size)}) over 10 %→90 % of its bytes, ${rounds} pairs back to back (alone and next to a partner capped at ${values.cap}; alone first in ${pairs.filter((p) => p.aloneFirst).length}): alone median ${mb(median(alone.map((r) => r.rate)))} MB/s (${list(alone)}), next to the capped one median ${mb(median(next.map((r) => r.rate)))} MB/s (${list(next)}); per-pair ratio next/alone median ${median(ratios).toFixed(2)}× (middle half ${quarter(0.25).toFixed(2)}–${quarter(0.75).toFixed(2)}, range ${sorted[0]!.toFixed(2)}–${sorted.at(-1)!.toFixed(2)}; 1.00 = not slowed)${cappedDone === 0 ? '' : `; WARNING: in ${cappedDone} pairs the capped partner was done before 90 % of the uncapped run`}; CPU used by other processes on the box during these runs: median ${percent(median(others))} of ${cores} cores (${percent(Math.min(...others))}–${percent(Math.max(...others))})`,
    );
    console.log(
      `${label}: reload in flight ${values['reload-from']} → ${values['reload-to']}: before the write ${before === undefined ? 'n/a' : `${mb(before)} MB/s (${(before / reloadFrom).toFixed(3)}× the old cap; fastest ${WINDOW_MS} ms window ${beforePeak === undefined ? 'n/a' : `${mb(beforePeak)} MB/s`})`}, file written ${((writtenAtMs - first.atMs) / 1000).toFixed(1)} s after the first byte with ${(writtenBytes / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB there; workers logged 'config reloaded' ${reloadedAfter.join(' / ')} after the write; first ${WINDOW_MS} ms window above the old cap ends ${shown === undefined ? 'never' : `${((shown + WINDOW_MS - writtenAtMs) / 1000).toFixed(2)} s after the write`}, the first above ${mb((reloadFrom + reloadTo) / 2)} MB/s (halfway to the new cap) ${shownMidway === undefined ? 'never' : `${((shownMidway + WINDOW_MS - writtenAtMs) / 1000).toFixed(2)} s after`}; after that window ${after === undefined ? 'n/a' : `${mb(after)} MB/s (${(after / reloadTo).toFixed(3)}× the new cap) until 90 % of the bytes`}`,
    );
    return 0;
  } catch (err) {
    for (const p of procs) progress(`worker ${p.pid} output (tail):\n${p.output().slice(-4000)}`);
    throw err;
  } finally {
    await Promise.all(procs.map((p) => stopFerryWorker(p)));
    await services.stop();
    restoreEnv('TMPDIR', savedTmpDir);
  }
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** The middle value (of an even count, the mean of the two middle ones). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** CPU time (ms) the whole box spent busy so far, and the part of it this bench's process tree spent. */
async function cpuSplit(): Promise<{ busyMs: number; oursMs: number }> {
  // /proc/stat's first line: user nice system idle iowait irq softirq steal … in clock ticks (USER_HZ 100).
  const ticks = (await readFile('/proc/stat', 'utf8'))
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user, nice, system, , , , , steal] = ticks;
  const busyMs = (user! + nice! + system! + steal!) * 10;
  return { busyMs, oursMs: await treeCpuMsOf(process.pid) };
}

/** Puts `count` random objects of `size` bytes under each prefix, one at a time (one body held at once). */
async function seedObjects(
  services: Services,
  prefixes: string[],
  count: number,
  size: number,
): Promise<void> {
  const s3 = s3ClientFor(services.s3);
  for (const prefix of prefixes) {
    for (let i = 0; i < count; i++) {
      await putObjects(s3, 'warehouse-exports', [{ key: `${prefix}file_${i}.bin`, size }]);
    }
  }
  s3.destroy();
}

/**
 * Samples the bytes in `dir` (every file, temp or final) every `pollMs`, through the tests' sampler
 * (test/support/dir-bytes-sampler.ts); a sample's time is when its look began.
 */
function startDirPoller(dir: string, pollMs = POLL_MS): DirPoller {
  const sampler = sampleDirBytes(dir, pollMs);
  const toSample = (s: DirBytesSample): Sample => ({ atMs: s.startMs, bytes: s.bytes });
  return {
    get samples() {
      return sampler.samples.map(toSample);
    },
    // Raced against the sweep: once the sampler stops, a threshold never reached just stays pending.
    reached: (bytes) =>
      new Promise((resolve) => {
        sampler
          .until((s) => s.bytes >= bytes, `${bytes} bytes`, 3_600_000)
          .then(
            (s) => resolve(toSample(s)),
            () => undefined,
          );
      }),
    async stop() {
      return (await sampler.stop()).map(toSample);
    },
  };
}

/** When the directory first held `bytes` (linear between the two samples around it). */
function timeAt(samples: Sample[], bytes: number): number | undefined {
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.bytes < bytes) continue;
    const prev = samples[i - 1];
    if (!prev || s.bytes === prev.bytes) return s.atMs;
    return prev.atMs + ((bytes - prev.bytes) / (s.bytes - prev.bytes)) * (s.atMs - prev.atMs);
  }
  return undefined;
}

/** The bytes in the directory at `atMs` (linear between the two samples around it). */
function bytesAt(samples: Sample[], atMs: number): number {
  const after = samples.findIndex((s) => s.atMs >= atMs);
  if (after <= 0) return after === 0 ? samples[0]!.bytes : (samples.at(-1)?.bytes ?? 0);
  const [a, b] = [samples[after - 1]!, samples[after]!];
  return a.bytes + ((atMs - a.atMs) / (b.atMs - a.atMs)) * (b.bytes - a.bytes);
}

/** Bytes per second between two moments. */
function rateBetween(samples: Sample[], fromMs: number, toMs: number): number | undefined {
  if (toMs - fromMs < POLL_MS) return undefined;
  return ((bytesAt(samples, toMs) - bytesAt(samples, fromMs)) * 1000) / (toMs - fromMs);
}

/** The rate from 10 % to 90 % of `total` bytes. */
function middleRate(samples: Sample[], total: number): { rate: number; seconds: number } {
  const from = timeAt(samples, total * 0.1);
  const to = timeAt(samples, total * 0.9);
  if (from === undefined || to === undefined || to <= from) {
    throw new Error(
      `fewer than 90 % of ${total} bytes seen (or too fast to sample): ${JSON.stringify(samples.at(-1))}`,
    );
  }
  return { rate: (total * 0.8 * 1000) / (to - from), seconds: (to - from) / 1000 };
}

/** The start of the first WINDOW_MS window from `fromMs` on whose rate is above `bytesPerSecond`. */
function firstWindowAbove(samples: Sample[], fromMs: number, bytesPerSecond: number): number | undefined {
  for (const s of samples) {
    if (s.atMs < fromMs || s.atMs + WINDOW_MS > samples.at(-1)!.atMs) continue;
    if ((rateBetween(samples, s.atMs, s.atMs + WINDOW_MS) ?? 0) > bytesPerSecond) return s.atMs;
  }
  return undefined;
}

/** The fastest WINDOW_MS window starting at a sample between two moments (noise of the measurement). */
function peakWindowRate(samples: Sample[], fromMs: number, toMs: number): number | undefined {
  const rates = samples
    .filter((s) => s.atMs >= fromMs && s.atMs + WINDOW_MS <= toMs)
    .map((s) => rateBetween(samples, s.atMs, s.atMs + WINDOW_MS) ?? 0);
  return rates.length === 0 ? undefined : Math.max(...rates);
}

/** The longest time (ms) between 10 % and 90 % of the bytes during which no new byte arrived. */
function longestStall(samples: Sample[], total: number): { ms: number; fromMs: number } {
  const from = timeAt(samples, total * 0.1) ?? 0;
  const to = timeAt(samples, total * 0.9) ?? 0;
  let longest = { ms: 0, fromMs: 0 };
  let since: number | undefined;
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1]!, samples[i]!];
    if (b.atMs < from || a.atMs > to) continue;
    if (b.bytes === a.bytes) since ??= a.atMs;
    else since = undefined;
    if (since !== undefined && b.atMs - since > longest.ms) longest = { ms: b.atMs - since, fromMs: since };
  }
  return { ms: Math.round(longest.ms), fromMs: longest.fromMs };
}
