// bandwidth: target.maxBytesPerSecond measured on the partner side (issue 16). Two `ferry start --role
// worker` child processes share one Redis. Three files (16 MiB each by default) go to a partner capped at
// 4MB while an uncapped partner receives three files of the same size; the uncapped partner alone is the
// baseline, measured in the same run. Then a reload in flight: a partner capped at 2MB gets 6MB written
// into its partner file ~2 s into its transfer (hot reload), and the bench reports how soon the new rate
// showed. The bench polls each partner's SFTP directory (temp and final files, their sizes) every
// ~100 ms; a rate is taken over the middle of a transfer (10 % → 90 % of its bytes), so neither the
// bucket's initial half second of burst nor the publish at the end counts.
import { chmod, copyFile, readdir, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseByteRate, formatByteRate } from '../src/core/byte-rate.js';
import { writeFerryConfig, writePartnerFile, type PartnerFixture } from '../test/support/ferry-fixture.js';
import type { FerryProcess } from '../test/support/ferry-process.js';
import { loadConfigOrThrow, putObjects, sweepAndWait } from '../test/support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../test/support/services.js';
import { formatSize, startFerryWorker, stopFerryWorker, syncDisks } from './baselines.js';

const POLL_MS = 100;
/** Uncapped transfers take well under a second on loopback: polled more often, so 10 %→90 % spans several samples. */
const FAST_POLL_MS = 20;
/** A "window" when looking for the moment a reloaded cap showed. */
const WINDOW_MS = 500;

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
      // Uncapped transfers are short (well under a second on loopback): several of each, medians compared.
      rounds: { type: 'string', default: '5' },
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

  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
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
    const uncapped = async (name: string): Promise<PartnerFixture[]> => {
      const out: PartnerFixture[] = [];
      for (let r = 1; r <= rounds; r++) {
        out.push({ id: `${name}-${r}`, prefix: 'bw/free/', auth: await authFor(`${name}-${r}`) });
      }
      return out;
    };
    const alones = await uncapped('free-alone');
    const frees = await uncapped('free');
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

    progress(`seeding ${files} objects of ${size} bytes under each of bw/free, bw/capped, bw/reload…`);
    await seedObjects(services, ['bw/free/', 'bw/capped/', 'bw/reload/'], files, size);
    const fixture = await writeFerryConfig(
      services,
      { partners: [...alones, ...frees, ...Object.values(partners)], logLevel: 'info' },
      join(runDir, 'config-bandwidth'),
    );
    const config = await loadConfigOrThrow(fixture.dir);
    const env = { ...process.env };
    procs.push(...(await Promise.all([0, 1].map(() => startFerryWorker(fixture.dir, env)))));
    const total = files * size;
    const dirOf = (p: PartnerFixture) => fixture.partnerDirs[p.id]!;
    const sweep = async (p: PartnerFixture) => {
      const { code, summary } = await sweepAndWait(config, p.id, 3600);
      if (code !== 0 || !summary.startsWith(`delivered ${files},`)) {
        throw new Error(`ferry sweep ${p.id} exited ${code}: ${summary}`);
      }
      return summary;
    };

    /** One uncapped partner's sweep: its rate over 10 % → 90 % of its bytes, and when that was. */
    const uncappedRun = async (p: PartnerFixture) => {
      await syncDisks(); // the previous run's dirty pages would be written back during this one
      const poller = startDirPoller(dirOf(p), FAST_POLL_MS);
      await sweep(p);
      const samples = await poller.stop();
      return {
        ...middleRate(samples, total),
        from: timeAt(samples, total * 0.1)!,
        to: timeAt(samples, total * 0.9)!,
      };
    };

    // 1. The baseline: the uncapped partner alone, `rounds` times.
    progress(`uncapped partner alone, ${rounds}×…`);
    const alone = [];
    for (const p of alones) alone.push(await uncappedRun(p));

    // 2. The capped partner, and the uncapped one `rounds` times in a row once the capped one is under
    // way (10 % of its bytes), so the uncapped transfers run while the capped one is at its steady rate.
    progress(`capped partner at ${values.cap} with the uncapped one, ${rounds}×…`);
    const cappedPoller = startDirPoller(dirOf(partners.capped));
    const cappedSweep = sweep(partners.capped);
    await Promise.race([cappedPoller.reached(total * 0.1), cappedSweep]);
    const free = [];
    for (const p of frees) free.push(await uncappedRun(p));
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
    const label = `bandwidth ${files}×${formatSize(size)}, 2 worker processes, ${cpus().length} cores`;
    console.log(
      `${label}: capped partner (${values.cap} = ${formatByteRate(cap)}) aggregate ${mb(capped.rate)} MB/s over 10 %→90 % of its bytes (${capped.seconds.toFixed(1)} s), ${(capped.rate / cap).toFixed(3)}× the cap (issue 16 target 0.9–1.1×: ${mb(cap * 0.9)}–${mb(cap * 1.1)} MB/s)`,
    );
    console.log(
      `${label}: capped partner while the uncapped one ran (${((freeSpan.to - freeSpan.from) / 1000).toFixed(1)} s, 10 % of the first → 90 % of the last uncapped run${cappedBusy ? '' : '; WARNING: the capped transfer was past 90 % before they ended'}): ${cappedDuringFree === undefined ? 'n/a' : `${mb(cappedDuringFree)} MB/s, ${(cappedDuringFree / cap).toFixed(3)}× the cap`}; longest stretch without a new byte between 10 % and 90 %: ${cappedStall.ms} ms (poll ${POLL_MS} ms; ${cappedStall.ms === 0 ? 'none' : cappedStall.fromMs + cappedStall.ms >= freeSpan.from && cappedStall.fromMs <= freeSpan.to ? 'while the uncapped one ran' : 'while the capped one ran alone'})`,
    );
    const median = (runs: { rate: number }[]) =>
      runs.map((r) => r.rate).sort((a, b) => a - b)[runs.length >> 1]!;
    const list = (runs: { rate: number }[]) => runs.map((r) => mb(r.rate)).join(', ');
    console.log(
      `${label}: uncapped partner over 10 %→90 % of its bytes: alone median ${mb(median(alone))} MB/s (${list(alone)}), next to the capped one median ${mb(median(free))} MB/s (${list(free)}): ${(median(free) / median(alone)).toFixed(2)}× (1.00 = not slowed)`,
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
  }
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
 * Samples the bytes in `dir` (every file, temp or final) every POLL_MS. A sample that races a rename
 * (a file gone between readdir and stat) is dropped; the next one counts it under its final name.
 */
function startDirPoller(dir: string, pollMs = POLL_MS): DirPoller {
  const samples: Sample[] = [];
  const waiters: { bytes: number; resolve: (s: Sample) => void }[] = [];
  let stopped = false;
  const sample = async () => {
    const atMs = performance.now();
    let bytes = 0;
    try {
      for (const name of await readdir(dir)) bytes += (await stat(join(dir, name))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const s = { atMs, bytes };
    samples.push(s);
    for (const w of waiters.filter((w) => bytes >= w.bytes)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(s);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    await sample();
  })();
  return {
    samples,
    reached: (bytes) =>
      new Promise((resolve) => {
        const hit = samples.find((s) => s.bytes >= bytes);
        if (hit) resolve(hit);
        else waiters.push({ bytes, resolve });
      }),
    async stop() {
      stopped = true;
      await loop;
      return samples;
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
