import { describe, expect, it } from 'vitest';
import { tempNameFor } from '../../../src/core/delivery-id.js';
import {
  asidePathFor,
  formatLeftoverLine,
  parseLeftoverName,
  selectLeftovers,
  stillRemovable,
  type ListedEntry,
} from '../../../src/core/janitor.js';

const DELIVERY = 'dlv-acme-30daa40bddbe09035a9be36c0dae6f39';
const NOW = new Date('2026-12-06T12:00:00Z');
const HOUR = 3_600_000;
const FILE = 0o100644;
const DIR = 0o040755;

function entry(name: string, overrides: Partial<ListedEntry> = {}): ListedEntry {
  return { name, size: 10, mtime: new Date(NOW.getTime() - 2 * HOUR), mode: FILE, ...overrides };
}

describe('parseLeftoverName', () => {
  it.each<[string, string, string]>([
    ['a temp file', tempNameFor('orders.csv', DELIVERY), 'part'],
    ['a redelivery temp file', tempNameFor('orders.csv', `${DELIVERY}-r12`), 'part'],
    ['a sidecar temp file', tempNameFor('orders.csv.sha256', DELIVERY), 'part'],
    ['the aside of an overwrite', asidePathFor(tempNameFor('orders.csv', DELIVERY)), 'old'],
    ['a temp file of a cut 255-byte name', tempNameFor(`${'a'.repeat(300)}.csv`, DELIVERY), 'part'],
    ['a temp file cut right after a dot', tempNameFor(`${'a'.repeat(235)}.csv`, DELIVERY), 'part'],
    ['a temp file cut right after a space', tempNameFor(`${'a'.repeat(235)} x.csv`, DELIVERY), 'part'],
    ['a temp file cut before a 3-byte character', tempNameFor('あ'.repeat(100), DELIVERY), 'part'],
  ])("recognises %s as Ferry's", (_label, name, kind) => {
    expect(Buffer.byteLength(name, 'utf8')).toBeLessThanOrEqual(255);
    expect(parseLeftoverName(name)?.kind).toBe(kind);
  });

  it('takes the end of a cut name as cut, not as a broken rule', () => {
    expect(parseLeftoverName(tempNameFor(`${'a'.repeat(235)}.csv`, DELIVERY))?.finalName).toMatch(/a\.$/);
    expect(parseLeftoverName(tempNameFor(`${'a'.repeat(235)} x.csv`, DELIVERY))?.finalName).toMatch(/a $/);
  });

  it('reads the delivery hash prefix and the redelivery number', () => {
    expect(parseLeftoverName(tempNameFor('orders.csv', `${DELIVERY}-r3`))).toEqual({
      kind: 'part',
      finalName: 'orders.csv',
      deliveryHashPrefix: '30daa40bddbe',
      redelivery: 3,
    });
  });

  it.each<[string, string]>([
    ['a final file', 'orders.csv'],
    ['a final file ending in .part', 'orders.csv.part'],
    ["a partner's dotfile", '.bashrc'],
    ["a partner's dot-part file without Ferry's hash", '.orders.csv.part'],
    ['a hash that is too short', '.orders.csv.30daa40bddb.part'],
    ['a hash that is too long', '.orders.csv.30daa40bddbe0.part'],
    ['an upper-case hash', '.orders.csv.30DAA40BDDBE.part'],
    ['a redelivery number 0', '.orders.csv.30daa40bddbe-r0.part'],
    ['a redelivery number with a leading zero', '.orders.csv.30daa40bddbe-r01.part'],
    ['a redelivery number too long', '.orders.csv.30daa40bddbe-r1234567.part'],
    ['another extension', '.orders.csv.30daa40bddbe.tmp'],
    ['an upper-case extension', '.orders.csv.30daa40bddbe.PART'],
    ['something after the extension', '.orders.csv.30daa40bddbe.part~'],
    ['an empty final name', '..30daa40bddbe.part'],
    ['a final name starting with a dot', '..orders.csv.30daa40bddbe.part'],
    ['a final name starting with a dash', '.-rf.30daa40bddbe.part'],
    ['a final name with ".."', '.a..b.30daa40bddbe.part'],
    ['a final name ending in a dot (not cut)', '.orders..30daa40bddbe.part'],
    ['a final name with a newline', '.orders\n.csv.30daa40bddbe.part'],
    ['a final name with a bidi override', '.orders\u202e.csv.30daa40bddbe.part'],
    ['a final name with a replacement character', '.orders\ufffd.csv.30daa40bddbe.part'],
    ['a final name with a lookalike slash', '.a\u2215b.30daa40bddbe.part'],
    ['a final name that is not NFC', '.cafe\u0301.30daa40bddbe.part'],
    ['a final name with a shell character', '.a;b.30daa40bddbe.part'],
    ['"." itself', '.'],
    ['".." itself', '..'],
    ['no leading dot', 'orders.csv.30daa40bddbe.part'],
  ])('does not take %s for a leftover', (_label, name) => {
    expect(parseLeftoverName(name)).toBeUndefined();
  });
});

describe('asidePathFor', () => {
  it('swaps the temp path\'s ".part" for ".old", as the overwrite does', () => {
    expect(asidePathFor('/in/.orders.csv.30daa40bddbe.part')).toBe('/in/.orders.csv.30daa40bddbe.old');
    expect(asidePathFor('/in/.orders.csv.30daa40bddbe-r2.part')).toBe('/in/.orders.csv.30daa40bddbe-r2.old');
  });
});

