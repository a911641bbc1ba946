import { describe, expect, it } from 'vitest';
import {
  isKeyUnderSource,
  keyPrefixFor,
  parsePrefixTemplate,
  partitionOfKey,
  partitionRepeat,
  renderPrefixes,
  sweepPrefixes,
  type PrefixTemplate,
} from '../../../src/core/prefix-template.js';
import { selectObjects, type SelectionRules } from '../../../src/core/select-objects.js';

function template(source: string): PrefixTemplate {
  const parsed = parsePrefixTemplate(source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.template;
}

const daily = template('initech/exports/{date:yyyy-MM-dd}/');

describe('parsePrefixTemplate', () => {
  it('takes the text before the first token as the static part', () => {
    expect(daily.staticPart).toBe('initech/exports/');
    expect(template('{date:yyyy}/x/').staticPart).toBe('');
    expect(template('a/{{b}}/{date:yyyy}/').staticPart).toBe('a/{b}/');
  });

  it('refuses other tokens and hour, minute or second letters, at the token', () => {
    expect(parsePrefixTemplate('a/{key}/')).toMatchObject({ ok: false, index: 2 });
    expect(parsePrefixTemplate('a/{date:yyyyMMddHH}/')).toMatchObject({ ok: false, index: 2 });
    expect(parsePrefixTemplate('a/{date:mm}/')).toMatchObject({ ok: false });
    expect(parsePrefixTemplate('a/{date:yyyy/')).toMatchObject({ ok: false });
  });
});

describe('renderPrefixes', () => {
  it('lists today and the days before it, oldest first', () => {
    const now = new Date('2026-03-02T10:00:00Z');
    expect(renderPrefixes(daily, now, 'UTC', 3)).toEqual([
      'initech/exports/2026-02-27/',
      'initech/exports/2026-02-28/',
      'initech/exports/2026-03-01/',
      'initech/exports/2026-03-02/',
    ]);
    expect(renderPrefixes(daily, now, 'UTC', 0)).toEqual(['initech/exports/2026-03-02/']);
  });

  it("takes today's date in the timezone, not in UTC", () => {
    // 03:00 UTC on Jan 1 is still Dec 31 in New York.
    const now = new Date('2027-01-01T03:00:00Z');
    expect(renderPrefixes(daily, now, 'America/New_York', 1)).toEqual([
      'initech/exports/2026-12-30/',
      'initech/exports/2026-12-31/',
    ]);
    expect(renderPrefixes(daily, now, 'Asia/Tokyo', 1)).toEqual([
      'initech/exports/2026-12-31/',
      'initech/exports/2027-01-01/',
    ]);
  });

  it('counts calendar days across a 23-hour spring-forward day (none skipped)', () => {
    // New York springs forward on 2026-03-08; 00:30 on Mar 9 is less than 48 h after Mar 7's end.
    const now = new Date('2026-03-09T04:30:00Z'); // 00:30 EDT
    expect(renderPrefixes(daily, now, 'America/New_York', 2)).toEqual([
      'initech/exports/2026-03-07/',
      'initech/exports/2026-03-08/',
      'initech/exports/2026-03-09/',
    ]);
  });

  it('counts calendar days across a 25-hour fall-back day (none repeated)', () => {
    const now = new Date('2026-11-02T04:30:00Z'); // 23:30 EST on Nov 1
    expect(renderPrefixes(daily, now, 'America/New_York', 1)).toEqual([
      'initech/exports/2026-10-31/',
      'initech/exports/2026-11-01/',
    ]);
  });

  it('gives a monthly or yearly partition once for all its days, across the year boundary', () => {
    const monthly = template('x/{date:yyyy}/{date:MM}/');
    const now = new Date('2027-01-02T12:00:00Z');
    expect(renderPrefixes(monthly, now, 'UTC', 40)).toEqual(['x/2026/11/', 'x/2026/12/', 'x/2027/01/']);
    expect(renderPrefixes(template('y/{date:yy}/'), now, 'UTC', 3)).toEqual(['y/26/', 'y/27/']);
  });

  it('lists a day-first or year-less pattern by date, not by name, across a month and a year end', () => {
    const now = new Date('2027-01-01T12:00:00Z');
    // Byte order would put 01-01-2027 (and 01/01) first: the sweep lists oldest first all the same.
    expect(renderPrefixes(template('x/{date:dd-MM-yyyy}/'), now, 'UTC', 3)).toEqual([
      'x/29-12-2026/',
      'x/30-12-2026/',
      'x/31-12-2026/',
      'x/01-01-2027/',
    ]);
    expect(renderPrefixes(template('x/{date:MM}/{date:dd}/'), now, 'UTC', 3)).toEqual([
      'x/12/29/',
      'x/12/30/',
      'x/12/31/',
      'x/01/01/',
    ]);
    // Across a month end: 30 November is followed by 1 December, whatever their names sort as.
    expect(
      renderPrefixes(template('x/{date:dd-MM-yyyy}/'), new Date('2026-12-01T12:00:00Z'), 'UTC', 2),
    ).toEqual(['x/29-11-2026/', 'x/30-11-2026/', 'x/01-12-2026/']);
  });

  it('lists a day-of-month-only partition once when the days asked for wrap past a month', () => {
    // 40 days back from 7 December: 28 October … 7 December; "07" is listed once, at its first day.
    const prefixes = renderPrefixes(template('x/{date:dd}/'), new Date('2026-12-07T12:00:00Z'), 'UTC', 40);
    expect(prefixes).toHaveLength(31);
    expect(prefixes.slice(0, 5)).toEqual(['x/28/', 'x/29/', 'x/30/', 'x/31/', 'x/01/']);
    expect(new Set(prefixes).size).toBe(31);
  });
});

describe('partitionOfKey and the source helpers', () => {
  it('finds the partition a key is under, whatever its date', () => {
    expect(partitionOfKey(daily, 'initech/exports/2025-01-31/part-0001.csv')).toBe(
      'initech/exports/2025-01-31/',
    );
    expect(partitionOfKey(daily, 'initech/exports/2025-01-31/sub/x.csv')).toBe('initech/exports/2025-01-31/');
  });

  it('finds none for a key outside every partition, or with the static part only', () => {
    for (const key of [
      'initech/exports/readme.txt',
      'initech/exports/2025-1-31/x.csv',
      'initech/exports/2025-01-31x/x.csv',
      'initech/other/2025-01-31/x.csv',
      'initech/exports/20250131/x.csv',
    ]) {
      expect(partitionOfKey(daily, key)).toBeUndefined();
    }
  });

  it('reads regex characters in the template literally', () => {
    const dotted = template('a.b/{date:yyyy.MM}/');
    expect(partitionOfKey(dotted, 'a.b/2026.03/x')).toBe('a.b/2026.03/');
    expect(partitionOfKey(dotted, 'aXb/2026X03/x')).toBeUndefined();
  });

  it('leaves a source without a template to its plain prefix', () => {
    const plain = { prefix: 'acme/' };
    expect(keyPrefixFor(plain, 'acme/x.csv')).toBe('acme/');
    expect(isKeyUnderSource(plain, 'acme/2026-01-01/x.csv')).toBe(true);
    expect(sweepPrefixes(plain, new Date(), 'UTC', 30)).toEqual(['acme/']);
    const dated = { prefix: 'initech/exports/', prefixTemplate: daily };
    expect(keyPrefixFor(dated, 'initech/exports/2026-01-01/x.csv')).toBe('initech/exports/2026-01-01/');
    expect(keyPrefixFor(dated, 'initech/exports/x.csv')).toBe('initech/exports/');
    expect(isKeyUnderSource(dated, 'initech/exports/x.csv')).toBe(false);
  });

  it('lists lookbackDays days back, or further for a sweep asked to (--since)', () => {
    const dated = { prefix: 'initech/exports/', prefixTemplate: daily, lookbackDays: 1 };
    const now = new Date('2026-03-02T10:00:00Z');
    expect(sweepPrefixes(dated, now, 'UTC')).toHaveLength(2);
    expect(sweepPrefixes(dated, now, 'UTC', 30)).toHaveLength(31);
    expect(sweepPrefixes(dated, now, 'UTC', 0)).toHaveLength(2);
    expect(sweepPrefixes({ prefix: 'initech/exports/', prefixTemplate: daily }, now, 'UTC')).toHaveLength(4);
  });
});

describe('partitionRepeat', () => {
  it.each([
    ['x/{date:yyyy-MM-dd}/', undefined],
    ['x/{date:dd-MM-yyyy}/', undefined],
    ['x/{date:yyyy}/{date:MM}/', undefined],
    ['x/{date:yy}{date:MM}{date:dd}/', undefined],
    ['x/{date:MM}/{date:dd}/', { every: 'year', gapDays: 364 }],
    ['x/{date:MM}/', { every: 'year', gapDays: 334 }],
    ['x/{date:dd}/', { every: 'month', gapDays: 27 }],
    ['x/{date:yyyy}/{date:dd}/', { every: 'month', gapDays: 27 }],
  ])('%s repeats %o', (source, repeat) => {
    expect(partitionRepeat(template(source))).toEqual(repeat);
  });

  // What the warning is about: on 1 January 2028 a year-less layout lists 01/01/ again, and what 2027
  // left there waiting for its marker goes out with 2028's files once 2028's marker is written.
  it("a year-less partition brings last year's leftovers back; maxAgeDays below the gap keeps them out", () => {
    const yearless = template('x/{date:MM}/{date:dd}/');
    const now = new Date('2028-01-01T12:00:00Z');
    expect(sweepPrefixes({ prefix: 'x/', prefixTemplate: yearless }, now, 'UTC')).toContain('x/01/01/');
    const at = (iso: string) => new Date(iso);
    const listed = [
      { key: 'x/01/01/_SUCCESS', lastModified: at('2028-01-01T06:00:00Z') },
      { key: 'x/01/01/orders-2027.csv', lastModified: at('2027-01-01T06:00:00Z') },
      { key: 'x/01/01/orders-2028.csv', lastModified: at('2028-01-01T06:00:00Z') },
    ].map((o) => ({ ...o, bucket: 'b', etag: 'e', size: 1 }));
    const rules: SelectionRules = {
      prefix: 'x/',
      prefixTemplate: yearless,
      include: ['*'],
      minAgeSeconds: 0,
      requireMarker: '_SUCCESS',
    };
    const keys = (r: SelectionRules) => selectObjects(listed, r, now).eligible.map((o) => o.key);
    expect(keys(rules)).toEqual(['x/01/01/orders-2027.csv', 'x/01/01/orders-2028.csv']);
    // gapDays 364 less lookbackDays 3: anything below 361 days leaves 2027's file out as stale.
    expect(keys({ ...rules, maxAgeDays: 360 })).toEqual(['x/01/01/orders-2028.csv']);
  });
});
