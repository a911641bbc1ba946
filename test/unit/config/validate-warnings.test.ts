// `ferry validate` warnings for partner setups that load but cannot work as meant: a deadline the
// delivery window cannot meet, an SLA on a paused partner, a filename template that gives many objects
// one name. Each is printed at its field's file:line:col and never makes the config invalid.
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/config/validate-command.js';
import { useConfigDirs } from '../../support/config-dir.js';

// Lines 1-6; the fields under test start on line 7.
const PARTNER = `id: acme
schedule: { cron: '0 * * * *', timezone: Europe/Berlin }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/acme } }
source: { bucket: warehouse-exports, prefix: acme/ }
`;

const configs = useConfigDirs('validate-warnings');

const configWith = (lines: string[]) =>
  configs.write({ partners: { 'acme.yaml': `${PARTNER}${lines.join('\n')}\n` } });

/** The config's warnings as `ferry validate` prints them, relative to the config dir; fails when invalid. */
async function warningsFor(lines: string[]): Promise<string[]> {
  const { problems, warnings } = await configs.load(await configWith(lines));
  expect(problems).toEqual([]);
  return warnings;
}

describe('expect.by outside the delivery window', () => {
  it('warns at expect.by when the window closes before the deadline', async () => {
    const warnings = await warningsFor([
      "window: { start: '01:00', end: '05:00' }",
      "expect: { by: '06:00' }",
    ]);
    expect(warnings).toEqual([
      'partners/acme.yaml:8:15: warning: expect.by: "06:00" is not inside the delivery window (01:00-05:00, Europe/Berlin): a file found after the window closes waits for its next opening, past this deadline, and the day is missed; set expect.by after window.start and no later than window.end',
    ]);
  });

  it.each([
    ['a deadline inside the window', '01:00', '05:00', '04:00'],
    ['a deadline at the window end', '01:00', '05:00', '05:00'],
    ['a window crossing midnight, deadline after midnight', '22:00', '06:00', '05:30'],
    ['a window crossing midnight, deadline before midnight', '22:00', '06:00', '23:00'],
  ])('says nothing for %s', async (_name, start, end, by) => {
    const warnings = await warningsFor([
      `window: { start: '${start}', end: '${end}' }`,
      `expect: { by: '${by}' }`,
    ]);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['the window opening itself (nothing found before it can be sent in time)', '06:00', '10:00', '06:00'],
    ['a window crossing midnight, deadline after it closes', '22:00', '06:00', '07:00'],
    ['a window crossing midnight, deadline before it opens', '22:00', '06:00', '21:00'],
  ])('warns for a deadline at %s', async (_name, start, end, by) => {
    const warnings = await warningsFor([
      `window: { start: '${start}', end: '${end}' }`,
      `expect: { by: '${by}' }`,
    ]);
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^partners/acme\\.yaml:8:15: warning: expect\\.by: "${by}" is not inside the delivery window \\(${start}-${end}, Europe/Berlin\\)`,
        ),
      ),
    ]);
  });

  it('says nothing about expect without a window, or a window without expect', async () => {
    expect(await warningsFor(["expect: { by: '06:00' }"])).toEqual([]);
    expect(await warningsFor(["window: { start: '01:00', end: '05:00' }"])).toEqual([]);
  });
});

describe('expect on a paused partner', () => {
  it('reminds at paused that SLA alerts are not sent', async () => {
    const warnings = await warningsFor(["expect: { by: '06:00' }", 'paused: true']);
    expect(warnings).toEqual([
      'partners/acme.yaml:8:9: warning: paused: SLA alerts (sla-warning, sla-missed, missing-export) for expect are not sent while the partner is paused; the SLA state is still shown. Remove paused: true once deliveries should run again (ferry resume does not clear it)',
    ]);
  });

  it('says nothing for paused: false or a paused partner without expect', async () => {
    expect(await warningsFor(["expect: { by: '06:00' }", 'paused: false'])).toEqual([]);
    expect(await warningsFor(['paused: true'])).toEqual([]);
  });
});

describe('naming.filename that gives many objects one name', () => {
  it('warns at naming.filename when only the day and the partner tell names apart', async () => {
    const warnings = await warningsFor(['naming:', '  filename: "{partner}_{date:yyyyMMdd}.csv"']);
    expect(warnings).toEqual([
      'partners/acme.yaml:8:13: warning: naming.filename: has no {name}, {key} or {seq}: all objects modified on the same day (LastModified in schedule.timezone) render to the same name, so of the objects listed under the prefix only the first is delivered and every other one is skipped as name-collision (with an alert); add {name}, {key} or {seq}',
    ]);
  });

  it.each([
    ['"ACME_{date:yyyyMMddHHmm}.csv"', 'all objects modified in the same minute'],
    ['"ACME_{date:yyyy}{ext}"', 'all objects with the same extension modified in the same year'],
    ['"{partner}.csv"', 'every object renders to the same name'],
  ])('names the objects that share a name for %s', async (template, shared) => {
    const warnings = await warningsFor(['naming:', `  filename: ${template}`]);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^partners\/acme\.yaml:8:13: warning: naming\.filename: has no \{name\}, \{key\} or \{seq\}: /,
      ),
    ]);
    expect(warnings[0]).toContain(`: ${shared}`);
  });

  it.each(['"ACME_{date:yyyyMMdd}_{name}{ext}"', '"{key}"', '"ACME_{date:yyyyMMdd}_{seq:3}.csv"'])(
    'says nothing for %s, whose names differ per object',
    async (template) => {
      expect(await warningsFor(['naming:', `  filename: ${template}`])).toEqual([]);
    },
  );

  it('names the partitions whose objects share a name for a {partition:…} template', async () => {
    const text = PARTNER.replace('prefix: acme/', "prefix: 'acme/{date:yyyy-MM-dd}/'");
    const { warnings } = await configs.load(
      await configs.write({
        partners: {
          'acme.yaml': `${text}naming:\n  filename: "ACME_{partition:yyyyMMdd}{ext}"\n`,
          'globex.yaml': `${text.replaceAll('acme', 'globex')}naming:\n  filename: "GLOBEX_{partition:yyyyMMdd}_{name}{ext}"\n`,
        },
      }),
    );
    expect(warnings).toEqual([
      expect.stringContaining(
        'partners/acme.yaml:8:13: warning: naming.filename: has no {name}, {key} or {seq}: all objects with the same extension in partitions of the same day render to the same name',
      ),
    ]);
  });

  it('says nothing for CSV formula escaping with a checksum file', async () => {
    const warnings = await warningsFor([
      'naming: { checksumFile: sha256 }',
      'validate: { csv: { neutralizeFormulas: escape } }',
    ]);
    expect(warnings).toEqual([]);
  });
});

describe('ferry validate', () => {
  it('prints each warning at its place and still exits 0', async () => {
    const dir = await configWith([
      "window: { start: '01:00', end: '05:00' }",
      "expect: { by: '06:00' }",
      'paused: true',
      'naming: { filename: "{partner}.csv" }',
    ]);
    const lines: string[] = [];
    expect(await runValidate(dir, {}, (l) => lines.push(l))).toBe(0);
    expect(lines.map((l) => l.replace(`${dir}/`, ''))).toEqual([
      expect.stringMatching(/^partners\/acme\.yaml:8:15: warning: expect\.by: /),
      expect.stringMatching(/^partners\/acme\.yaml:9:9: warning: paused: /),
      expect.stringMatching(/^partners\/acme\.yaml:10:21: warning: naming\.filename: /),
      `config OK: 1 partner (acme) in ${dir} (3 warnings)`,
    ]);
  });
});

describe('a dated prefix whose partition names come back', () => {
  const withSource = async (source: string, lines: string[] = []) => {
    const text = PARTNER.replace('source: { bucket: warehouse-exports, prefix: acme/ }', source);
    const { problems, warnings } = await configs.load(
      await configs.write({ partners: { 'acme.yaml': `${text}${lines.join('\n')}\n` } }),
    );
    expect(problems).toEqual([]);
    return warnings;
  };

  it('warns at source.prefix when a day-and-month layout has no year', async () => {
    const warnings = await withSource(
      "source: { bucket: warehouse-exports, prefix: 'acme/{date:MM}/{date:dd}/', requireMarker: _SUCCESS }",
    );
    expect(warnings).toEqual([
      "partners/acme.yaml:6:46: warning: source.prefix: acme/{date:MM}/{date:dd}/ gives a partition the same name again every year: a sweep lists what the last year left in it, so a file not delivered then (there before the partner was set up, later than lookbackDays, or waiting for a marker) goes out a year late, and the new day's _SUCCESS releases them too; add yyyy to the prefix, or set source.maxAgeDays above 4 and below 361 (364 days between two uses of a name, less lookbackDays 3) to leave them out as stale",
    ]);
  });

  it('warns for a day without its month, and leaves out maxAgeDays when no value can separate the months', async () => {
    const monthly = await withSource(
      "source: { bucket: warehouse-exports, prefix: 'acme/{date:yyyy}/{date:dd}/' }",
    );
    expect(monthly).toEqual([
      expect.stringContaining(' gives a partition the same name again every month: '),
    ]);
    expect(monthly[0]).toContain(
      'add MM to the prefix, or set source.maxAgeDays above 4 and below 24 (27 days',
    );
    const wide = await withSource(
      "source: { bucket: warehouse-exports, prefix: 'acme/{date:dd}/', lookbackDays: 14, maxAgeDays: 20 }",
    );
    expect(wide).toEqual([expect.stringMatching(/; add MM to the prefix$/)]);
  });

  it.each([
    ['a day-first layout with its year', "prefix: 'acme/{date:dd-MM-yyyy}/'"],
    ['a monthly layout with its year', "prefix: 'acme/{date:yyyy}/{date:MM}/'"],
    [
      'a year-less layout whose maxAgeDays keeps last year out',
      "prefix: 'acme/{date:MM}/{date:dd}/', maxAgeDays: 30",
    ],
    ['a plain prefix', 'prefix: acme/'],
  ])('says nothing for %s', async (_name, fields) => {
    expect(await withSource(`source: { bucket: warehouse-exports, ${fields} }`)).toEqual([]);
  });
});
