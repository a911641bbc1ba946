import { describe, expect, it } from 'vitest';
import {
  directoriesAwaitingMarker,
  directoryOf,
  isMarkerKey,
  markerKeyOf,
  selectObjects,
  type ListedObject,
  type SelectionRules,
  type SkipReason,
} from '../../../src/core/select-objects.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const RULES: SelectionRules = { prefix: 'exports/acme/', include: ['*.csv'], minAgeSeconds: 300 };

function object(key: string, overrides: Partial<ListedObject> = {}): ListedObject {
  return {
    bucket: 'warehouse',
    key,
    etag: 'e1',
    size: 10,
    lastModified: new Date(NOW.getTime() - 3_600_000),
    ...overrides,
  };
}

function reasonFor(o: ListedObject, rules: SelectionRules = RULES): SkipReason | 'eligible' {
  const selection = selectObjects([o], rules, NOW);
  return selection.skipped[0]?.reason ?? 'eligible';
}

describe('selectObjects', () => {
  it.each<[string, ListedObject, SkipReason | 'eligible']>([
    ['a settled csv under the prefix', object('exports/acme/orders.csv'), 'eligible'],
    ['a key outside the prefix', object('exports/globex/orders.csv'), 'outside-prefix'],
    ['a directory marker', object('exports/acme/sub/', { size: 0 }), 'directory-marker'],
    ['a zero-byte object', object('exports/acme/empty.csv', { size: 0 }), 'zero-byte'],
    ['a key no glob matches', object('exports/acme/orders.json'), 'not-included'],
    ['a hidden file (globs use dot: false)', object('exports/acme/.orders.csv'), 'not-included'],
    ['a nested key with a single-segment glob', object('exports/acme/sub/orders.csv'), 'not-included'],
    [
      'an object still settling',
      object('exports/acme/new.csv', { lastModified: new Date(NOW.getTime() - 299_000) }),
      'settling',
    ],
    [
      'an object modified in the future (clock skew)',
      object('exports/acme/new.csv', { lastModified: new Date(NOW.getTime() + 60_000) }),
      'settling',
    ],
    [
      'an object exactly minAgeSeconds old',
      object('exports/acme/edge.csv', { lastModified: new Date(NOW.getTime() - 300_000) }),
      'eligible',
    ],
  ])('classifies %s as %s', (_label, o, expected) => {
    expect(reasonFor(o)).toBe(expected);
  });

  it.each<[string, ListedObject, SkipReason]>([
    ['outside-prefix before directory-marker', object('other/dir/', { size: 0 }), 'outside-prefix'],
    ['directory-marker before zero-byte', object('exports/acme/dir/', { size: 0 }), 'directory-marker'],
    ['zero-byte before not-included', object('exports/acme/x.json', { size: 0 }), 'zero-byte'],
    ['not-included before settling', object('exports/acme/x.json', { lastModified: NOW }), 'not-included'],
  ])('applies the checks in order: %s', (_label, o, expected) => {
    expect(reasonFor(o)).toBe(expected);
  });

  it('leaves out objects older than maxAgeDays as stale, and keeps one exactly that old', () => {
    const rules = { ...RULES, maxAgeDays: 2 };
    const twoDays = 2 * 86_400_000;
    const at = (ageMs: number) =>
      object('exports/acme/old.csv', { lastModified: new Date(NOW.getTime() - ageMs) });
    expect(reasonFor(at(twoDays + 1), rules)).toBe('stale');
    expect(reasonFor(at(twoDays), rules)).toBe('eligible');
    expect(reasonFor(at(400 * 86_400_000), RULES)).toBe('eligible');
    // Filters first (they say more), then stale; a stale object costs no marker lookup.
    expect(reasonFor(object('exports/acme/old.json', { lastModified: new Date(0) }), rules)).toBe(
      'not-included',
    );
    const marked = { ...rules, requireMarker: '_SUCCESS' };
    expect(reasonFor(at(twoDays + 1), marked)).toBe('stale');
    expect(directoriesAwaitingMarker([at(twoDays + 1)], marked, NOW)).toEqual([]);
  });

  it('matches globs against the key relative to the prefix', () => {
    const rules = { ...RULES, include: ['orders_*.csv'] };
    expect(reasonFor(object('exports/acme/orders_1.csv'), rules)).toBe('eligible');
    expect(reasonFor(object('exports/acme/returns_1.csv'), rules)).toBe('not-included');
  });

  it('accepts an object that any of several globs matches', () => {
    const rules = { ...RULES, include: ['*.csv', '*.csv.gz'] };
    expect(reasonFor(object('exports/acme/a.csv.gz'), rules)).toBe('eligible');
  });

  it('lets "**" globs reach nested keys (the deliver step then quarantines them)', () => {
    const rules = { ...RULES, include: ['**/*.csv'] };
    expect(reasonFor(object('exports/acme/sub/orders.csv'), rules)).toBe('eligible');
  });

  it('includes every object when the include list is empty', () => {
    const rules = { ...RULES, include: [] };
    expect(reasonFor(object('exports/acme/anything.bin'), rules)).toBe('eligible');
  });

  it('does not filter hostile names; quarantine happens at delivery, where it is visible', () => {
    const rules = { ...RULES, include: [] };
    expect(reasonFor(object('exports/acme/../x.csv'), rules)).toBe('eligible');
    expect(reasonFor(object('exports/acme/-rf.csv'))).toBe('eligible');
  });

  it('does not treat a backslash as a path separator', () => {
    expect(reasonFor(object('exports/acme/a\\b.csv'))).toBe('eligible');
  });

  it('settles immediately with minAgeSeconds 0', () => {
    expect(
      reasonFor(object('exports/acme/x.csv', { lastModified: NOW }), { ...RULES, minAgeSeconds: 0 }),
    ).toBe('eligible');
  });

  it('keeps listing order and returns the same object references', () => {
    const a = object('exports/acme/a.csv');
    const b = object('exports/acme/b.json');
    const c = object('exports/acme/c.csv');
    const selection = selectObjects([a, b, c], RULES, NOW);
    expect(selection.eligible).toEqual([a, c]);
    expect(selection.eligible[0]).toBe(a);
    expect(selection.skipped).toEqual([{ object: b, reason: 'not-included' }]);
  });

  it('keeps extra fields of richer object types', () => {
    const rich = { ...object('exports/acme/a.csv'), storageClass: 'STANDARD' };
    expect(selectObjects([rich], RULES, NOW).eligible[0]?.storageClass).toBe('STANDARD');
  });

  it('returns empty lists for an empty listing', () => {
    expect(selectObjects([], RULES, NOW)).toEqual({ eligible: [], skipped: [] });
  });
});

