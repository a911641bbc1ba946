// The events endpoint's metrics: `ferry_s3_events_total{partner,outcome}` (what came of each event for
// each partner, or for none) and `ferry_s3_event_requests_total{status}` (how requests were answered).
import { describe, expect, it } from 'vitest';
import { NO_METRICS, createMetrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';

const EVENTS = 'ferry_s3_events_total';
const REQUESTS = 'ferry_s3_event_requests_total';

describe('event metrics', () => {
  it('counts outcomes per partner, those of no partner without one, and requests per status', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.eventChecked('acme', 'enqueued');
    metrics.eventChecked('acme', 'enqueued');
    metrics.eventChecked('acme', 'ignored');
    metrics.eventChecked(undefined, 'unmatched');
    metrics.eventRequestAnswered(202);
    metrics.eventRequestAnswered(401);
    metrics.eventRequestAnswered(401);
    const m = parsePrometheusText(await metrics.render());
    expect(m.types.get(EVENTS)).toBe('counter');
    expect(m.value(EVENTS, { partner: 'acme', outcome: 'enqueued' })).toBe(2);
    expect(m.value(EVENTS, { partner: 'acme', outcome: 'ignored' })).toBe(1);
    expect(m.value(EVENTS, { partner: '', outcome: 'unmatched' })).toBe(1);
    expect(m.value(REQUESTS, { status: '202' })).toBe(1);
    expect(m.value(REQUESTS, { status: '401' })).toBe(2);
    expect(() => NO_METRICS.eventChecked('acme', 'sweep')).not.toThrow();
    expect(() => NO_METRICS.eventRequestAnswered(400)).not.toThrow();
  });
});
