import { describe, expect, it } from 'vitest';
import { backoffTable, computeBackoffMs, type BackoffPolicy } from '../../../src/core/backoff.js';

const POLICY: BackoffPolicy = { backoffSeconds: 30, maxBackoffSeconds: 3600 };
const low = () => 0;
const high = () => 1;

describe('computeBackoffMs', () => {
  it.each([
    // attempt, min (random 0 → half), max (random 1 → full)
    [1, 15_000, 30_000],
    [2, 30_000, 60_000],
    [3, 60_000, 120_000],
    [7, 960_000, 1_920_000],
    [8, 1_800_000, 3_600_000], // 3840 s capped at 3600 s
    [20, 1_800_000, 3_600_000],
  ])('retry %i waits between %i and %i ms', (attempt, min, max) => {
    expect(computeBackoffMs(attempt, POLICY, low)).toBe(min);
    expect(computeBackoffMs(attempt, POLICY, high)).toBe(max);
  });

  it('never exceeds the cap, even for huge attempt counts', () => {
    for (const attempt of [10, 100, 1_000, 1e9, Number.MAX_SAFE_INTEGER]) {
      expect(computeBackoffMs(attempt, POLICY, high)).toBe(3_600_000);
    }
  });

  it('never collapses to 0 (half of the delay is fixed)', () => {
    expect(computeBackoffMs(1, POLICY, low)).toBeGreaterThan(0);
    expect(computeBackoffMs(1, { backoffSeconds: 0.001, maxBackoffSeconds: 1 }, low)).toBe(1);
  });

  it('spreads delays between the bounds for random values in between', () => {
    expect(computeBackoffMs(1, POLICY, () => 0.5)).toBe(22_500);
  });

  it.each([
    ['above 1', () => 7],
    ['below 0', () => -3],
  ])('clamps a random source %s into the bounds', (_label, random) => {
    const delay = computeBackoffMs(3, POLICY, random);
    expect(delay).toBeGreaterThanOrEqual(60_000);
    expect(delay).toBeLessThanOrEqual(120_000);
  });

  it.each([0, -1, Number.NaN, 0.5])('treats attemptsMade %d as the first retry', (attempt) => {
    expect(computeBackoffMs(attempt, POLICY, high)).toBe(30_000);
  });

  it('uses the cap when it is below the base delay', () => {
    expect(computeBackoffMs(1, { backoffSeconds: 60, maxBackoffSeconds: 10 }, high)).toBe(10_000);
  });

  it('returns whole milliseconds within the bounds with the default random source', () => {
    for (let i = 0; i < 100; i += 1) {
      const delay = computeBackoffMs(4, POLICY);
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(120_000);
      expect(delay).toBeLessThanOrEqual(240_000);
    }
  });
});

describe('backoffTable', () => {
  it('lists min and max delay per retry, capped', () => {
    expect(backoffTable({ backoffSeconds: 60, maxBackoffSeconds: 300 }, 5)).toEqual([
      { attempt: 1, minMs: 30_000, maxMs: 60_000 },
      { attempt: 2, minMs: 60_000, maxMs: 120_000 },
      { attempt: 3, minMs: 120_000, maxMs: 240_000 },
      { attempt: 4, minMs: 150_000, maxMs: 300_000 },
      { attempt: 5, minMs: 150_000, maxMs: 300_000 },
    ]);
  });

  it('is empty for zero attempts', () => {
    expect(backoffTable(POLICY, 0)).toEqual([]);
  });
});
