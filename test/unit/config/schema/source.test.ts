import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../../src/config/validate-command.js';
import { useConfigDirs, MINIMAL_FERRY_YAML } from '../../../support/config-dir.js';
import { messagesOf, partnerInput } from '../../../support/partner-input.js';

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

// ferry.yaml `defaults.source.exclude` / `requireMarker`: merged under each partner's own source like the
// other defaults; a partner's own value replaces the default (lists are not joined).
const partnerFile = (id: string, sourceLines = '') => `id: ${id}
schedule: { cron: '0 * * * *' }
target: { host: sftp.${id}.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/${id} } }
source:
  bucket: warehouse-exports
  prefix: ${id}/
${sourceLines}`;

const defaultsConfigs = useConfigDirs('source-defaults-config');

/** Loads ferry.yaml with `defaultsYaml` added, and one partner file per id with its extra source lines. */
const loadWithDefaults = (defaultsYaml: string, partners: Record<string, string>) =>
  defaultsConfigs.load({
    ferryYaml: MINIMAL_FERRY_YAML + defaultsYaml,
    partners: Object.fromEntries(
      Object.entries(partners).map(([id, lines]) => [`${id}.yaml`, partnerFile(id, lines)]),
    ),
  });

describe('defaults.source.exclude and defaults.source.requireMarker', () => {
  it('apply to a partner that sets neither', async () => {
    const { partner, problems } = await loadWithDefaults(
      "defaults:\n  source: { exclude: ['*.tmp'], requireMarker: _SUCCESS }\n",
      { plain: '' },
    );
    expect(problems).toEqual([]);
    expect(partner('plain')?.source.exclude).toEqual(['*.tmp']);
    expect(partner('plain')?.source.requireMarker).toBe('_SUCCESS');
  });

  it("are replaced, not joined, by a partner's own values; exclude: [] drops the default", async () => {
    const { partner, problems } = await loadWithDefaults(
      "defaults:\n  source: { exclude: ['*.tmp'], requireMarker: _SUCCESS }\n",
      {
        own: "  exclude: ['*.bak']\n  requireMarker: _DONE\n",
        none: '  exclude: []\n',
      },
    );
    expect(problems).toEqual([]);
    expect(partner('own')?.source.exclude).toEqual(['*.bak']);
    expect(partner('own')?.source.requireMarker).toBe('_DONE');
    expect(partner('none')?.source.exclude).toEqual([]);
    expect(partner('none')?.source.requireMarker).toBe('_SUCCESS');
  });

  it('leave partners unchanged when not set', async () => {
    const { partner } = await loadWithDefaults('defaults:\n  source: { minAgeSeconds: 5 }\n', { plain: '' });
    expect(partner('plain')?.source).not.toHaveProperty('exclude');
    expect(partner('plain')?.source).not.toHaveProperty('requireMarker');
    expect(partner('plain')?.source.minAgeSeconds).toBe(5);
  });

  it('report a bad default at ferry.yaml:line:col', async () => {
    const { problems } = await loadWithDefaults(
      ['defaults:', '  source:', "    exclude: ['/abs']", '    requireMarker: a/b', ''].join('\n'),
      { plain: '' },
    );
    expect(problems).toEqual([
      'ferry.yaml:4:15: defaults.source.exclude[0]: globs are relative to the prefix and must not start with "/"',
      'ferry.yaml:5:20: defaults.source.requireMarker: must be a file name without "/" (it is looked for beside each object)',
    ]);
  });
});

describe('source.maxAgeDays', () => {
  it('comes from defaults unless the partner sets its own, and is absent when neither does', async () => {
    const { partner, problems } = await loadWithDefaults('defaults:\n  source: { maxAgeDays: 7 }\n', {
      plain: '',
      own: '  maxAgeDays: 1.5\n',
    });
    expect(problems).toEqual([]);
    expect(partner('plain')?.source.maxAgeDays).toBe(7);
    expect(partner('own')?.source.maxAgeDays).toBe(1.5);
    const without = await loadWithDefaults('', { plain: '' });
    expect(without.partner('plain')?.source).not.toHaveProperty('maxAgeDays');
  });

  it('must be a number of days greater than 0, reported at file:line:col', async () => {
    const { problems } = await loadWithDefaults('', { zero: '  maxAgeDays: 0\n' });
    expect(problems).toEqual([
      'partners/zero.yaml:9:15: source.maxAgeDays: must be a number of days greater than 0',
    ]);
  });
});

describe('source.identity', () => {
  it('is absent unless set (content), comes from defaults, and a partner’s own value wins', async () => {
    const { partner, problems } = await loadWithDefaults('defaults:\n  source: { identity: version }\n', {
      plain: '',
      own: '  identity: content\n',
    });
    expect(problems).toEqual([]);
    expect(partner('plain')?.source.identity).toBe('version');
    expect(partner('own')?.source.identity).toBe('content');
    expect((await loadWithDefaults('', { plain: '' })).partner('plain')?.source).not.toHaveProperty(
      'identity',
    );
  });

  it('must be content or version, reported at file:line:col', async () => {
    const { problems } = await loadWithDefaults('', { odd: '  identity: etag\n' });
    expect(problems).toEqual(['partners/odd.yaml:9:13: source.identity: must be content or version']);
  });
});

describe('partnerSchema', () => {
  it('requires the prefix to end with "/" unless it is the whole bucket', () => {
    const input = { ...partnerInput(), source: { bucket: 'warehouse-exports', prefix: 'acme' } };
    expect(messagesOf(input)).toEqual(['source.prefix: must end with "/" (or be "" for the whole bucket)']);
  });
});
