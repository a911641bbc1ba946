import { describe, expect, it } from 'vitest';
import { restartDelayMs, workerProcessCount } from '../../../src/core/worker-supervision.js';

describe('workerProcessCount', () => {
  it.each([
    ['auto', 2, 2],
    ['auto', 1, 1],
    ['auto', 0, 1],
    ['auto', 96, 64],
    ['1', 8, 1],
    ['3', 2, 3],
    ['64', 2, 64],
  ])('reads --processes %s on %i cores as %i', (text, cores, expected) => {
    expect(workerProcessCount(text, cores)).toBe(expected);
  });

  it.each(['0', '65', '-1', '2.5', 'two', ''])('names what is wrong with --processes "%s"', (text) => {
    expect(workerProcessCount(text, 2)).toBe(
      `--processes must be auto or a whole number from 1 to 64, got "${text}"`,
    );
  });
});

describe('restartDelayMs', () => {
  it('waits 1 s after a first exit, doubling with each exit in a row, at most 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(restartDelayMs)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });
});
