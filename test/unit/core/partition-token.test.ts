// naming.filename's {partition:<pattern>}: the date of the key's partition under a dated prefix
// (src/core/prefix-template.ts partitionDateOfKey), rendered by src/core/filename-template.ts.
import { describe, expect, it } from 'vitest';
import {
  parseFilenameTemplate,
  partitionTokenProblem,
  remoteNameFor,
  sequenceScopeFor,
  type FilenameTemplate,
  type NamingPartner,
} from '../../../src/core/filename-template.js';
import {
  parsePrefixTemplate,
  partitionDateOfKey,
  partitionDateParts,
  type PrefixTemplate,
} from '../../../src/core/prefix-template.js';

function prefix(source: string): PrefixTemplate {
  const parsed = parsePrefixTemplate(source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.template;
}

function naming(source: string): FilenameTemplate {
  const parsed = parseFilenameTemplate(source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.template;
}

// LastModified a day after the business date the partition names, as warehouse exports land.
const LANDED = new Date('2026-12-07T01:00:00Z');

function partner(prefixSource: string | undefined, filename: string): NamingPartner {
  const source =
    prefixSource === undefined
      ? { prefix: 'acme/' }
      : { prefix: prefix(prefixSource).staticPart, prefixTemplate: prefix(prefixSource) };
  return {
    id: 'acme',
    source,
    schedule: { timezone: 'America/New_York' },
    naming: { filename: naming(filename) },
  };
}

const nameOf = (p: NamingPartner, key: string, seq?: number) =>
  remoteNameFor(p, { key, lastModified: LANDED, ...(seq === undefined ? {} : { seq }) });

describe('partitionDateOfKey', () => {
  it.each([
    ['exports/{date:yyyy-MM-dd}/', 'exports/2026-03-29/a.csv', { year: 2026, month: 3, day: 29 }],
    ['exports/{date:yyyyMMdd}/', 'exports/20261231/a.csv', { year: 2026, month: 12, day: 31 }],
    ['exports/{date:dd-MM-yy}/', 'exports/29-02-28/a.csv', { year: 2028, month: 2, day: 29 }],
    ['exports/{date:yyyy}/{date:MM}/', 'exports/2027/01/a.csv', { year: 2027, month: 1, day: 1 }],
    ['exports/{date:yyyy}/', 'exports/2026/a.csv', { year: 2026, month: 1, day: 1 }],
    ['exports/{date:MM}/{date:dd}/', 'exports/02/29/a.csv', { month: 2, day: 29 }],
    ['exports/{date:dd}/', 'exports/31/a.csv', { day: 31 }],
    [
      'exports/{date:yyyy}/{date:yyyy-MM-dd}/',
      'exports/2026/2026-06-01/a.csv',
      { year: 2026, month: 6, day: 1 },
    ],
    ['exports/{date:yyyy}/{date:yy}/', 'exports/2026/26/a.csv', { year: 2026, month: 1, day: 1 }],
  ])('under %s reads %s as %o', (template, key, date) => {
    expect(partitionDateOfKey(prefix(template), key)).toEqual({ ok: true, date });
  });

  it.each([
    [
      'exports/{date:yyyy-MM-dd}/',
      'exports/readme.txt',
      'key is in no partition of exports/{date:yyyy-MM-dd}/',
    ],
    [
      'exports/{date:yyyy-MM-dd}/',
      'exports/2026-02-29/a.csv',
      'partition exports/2026-02-29/ is not a calendar date',
    ],
    [
      'exports/{date:yyyy-MM-dd}/',
      'exports/2026-13-01/a.csv',
      'partition exports/2026-13-01/ is not a calendar date',
    ],
    [
      'exports/{date:yyyy-MM-dd}/',
      'exports/2026-04-31/a.csv',
      'partition exports/2026-04-31/ is not a calendar date',
    ],
    ['exports/{date:yyyy-MM}/', 'exports/2026-00/a.csv', 'partition exports/2026-00/ is not a calendar date'],
    ['exports/{date:dd}/', 'exports/32/a.csv', 'partition exports/32/ is not a calendar date'],
    [
      'exports/{date:yyyy}/{date:yyyy-MM-dd}/',
      'exports/2025/2026-06-01/a.csv',
      'partition exports/2025/2026-06-01/ gives yyyy twice, as 2025 and 2026',
    ],
    [
      'exports/{date:yyyy}/{date:yy}/',
      'exports/2026/25/a.csv',
      'partition exports/2026/25/ gives two different years (yyyy 2026, yy 25)',
    ],
  ])('under %s finds no date for %s', (template, key, reason) => {
    expect(partitionDateOfKey(prefix(template), key)).toEqual({ ok: false, reason });
  });

  it('says which parts a template gives: a coarse partition starts on the 1st, a bare day has no month', () => {
    expect(partitionDateParts(prefix('x/{date:yyyy}/'))).toEqual({ year: true, month: true });
    expect(partitionDateParts(prefix('x/{date:MM}/{date:dd}/'))).toEqual({ year: false, month: true });
    expect(partitionDateParts(prefix('x/{date:yyyy}/{date:dd}/'))).toEqual({ year: true, month: false });
    expect(partitionDateParts(prefix('x/{date:dd}/'))).toEqual({ year: false, month: false });
  });
});

describe('{partition:<pattern>} in naming.filename', () => {
  const daily = partner('initech/exports/{date:yyyy-MM-dd}/', 'ACME_{partition:yyyyMMdd}_{name}{ext}');

  it("renders the partition's date, not the LastModified, so one name repeated daily differs per day", () => {
    expect(nameOf(daily, 'initech/exports/2026-03-29/part-0001.csv')).toEqual({
      ok: true,
      name: 'ACME_20260329_part-0001.csv',
    });
    expect(nameOf(daily, 'initech/exports/2026-12-06/data_0_0_0.csv.gz')).toEqual({
      ok: true,
      name: 'ACME_20261206_data_0_0_0.csv.gz',
    });
    expect(nameOf(daily, 'initech/exports/2026-12-07/data_0_0_0.csv.gz')).toEqual({
      ok: true,
      name: 'ACME_20261207_data_0_0_0.csv.gz',
    });
  });

  it('renders across a month end and a year end', () => {
    const names = ['2026-01-31', '2026-02-01', '2026-12-31', '2027-01-01'].map(
      (day) => (nameOf(daily, `initech/exports/${day}/a.csv`) as { name: string }).name,
    );
    expect(names).toEqual([
      'ACME_20260131_a.csv',
      'ACME_20260201_a.csv',
      'ACME_20261231_a.csv',
      'ACME_20270101_a.csv',
    ]);
  });

  it('reads a yy prefix as 20yy and renders yy and yyyy from it', () => {
    const p = partner('x/{date:yyMMdd}/', '{partition:yyyy-MM-dd}_{partition:yy}_{name}{ext}');
    expect(nameOf(p, 'x/270101/a.csv')).toEqual({ ok: true, name: '2027-01-01_27_a.csv' });
  });

  it("gives a monthly partition's day as 01 and a yearly one's month and day as 01", () => {
    const monthly = partner('x/{date:yyyy}/{date:MM}/', '{partition:yyyyMMdd}_{name}{ext}');
    expect(nameOf(monthly, 'x/2026/12/a.csv')).toEqual({ ok: true, name: '20261201_a.csv' });
    const yearly = partner('x/{date:yyyy}/', '{partition:yyyy-MM-dd}_{name}{ext}');
    expect(nameOf(yearly, 'x/2026/a.csv')).toEqual({ ok: true, name: '2026-01-01_a.csv' });
  });

  it('renders the same name for a version whenever it is rendered (a pure function of the key)', () => {
    const key = 'initech/exports/2026-12-06/data_0.csv';
    const first = nameOf(daily, key);
    const later = remoteNameFor(daily, { key, lastModified: new Date('2031-01-01T00:00:00Z') });
    expect(later).toEqual(first);
  });

  it('counts {seq} per partition', () => {
    const p = partner('x/{date:yyyy-MM-dd}/', 'ACME_{partition:yyyyMMdd}_{seq:3}{ext}');
    const scope = (key: string) => sequenceScopeFor(p, { key, lastModified: LANDED });
    expect(scope('x/2026-12-06/a.csv')).toEqual(scope('x/2026-12-06/b.csv'));
    expect(scope('x/2026-12-06/a.csv')).not.toEqual(scope('x/2026-12-07/a.csv'));
    expect(nameOf(p, 'x/2026-12-06/a.csv', 7)).toEqual({ ok: true, name: 'ACME_20261206_007.csv' });
  });

  it('refuses, without throwing, a key in no partition or in one that is no date (quarantined at delivery)', () => {
    expect(nameOf(daily, 'initech/exports/readme.txt')).toEqual({
      ok: false,
      rule: 'no-partition-date',
      reason: '{partition:…} has no date: key is in no partition of initech/exports/{date:yyyy-MM-dd}/',
    });
    expect(nameOf(daily, 'initech/exports/2026-02-30/a.csv')).toMatchObject({
      ok: false,
      rule: 'no-partition-date',
    });
    expect(nameOf(partner(undefined, '{partition:yyyy}_{name}'), 'acme/a.csv')).toMatchObject({
      ok: false,
      rule: 'no-partition-date',
    });
  });

  it.each([
    [
      '{partition:yyyyMMddHH}_{name}',
      "{partition:yyyyMMddHH}: a partition is a day, month or year and has no time (use yyyy, yy, MM, dd; not HH; {date:…} is the object's LastModified)",
    ],
    ['{name}_{partition:ss}', '{partition:ss}: a partition is a day, month or year and has no time'],
    [
      '{partition:yyyyWW}_{name}',
      '{partition:yyyyWW}: unknown date pattern letter "W" at 14 (use yyyy, yy, MM, dd)',
    ],
    ['{partition:}_{name}', '{partition:} needs a pattern, e.g. {partition:yyyyMMdd}'],
  ])('refuses %s at parse', (source, message) => {
    const parsed = parseFilenameTemplate(source);
    expect(parsed).toMatchObject({ ok: false });
    expect((parsed as { message: string }).message).toContain(message);
  });
});

describe('partitionTokenProblem', () => {
  it('refuses {partition:…} for a prefix without {date:…}, at the token', () => {
    expect(partitionTokenProblem(naming('ACME_{partition:yyyyMMdd}_{name}{ext}'), undefined)).toEqual({
      ok: false,
      index: 5,
      message:
        "{partition:yyyyMMdd} needs a dated source.prefix (e.g. prefix: exports/{date:yyyy-MM-dd}/): this partner's prefix has no {date:…}, so its keys have no partition date",
    });
  });

  it('refuses a year or month the partitions do not give', () => {
    expect(
      partitionTokenProblem(naming('{partition:yyMMdd}_{name}'), prefix('x/{date:MM}/{date:dd}/')),
    ).toMatchObject({ message: expect.stringContaining('do not say their year (add yyyy to the prefix') });
    expect(partitionTokenProblem(naming('{partition:MMdd}_{name}'), prefix('x/{date:dd}/'))).toMatchObject({
      message: expect.stringContaining('do not say their month (add MM'),
    });
  });

  it('accepts what the partitions give, coarse ones included', () => {
    expect(partitionTokenProblem(naming('{partition:MMdd}_{name}'), prefix('x/{date:MM}/{date:dd}/'))).toBe(
      undefined,
    );
    expect(partitionTokenProblem(naming('{partition:yyyyMMdd}_{name}'), prefix('x/{date:yyyy}/'))).toBe(
      undefined,
    );
    expect(partitionTokenProblem(naming('{date:yyyyMMdd}_{name}'), undefined)).toBe(undefined);
  });
});
