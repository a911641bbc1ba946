// `ferry_bandwidth_wait_seconds_total{partner,cap}`: the time a partner's deliveries waited for budget
// under its own cap or the total one, reported by the throttle streams through metrics.bandwidthWaited.
import { describe, expect, it } from 'vitest';
import { createPartnerThrottles } from '../../../src/adapters/bandwidth-limiter.js';
import { NO_METRICS, createMetrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';

const COUNTER = 'ferry_bandwidth_wait_seconds_total';
const scrape = async (metrics: { render(): Promise<string> }) => parsePrometheusText(await metrics.render());

describe('ferry_bandwidth_wait_seconds_total', () => {
  it('adds up the waits per partner and cap, and leaves out zero waits', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.bandwidthWaited('acme', 'partner', 0.25);
    metrics.bandwidthWaited('acme', 'partner', 0.5);
    metrics.bandwidthWaited('acme', 'total', 0.125);
    metrics.bandwidthWaited('globex', 'total', 0);
    const m = await scrape(metrics);
    expect(m.types.get(COUNTER)).toBe('counter');
    expect(m.value(COUNTER, { partner: 'acme', cap: 'partner' })).toBe(0.75);
    expect(m.value(COUNTER, { partner: 'acme', cap: 'total' })).toBe(0.125);
    expect(m.value(COUNTER, { partner: 'globex', cap: 'total' })).toBeUndefined();
    expect(() => NO_METRICS.bandwidthWaited('acme', 'total', 1)).not.toThrow();
  });

  it("is told by a partner's throttle which cap each wait was for", async () => {
    const waits: string[] = [];
    const throttle = createPartnerThrottles({
      // Each lease comes a few milliseconds later: every piece waits a little.
      bucket: {
        take: (_key, _rate, want) =>
          new Promise((resolve) => setTimeout(() => resolve({ granted: want, waitMs: 0 }), 5)),
      },
      keys: { bandwidthPartner: (id) => `bw:partner:${id}`, bandwidthTotal: 'bw:total' },
      settings: () => ({
        totalMaxBytesPerSecond: 1_000_000,
        partners: new Map([['acme', { target: { maxBytesPerSecond: 500_000 } }]]),
      }),
      onWait: (partner, cap, seconds) => {
        if (seconds > 0) waits.push(`${partner}/${cap}`);
      },
    })('acme', new AbortController().signal);
    throttle.resume();
    await new Promise<void>((resolve) => throttle.write(Buffer.alloc(1000), () => resolve()));
    expect(waits).toEqual(['acme/partner', 'acme/total']);
  });
});
