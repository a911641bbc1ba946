import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatProblem, loadConfig } from '../../../src/config/load-config.js';
import { remoteNameFor } from '../../../src/core/filename-template.js';
import { makeTempDir } from '../../support/temp-dir.js';

// Lines 1-7; the naming block under test starts on line 8.
const PARTNER = `id: acme
schedule: { cron: '0 * * * *', timezone: America/New_York }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/acme } }
source: { bucket: warehouse-exports, prefix: acme/ }
naming:
`;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function loadNaming(filenameLine: string) {
  const dir = await makeTempDir('naming-config');
  dirs.push(dir);
  await mkdir(join(dir, 'partners'));
  await writeFile(join(dir, 'ferry.yaml'), 'receipts: { bucket: ferry-audit }\n');
  await writeFile(join(dir, 'partners', 'acme.yaml'), `${PARTNER}  filename: ${filenameLine}\n`);
  const result = await loadConfig(dir, {});
  return {
    partner: result.ok ? result.config.partners.get('acme') : undefined,
    problems: result.ok ? [] : result.problems.map((p) => formatProblem(p).replace(`${dir}/`, '')),
  };
}

describe('naming.filename', () => {
  it('parses the template at load, rendering dates in the schedule timezone', async () => {
    const { partner, problems } = await loadNaming('"ACME_{date:yyyyMMdd}_{name}{ext}"');
    expect(problems).toEqual([]);
    const named =
      partner &&
      remoteNameFor(partner, { key: 'acme/orders.csv', lastModified: new Date('2026-03-01T03:00:00Z') });
    expect(named).toEqual({ ok: true, name: 'ACME_20260228_orders.csv' });
  });

  it.each([
    [
      '"{nam}{ext}"',
      'unknown token {nam} (tokens: name, ext, key, partner, date:<pattern>) (at character 1)',
    ],
    ['"x{name"', 'unbalanced "{" (write "{{" for a literal brace) (at character 2)'],
    ['"{name}}"', 'unbalanced "}" (write "}}" for a literal brace) (at character 7)'],
    [
      '"{date:yyyyQQ}{name}"',
      '{date:yyyyQQ}: unknown date pattern letter "Q" at 9 (use yyyy, yy, MM, dd, HH, mm, ss) (at character 1)',
    ],
  ])('reports %s at its file:line:col', async (value, message) => {
    const { problems } = await loadNaming(value);
    expect(problems).toEqual([`partners/acme.yaml:8:13: naming.filename: ${message}`]);
  });

  it('rejects {seq} as not supported yet, saying why', async () => {
    const { problems } = await loadNaming('"{seq}_{name}{ext}"');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^partners\/acme\.yaml:8:13: naming\.filename: \{seq\} is not supported yet: .*deterministic/,
    );
  });

  it('rejects unknown naming fields and a non-string template', async () => {
    expect((await loadNaming('42')).problems).toEqual([
      'partners/acme.yaml:8:13: naming.filename: must be a string',
    ]);
  });
});
