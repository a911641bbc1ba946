import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatProblem, loadConfig } from '../../../src/config/load-config.js';
import { makeTempDir } from '../../support/temp-dir.js';

// Lines 1-8; `neutralizeFormulas` is on line 9, its value at column 25.
const PARTNER = `id: acme
schedule: { cron: '0 * * * *' }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/acme } }
source: { bucket: warehouse-exports, prefix: acme/ }
validate:
  csv:
`;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function load(lines: string) {
  const dir = await makeTempDir('formulas-config');
  dirs.push(dir);
  await mkdir(join(dir, 'partners'));
  await writeFile(join(dir, 'ferry.yaml'), 'receipts: { bucket: ferry-audit }\n');
  await writeFile(join(dir, 'partners', 'acme.yaml'), PARTNER + lines);
  const result = await loadConfig(dir, {});
  return {
    csv: result.ok ? result.config.partners.get('acme')?.validate?.csv : undefined,
    problems: result.ok ? [] : result.problems.map((p) => formatProblem(p).replace(`${dir}/`, '')),
  };
}

describe('validate.csv.neutralizeFormulas', () => {
  it.each([
    ['false', false],
    ['true', 'quarantine'],
    ['quarantine', 'quarantine'],
    ['escape', 'escape'],
  ])('reads %s as %j', async (value, expected) => {
    const { csv, problems } = await load(`    neutralizeFormulas: ${value}\n`);
    expect(problems).toEqual([]);
    expect(csv?.neutralizeFormulas).toBe(expected);
  });

  it('is off when left out', async () => {
    const { csv, problems } = await load('    delimiter: ","\n');
    expect(problems).toEqual([]);
    expect(csv?.neutralizeFormulas ?? false).toBe(false);
  });

  it.each(['strip', '"yes"', '1', '[escape]', 'Escape'])('rejects %s at its file:line:col', async (value) => {
    const { problems } = await load(`    neutralizeFormulas: ${value}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('partners/acme.yaml:9:25');
    expect(problems[0]).toContain('must be false, true, quarantine or escape');
  });
});
