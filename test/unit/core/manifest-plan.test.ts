import { describe, expect, it } from 'vitest';
import {
  decideManifest,
  manifestObjectKey,
  manifestScopeOfKey,
  parseManifestName,
  renderManifest,
  renderManifestName,
  type ManifestRecord,
} from '../../../src/core/manifest-plan.js';

const at = (iso: string) => new Date(iso);
const ms = (iso: string) => Date.parse(iso);
// 01:00-05:00 UTC every day; 22:00-02:00 crosses midnight.
const nightly = {
  window: {
    start: '01:00',
    end: '05:00',
    days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const,
    blackoutDates: [],
  },
  timezone: 'UTC',
};
const late = { ...nightly, window: { ...nightly.window, start: '22:00', end: '02:00' } };

describe('decideManifest', () => {
  it('per sweep: takes every file delivered so far, now, dated now', () => {
    const now = at('2026-12-07T10:00:00.000Z');
    expect(decideManifest('sweep', ms('2026-12-07T09:59:00Z'), now)).toEqual({
      ready: true,
      scope: `s-${now.getTime()}`,
      cutoffMs: now.getTime() + 1,
      date: now,
    });
  });

  it('per window: waits while the opening the file falls in is open', () => {
    const d = decideManifest('window', ms('2026-12-07T02:00:00Z'), at('2026-12-07T04:59:59Z'), nightly);
    expect(d).toMatchObject({
      ready: false,
      why: expect.stringContaining('closes at 2026-12-07T05:00:00.000Z'),
    });
  });

  it('per window: after the close, takes the opening up to now, dated by its start', () => {
    const now = at('2026-12-07T05:00:00Z');
    expect(decideManifest('window', ms('2026-12-07T01:00:00Z'), now, nightly)).toEqual({
      ready: true,
      scope: 'w-2026-12-07',
      cutoffMs: now.getTime() + 1,
      date: at('2026-12-07T01:00:00Z'),
      openedMs: ms('2026-12-07T01:00:00Z'),
    });
  });

  it('per window: a delivery that ran past the close stays with its opening', () => {
    const d = decideManifest('window', ms('2026-12-07T05:03:00Z'), at('2026-12-07T05:10:00Z'), nightly);
    expect(d).toMatchObject({ ready: true, scope: 'w-2026-12-07' });
  });

  it('per window: checked only after the next opening began, the cutoff is that opening', () => {
    const d = decideManifest('window', ms('2026-12-07T02:00:00Z'), at('2026-12-08T03:00:00Z'), nightly);
    expect(d).toMatchObject({ ready: true, scope: 'w-2026-12-07', cutoffMs: ms('2026-12-08T01:00:00Z') });
  });

  it('per window: an opening that crosses midnight is named by the date it started', () => {
    const d = decideManifest('window', ms('2026-12-08T01:30:00Z'), at('2026-12-08T02:00:00Z'), late);
    expect(d).toMatchObject({ ready: true, scope: 'w-2026-12-07', date: at('2026-12-07T22:00:00Z') });
  });

  it("per window: a file delivered after its opening's manifest was taken goes into the next one", () => {
    const lastOpenedMs = ms('2026-12-07T01:00:00Z');
    const straggler = ms('2026-12-07T05:30:00Z');
    expect(
      decideManifest('window', straggler, at('2026-12-07T06:00:00Z'), { ...nightly, lastOpenedMs }),
    ).toMatchObject({ ready: false, why: expect.stringContaining('2026-12-08') });
    expect(
      decideManifest('window', straggler, at('2026-12-08T05:00:00Z'), { ...nightly, lastOpenedMs }),
    ).toMatchObject({ ready: true, scope: 'w-2026-12-08', openedMs: ms('2026-12-08T01:00:00Z') });
  });

  it('per window: a file delivered when no opening came before it gets a manifest of its own, now', () => {
    // Every date of the year before the delivery is a blackout date: the window never opened then.
    const blackoutDates = Array.from({ length: 400 }, (_, i) =>
      new Date(ms('2026-12-07T00:00:00Z') - i * 86_400_000).toISOString().slice(0, 10),
    );
    const now = at('2026-12-07T12:00:00Z');
    const d = decideManifest('window', ms('2026-12-07T03:00:00Z'), now, {
      ...nightly,
      window: { ...nightly.window, blackoutDates },
    });
    expect(d).toEqual({
      ready: true,
      scope: `s-${now.getTime()}`,
      cutoffMs: ms('2026-12-07T03:00:00Z') + 1,
      date: now,
    });
  });
});

