import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/config/validate-command.js';
import { useConfigDirs } from '../../support/config-dir.js';

// Lines 1-5; the source block under test starts on line 6.
const PARTNER_HEAD = `id: nightly
schedule: { cron: '0 * * * *' }
target: { host: sftp.nightly.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/nightly } }
source:
  bucket: warehouse-exports
  prefix: nightly/
`;

const configs = useConfigDirs('source-selection-config');

const load = (sourceLines: string) => configs.loadPartner('nightly', PARTNER_HEAD + sourceLines);

describe('source.exclude and source.requireMarker', () => {
  it('accepts both and defaults to no exclude, no marker', async () => {
    const both = await load("  exclude: ['*.tmp', '**/_temporary/**']\n  requireMarker: _SUCCESS\n");
    expect(both.partner?.source.exclude).toEqual(['*.tmp', '**/_temporary/**']);
    expect(both.partner?.source.requireMarker).toBe('_SUCCESS');
    const none = await load('');
    expect(none.partner?.source).not.toHaveProperty('exclude');
    expect(none.partner?.source).not.toHaveProperty('requireMarker');
  });

  it('reports each bad value at its file:line:col', async () => {
    const { problems } = await load(
      ["  exclude: ['/abs/*.tmp', '', 7]", '  requireMarker: done/_SUCCESS', ''].join('\n'),
    );
    expect(problems).toEqual([
      'partners/nightly.yaml:9:13: source.exclude[0]: globs are relative to the prefix and must not start with "/"',
      'partners/nightly.yaml:9:27: source.exclude[1]: must not be empty',
      'partners/nightly.yaml:9:31: source.exclude[2]: must be a string',
      'partners/nightly.yaml:10:18: source.requireMarker: must be a file name without "/" (it is looked for beside each object)',
    ]);
  });

  it.each([
    ['""', 'must not be empty'],
    ["'..'", 'must be a file name, not "." or ".."'],
    ['"a\\tb"', 'must not contain control characters'],
    ['[_SUCCESS]', 'must be a string'],
  ])('rejects requireMarker: %s', async (value, message) => {
    const { problems } = await load(`  requireMarker: ${value}\n`);
    expect(problems).toEqual([`partners/nightly.yaml:9:18: source.requireMarker: ${message}`]);
  });

  it('rejects an exclude that is not a list', async () => {
    const { problems } = await load('  exclude: "*.tmp"\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^partners\/nightly\.yaml:9:12: source\.exclude: /);
  });

  it('ferry validate prints the problems at file:line:col and exits 1', async () => {
    const { dir } = await load("  exclude: ['/x']\n  requireMarker: ''\n");
    const out: string[] = [];
    expect(await runValidate(dir, {}, (l) => out.push(l))).toBe(1);
    expect(out).toEqual([
      `${dir}/partners/nightly.yaml:9:13: source.exclude[0]: globs are relative to the prefix and must not start with "/"`,
      `${dir}/partners/nightly.yaml:10:18: source.requireMarker: must not be empty`,
    ]);
  });
});
