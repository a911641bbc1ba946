import { describe, expect, it } from 'vitest';
import { slaStateGaugeValue } from '../../../src/core/sla.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';

describe('ferry_sla_state', () => {
  it('shows the state of each partner with an SLA, read at scrape time', async () => {
    let states: [string, number][] = [['acme', slaStateGaugeValue('pending')]];
    const metrics = createMetrics({ processMetrics: false, slaStates: () => states });
    const first = parsePrometheusText(await metrics.render());
    expect(first.samples.filter((s) => s.name === 'ferry_sla_state')).toEqual([
      { name: 'ferry_sla_state', labels: { partner: 'acme' }, value: 1 },
    ]);

    states = [['globex', slaStateGaugeValue('missing-export')]];
    const second = parsePrometheusText(await metrics.render());
    expect(second.samples.filter((s) => s.name === 'ferry_sla_state')).toEqual([
      { name: 'ferry_sla_state', labels: { partner: 'globex' }, value: 3 },
    ]);
  });

  it('is absent from processes that do not evaluate SLAs', async () => {
    const metrics = createMetrics({ processMetrics: false });
    expect(await metrics.render()).not.toContain('ferry_sla_state');
  });
});