describe('selectObjects: exclude and requireMarker', () => {
  const MARKED: SelectionRules = { ...RULES, include: ['**'], requireMarker: '_SUCCESS' };

  it('skips excluded objects after include, relative to the prefix', () => {
    const rules = { ...RULES, include: ['**'], exclude: ['*.tmp', 'staging/**'] };
    expect(reasonFor(object('exports/acme/a.tmp'), rules)).toBe('excluded');
    expect(reasonFor(object('exports/acme/staging/a.csv'), rules)).toBe('excluded');
    expect(reasonFor(object('exports/acme/a.csv'), rules)).toBe('eligible');
    // include is checked first; exclude uses dot: false like include
    expect(reasonFor(object('exports/acme/a.tmp'), { ...RULES, exclude: ['*.tmp'] })).toBe('not-included');
    expect(reasonFor(object('exports/acme/.a.tmp'), { ...rules, include: [] })).toBe('eligible');
  });

  it('holds objects until their directory marker is in the listing; never delivers the marker', () => {
    const a = object('exports/acme/d1/a.csv');
    const b = object('exports/acme/d2/b.csv');
    const top = object('exports/acme/top.csv');
    const marker = object('exports/acme/d1/_SUCCESS', { size: 0 });
    const selection = selectObjects([a, marker, b, top], MARKED, NOW);
    expect(selection.eligible).toEqual([a]);
    expect(selection.skipped.map((s) => [s.object.key, s.reason])).toEqual([
      ['exports/acme/d1/_SUCCESS', 'marker'],
      ['exports/acme/d2/b.csv', 'no-marker'],
      ['exports/acme/top.csv', 'no-marker'],
    ]);
  });

  it('uses <prefix><marker> for keys directly under the prefix, and "" for the whole bucket', () => {
    const top = object('exports/acme/top.csv');
    const marker = object('exports/acme/_SUCCESS', { size: 5 });
    expect(selectObjects([top, marker], MARKED, NOW).eligible).toEqual([top]);
    const bucketWide = { ...MARKED, prefix: '' };
    const x = object('x.csv');
    expect(selectObjects([x, object('_SUCCESS')], bucketWide, NOW).eligible).toEqual([x]);
    expect(selectObjects([x], bucketWide, NOW).skipped[0]?.reason).toBe('no-marker');
  });

  it('matches the marker name exactly, in the same directory only', () => {
    const a = object('exports/acme/d/a.csv');
    for (const other of [
      'exports/acme/d/_SUCCESS.tmp',
      'exports/acme/d/x_SUCCESS',
      'exports/acme/_SUCCESS',
    ]) {
      expect(selectObjects([a, object(other)], MARKED, NOW).skipped.map((s) => s.reason)).toContain(
        'no-marker',
      );
    }
    // a nested directory's marker does not release its parent, nor the parent's its children
    const nested = object('exports/acme/d/sub/b.csv');
    const sel = selectObjects([a, nested, object('exports/acme/d/_SUCCESS')], MARKED, NOW);
    expect(sel.eligible).toEqual([a]);
  });

  it('takes the marker index a sweep passes instead of the listing', () => {
    const a = object('exports/acme/d/a.csv');
    expect(selectObjects([a], MARKED, NOW, new Set(['exports/acme/d/'])).eligible).toEqual([a]);
    expect(selectObjects([a, object('exports/acme/d/_SUCCESS')], MARKED, NOW, new Set()).eligible).toEqual(
      [],
    );
  });

  it('checks the marker last (settling and excluded first), and "marker" before zero-byte', () => {
    const young = object('exports/acme/d/a.csv', { lastModified: NOW });
    expect(reasonFor(young, MARKED)).toBe('settling');
    expect(reasonFor(object('exports/acme/d/a.tmp'), { ...MARKED, exclude: ['**/*.tmp'] })).toBe('excluded');
    expect(reasonFor(object('exports/acme/d/_SUCCESS', { size: 0 }), MARKED)).toBe('marker');
  });

  it('lists the directories only a marker still holds back', () => {
    const objects = [
      object('exports/acme/d1/a.csv'),
      object('exports/acme/d1/b.csv'),
      object('exports/acme/d2/young.csv', { lastModified: NOW }),
      object('exports/acme/d3/_SUCCESS'),
      object('exports/acme/top.csv'),
    ];
    expect(directoriesAwaitingMarker(objects, MARKED, NOW)).toEqual(['exports/acme/d1/', 'exports/acme/']);
    expect(directoriesAwaitingMarker(objects, RULES, NOW)).toEqual([]);
  });

  it('names directories and markers', () => {
    expect(directoryOf('a/b/c.csv')).toBe('a/b/');
    expect(directoryOf('c.csv')).toBe('');
    expect(markerKeyOf('a/b/', '_SUCCESS')).toBe('a/b/_SUCCESS');
    expect(isMarkerKey('exports/acme/x/_SUCCESS', MARKED)).toBe(true);
    expect(isMarkerKey('other/x/_SUCCESS', MARKED)).toBe(false);
    expect(isMarkerKey('exports/acme/x/_SUCCESS', RULES)).toBe(false);
  });
});