describe('manifest names and keys', () => {
  it('renders {partner} and {date:…} in the schedule timezone; knows whether seconds are shown', () => {
    const parsed = parseManifestName('{partner}_{date:yyyyMMdd-HHmmss}.csv');
    expect(parsed.ok && parsed.template.hasSeconds).toBe(true);
    if (!parsed.ok) return;
    expect(renderManifestName(parsed.template, 'acme', at('2026-12-07T23:30:05Z'), 'Europe/Berlin')).toBe(
      'acme_20261208-003005.csv',
    );
    const daily = parseManifestName('M_{date:yyyyMMdd}.csv');
    expect(daily.ok && !daily.template.hasSeconds).toBe(true);
    if (daily.ok) {
      expect(renderManifestName(daily.template, 'a', at('2026-12-07T01:00:00Z'), 'UTC')).toBe(
        'M_20261207.csv',
      );
    }
  });

  it('refuses unknown tokens and names that are not safe', () => {
    expect(parseManifestName('{seq}.csv')).toMatchObject({
      ok: false,
      message: expect.stringContaining('{seq}'),
    });
    expect(parseManifestName('../m.csv')).toMatchObject({ ok: false });
    expect(parseManifestName('')).toMatchObject({ ok: false });
    expect(parseManifestName('M_{{x}}.csv')).toMatchObject({
      ok: false,
      message: expect.stringContaining('unsafe'),
    });
  });

  it('keeps the object beside the receipts; only a key of that shape is a manifest', () => {
    const key = manifestObjectKey('ferry/receipts', {
      partnerId: 'acme',
      scope: 'w-2026-12-07',
      name: 'M.csv',
    });
    expect(key).toBe('ferry/receipts/_manifests/acme/w-2026-12-07/M.csv');
    expect(manifestScopeOfKey('ferry/receipts/', 'acme', key)).toBe('w-2026-12-07');
    expect(manifestScopeOfKey('ferry/receipts/', 'other', key)).toBeUndefined();
    expect(
      manifestScopeOfKey('ferry/receipts/', 'acme', 'ferry/receipts/_manifests/acme/w-1/a/b.csv'),
    ).toBeUndefined();
    expect(
      manifestScopeOfKey('ferry/receipts/', 'acme', 'ferry/receipts/_manifests/acme/x-1/M.csv'),
    ).toBeUndefined();
    expect(manifestScopeOfKey('ferry/receipts/', 'acme', 'ferry/receipts/acme/dlv-x.json')).toBeUndefined();
  });
});

describe('renderManifest', () => {
  const record: ManifestRecord = {
    partnerId: 'acme',
    scope: 'w-2026-12-07',
    name: 'M.csv',
    format: 'csv',
    createdAt: '2026-12-07T05:00:00.000Z',
    lines: [
      {
        deliveryId: 'd1',
        name: 'b.csv',
        bytes: 10,
        sha256: 'aa',
        rows: 3,
        deliveredAt: '2026-12-07T01:00:00Z',
      },
      { deliveryId: 'd2', name: 'a,"x".csv', bytes: 5, sha256: 'bb', deliveredAt: '2026-12-07T01:01:00Z' },
    ],
  };

  it('csv: a header, one line per file in delivery order, names quoted as RFC 4180 wants, unknown rows empty', () => {
    expect(renderManifest(record)).toBe('filename,bytes,sha256,rows\nb.csv,10,aa,3\n"a,""x"".csv",5,bb,\n');
  });

  it('json: the files and totals; total rows only when every file has them', () => {
    const doc = JSON.parse(renderManifest({ ...record, format: 'json' })) as Record<string, unknown>;
    expect(doc).toEqual({
      partner: 'acme',
      manifest: 'w-2026-12-07',
      createdAt: '2026-12-07T05:00:00.000Z',
      files: [
        { name: 'b.csv', bytes: 10, sha256: 'aa', rows: 3 },
        { name: 'a,"x".csv', bytes: 5, sha256: 'bb' },
      ],
      totals: { files: 2, bytes: 15 },
    });
    const counted = { ...record, format: 'json' as const, lines: [record.lines[0]!] };
    expect(JSON.parse(renderManifest(counted))).toMatchObject({ totals: { files: 1, bytes: 10, rows: 3 } });
  });

  it('the same record always gives the same bytes', () => {
    expect(renderManifest(structuredClone(record))).toBe(renderManifest(record));
  });
});
