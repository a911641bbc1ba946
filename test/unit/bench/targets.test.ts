import { describe, expect, it } from 'vitest';
import {
  judge,
  largeFileTargets,
  median,
  medianLabel,
  meetsTarget,
  parseRuns,
  smallFilesTargets,
} from '../../../bench/targets.js';

const issueShape = { files: 1000, size: 1024 };

describe('smallFilesTargets', () => {
  it('on loopback asks for no slower than rclone and at most 2.5 CPU-ms per file, and no time', () => {
    expect(smallFilesTargets({ rttMs: 0, ...issueShape })).toEqual({
      ferryPerRclone: { compare: '≤', value: 1 },
      cpuMsPerFile: { compare: '≤', value: 2.5 },
    });
  });

  it('at 20 ms RTT asks for 10 s, 3.5× faster than rclone and 6× faster than OpenSSH', () => {
    const targets = smallFilesTargets({ rttMs: 20, ...issueShape });
    expect(targets.seconds).toEqual({ compare: '≤', value: 10 });
    expect(targets.ferryPerRclone?.value).toBeCloseTo(1 / 3.5);
    expect(targets.ferryPerOpenssh?.value).toBeCloseTo(1 / 6);
    expect(targets.cpuMsPerFile).toBeUndefined();
  });

  it('at 50 ms RTT asks for 20 s only', () => {
    expect(smallFilesTargets({ rttMs: 50, ...issueShape })).toEqual({
      seconds: { compare: '≤', value: 20 },
    });
  });

  it('judges the time only for 1,000 × 1 KiB, the ratios for any shape', () => {
    const fewer = smallFilesTargets({ rttMs: 20, files: 200, size: 1024 });
    expect(fewer.seconds).toBeUndefined();
    expect(fewer.ferryPerOpenssh).toBeDefined();
    expect(smallFilesTargets({ rttMs: 50, files: 1000, size: 4096 })).toEqual({});
  });

  it('has no targets at an RTT the issue does not name', () => {
    expect(smallFilesTargets({ rttMs: 30, ...issueShape })).toEqual({});
  });
});

describe('largeFileTargets', () => {
  it.each([
    [0, 0.9],
    [20, 0.95],
  ])('at %i ms RTT asks for %f × OpenSSH and bounded, flat memory', (rttMs, ratio) => {
    expect(largeFileTargets(rttMs)).toEqual({
      ferryPerOpenssh: { compare: '≥', value: ratio },
      peakMiB: { compare: '≤', value: 200 },
      peakSpreadMiB: { compare: '≤', value: 32 },
    });
  });

  it('keeps the memory targets at an RTT without a throughput target', () => {
    expect(largeFileTargets(50)).toEqual({
      peakMiB: { compare: '≤', value: 200 },
      peakSpreadMiB: { compare: '≤', value: 32 },
    });
  });
});

describe('meetsTarget and judge', () => {
  it('counts a figure equal to its bound as met, either way', () => {
    expect(meetsTarget(1, { compare: '≤', value: 1 })).toBe(true);
    expect(meetsTarget(0.9, { compare: '≥', value: 0.9 })).toBe(true);
    expect(meetsTarget(1.01, { compare: '≤', value: 1 })).toBe(false);
    expect(meetsTarget(0.89, { compare: '≥', value: 0.9 })).toBe(false);
  });

  it('prints the bound and the verdict, the bound as its text when it has one', () => {
    expect(judge(2.4, { compare: '≤', value: 2.5 })).toBe('target ≤ 2.5: met');
    expect(judge(0.85, { compare: '≥', value: 0.9 })).toBe('target ≥ 0.9: MISSED');
    expect(judge(0.2, { compare: '≤', value: 1 / 6, text: '≤ 1/6, i.e. 6× faster' })).toBe(
      'target ≤ 1/6, i.e. 6× faster: MISSED',
    );
  });

  it('says what it is told when the figure has no target', () => {
    expect(judge(3, undefined)).toBe('no target');
    expect(judge(3, undefined, 'no target at 30 ms RTT')).toBe('no target at 30 ms RTT');
  });
});

describe('median', () => {
  it.each([
    [[7], 7],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[5, 5, 1], 5],
  ])('of %j is %f', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it('leaves its input in order and refuses no values', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
    expect(() => median([])).toThrow('median of no values');
  });
});

describe('parseRuns and medianLabel', () => {
  it('takes a whole number of at least 1', () => {
    expect(parseRuns('1')).toBe(1);
    expect(parseRuns('5')).toBe(5);
  });

  it.each(['0', '-2', '1.5', 'x', ''])('refuses --runs "%s", naming the flag', (text) => {
    expect(() => parseRuns(text)).toThrow(`--runs must be a whole number of at least 1, got "${text}"`);
  });

  it('labels the judged lines as a median only when there was more than one run', () => {
    expect(medianLabel(1)).toBe('');
    expect(medianLabel(3)).toBe(' median of 3 runs');
  });
});
