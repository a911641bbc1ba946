import { formatProblem, loadConfig } from './load-config.js';

/**
 * `ferry validate`: loads the config directory and prints either one summary line or one
 * `file:line:col: field: message` line per problem. Returns the exit code (0 valid, 1 invalid).
 */
export async function runValidate(
  dir: string,
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const result = await loadConfig(dir, env);
  if (!result.ok) {
    for (const problem of result.problems) out(formatProblem(problem));
    return 1;
  }
  const ids = [...result.config.partners.keys()].sort();
  const count = `${ids.length} partner${ids.length === 1 ? '' : 's'}`;
  out(`config OK: ${count}${ids.length > 0 ? ` (${ids.join(', ')})` : ''} in ${dir}`);
  return 0;
}
