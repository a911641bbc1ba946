import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../../src/config/validate-command.js';
import { remoteNameFor } from '../../../../src/core/filename-template.js';
import { useConfigDirs } from '../../../support/config-dir.js';

// Lines 1-7; the prefix is on line 8, further source lines from line 9.
const head = (prefix: string) => `id: nightly
schedule: { cron: '0 * * * *', timezone: America/New_York }
target: { host: sftp.nightly.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/nightly } }
source:
  bucket: warehouse-exports
  prefix: ${prefix}
`;

const configs = useConfigDirs('dated-prefix-config');
const load = (prefix: string, more = '') => configs.loadPartner('nightly', head(prefix) + more);

describe('source.prefix with {date:…}', () => {
  it('reads a dated prefix into its static part, the template and lookbackDays 3 by default', async () => {
    const { partner, problems } = await load('"initech/exports/{date:yyyy-MM-dd}/"');
    expect(problems).toEqual([]);
    expect(partner?.source.prefix).toBe('initech/exports/');
    expect(partner?.source.prefixTemplate?.source).toBe('initech/exports/{date:yyyy-MM-dd}/');
    expect(partner?.source.lookbackDays).toBe(3);
  });

  it('keeps a prefix without tokens exactly as written, with no template and no lookbackDays', async () => {
    const { partner } = await load('acme/{{raw}}/');
    expect(partner?.source.prefix).toBe('acme/{{raw}}/');
    expect(partner?.source).not.toHaveProperty('prefixTemplate');
    expect(partner?.source).not.toHaveProperty('lookbackDays');
  });

  it('takes an explicit lookbackDays, 0 included', async () => {
    const { partner } = await load('"x/{date:yyyyMMdd}/"', '  lookbackDays: 0\n');
    expect(partner?.source.lookbackDays).toBe(0);
  });

  it('reports lookbackDays without a dated prefix at its file:line:col', async () => {
    const { problems } = await load('acme/', '  lookbackDays: 3\n');
    expect(problems).toEqual([
      'partners/nightly.yaml:9:17: source.lookbackDays: needs a dated prefix (e.g. prefix: exports/{date:yyyy-MM-dd}/); this prefix has no {date:…}',
    ]);
  });

  it('reports a bad token, an hour partition and a missing "/" at the prefix', async () => {
    const unknown = await load('"x/{name}/"');
    expect(unknown.problems).toEqual([
      'partners/nightly.yaml:8:11: source.prefix: unknown token {name} (a prefix takes only {date:…}) (at character 3)',
    ]);
    const hourly = await load('"x/{date:yyyyMMddHH}/"');
    expect(hourly.problems[0]).toMatch(/^partners\/nightly\.yaml:8:11: source\.prefix: .*day, month or year/);
    const slash = await load('"x/{date:yyyyMMdd}"');
    expect(slash.problems[0]).toMatch(/^partners\/nightly\.yaml:8:11: source\.prefix: must end with "\/"/);
    const negative = await load('"x/{date:yyyy}/"', '  lookbackDays: -1\n');
    expect(negative.problems[0]).toMatch(/^partners\/nightly\.yaml:9:17: source\.lookbackDays: /);
  });
});

describe('naming.filename {partition:…}', () => {
  const naming = (template: string) => `naming:\n  filename: "${template}"\n`;

  it('loads under a dated prefix and names a file after its partition, not its LastModified', async () => {
    const { partner, problems } = await load(
      '"initech/exports/{date:yyyy-MM-dd}/"',
      naming('ACME_{partition:yyyyMMdd}_{name}{ext}'),
    );
    expect(problems).toEqual([]);
    const key = 'initech/exports/2026-03-29/part-0001.csv';
    const named = partner && remoteNameFor(partner, { key, lastModified: new Date('2026-03-30T05:00:00Z') });
    expect(named).toEqual({ ok: true, name: 'ACME_20260329_part-0001.csv' });
  });

  it('is an error at naming.filename when the prefix has no {date:…}, and ferry validate prints it', async () => {
    const text = head('initech/exports/') + naming('ACME_{partition:yyyyMMdd}_{name}{ext}');
    const message =
      "naming.filename: {partition:yyyyMMdd} needs a dated source.prefix (e.g. prefix: exports/{date:yyyy-MM-dd}/): this partner's prefix has no {date:…}, so its keys have no partition date (at character 6)";
    expect((await configs.loadPartner('nightly', text)).problems).toEqual([
      `partners/nightly.yaml:10:13: ${message}`,
    ]);
    const dir = await configs.write({ partners: { 'nightly.yaml': text } });
    const lines: string[] = [];
    expect(await runValidate(dir, {}, (line) => lines.push(line))).toBe(1);
    expect(lines).toEqual([`${dir}/partners/nightly.yaml:10:13: ${message}`]);
  });

  it('is an error when it asks for a year the partitions do not give', async () => {
    const { problems } = await load('"x/{date:MM}/{date:dd}/"', naming('{partition:yyyyMMdd}_{name}{ext}'));
    expect(problems).toEqual([
      'partners/nightly.yaml:10:13: naming.filename: {partition:yyyyMMdd}: the partitions of x/{date:MM}/{date:dd}/ do not say their year (add yyyy to the prefix, or leave it out of the token) (at character 1)',
    ]);
  });
});
