// transform.compressLevel: an optional gzip level 1–9 (left out: 6), only with compress: gzip.
import { describe, expect, it } from 'vitest';
import { useConfigDirs } from '../../support/config-dir.js';

// Lines 1-7 (`transform:` on line 7); the fields under test start on line 8.
const PARTNER = `id: acme
schedule: { cron: '0 * * * *' }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/acme } }
source: { bucket: warehouse-exports, prefix: acme/ }
transform:
`;

const configs = useConfigDirs('compress-level-config');

const load = (lines: string) => configs.loadPartner('acme', PARTNER + lines);

describe('transform.compressLevel', () => {
  it('is read with gzip, and left out by default', async () => {
    const set = await load('  compress: gzip\n  compressLevel: 1\n');
    expect(set.problems).toEqual([]);
    expect(set.partner?.transform).toEqual({ compress: 'gzip', compressLevel: 1 });
    const unset = await load('  compress: gzip\n');
    expect(unset.partner?.transform).toEqual({ compress: 'gzip' });
  });

  it('must be a whole number 1–9, at its file:line:col', async () => {
    const zero = await load('  compress: gzip\n  compressLevel: 0\n');
    expect(zero.problems).toEqual([
      expect.stringMatching(/^partners\/acme\.yaml:9:18: transform\.compressLevel: /),
    ]);
    const ten = await load('  compress: gzip\n  compressLevel: 10\n');
    expect(ten.problems).toEqual([
      expect.stringMatching(/^partners\/acme\.yaml:9:18: transform\.compressLevel: /),
    ]);
    const half = await load('  compress: gzip\n  compressLevel: 2.5\n');
    expect(half.problems).toEqual([
      expect.stringMatching(/^partners\/acme\.yaml:9:18: transform\.compressLevel: /),
    ]);
  });

  it('needs compress: gzip', async () => {
    const { problems } = await load('  compressLevel: 3\n');
    expect(problems).toEqual(['partners/acme.yaml:8:18: transform.compressLevel: needs compress: gzip']);
  });
});
