// src/core is pure: decisions only, no queue, Redis, S3, SFTP, file or socket libraries, even through
// a module it imports. This walks the static import graph (type-only imports included) from every
// src/core/*.ts and names the path to anything outside what core may use.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const CORE = join(ROOT, 'src/core');

// Modules outside src/core that core may import; the walk follows them, so their own imports count too.
const ALLOWED_FILES = new Set([
  'src/errors.ts', // FerryError and the code table: no queue library (the job boundary owns those)
]);
// Pure packages: no I/O of their own. node:stream only for the ports' stream types (`import type`).
const ALLOWED_PACKAGES = new Set(['node:crypto', 'node:path', 'node:stream', 'cron-parser', 'picomatch']);

/** Every import chain from `entries` that ends outside core's allowed set, as "a → b → package". */
function forbiddenImports(entries: string[], isAllowedFile: (path: string) => boolean): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const here = [...chain, relative(ROOT, file)];
    for (const { fileName: specifier } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
      .importedFiles) {
      if (!specifier.startsWith('.')) {
        if (!ALLOWED_PACKAGES.has(specifier)) found.push([...here, specifier].join(' → '));
        continue;
      }
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      if (!existsSync(target) || !isAllowedFile(relative(ROOT, target))) {
        found.push([...here, relative(ROOT, target)].join(' → '));
        continue;
      }
      walk(target, here);
    }
  };
  for (const entry of entries) walk(entry, []);
  return found;
}

const inCoreOrAllowed = (path: string): boolean =>
  (path.startsWith('src/core/') && !path.slice('src/core/'.length).includes('/')) || ALLOWED_FILES.has(path);

describe('src/core imports', () => {
  const coreFiles = readdirSync(CORE)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(CORE, name));

  it('finds the core modules to check', () => {
    expect(coreFiles.map((file) => relative(ROOT, file))).toContain('src/core/delivery-id.ts');
  });

  it('reach only src/core, src/errors.ts, pure helpers and pure packages (never bullmq, ioredis, AWS, ssh2, fs or net)', () => {
    expect(forbiddenImports(coreFiles, inCoreOrAllowed)).toEqual([]);
  });

  it('would name the chain to bullmq (the job boundary imports it)', () => {
    const boundary = join(ROOT, 'jobs/job-errors.ts');
    const found = forbiddenImports([boundary], (path) => path.startsWith('jobs/') || inCoreOrAllowed(path));
    expect(found).toContain('jobs/job-errors.ts → bullmq');
  });
});
