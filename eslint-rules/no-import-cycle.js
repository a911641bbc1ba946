// @ts-check
// A local ESLint rule: no import cycles. eslint-plugin-import-x's no-cycle needs a TypeScript resolver
// plugin (two more dev dependencies, one native) to follow `.js` specifiers to `.ts` files; Ferry's
// imports are all relative with explicit extensions, so following them is a few lines here.
// Type-only imports count too: layers are about which way dependencies point, not about what survives
// compilation.
import { readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

/** @type {Map<string, { mtimeMs: number; deps: string[] }>} file -> its relative imports, resolved */
const importsCache = new Map();

/** The file a relative specifier names (`./x.js` is written for `./x.ts`); undefined for packages. */
function resolveSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  return resolve(dirname(fromFile), specifier.replace(/\.js$/, '.ts'));
}

/** A file's relative imports (static, dynamic, re-exports, type-only), re-read when it changed on disk. */
function importsOf(file) {
  let mtimeMs;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return []; // not a file (a package, or a broken import that tsc reports)
  }
  const cached = importsCache.get(file);
  if (cached && cached.mtimeMs === mtimeMs) return cached.deps;
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const deps = importedFiles.flatMap(({ fileName }) => resolveSpecifier(file, fileName) ?? []);
  importsCache.set(file, { mtimeMs, deps });
  return deps;
}

/** The shortest import path from `start` back to `target`, or undefined when there is none. */
function pathBack(start, target) {
  /** @type {Map<string, string | undefined>} */
  const cameFrom = new Map([[start, undefined]]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const file = /** @type {string} */ (queue[i]);
    for (const dep of importsOf(file)) {
      if (dep === target) {
        const path = [file];
        for (let f = cameFrom.get(file); f !== undefined; f = cameFrom.get(f)) path.unshift(f);
        return path;
      }
      if (!cameFrom.has(dep)) {
        cameFrom.set(dep, file);
        queue.push(dep);
      }
    }
  }
  return undefined;
}

/** @type {import('eslint').Rule.RuleModule} */
export const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles between relative modules (type-only imports included).' },
    schema: [],
    messages: { cycle: 'Import cycle: {{cycle}}' },
  },
  create(context) {
    const file = context.filename;
    const cwd = context.cwd;
    /** @param {import('estree').Node & { source?: unknown }} node */
    const check = (node) => {
      const source = /** @type {{ type: string; value?: unknown }} */ (node.source);
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
      const target = resolveSpecifier(file, source.value);
      if (target === undefined || target === file) return;
      const back = pathBack(target, file);
      if (back === undefined) return;
      const cycle = [file, ...back, file].map((f) => relative(cwd, f)).join(' -> ');
      context.report({ node, messageId: 'cycle', data: { cycle } });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export const localRules = { rules: { 'no-import-cycle': noImportCycle } };
