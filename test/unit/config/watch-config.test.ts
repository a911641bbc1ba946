import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigResult } from '../../../src/config/load-config.js';
import { watchConfig } from '../../../src/config/watch-config.js';
import { makeTempDir } from '../../support/temp-dir.js';

const VALID = fileURLToPath(new URL('./fixtures/valid/', import.meta.url));

let dir: string;
let watcher: { close(): void } | undefined;
const waiters: Array<{ matches: (r: ConfigResult) => boolean; resolve: (r: ConfigResult) => void }> = [];

/** Resolves with the first reload result that matches (callbacks that do not match are ignored). */
function nextResult(matches: (r: ConfigResult) => boolean): Promise<ConfigResult> {
  return new Promise((resolve) => waiters.push({ matches, resolve }));
}

function onChange(result: ConfigResult): void {
  for (const [i, waiter] of waiters.entries()) {
    if (waiter.matches(result)) {
      waiters.splice(i, 1);
      waiter.resolve(result);
      return;
    }
  }
}

beforeEach(async () => {
  dir = await makeTempDir('watch-config-test');
  await cp(VALID, dir, { recursive: true });
});
afterEach(async () => {
  watcher?.close();
  watcher = undefined;
  waiters.length = 0;
  await rm(dir, { recursive: true, force: true });
});

describe('watchConfig', () => {
  it('reloads after a partner file is edited', async () => {
    watcher = watchConfig(dir, {}, onChange);
    const reloaded = nextResult((r) => r.ok && r.config.partners.get('acme')?.schedule.cron === '30 4 * * *');
    const file = join(dir, 'partners', 'acme.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace("cron: '0 2 * * *'", "cron: '30 4 * * *'"));
    const result = await reloaded;
    expect(result.ok && [...result.config.partners.keys()]).toEqual(['acme', 'globex']);
  });

  it('passes an invalid edit on as ok:false with located problems', async () => {
    watcher = watchConfig(dir, {}, onChange);
    const rejected = nextResult((r) => !r.ok);
    const file = join(dir, 'partners', 'globex.yml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('directory: /', 'directory: inbound'));
    const result = await rejected;
    expect(result.ok ? [] : result.problems).toEqual([
      {
        file,
        line: 13,
        col: 14,
        path: 'target.directory',
        message: 'must be an absolute path (start with "/")',
      },
    ]);
  });

  it('reloads after ferry.yaml changes', async () => {
    watcher = watchConfig(dir, {}, onChange);
    const reloaded = nextResult((r) => r.ok && r.config.service.log.level === 'debug');
    const file = join(dir, 'ferry.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('level: warn', 'level: debug'));
    await reloaded;
  });

  it('sees partner files added to a partners/ folder created after it started', async () => {
    await rm(join(dir, 'partners'), { recursive: true });
    watcher = watchConfig(dir, {}, onChange);
    const reloaded = nextResult((r) => r.ok && r.config.partners.has('globex'));
    await mkdir(join(dir, 'partners'));
    await cp(join(VALID, 'partners', 'globex.yml'), join(dir, 'partners', 'globex.yml'));
    await reloaded;
  });
});
