// The benches' targets (issue 14) and how a figure is judged against one: pure, so the rules for each
// RTT and the median of repeated runs are table-tested (test/unit/bench/targets.test.ts).

/** A bound a figure must stay within; `text` is how it is printed when the bound is a fraction (1/6). */
export interface Target {
  readonly compare: '≤' | '≥';
  readonly value: number;
  readonly text?: string;
}

/** The issue's small-files shape: absolute-time targets are for this many files of this size. */
export const SMALL_FILES_COUNT = 1000;
export const SMALL_FILES_SIZE = 1024;

export interface SmallFilesTargets {
  /** Sweep start → last receipt, for 1,000 × 1 KiB. */
  seconds?: Target;
  ferryPerRclone?: Target;
  ferryPerOpenssh?: Target;
  /** Worker CPU per delivered file. */
  cpuMsPerFile?: Target;
}

/**
 * Issue 14's small-files targets at a round-trip time: on loopback Ferry no slower than rclone and at
 * most 2.5 worker CPU-ms per file; at 20 ms RTT ≤ 10 s, 3.5× faster than rclone and 6× faster than
 * OpenSSH; at 50 ms RTT ≤ 20 s. Other RTTs have none. The time targets hold for 1,000 × 1 KiB only.
 */
export function smallFilesTargets(o: { rttMs: number; files: number; size: number }): SmallFilesTargets {
  const issueShape = o.files === SMALL_FILES_COUNT && o.size === SMALL_FILES_SIZE;
  const seconds = (value: number): Pick<SmallFilesTargets, 'seconds'> =>
    issueShape ? { seconds: { compare: '≤', value } } : {};
  if (o.rttMs === 0) {
    return { ferryPerRclone: { compare: '≤', value: 1 }, cpuMsPerFile: { compare: '≤', value: 2.5 } };
  }
  if (o.rttMs === 20) {
    return {
      ...seconds(10),
      ferryPerRclone: { compare: '≤', value: 1 / 3.5, text: '≤ 1/3.5, i.e. 3.5× faster' },
      ferryPerOpenssh: { compare: '≤', value: 1 / 6, text: '≤ 1/6, i.e. 6× faster' },
    };
  }
  if (o.rttMs === 50) return seconds(20);
  return {};
}

export interface LargeFileTargets {
  /** Ferry's MB/s over OpenSSH sftp's (default cipher). */
  ferryPerOpenssh?: Target;
  peakMiB: Target;
  /** Flat in file size: the large file's peak RSS minus the 10 MiB file's. */
  peakSpreadMiB: Target;
}

/** Issue 14's large-file targets: ≥ 0.9 × OpenSSH on loopback, ≥ 0.95 × at 20 ms RTT; memory at any RTT. */
export function largeFileTargets(rttMs: number): LargeFileTargets {
  const memory = {
    peakMiB: { compare: '≤', value: 200 },
    peakSpreadMiB: { compare: '≤', value: 32 },
  } as const;
  if (rttMs === 0) return { ferryPerOpenssh: { compare: '≥', value: 0.9 }, ...memory };
  if (rttMs === 20) return { ferryPerOpenssh: { compare: '≥', value: 0.95 }, ...memory };
  return memory;
}

/** True when `value` is within `target`. */
export function meetsTarget(value: number, target: Target): boolean {
  return target.compare === '≤' ? value <= target.value : value >= target.value;
}

/** "met" or "MISSED" for a figure against its target. */
export function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

/**
 * The parenthesis after a figure: "target ≤ 2.5: met", or `none` (e.g. "no target at 30 ms RTT") when
 * the figure has no target here.
 */
export function judge(value: number, target: Target | undefined, none = 'no target'): string {
  if (target === undefined) return none;
  const bound = target.text ?? `${target.compare} ${target.value}`;
  return `target ${bound}: ${verdict(meetsTarget(value, target))}`;
}

/** The median (the mean of the two middle values for an even count). Throws on no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `--runs`: a whole number ≥ 1, or a message naming the flag. */
export function parseRuns(text: string): number {
  const runs = Number(text);
  if (!(text.trim() !== '' && Number.isInteger(runs) && runs >= 1)) {
    throw new Error(`--runs must be a whole number of at least 1, got "${text}"`);
  }
  return runs;
}

/** The label suffix of the lines judged on the median: "" for one run, " median of 3 runs" otherwise. */
export function medianLabel(runs: number): string {
  return runs > 1 ? ` median of ${runs} runs` : '';
}
