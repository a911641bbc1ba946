import { describe, expect, it } from 'vitest';
import {
  formatSummary,
  summarizeOutcomes,
  summaryExitCode,
  type SweepWaitSummary,
} from '../../../src/core/summarize-deliveries.js';

function summary(overrides: Partial<SweepWaitSummary> = {}): SweepWaitSummary {
  return {
    delivered: 0,
    alreadyDelivered: 0,
    skipped: 0,
    superseded: 0,
    quarantined: 0,
    failed: 0,
    pending: 0,
    ...overrides,
  };
}

describe('summarizeOutcomes', () => {
  it('counts each outcome', () => {
    expect(
      summarizeOutcomes([
        'delivered',
        'delivered',
        'delivered',
        'already-delivered',
        'skipped',
        'quarantined',
        'failed',
        'pending',
        'pending',
      ]),
    ).toEqual(
      summary({ delivered: 3, alreadyDelivered: 1, skipped: 1, quarantined: 1, failed: 1, pending: 2 }),
    );
  });

  it('returns all zeros for no outcomes', () => {
    expect(summarizeOutcomes([])).toEqual(summary());
  });

  it('accepts any iterable', () => {
    function* outcomes() {
      yield 'delivered' as const;
      yield 'failed' as const;
    }
    expect(summarizeOutcomes(outcomes())).toEqual(summary({ delivered: 1, failed: 1 }));
  });
});

describe('formatSummary', () => {
  it.each<[Partial<SweepWaitSummary>, string]>([
    [
      { delivered: 3, alreadyDelivered: 1 },
      'delivered 3, already delivered 1, skipped 0, quarantined 0, failed 0',
    ],
    [{}, 'delivered 0, already delivered 0, skipped 0, quarantined 0, failed 0'],
    [
      { delivered: 1, skipped: 2, quarantined: 3, failed: 4, pending: 5 },
      'delivered 1, already delivered 0, skipped 2, quarantined 3, failed 4, pending 5',
    ],
  ])('formats %j as %j', (counts, expected) => {
    expect(formatSummary(summary(counts))).toBe(expected);
  });
});

describe('summaryExitCode', () => {
  it.each<[string, Partial<SweepWaitSummary>, boolean, number]>([
    ['everything delivered', { delivered: 3 }, false, 0],
    ['nothing to do', {}, false, 0],
    [
      'only skipped, already delivered and quarantined',
      { skipped: 1, alreadyDelivered: 1, quarantined: 1 },
      false,
      0,
    ],
    ['one failure', { delivered: 3, failed: 1 }, false, 1],
    ['deliveries still pending', { delivered: 3, pending: 1 }, false, 1],
    ['the wait timed out', { delivered: 3 }, true, 1],
  ])('exits with the right code when %s', (_label, counts, timedOut, expected) => {
    expect(summaryExitCode(summary(counts), timedOut)).toBe(expected);
  });
});
