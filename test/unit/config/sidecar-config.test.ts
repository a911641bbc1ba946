import { describe, expect, it } from 'vitest';
import { planSidecars } from '../../../src/core/sidecar-files.js';
import { useConfigDirs } from '../../support/config-dir.js';

// The `naming:` block starts on line 6; the field under test is on line 7.
const PARTNER = `id: acme
schedule: { cron: '0 * * * *' }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'], auth: { privateKeyFile: /run/secrets/acme } }
source: { bucket: warehouse-exports, prefix: acme/ }
naming:
`;

const configs = useConfigDirs('sidecar-config');

const loadSidecarNaming = (lines: string) => configs.loadPartner('acme', `${PARTNER}${lines}`);

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
