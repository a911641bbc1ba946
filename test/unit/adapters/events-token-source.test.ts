// The token file followed as it changes, on the real file system with a stepped clock (no waiting).
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  digestEventsToken,
  openEventsTokenFile,
  openEventsTokens,
} from '../../../src/adapters/events-token-source.js';

let dir: string;
let file: string;
let clock: number;
let lines: { level: 'info' | 'error'; obj: object; msg: string }[];
const logger = {
  info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
  error: (obj: object, msg: string) => lines.push({ level: 'error', obj, msg }),
};
const open = () => openEventsTokenFile(file, { logger, now: () => clock });
const digestsOf = (...tokens: string[]) => tokens.map(digestEventsToken);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-events-tokens-'));
  file = join(dir, 'events-tokens');
  clock = 1_000_000;
  lines = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openEventsTokenFile', () => {
  it('accepts every token of the file', async () => {
    await writeFile(file, '# rotation\ntok-old\ntok-new\n');
    expect(await (await open()).digests()).toEqual(digestsOf('tok-old', 'tok-new'));
  });

  it('picks up a changed file at the first request a second after the last look', async () => {
    await writeFile(file, 'tok-old\n');
    const tokens = await open();
    await writeFile(file, 'tok-old\ntok-new\n');
    clock += 999;
    expect(await tokens.digests()).toEqual(digestsOf('tok-old'));
    clock += 1;
    expect(await tokens.digests()).toEqual(digestsOf('tok-old', 'tok-new'));
    await writeFile(file, 'tok-new\n');
    clock += 1000;
    expect(await tokens.digests()).toEqual(digestsOf('tok-new'));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'events tokens reloaded'],
      ['info', 'events tokens reloaded'],
    ]);
  });

  it('shares one look among concurrent requests', async () => {
    await writeFile(file, 'tok-old\n');
    const tokens = await open();
    await writeFile(file, 'tok-new\n');
    clock += 1000;
    const all = await Promise.all([tokens.digests(), tokens.digests(), tokens.digests()]);
    expect(all).toEqual([digestsOf('tok-new'), digestsOf('tok-new'), digestsOf('tok-new')]);
    expect(lines).toHaveLength(1);
  });

  it.each([
    ['emptied', (f: string) => writeFile(f, '\n# nothing here\n')],
    ['removed', (f: string) => unlink(f)],
  ])(
    'keeps the last good tokens when the file is %s, and logs one error without a token',
    async (_l, spoil) => {
      await writeFile(file, 'tok-secret-1\n');
      const tokens = await open();
      await spoil(file);
      for (let i = 0; i < 3; i += 1) {
        clock += 1000;
        expect(await tokens.digests()).toEqual(digestsOf('tok-secret-1'));
      }
      expect(lines.map((l) => l.level)).toEqual(['error']);
      expect(lines[0]!.obj).toMatchObject({ file, code: 'ERR_SECRET_MISSING', tokens: 1 });
      expect(JSON.stringify(lines)).not.toContain('tok-secret');
      // Good again: taken, and a later bad spell is logged once more.
      await writeFile(file, 'tok-secret-2\n');
      clock += 1000;
      expect(await tokens.digests()).toEqual(digestsOf('tok-secret-2'));
      await writeFile(file, '');
      clock += 1000;
      expect(await tokens.digests()).toEqual(digestsOf('tok-secret-2'));
      expect(lines.map((l) => l.level)).toEqual(['error', 'info', 'error']);
      expect(JSON.stringify(lines)).not.toContain('tok-secret');
    },
  );

  it.each([
    ['missing', async () => {}, /cannot be read \(ENOENT\)/],
    ['without a token', () => writeFile(file, '# later\n'), /names no token/],
  ])('refuses to start with a file %s (ERR_SECRET_MISSING)', async (_l, prepare, message) => {
    await prepare();
    await expect(open()).rejects.toMatchObject({ code: 'ERR_SECRET_MISSING', message });
  });
});

describe('openEventsTokens', () => {
  it('takes a tokenEnv value as one fixed token', async () => {
    const tokens = await openEventsTokens({ env: 'EV_TOKEN' }, { EV_TOKEN: 'tok-env\n' }, { logger });
    expect(await tokens.digests()).toEqual(digestsOf('tok-env'));
  });

  it('follows a tokenFile', async () => {
    await writeFile(file, 'tok-file\n');
    const tokens = await openEventsTokens({ file }, {}, { logger });
    expect(await tokens.digests()).toEqual(digestsOf('tok-file'));
  });
});
