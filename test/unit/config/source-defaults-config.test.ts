// ferry.yaml `defaults.source.exclude` / `requireMarker`: merged under each partner's own source like the
// other defaults; a partner's own value replaces the default (lists are not joined).
import { describe, expect, it } from 'vitest';
import { MINIMAL_FERRY_YAML, useConfigDirs } from '../../support/config-dir.js';

const partnerFile = (id: string, sourceLines = '') => `id: ${id}
schedule: { cron: '0 * * * *' }
target: { host: sftp.${id}.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/${id} } }
source:
  bucket: warehouse-exports
  prefix: ${id}/
${sourceLines}`;

const configs = useConfigDirs('source-defaults-config');

/** Loads ferry.yaml with `defaultsYaml` added, and one partner file per id with its extra source lines. */
const load = (defaultsYaml: string, partners: Record<string, string>) =>
  configs.load({
    ferryYaml: MINIMAL_FERRY_YAML + defaultsYaml,
    partners: Object.fromEntries(
      Object.entries(partners).map(([id, lines]) => [`${id}.yaml`, partnerFile(id, lines)]),
    ),
  });

describe('defaults.source.exclude and defaults.source.requireMarker', () => {
  it('apply to a partner that sets neither', async () => {
    const { partner, problems } = await load(
      "defaults:\n  source: { exclude: ['*.tmp'], requireMarker: _SUCCESS }\n",
      { plain: '' },
    );
    expect(problems).toEqual([]);
    expect(partner('plain')?.source.exclude).toEqual(['*.tmp']);
    expect(partner('plain')?.source.requireMarker).toBe('_SUCCESS');
  });

  it("are replaced, not joined, by a partner's own values; exclude: [] drops the default", async () => {
    const { partner, problems } = await load(
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
    const { partner } = await load('defaults:\n  source: { minAgeSeconds: 5 }\n', { plain: '' });
    expect(partner('plain')?.source).not.toHaveProperty('exclude');
    expect(partner('plain')?.source).not.toHaveProperty('requireMarker');
    expect(partner('plain')?.source.minAgeSeconds).toBe(5);
  });

  it('report a bad default at ferry.yaml:line:col', async () => {
    const { problems } = await load(
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
    const { partner, problems } = await load('defaults:\n  source: { maxAgeDays: 7 }\n', {
      plain: '',
      own: '  maxAgeDays: 1.5\n',
    });
    expect(problems).toEqual([]);
    expect(partner('plain')?.source.maxAgeDays).toBe(7);
    expect(partner('own')?.source.maxAgeDays).toBe(1.5);
    const without = await load('', { plain: '' });
    expect(without.partner('plain')?.source).not.toHaveProperty('maxAgeDays');
  });

  it('must be a number of days greater than 0, reported at file:line:col', async () => {
    const { problems } = await load('', { zero: '  maxAgeDays: 0\n' });
    expect(problems).toEqual([
      'partners/zero.yaml:9:15: source.maxAgeDays: must be a number of days greater than 0',
    ]);
  });
});

describe('source.identity', () => {
  it('is absent unless set (content), comes from defaults, and a partner’s own value wins', async () => {
    const { partner, problems } = await load('defaults:\n  source: { identity: version }\n', {
      plain: '',
      own: '  identity: content\n',
    });
    expect(problems).toEqual([]);
    expect(partner('plain')?.source.identity).toBe('version');
    expect(partner('own')?.source.identity).toBe('content');
    expect((await load('', { plain: '' })).partner('plain')?.source).not.toHaveProperty('identity');
  });

  it('must be content or version, reported at file:line:col', async () => {
    const { problems } = await load('', { odd: '  identity: etag\n' });
    expect(problems).toEqual(['partners/odd.yaml:9:13: source.identity: must be content or version']);
  });
});
