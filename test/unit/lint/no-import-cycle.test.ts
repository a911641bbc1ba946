import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Linter, type Rule } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';

// The rule is plain JS that eslint.config.js loads at run time; load it the same way.
const rulePath = new URL('../../../eslint-rules/no-import-cycle.js', import.meta.url).href;
const { noImportCycle } = (await import(rulePath)) as { noImportCycle: Rule.RuleModule };

let dir: string;

/** Lints `file` (its text as on disk) with only the cycle rule; returns the messages. */
function lintFile(file: string, code: string): string[] {
  const linter = new Linter({ cwd: dir });
  const messages = linter.verify(
    code,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { local: { rules: { 'no-import-cycle': noImportCycle } } },
        rules: { 'local/no-import-cycle': 'error' },
      },
    ],
    join(dir, file),
  );
  return messages.map((m) => m.message);
}

async function writeModules(modules: Record<string, string>): Promise<void> {
  for (const [file, code] of Object.entries(modules)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), code);
  }
}

beforeAll(async () => {
  dir = await makeTempDir('no-import-cycle');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local/no-import-cycle', () => {
  it('reports a cycle through other files, naming every file on it', async () => {
    const modules = {
      'run/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'run/b.ts': "import { c } from './sub/c.js';\nexport const b = c;\n",
      'run/sub/c.ts': "import { a } from '../a.js';\nexport const c = () => a;\n",
    };
    await writeModules(modules);

    expect(lintFile('run/a.ts', modules['run/a.ts'])).toEqual([
      'Import cycle: run/a.ts -> run/b.ts -> run/sub/c.ts -> run/a.ts',
    ]);
  });

  it('counts type-only imports, re-exports and dynamic imports', async () => {
    const modules = {
      'kinds/types.ts': "import type { U } from './uses.js';\nexport type T = U;\n",
      'kinds/uses.ts': "export type { T as U } from './types.js';\n",
      'kinds/lazy.ts': "export async function load() { return import('./main.js'); }\n",
      'kinds/main.ts': "import { load } from './lazy.js';\nexport const run = load;\n",
    };
    await writeModules(modules);

    expect(lintFile('kinds/types.ts', modules['kinds/types.ts'])).toEqual([
      'Import cycle: kinds/types.ts -> kinds/uses.ts -> kinds/types.ts',
    ]);
    expect(lintFile('kinds/lazy.ts', modules['kinds/lazy.ts'])).toEqual([
      'Import cycle: kinds/lazy.ts -> kinds/main.ts -> kinds/lazy.ts',
    ]);
    // The same cycles seen from the other end, where the import that closes them is read from disk.
    expect(lintFile('kinds/uses.ts', modules['kinds/uses.ts'])).toEqual([
      'Import cycle: kinds/uses.ts -> kinds/types.ts -> kinds/uses.ts',
    ]);
    expect(lintFile('kinds/main.ts', modules['kinds/main.ts'])).toEqual([
      'Import cycle: kinds/main.ts -> kinds/lazy.ts -> kinds/main.ts',
    ]);
  });

  it('accepts imports that only point one way, and package imports', async () => {
    const modules = {
      'dag/top.ts':
        "import { mid } from './mid.js';\nimport { low } from './low.js';\nimport { z } from 'zod';\nexport const top = [mid, low, z];\n",
      'dag/mid.ts': "import { low } from './low.js';\nexport const mid = low;\n",
      'dag/low.ts': 'export const low = 1;\n',
    };
    await writeModules(modules);

    for (const [file, code] of Object.entries(modules)) expect(lintFile(file, code)).toEqual([]);
  });

  it('reads the linted file from the editor, not from disk', async () => {
    await writeModules({
      'live/x.ts': 'export const x = 1;\n',
      'live/y.ts': "import { x } from './x.js';\nexport const y = x;\n",
    });

    // x.ts as being edited: it now imports y.ts, which imports x.ts.
    expect(lintFile('live/x.ts', "import { y } from './y.js';\nexport const x = y;\n")).toEqual([
      'Import cycle: live/x.ts -> live/y.ts -> live/x.ts',
    ]);
  });
});
