import { describe, expect, it } from 'vitest';
import {
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
