import { formatProblem, formatWarning, loadConfig } from './load-config.js';

/**
 * `ferry validate`: loads the config directory and prints either one summary line or one
 * `file:line:col: field: message` line per problem, plus one `file:line:col: warning: field: message`
 * line per warning. Returns the exit code (0 valid, 1 invalid); warnings never change it.
 */
export async function runValidate(
  dir: string,
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const result = await loadConfig(dir, env);
  if (!result.ok) {
    for (const problem of result.problems) out(formatProblem(problem));
    for (const warning of result.warnings ?? []) out(formatWarning(warning));
    return 1;
  }
  for (const warning of result.warnings ?? []) out(formatWarning(warning));
  const ids = [...result.config.partners.keys()].sort();
  const count = `${ids.length} partner${ids.length === 1 ? '' : 's'}`;
  const n = result.warnings?.length ?? 0;
  const warned = n > 0 ? ` (${n} warning${n === 1 ? '' : 's'})` : '';
  out(`config OK: ${count}${ids.length > 0 ? ` (${ids.join(', ')})` : ''} in ${dir}${warned}`);
  return 0;
}
