import { describe, expect, it } from 'vitest';
import type { SourceObject } from '../../../src/core/ports.js';
import type { SelectionRules } from '../../../src/core/select-objects.js';
import { selectObjects } from '../../../src/core/select-objects.js';
import { createMarkerLookup } from '../../../src/adapters/marker-lookup.js';
import { listPrefixes } from '../../../src/adapters/list-prefixes.js';
import { parsePrefixTemplate, sweepPrefixes } from '../../../src/core/prefix-template.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const RULES: SelectionRules = { prefix: 'p/', include: ['**'], minAgeSeconds: 0, requireMarker: '_SUCCESS' };

function obj(key: string): SourceObject {
  return { bucket: 'b', key, etag: 'e', size: 1, lastModified: new Date(NOW.getTime() - 60_000) };
}

/** A bucket in byte order; listPages answers from it and records each prefix asked for. */
function fakeSource(keys: string[]) {
  const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const asked: string[] = [];
  return {
    asked,
    sorted,
    source: {
      async *listPages(_bucket: string, prefix: string, pageSize = 1000) {
        asked.push(prefix);
        await Promise.resolve(); // an answer from the network, in a real source
        const matching = sorted.filter((k) => k.startsWith(prefix)).map(obj);
        for (let i = 0; i < matching.length; i += pageSize) yield matching.slice(i, i + pageSize);
      },
    },
  };
}

/** Runs a sweep's selection page by page, as jobs/sweep.ts does; returns the eligible keys. */
async function sweep(keys: string[], pageSize: number, rules = RULES, maxRemembered?: number) {
  const bucket = fakeSource(keys);
  const lookup = createMarkerLookup(bucket.source, 'b', rules, maxRemembered);
  const eligible: string[] = [];
  const reasons: Record<string, string> = {};
  for (let i = 0; i < bucket.sorted.length; i += pageSize) {
    const page = bucket.sorted.slice(i, i + pageSize).map(obj);
    const selection = selectObjects(page, rules, NOW, await lookup.forPage(page, NOW));
    eligible.push(...selection.eligible.map((o) => o.key));
    for (const s of selection.skipped) reasons[s.object.key] = s.reason;
  }
  return { eligible, reasons, requests: lookup.requests, asked: bucket.asked };
}

describe('createMarkerLookup', () => {
  it('needs no request when the marker sorts before the objects ("_SUCCESS" < "part-…")', async () => {
    const r = await sweep(['p/d1/_SUCCESS', 'p/d1/part-0.csv', 'p/d1/part-1.csv', 'p/d2/part-0.csv'], 1);
    expect(r.eligible).toEqual(['p/d1/part-0.csv', 'p/d1/part-1.csv']);
    expect(r.reasons).toEqual({ 'p/d1/_SUCCESS': 'marker', 'p/d2/part-0.csv': 'no-marker' });
    expect(r.requests).toBe(0);
  });

  it('looks a marker on a later page up once per directory, and finds it', async () => {
    // "A.csv" and "B.csv" sort before "_SUCCESS": the marker comes two pages later.
    const r = await sweep(['p/d/A.csv', 'p/d/B.csv', 'p/d/_SUCCESS', 'p/e/A.csv'], 1);
    expect(r.eligible).toEqual(['p/d/A.csv', 'p/d/B.csv']);
    expect(r.reasons['p/e/A.csv']).toBe('no-marker');
    expect(r.asked.filter((p) => p.endsWith('_SUCCESS'))).toEqual(['p/d/_SUCCESS', 'p/e/_SUCCESS']);
    expect(r.requests).toBe(2);
  });

  it('answers a marker later on the same page without a request', async () => {
    const r = await sweep(['p/d/A.csv', 'p/d/_SUCCESS'], 10);
    expect(r.eligible).toEqual(['p/d/A.csv']);
    expect(r.requests).toBe(0);
  });

  it('does not take a longer key for the marker ("_SUCCESS.tmp")', async () => {
    const r = await sweep(['p/d/A.csv', 'p/d/_SUCCESS.tmp'], 1, { ...RULES, exclude: ['**/*.tmp'] });
    expect(r.eligible).toEqual([]);
    expect(r.reasons['p/d/A.csv']).toBe('no-marker');
  });

  it('stays correct with a tiny memory (falls back to requests)', async () => {
    const keys = ['p/a/_SUCCESS', 'p/a/x.csv', 'p/b/x.csv', 'p/c/_SUCCESS', 'p/c/x.csv', 'p/d/X.csv'];
    const r = await sweep(keys, 1, RULES, 1);
    expect(r.eligible).toEqual(['p/a/x.csv', 'p/c/x.csv']);
    expect(r.reasons['p/b/x.csv']).toBe('no-marker');
    expect(r.reasons['p/d/X.csv']).toBe('no-marker');
  });

  it('costs nothing without requireMarker', async () => {
    const r = await sweep(['p/d/A.csv'], 1, { ...RULES, requireMarker: undefined });
    expect(r.eligible).toEqual(['p/d/A.csv']);
    expect(r.requests).toBe(0);
  });
});

