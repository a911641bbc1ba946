// The bytes in a partner's SFTP directory over time, as the partner sees them: for checking that a
// bandwidth cap holds from the receiving side (the writer is another process, so it is polled).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** One look at the directory: every file's size (temp and final) added up, between two moments (ms). */
export interface DirBytesSample {
  /** performance.now() before readdir. */
  startMs: number;
  /** performance.now() after the last stat: the sizes were read somewhere in between. */
  endMs: number;
  bytes: number;
}

export interface DirBytesSampler {
  /** The samples so far, oldest first (the array grows while sampling). */
  readonly samples: readonly DirBytesSample[];
  /** Resolves with the first sample (from now on or already taken) that `accept`s, bounded in time. */
  until(accept: (s: DirBytesSample) => boolean, what: string, timeoutMs?: number): Promise<DirBytesSample>;
  /** Takes one last sample, stops, and returns them all. */
  stop(): Promise<DirBytesSample[]>;
}

/**
 * Samples the bytes in `dir` every `intervalMs`, starting at once. A look that races a rename (a file
 * gone between readdir and stat) is dropped; the next one counts the file under its final name.
 */
export function sampleDirBytes(dir: string, intervalMs = 50): DirBytesSampler {
  const samples: DirBytesSample[] = [];
  const waiters = new Set<() => void>();
  let stopped = false;
  let failure: Error | undefined;
  const look = async () => {
    const startMs = performance.now();
    let bytes = 0;
    try {
      for (const name of await readdir(dir)) bytes += (await stat(join(dir, name))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    samples.push({ startMs, endMs: performance.now(), bytes });
    for (const w of waiters) w();
  };
  const loop = (async () => {
    try {
      while (!stopped) {
        await look();
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
      await look();
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      for (const w of waiters) w();
    }
  })();
  return {
    samples,
    until(accept, what, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          const failed = failure;
          if (failed !== undefined) return done(() => reject(failed));
          for (; seen < samples.length; seen++) {
            const s = samples[seen]!;
            if (accept(s)) return done(() => resolve(s));
          }
          if (stopped) done(() => reject(new Error(`sampling stopped before ${what}`)));
        };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(
                new Error(
                  `timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(samples.at(-1))}`,
                ),
              ),
            ),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      stopped = true;
      await loop;
      for (const w of waiters) w();
      if (failure !== undefined) throw failure;
      return samples;
    },
  };
}

/** The pair of samples that most exceeds a rate, and by how much (bytes; ≤ 0 when none exceeds it). */
export interface RateExcess {
  excess: number;
  from: DirBytesSample;
  to: DirBytesSample;
}

/**
 * Over every pair of samples (earlier `from`, later `to`): the growth in bytes beyond what `bytesPerSecond`
 * allows between the moment `from` began and the moment `to` ended (the widest span the two looks can
 * stand for, so a slow look never counts against the cap). The largest such excess, to compare with
 * the slack the cap allows.
 */
export function largestExcessOverRate(
  samples: readonly DirBytesSample[],
  bytesPerSecond: number,
): RateExcess | undefined {
  let worst: RateExcess | undefined;
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const [from, to] = [samples[i]!, samples[j]!];
      const excess = to.bytes - from.bytes - (bytesPerSecond * (to.endMs - from.startMs)) / 1000;
      if (worst === undefined || excess > worst.excess) worst = { excess, from, to };
    }
  }
  return worst;
}
