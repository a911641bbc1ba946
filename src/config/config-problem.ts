/**
 * One thing wrong with the configuration, placed where a person fixes it.
 * `line`/`col` are 1-based; both are 0 when the problem has no place in a file
 * (a missing file or directory, or an environment variable).
 */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted field path (`target.hostKeys[0]`), or "" when the problem is not about one field. */
  path: string;
  message: string;
}

/** `path/to/file.yaml:LINE:COL: field.path: message` (parts without a value are left out). */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
}

/**
 * A warning in the same place-first format, marked like a compiler warning:
 * `path/to/file.yaml:LINE:COL: warning: field.path: message`.
 */
export function formatWarning(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return p.path === '' ? `${where}: warning: ${p.message}` : `${where}: warning: ${p.path}: ${p.message}`;
}

/** `['target', 'hostKeys', 0]` → `target.hostKeys[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** Sorts by file, then line, then column, keeping the order of problems at the same place. */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort(
    (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.col - b.col,
  );
}