// A dated prefix whose partition names do not sort by date: the sweep lists them oldest first (29-12-2026
// … 01-01-2027), so later partitions come before earlier ones in byte order. A marker is known absent
// only when the listing of its own partition has passed it.
describe('createMarkerLookup across partitions listed out of byte order', () => {
  const YEAR_END = new Date('2027-01-01T12:00:00Z');

  function datedRules(prefix: string): SelectionRules {
    const parsed = parsePrefixTemplate(prefix);
    if (!parsed.ok) throw new Error(parsed.message);
    return { ...RULES, prefix: parsed.template.staticPart, prefixTemplate: parsed.template };
  }

  /** Lists the partitions as jobs/sweep.ts does (sweepPrefixes, listPrefixes) and selects page by page. */
  async function datedSweep(keys: string[], rules: SelectionRules, pageSize: number) {
    const bucket = fakeSource(keys);
    const lookup = createMarkerLookup(bucket.source, 'b', rules);
    const prefixes = sweepPrefixes({ ...rules, lookbackDays: 3 }, YEAR_END, 'UTC');
    const eligible: string[] = [];
    const reasons: Record<string, string> = {};
    for await (const page of listPrefixes(bucket.source, 'b', prefixes, pageSize)) {
      const selection = selectObjects(page, rules, NOW, await lookup.forPage(page, NOW));
      eligible.push(...selection.eligible.map((o) => o.key));
      for (const s of selection.skipped) reasons[s.object.key] = s.reason;
    }
    return { eligible, reasons, prefixes };
  }

  // Per partition: P has its marker after its objects ("A.csv" < "_SUCCESS"), Q has none, R has it before
  // ("_SUCCESS" < "part-…"), S (today, first in byte order) has it after its objects, and an older
  // partition outside the lookback has a marker that must not count for anything.
  const layouts = [
    {
      name: '{date:dd-MM-yyyy}',
      prefix: 'x/{date:dd-MM-yyyy}/',
      days: ['x/29-12-2026/', 'x/30-12-2026/', 'x/31-12-2026/', 'x/01-01-2027/', 'x/28-12-2026/'],
    },
    {
      name: '{date:MM}/{date:dd}',
      prefix: 'x/{date:MM}/{date:dd}/',
      days: ['x/12/29/', 'x/12/30/', 'x/12/31/', 'x/01/01/', 'x/12/28/'],
    },
  ];
  for (const { name, prefix, days } of layouts) {
    for (const pageSize of [1, 2, 1000]) {
      it(`${name}, pages of ${pageSize}: each partition's marker releases its own objects only`, async () => {
        const [p, q, r, s, older] = days as [string, string, string, string, string];
        const keys = [
          `${p}A.csv`,
          `${p}B.csv`,
          `${p}_SUCCESS`,
          `${q}A.csv`,
          `${q}part-0.csv`,
          `${r}_SUCCESS`,
          `${r}part-0.csv`,
          `${r}sub/part-1.csv`, // a subdirectory waits for its own marker
          `${s}A.csv`,
          `${s}_SUCCESS`,
          `${older}_SUCCESS`,
          `${older}part-0.csv`,
        ];
        const result = await datedSweep(keys, datedRules(prefix), pageSize);
        expect(result.prefixes).toEqual(days.slice(0, 4));
        expect(result.eligible).toEqual([`${p}A.csv`, `${p}B.csv`, `${r}part-0.csv`, `${s}A.csv`]);
        expect(result.reasons).toEqual({
          [`${p}_SUCCESS`]: 'marker',
          [`${q}A.csv`]: 'no-marker',
          [`${q}part-0.csv`]: 'no-marker',
          [`${r}_SUCCESS`]: 'marker',
          [`${r}sub/part-1.csv`]: 'no-marker',
          [`${s}_SUCCESS`]: 'marker',
        });
      });
    }
  }

  it('without requireMarker, delivers every object of the listed partitions and none older', async () => {
    const rules = { ...datedRules('x/{date:dd-MM-yyyy}/'), requireMarker: undefined };
    const keys = ['x/28-12-2026/a.csv', 'x/29-12-2026/a.csv', 'x/31-12-2026/b.csv', 'x/01-01-2027/c.csv'];
    const result = await datedSweep(keys, rules, 1);
    expect(result.eligible).toEqual(['x/29-12-2026/a.csv', 'x/31-12-2026/b.csv', 'x/01-01-2027/c.csv']);
  });
});
