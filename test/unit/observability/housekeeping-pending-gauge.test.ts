// `ferry_source_housekeeping_pending{partner}`: which partners a scrape asks Redis about, how the
// counts are cached between scrapes, and what a scrape shows when Redis does not answer.
import { describe, expect, it, vi } from 'vitest';
import type { SourceAfter } from '../../../src/core/source-housekeeping.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';

const GAUGE = 'ferry_source_housekeeping_pending';
const scrape = async (metrics: { render(): Promise<string> }) => parsePrometheusText(await metrics.render());

const partner = (id: string, source?: SourceAfter) =>
  source === undefined ? { id } : { id, after: { source } };

describe('ferry_source_housekeeping_pending', () => {
  it('counts only partners that tag or move, with the partners configured at the scrape', async () => {
    let now = 0;
    let partners = [
      partner('tagger', 'tag'),
      partner('mover', { move: 'archive/{key}' }),
      partner('none', 'none'),
      partner('plain'),
    ];
    const pending: Record<string, number> = { tagger: 3, mover: 0, none: 7, plain: 9, later: 4 };
    const count = vi.fn((id: string) => Promise.resolve(pending[id] ?? 0));
    const metrics = createMetrics({
      processMetrics: false,
      housekeepingPending: { partners: () => partners, count },
      queueCountsTtlMs: 5000,
      nowMs: () => now,
    });

    let m = await scrape(metrics);
    expect(m.types.get(GAUGE)).toBe('gauge');
    expect(m.value(GAUGE, { partner: 'tagger' })).toBe(3);
    expect(m.value(GAUGE, { partner: 'mover' })).toBe(0);
    expect(m.value(GAUGE, { partner: 'none' })).toBeUndefined();
    expect(m.value(GAUGE, { partner: 'plain' })).toBeUndefined();
    expect(count.mock.calls.map(([id]) => id).sort()).toEqual(['mover', 'tagger']);

    // A reload adds a partner that tags and drops one: seen once the cached counts expire.
    partners = [partner('tagger', 'tag'), partner('later', 'tag')];
    now = 4999;
    m = await scrape(metrics);
    expect(m.value(GAUGE, { partner: 'mover' })).toBe(0);
    expect(count).toHaveBeenCalledTimes(2);
    now = 5000;
    m = await scrape(metrics);
    expect(m.value(GAUGE, { partner: 'later' })).toBe(4);
    expect(m.value(GAUGE, { partner: 'mover' })).toBeUndefined();
  });

  it('leaves the series out, and says why, when Redis does not answer in time', async () => {
    const onCollectError = vi.fn();
    const metrics = createMetrics({
      processMetrics: false,
      housekeepingPending: {
        partners: () => [partner('tagger', 'tag')],
        count: () => new Promise<number>(() => undefined),
      },
      queueCountsTimeoutMs: 20,
      onCollectError,
    });

    const m = await scrape(metrics);
    expect(m.samples.some((s) => s.name === GAUGE)).toBe(false);
    expect(onCollectError).toHaveBeenCalledWith(
      expect.objectContaining({
        message: 'housekeeping pending counts took longer than 20 ms',
      }),
    );
  });
});
