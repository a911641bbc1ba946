// The partner answers' metrics: `ferry_acks_total{partner,result}` counted by the ack poller through
// metrics.ackRead, and `ferry_ack_oldest_waiting_age_seconds{partner}` read at scrape time for the
// partners with `ack:` only.
import { describe, expect, it, vi } from 'vitest';
import { ACK_READ_RESULTS, NO_METRICS, createMetrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';

const COUNTER = 'ferry_acks_total';
const GAUGE = 'ferry_ack_oldest_waiting_age_seconds';
const scrape = async (metrics: { render(): Promise<string> }) => parsePrometheusText(await metrics.render());
const ACK = { directory: '/outbound/acks' };

describe('ferry_acks_total', () => {
  it('counts what the poller read per partner and result', async () => {
    const metrics = createMetrics({ processMetrics: false });
    for (const result of ACK_READ_RESULTS) metrics.ackRead('acme', result);
    metrics.ackRead('acme', 'rejected');
    metrics.ackRead('globex', 'unmatched');
    const m = await scrape(metrics);
    expect(m.types.get(COUNTER)).toBe('counter');
    expect(m.value(COUNTER, { partner: 'acme', result: 'acknowledged' })).toBe(1);
    expect(m.value(COUNTER, { partner: 'acme', result: 'rejected' })).toBe(2);
    expect(m.value(COUNTER, { partner: 'acme', result: 'overdue' })).toBe(1);
    expect(m.value(COUNTER, { partner: 'acme', result: 'unmatched' })).toBe(1);
    expect(m.value(COUNTER, { partner: 'globex', result: 'unmatched' })).toBe(1);
    expect(m.value(COUNTER, { partner: 'globex', result: 'rejected' })).toBeUndefined();
    expect(() => NO_METRICS.ackRead('acme', 'rejected')).not.toThrow();
  });
});

describe('ferry_ack_oldest_waiting_age_seconds', () => {
  it('reads only partners with ack:, 0 when none waits, the age in seconds otherwise', async () => {
    let now = 1_000_000;
    const oldest: Record<string, number | undefined> = { acme: now - 90_000, globex: undefined, plain: 1 };
    const oldestWaitingMs = vi.fn((id: string) => Promise.resolve(oldest[id]));
    const metrics = createMetrics({
      processMetrics: false,
      ackWaiting: {
        partners: () => [{ id: 'acme', ack: ACK }, { id: 'globex', ack: ACK }, { id: 'plain' }],
        oldestWaitingMs,
      },
      queueCountsTtlMs: 5000,
      nowMs: () => now,
    });
    let m = await scrape(metrics);
    expect(m.types.get(GAUGE)).toBe('gauge');
    expect(m.value(GAUGE, { partner: 'acme' })).toBe(90);
    expect(m.value(GAUGE, { partner: 'globex' })).toBe(0);
    expect(m.value(GAUGE, { partner: 'plain' })).toBeUndefined();
    expect(oldestWaitingMs.mock.calls.map(([id]) => id).sort()).toEqual(['acme', 'globex']);

    // Answered: the next read (after the cache) has nothing waiting for acme.
    oldest.acme = undefined;
    now += 6000;
    m = await scrape(metrics);
    expect(m.value(GAUGE, { partner: 'acme' })).toBe(0);
  });

  it('leaves the series out when Redis does not answer', async () => {
    const errors: unknown[] = [];
    const metrics = createMetrics({
      processMetrics: false,
      ackWaiting: {
        partners: () => [{ id: 'acme', ack: ACK }],
        oldestWaitingMs: () => Promise.reject(new Error('redis away')),
      },
      onCollectError: (err) => errors.push(err),
    });
    const m = await scrape(metrics);
    expect(m.value(GAUGE, { partner: 'acme' })).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
