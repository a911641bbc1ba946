// Parses one YAML file keeping node ranges, so any field path can be turned back into file:line:col.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node } from 'yaml';
import { formatPath, type ConfigProblem } from './config-problem.js';

export type YamlPath = ReadonlyArray<string | number>;

export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Syntax problems (tabs, duplicate keys, unquoted `*` aliases…); when any exist, `value` is undefined. */
  syntaxProblems: ConfigProblem[];
  /** The plain JS value of the document (null for an empty file). */
  value: unknown;
}

const ALIAS_HINT = 'unquoted "*" starts a YAML alias: quote the value, e.g. cron: "*/5 * * * *"';

/** Parses YAML 1.2 text into a located document; never throws. */
export function parseYamlSource(file: string, text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const source: YamlSource = { file, doc, lineCounter, syntaxProblems: [], value: undefined };
  const problems = new Map<number, ConfigProblem>(); // one per line: later errors on a line are echoes of the first

  const add = (offset: number, message: string): void => {
    const { line, col } = positionOf(source, offset);
    if (!problems.has(line)) {
      problems.set(line, { file, line, col, path: pathAtOffset(doc, offset), message });
    }
  };

  // `cron: */5 * * * *` parses as an alias to the anchor "/5"; the parser only complains about what follows.
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) === undefined && node.range) add(node.range[0], ALIAS_HINT);
    },
  });
  // After a structural error (bad indent, tab, unclosed bracket) the parser loses its place and every
  // following line errors too: report the first one. Duplicate keys and aliases do not cascade.
  let structural = false;
  for (const err of doc.errors) {
    if (problems.has(positionOf(source, err.pos[0]).line)) continue; // e.g. the rest of an alias line
    if (err.code !== 'DUPLICATE_KEY') {
      if (structural) continue;
      structural = true;
    }
    const message =
      err.code === 'DUPLICATE_KEY'
        ? 'duplicate key (YAML keys must be unique)'
        : err.code === 'TAB_AS_INDENT'
          ? 'tabs are not allowed as indentation: use spaces'
          : err.message;
    add(err.pos[0], message);
  }
  source.syntaxProblems = [...problems.values()].sort((a, b) => a.line - b.line || a.col - b.col);
  if (source.syntaxProblems.length === 0) {
    try {
      source.value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      source.syntaxProblems.push({
        file,
        line: 1,
        col: 1,
        path: '',
        message: `cannot be read as YAML: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
  return source;
}

/** 1-based line/col of a character offset. */
export function positionOf(source: YamlSource, offset: number): { line: number; col: number } {
  const pos = source.lineCounter.linePos(offset);
  return pos.line === 0 ? { line: 1, col: offset + 1 } : pos;
}

/**
 * Where a field path points in the file: the deepest node that exists along it.
 * `at: 'key'` points at the last key itself (unknown fields); otherwise at its value. A missing field
 * therefore lands on its parent mapping, and a field only set by defaults on the nearest ancestor.
 */
export function locatePath(
  source: YamlSource,
  path: YamlPath,
  at: 'key' | 'value' = 'value',
): { line: number; col: number } {
  let node: unknown = source.doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (pair === undefined) break;
      const keyStart = rangeStart(pair.key);
      if (last && at === 'key' && keyStart !== undefined) return positionOf(source, keyStart);
      const valueStart = isEmptyScalar(pair.value) ? undefined : rangeStart(pair.value);
      if (valueStart === undefined) {
        if (keyStart !== undefined) offset = keyStart;
        break;
      }
      node = pair.value;
      offset = valueStart;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      const start = rangeStart(item);
      if (start === undefined) break;
      node = item;
      offset = start;
    } else {
      break;
    }
  }
  return positionOf(source, offset);
}

/** The field path of the innermost key or value containing `offset` ("" when none does). */
function pathAtOffset(doc: Document.Parsed, offset: number): string {
  const path: Array<string | number> = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => contains(p.key, offset) || contains(p.value, offset));
      if (pair === undefined) break;
      path.push(keyText(pair.key));
      if (contains(pair.key, offset)) break;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => contains(item, offset));
      if (index < 0) break;
      path.push(index);
      node = node.items[index];
    } else {
      break;
    }
  }
  return formatPath(path);
}

/** A mapping key as text (keys are scalars in every file Ferry reads). */
export function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  if (isAlias(key)) return `*${key.source}`;
  return String(key);
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

function contains(node: unknown, offset: number): boolean {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] <= offset && offset < Math.max(range[2], range[0] + 1) : false;
}

// `key:` with nothing after it: the null scalar sits past the colon; point at the key instead.
function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null && (node.source === '' || node.source === undefined);
}
