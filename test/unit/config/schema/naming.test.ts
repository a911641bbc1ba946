import { describe, expect, it } from 'vitest';
import { remoteNameFor } from '../../../../src/core/filename-template.js';
import { useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';
import { planSidecars } from '../../../../src/core/sidecar-files.js';

// Lines 1-7; the naming block under test starts on line 8.
const PARTNER = `${partnerYamlHead({ timezone: 'America/New_York' })}naming:\n`;

const configs = useConfigDirs('naming-config');

const loadNaming = (filenameLine: string) =>
  configs.loadPartner('acme', `${PARTNER}  filename: ${filenameLine}\n`);

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
      'unknown token {nam} (tokens: name, ext, key, partner, date:<pattern>, partition:<pattern>, seq, seq:<width>) (at character 1)',
    ],
    ['"x{name"', 'unbalanced "{" (write "{{" for a literal brace) (at character 2)'],
    ['"{name}}"', 'unbalanced "}" (write "}}" for a literal brace) (at character 7)'],
    ['"{name}_{seq:0}"', '{seq:0}: the width must be one digit 1-9, e.g. {seq:3} → 001 (at character 8)'],
    ['"{seq}_{name}_{seq:2}"', 'only one {seq} token is allowed (at character 14)'],
    [
      '"{date:yyyyQQ}{name}"',
      '{date:yyyyQQ}: unknown date pattern letter "Q" at 9 (use yyyy, yy, MM, dd, HH, mm, ss) (at character 1)',
    ],
  ])('reports %s at its file:line:col', async (value, message) => {
    const { problems } = await loadNaming(value);
    expect(problems).toEqual([`partners/acme.yaml:8:13: naming.filename: ${message}`]);
  });

  it('accepts {seq:3}, shown as "###" until a delivery gives the number', async () => {
    const { partner, problems } = await loadNaming('"ACME_{date:yyyyMMdd}_{seq:3}.csv"');
    expect(problems).toEqual([]);
    expect(partner?.naming?.filename?.seq).toEqual({ width: 3 });
    const named =
      partner &&
      remoteNameFor(partner, { key: 'acme/orders.csv', lastModified: new Date('2026-03-01T03:00:00Z') });
    expect(named).toEqual({ ok: true, name: 'ACME_20260228_###.csv' });
  });

  it('rejects unknown naming fields and a non-string template', async () => {
    expect((await loadNaming('42')).problems).toEqual([
      'partners/acme.yaml:8:13: naming.filename: must be a string',
    ]);
  });
});

// naming.checksumFile and naming.doneFile: the sidecars written beside the data file.
// The `naming:` block starts on line 6; the field under test is on line 7.
const SIDECAR_PARTNER = `id: acme
schedule: { cron: '0 * * * *' }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'], auth: { privateKeyFile: /run/secrets/acme } }
source: { bucket: warehouse-exports, prefix: acme/ }
naming:
`;

const sidecarConfigs = useConfigDirs('sidecar-config');

const loadSidecarNaming = (lines: string) => sidecarConfigs.loadPartner('acme', `${SIDECAR_PARTNER}${lines}`);

describe('naming.checksumFile and naming.doneFile', () => {
  it('load without a filename template: the data file keeps its key-derived name', async () => {
    const { partner, problems } = await loadSidecarNaming(
      '  checksumFile: sha256\n  doneFile: "{filename}.done"\n',
    );
    expect(problems).toEqual([]);
    const planned = planSidecars(partner?.naming, 'orders.csv', { sha256: 'f'.repeat(64) });
    expect(planned).toMatchObject({
      ok: true,
      sidecars: [{ name: 'orders.csv.sha256' }, { name: 'orders.csv.done' }],
    });
  });

  it('accepts checksumFile: md5, which plans <name>.md5', async () => {
    const { partner, problems } = await loadSidecarNaming('  checksumFile: md5\n');
    expect(problems).toEqual([]);
    expect(partner?.naming?.checksumFile).toBe('md5');
    expect(planSidecars(partner?.naming, 'orders.csv', { md5: 'e'.repeat(32) })).toMatchObject({
      ok: true,
      sidecars: [{ name: 'orders.csv.md5', content: `${'e'.repeat(32)}  orders.csv\n` }],
    });
  });

  it.each([
    ['  checksumFile: crc32\n', 'naming.checksumFile: must be one of "none", "sha256", "md5"'],
    [
      '  doneFile: "{name}.done"\n',
      'naming.doneFile: unknown token {name} (tokens: filename) (at character 1)',
    ],
  ])('reports %j at its file:line:col', async (lines, message) => {
    const { problems } = await loadSidecarNaming(lines);
    expect(problems).toEqual([`partners/acme.yaml:7:${lines.indexOf(':') + 3}: ${message}`]);
  });
});
