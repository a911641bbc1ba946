// `ferry_manifest_oldest_unlisted_age_seconds{partner}`: how long the oldest delivered file has waited
// for a manifest to list it, read at scrape time for the partners with `manifest:` only.
import { describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';

const GAUGE = 'ferry_manifest_oldest_unlisted_age_seconds';
const MANIFEST = { filename: 'M.csv' };

describe(GAUGE, () => {
  it('reads only partners with manifest:, 0 when every file is listed, the age in seconds otherwise', async () => {
    let now = 1_000_000;
    const oldest: Record<string, number | undefined> = { acme: now - 120_000, globex: undefined, plain: 1 };
    const oldestOpenMs = vi.fn((id: string) => Promise.resolve(oldest[id]));
    const metrics = createMetrics({
      processMetrics: false,
      manifestWaiting: {
        partners: () => [
          { id: 'acme', manifest: MANIFEST },
          { id: 'globex', manifest: MANIFEST },
          { id: 'plain' },
        ],
        oldestOpenMs,
      },
      queueCountsTtlMs: 5000,
      nowMs: () => now,
    });
    let m = parsePrometheusText(await metrics.render());
    expect(m.types.get(GAUGE)).toBe('gauge');
    expect(m.value(GAUGE, { partner: 'acme' })).toBe(120);
    expect(m.value(GAUGE, { partner: 'globex' })).toBe(0);
    expect(m.value(GAUGE, { partner: 'plain' })).toBeUndefined();
    expect(oldestOpenMs.mock.calls.map(([id]) => id).sort()).toEqual(['acme', 'globex']);

    // Listed by a manifest: the next read (after the cache) has nothing waiting for acme.
    oldest.acme = undefined;
    now += 6000;
    m = parsePrometheusText(await metrics.render());
    expect(m.value(GAUGE, { partner: 'acme' })).toBe(0);
  });

  it('leaves the series out when Redis does not answer', async () => {
    const errors: unknown[] = [];
    const metrics = createMetrics({
      processMetrics: false,
      manifestWaiting: {
        partners: () => [{ id: 'acme', manifest: MANIFEST }],
        oldestOpenMs: () => Promise.reject(new Error('connection refused')),
      },
      onCollectError: (err) => errors.push(err),
    });
    const m = parsePrometheusText(await metrics.render());
    expect(m.value(GAUGE, { partner: 'acme' })).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
