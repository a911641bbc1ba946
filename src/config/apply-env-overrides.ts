// The environment wins over ferry.yaml (twelve-factor deploys set these); the merged result is validated.
import type { ConfigProblem } from './config-problem.js';

/** The environment variable a field came from, keyed by dotted field path, so errors blame the variable. */
export type OverriddenFields = ReadonlyMap<string, string>;

export interface EnvOverrides {
  problems: ConfigProblem[];
  overridden: OverriddenFields;
}

/** Where the admin password reference points when FERRY_ADMIN_PASSWORD is set (its value is never read here). */
export const ADMIN_PASSWORD_ENV = 'FERRY_ADMIN_PASSWORD';
/** The same for the read-only dashboard login. */
export const VIEWER_PASSWORD_ENV = 'FERRY_VIEWER_PASSWORD';

type Parse = (value: string) => { ok: true; value: unknown } | { ok: false; message: string };

const asString: Parse = (value) => ({ ok: true, value });

const asBoolean: Parse = (value) => {
  if (value === 'true' || value === '1') return { ok: true, value: true };
  if (value === 'false' || value === '0') return { ok: true, value: false };
  return { ok: false, message: 'must be "true", "false", "1" or "0"' };
};

const asPort: Parse = (value) =>
  /^\d{1,5}$/.test(value) && Number(value) <= 65535
    ? { ok: true, value: Number(value) }
    : { ok: false, message: 'must be a port number (0-65535)' };

// "redis://a:6379, redis://b:6379" → a list; each entry is validated (and blamed on the variable) by the schema.
const asList: Parse = (value) => {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length > 0
    ? { ok: true, value: items }
    : { ok: false, message: 'must list URLs separated by commas' };
};

const OVERRIDES: ReadonlyArray<{ env: string; path: readonly [string, string]; parse: Parse }> = [
  { env: 'REDIS_URL', path: ['redis', 'url'], parse: asString },
  { env: 'FERRY_REDIS_CLUSTER', path: ['redis', 'cluster'], parse: asList },
  { env: 'S3_ENDPOINT', path: ['s3', 'endpoint'], parse: asString },
  { env: 'S3_FORCE_PATH_STYLE', path: ['s3', 'forcePathStyle'], parse: asBoolean },
  { env: 'AWS_REGION', path: ['s3', 'region'], parse: asString },
  { env: 'FERRY_ADMIN_USER', path: ['http', 'adminUser'], parse: asString },
  { env: 'FERRY_VIEWER_USER', path: ['http', 'viewerUser'], parse: asString },
  { env: 'FERRY_HTTP_PORT', path: ['http', 'port'], parse: asPort },
  { env: 'LOG_LEVEL', path: ['log', 'level'], parse: asString },
];

/**
 * Writes the environment's values into `raw` (the parsed ferry.yaml, mutated in place).
 * Empty variables count as unset. FERRY_ADMIN_PASSWORD and FERRY_VIEWER_PASSWORD only record that the
 * password lives in that variable; the value itself never enters the config.
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): EnvOverrides {
  const problems: ConfigProblem[] = [];
  const overridden = new Map<string, string>();
  for (const { env: name, path, parse } of OVERRIDES) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const parsed = parse(text);
    if (!parsed.ok) {
      problems.push({ file: 'environment', line: 0, col: 0, path: name, message: parsed.message });
      continue;
    }
    const section = sectionOf(raw, path[0]);
    if (section === undefined) continue;
    section[path[1]] = parsed.value;
    overridden.set(path.join('.'), name);
    if (Array.isArray(parsed.value)) {
      parsed.value.forEach((_, i) => overridden.set(`${path.join('.')}[${i}]`, name));
    }
  }
  for (const [name, kind] of [
    [ADMIN_PASSWORD_ENV, 'admin'],
    [VIEWER_PASSWORD_ENV, 'viewer'],
  ] as const) {
    if ((env[name] ?? '') === '') continue;
    const http = sectionOf(raw, 'http');
    if (http === undefined) continue;
    delete http[`${kind}PasswordFile`];
    http[`${kind}PasswordEnv`] = name;
    overridden.set(`http.${kind}PasswordEnv`, name);
  }
  return { problems, overridden };
}

// The section object to write into, created when absent; undefined when the file has something else there
// (the schema reports that at its place in ferry.yaml).
function sectionOf(raw: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const current = raw[name];
  if (current === undefined || current === null) {
    const created: Record<string, unknown> = {};
    raw[name] = created;
    return created;
  }
  return isPlainObject(current) ? current : undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