describe('selectLeftovers', () => {
  const temp = tempNameFor('orders.csv', DELIVERY);
  const aside = asidePathFor(temp);
  const select = (entries: ListedEntry[], registered: string[] = []) =>
    selectLeftovers({
      directory: '/inbound',
      entries,
      now: NOW,
      minAgeMs: HOUR,
      registered: new Set(registered),
    });

  it('removes an old temp file and an old aside that no live delivery registered', () => {
    expect(select([entry(temp), entry(aside, { size: 7 })])).toEqual([
      {
        name: temp,
        path: `/inbound/${temp}`,
        kind: 'part',
        size: 10,
        ageMs: 2 * HOUR,
        action: 'remove',
        reason: 'orphan',
      },
      {
        name: aside,
        path: `/inbound/${aside}`,
        kind: 'old',
        size: 7,
        ageMs: 2 * HOUR,
        action: 'remove',
        reason: 'orphan',
      },
    ]);
  });

  it('keeps a registered temp file however old', () => {
    const [decision] = select([entry(temp, { mtime: new Date(0) })], [`/inbound/${temp}`]);
    expect(decision).toMatchObject({ action: 'keep', reason: 'registered' });
  });

  it('keeps a temp file younger than the bound, and removes one exactly at it', () => {
    const young = select([entry(temp, { mtime: new Date(NOW.getTime() - HOUR + 1000) })]);
    const atBound = select([entry(temp, { mtime: new Date(NOW.getTime() - HOUR) })]);
    expect(young[0]).toMatchObject({ action: 'keep', reason: 'too-young' });
    expect(atBound[0]).toMatchObject({ action: 'remove', reason: 'orphan' });
  });

  it("keeps a file whose mtime is in the future (the server's clock is ahead)", () => {
    const [decision] = select([entry(temp, { mtime: new Date(NOW.getTime() + HOUR) })]);
    expect(decision).toMatchObject({ action: 'keep', reason: 'too-young', ageMs: -HOUR });
  });

  it('keeps a file whose mtime the server did not report', () => {
    const [decision] = select([entry(temp, { mtime: new Date(Number.NaN) })]);
    expect(decision).toMatchObject({ action: 'keep', reason: 'too-young' });
    expect(stillRemovable(entry(temp, { mtime: new Date(Number.NaN) }), NOW, HOUR)).toBe(false);
  });

  it('keeps a directory or a symlink named like a temp file', () => {
    const decisions = select([entry(temp, { mode: DIR }), entry(aside, { mode: 0o120777 })]);
    expect(decisions.map((d) => d.reason)).toEqual(['not-a-file', 'not-a-file']);
  });

  it("leaves the partner's files, final names and foreign dotfiles out entirely", () => {
    const old = { mtime: new Date(0) };
    const decisions = select([
      entry('orders.csv', old),
      entry('.bashrc', old),
      entry('.orders.csv.part', old),
      entry('.orders.csv.30DAA40BDDBE.part', old),
      entry('orders.csv.30daa40bddbe.part', old),
    ]);
    expect(decisions).toEqual([]);
  });

  it('joins the path the way the delivery path does, trailing slash or not', () => {
    const [a] = selectLeftovers({
      directory: '/inbound/',
      entries: [entry(temp)],
      now: NOW,
      minAgeMs: HOUR,
      registered: new Set([`/inbound/${temp}`]),
    });
    expect(a).toMatchObject({ path: `/inbound/${temp}`, reason: 'registered' });
  });

  it('lists removals first, oldest first, then what it keeps', () => {
    const t2 = tempNameFor('b.csv', DELIVERY);
    const t3 = tempNameFor('c.csv', DELIVERY);
    const decisions = select([
      entry(temp, { mtime: new Date(NOW.getTime() - 60_000) }),
      entry(t2, { mtime: new Date(NOW.getTime() - 2 * HOUR) }),
      entry(t3, { mtime: new Date(NOW.getTime() - 5 * HOUR) }),
    ]);
    expect(decisions.map((d) => [d.name, d.action])).toEqual([
      [t3, 'remove'],
      [t2, 'remove'],
      [temp, 'keep'],
    ]);
  });
});

describe('stillRemovable', () => {
  const temp = tempNameFor('orders.csv', DELIVERY);

  it('holds for a file still there, still a file and still old', () => {
    expect(stillRemovable(entry(temp), NOW, HOUR)).toBe(true);
  });

  it.each<[string, ListedEntry | undefined]>([
    ['gone', undefined],
    ['written again since (young)', entry(temp, { mtime: new Date(NOW.getTime() - 1000) })],
    ['replaced by a directory', entry(temp, { mode: DIR })],
  ])('fails for a file %s', (_label, listed) => {
    expect(stillRemovable(listed, NOW, HOUR)).toBe(false);
  });
});

describe('formatLeftoverLine', () => {
  const decision = {
    name: '.orders.csv.30daa40bddbe.part',
    path: '/in/.orders.csv.30daa40bddbe.part',
    kind: 'part' as const,
    size: 1234,
    ageMs: 90 * 60_000,
    action: 'remove' as const,
    reason: 'orphan' as const,
  };

  it('prints what would be removed, with size and age', () => {
    expect(formatLeftoverLine(decision)).toBe(
      'remove part       1234 B  90 min old     .orders.csv.30daa40bddbe.part',
    );
  });

  it('prints why a file is kept, and ages in hours and days', () => {
    expect(formatLeftoverLine({ ...decision, action: 'keep', reason: 'registered', ageMs: 5 * HOUR })).toBe(
      'keep   part       1234 B  5 h old        .orders.csv.30daa40bddbe.part  (registered)',
    );
    expect(formatLeftoverLine({ ...decision, kind: 'old', ageMs: 72 * HOUR })).toContain('remove old ');
    expect(formatLeftoverLine({ ...decision, kind: 'old', ageMs: 72 * HOUR })).toContain('3 d old');
    expect(formatLeftoverLine({ ...decision, ageMs: -1000 })).toContain('in the future');
  });
});
