import { describe, expect, it } from 'vitest';
import {
  countPlan,
  formatPlanLine,
  formatPlanSummary,
  planObject,
  type PlanCounts,
  type PlanFacts,
} from '../../../src/core/plan-delivery.js';
import { deriveRemoteName } from '../../../src/core/remote-name.js';

const facts = (overrides: Partial<PlanFacts> = {}): PlanFacts => ({
  name: deriveRemoteName('acme/orders.csv', 'acme/'),
  directory: '/inbound/acme',
  ...overrides,
});

describe('planObject', () => {
  it.each<[string, Partial<PlanFacts>, string]>([
    ['a new object', {}, 'deliver  acme/orders.csv → /inbound/acme/orders.csv'],
    [
      'a filtered one',
      { selectionSkip: 'not-included' },
      'skip     acme/orders.csv  (filter (no include glob matches))',
    ],
    ['a young one', { selectionSkip: 'settling' }, 'skip     acme/orders.csv  (too young (minAgeSeconds))'],
    [
      'a delivered one',
      { ledger: { status: 'delivered', settled: true } },
      'skip     acme/orders.csv  (already delivered)',
    ],
    [
      'a settled skip',
      { ledger: { status: 'skipped', settled: true, reason: 'remote-exists' } },
      'skip     acme/orders.csv  (skipped earlier: remote-exists)',
    ],
    [
      'a skip that no longer holds (source was gone)',
      { ledger: { status: 'skipped', settled: false, reason: 'ERR_SOURCE_GONE' } },
      'deliver  acme/orders.csv → /inbound/acme/orders.csv',
    ],
    [
      'a failed one',
      { ledger: { status: 'failed', settled: false, lastErrorCode: 'ERR_SFTP_AUTH' } },
      'skip     acme/orders.csv  (failed earlier: ERR_SFTP_AUTH: waits for ferry retry (sweeps do not send it again))',
    ],
    [
      'a paused partner',
      { paused: { detail: 'by ops: maintenance' } },
      'hold     acme/orders.csv → /inbound/acme/orders.csv  (held: partner paused: by ops: maintenance)',
    ],
    [
      'a closed window',
      { windowClosed: { detail: 'opens 2026-11-26T01:00:00.000Z' } },
      'hold     acme/orders.csv → /inbound/acme/orders.csv  (held: window closed: opens 2026-11-26T01:00:00.000Z)',
    ],
    [
      'a {seq} name (its number is given when it is delivered)',
      { name: { ok: true, name: 'ACME_20261126_###.csv' }, numberAtDelivery: true },
      'deliver  acme/orders.csv → /inbound/acme/ACME_20261126_###.csv  (number given at delivery)',
    ],
    [
      'a held {seq} name',
      {
        name: { ok: true, name: 'ACME_20261126_###.csv' },
        numberAtDelivery: true,
        paused: { detail: 'by ops' },
      },
      'hold     acme/orders.csv → /inbound/acme/ACME_20261126_###.csv  (held: partner paused: by ops; number given at delivery)',
    ],
    [
      'a key-derived name another listed object has (the server decides by onExisting)',
      { sameName: { as: 'acme/2026-12-06/orders.csv', then: 'fail' } },
      'deliver  acme/orders.csv → /inbound/acme/orders.csv  (same remote name as acme/2026-12-06/orders.csv: the later one fails with ERR_REMOTE_EXISTS (target.onExisting: fail))',
    ],
    [
      'a held one whose name repeats across partitions, with the fix',
      {
        sameName: { as: 'acme/2026-12-06/orders.csv', then: 'overwrite', fix: 'use {partition:…}' },
        paused: { detail: 'by ops' },
      },
      'hold     acme/orders.csv → /inbound/acme/orders.csv  (held: partner paused: by ops; same remote name as acme/2026-12-06/orders.csv: the later one replaces it on the server (target.onExisting: overwrite); use {partition:…})',
    ],
    [
      'a naming.filename name another listed object has (the sweep leaves it out)',
      { sameName: { as: 'acme/2026-12-06/orders.csv', then: 'name-collision' } },
      'skip     acme/orders.csv  (name collision: same remote name as acme/2026-12-06/orders.csv)',
    ],
  ])('%s', (_what, overrides, line) => {
    expect(formatPlanLine('acme/orders.csv', planObject(facts(overrides)))).toBe(line);
  });

  it('names the rule a hostile key breaks, before any hold', () => {
    const outcome = planObject(
      facts({ name: deriveRemoteName('acme/../etc/passwd', 'acme/'), paused: { detail: 'x' } }),
    );
    expect(outcome).toMatchObject({ action: 'skip', why: 'hostile-key' });
    expect(formatPlanLine('acme/../etc/passwd', outcome)).toMatch(/\(hostile key: dot-dot: /);
  });
});

describe('plan summary', () => {
  it('puts "would deliver" first, then the most frequent reasons', () => {
    const counts: PlanCounts = {};
    for (const f of [
      facts({ ledger: { status: 'delivered', settled: true } }),
      facts({ ledger: { status: 'delivered', settled: true } }),
      facts({ selectionSkip: 'zero-byte' }),
      facts(),
    ]) {
      countPlan(counts, planObject(f));
    }
    expect(formatPlanSummary('acme', 4, counts)).toBe(
      'acme: 4 listed · would deliver 1 · already delivered 2 · zero-byte 1',
    );
    expect(formatPlanSummary('acme', 0, {})).toBe('acme: 0 listed · would deliver 0');
  });
});
