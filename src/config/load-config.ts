// Reads <dir>/ferry.yaml and <dir>/partners/*.yaml, validates everything, and reports every problem at once,
// each at its file:line:col. A config is returned only when there is no problem at all.
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import { applyEnvOverrides, isPlainObject, type OverriddenFields } from './apply-env-overrides.js';
import { formatPath, sortProblems, type ConfigProblem } from './config-problem.js';
import { checkTransformKeys, resolveTransformFiles } from './check-transform-keys.js';
import { deepFreeze, freezeMap } from './deep-freeze.js';
import { findInlineSecrets, type InlineSecret } from './find-inline-secrets.js';
import { locatePath, parseYamlSource, type YamlPath, type YamlSource } from './parse-yaml-source.js';
import {
  ferryFileSchema,
  partnerDefaultsSchema,
  partnerSchema,
  type DashboardLogin,
  type PartnerConfig,
  type PasswordRef,
  type ServiceConfig,
} from './schema.js';
import { ALGORITHM_CATEGORIES, isLegacyAlgorithm } from '../core/ssh-algorithms.js';
import { moveTargetConflicts } from '../core/source-housekeeping.js';
import { minutesOfDay } from '../core/delivery-window.js';
import { DEFAULT_LOOKBACK_DAYS, partitionRepeat } from '../core/prefix-template.js';
import type { FilenameTemplate } from '../core/filename-template.js';

export { formatProblem, formatWarning, type ConfigProblem } from './config-problem.js';

/** A validated, deep-frozen configuration. */
export interface FerryConfig {
  dir: string;
  service: ServiceConfig;
  /** By partner id. */
  partners: ReadonlyMap<string, PartnerConfig>;
  /** Partner id → the file it was read from. */
  partnerFiles: ReadonlyMap<string, string>;
  /** `defaults.target.maxBytesPerSecond`: one cap on every partner's deliveries together (bytes/s). */
  totalMaxBytesPerSecond?: number;
}

/**
 * `warnings` are things that work but deserve a second look (e.g. a legacy SSH algorithm); they never
 * make a config invalid. loadConfig always sets them; other producers of a ConfigResult may leave them out.
 */
export type ConfigResult =
  | { ok: true; config: FerryConfig; warnings?: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[]; warnings?: ConfigProblem[] };

/** The config directory: the --config flag, else $FERRY_CONFIG, else ./config. */
export function resolveConfigDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.FERRY_CONFIG;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : './config';
}

const PARTNER_FILE = /\.ya?ml$/;

/**
 * Loads and validates the config directory. Never throws for bad config: every problem found (YAML
 * syntax, schema, inline secrets, duplicate ids or targets across files, bad environment overrides) is
 * returned, sorted by file and line. Environment variables override ferry.yaml before validation.
 */
export async function loadConfig(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigResult> {
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat?.isDirectory()) {
    return {
      ok: false,
      problems: [{ file: dir, line: 0, col: 0, path: '', message: 'config directory not found' }],
    };
  }
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const { service, defaults, totalMaxBytesPerSecond } = await loadServiceFile(dir, env, problems);
  const partners = await loadPartnerFiles(dir, defaults, problems, warnings);
  problems.push(...(await checkTransformKeys(partners, dir, env)));

  if (problems.length > 0 || service === undefined) {
    return { ok: false, problems: sortProblems(problems), warnings: sortProblems(warnings) };
  }
  const config: FerryConfig = deepFreeze({
    dir,
    service: deepFreeze(resolveServiceFiles(service, dir)),
    partners: freezeMap(partners.map((p) => [p.partner.id, deepFreeze(resolvePartnerFiles(p.partner, dir))])),
    partnerFiles: freezeMap(partners.map((p) => [p.partner.id, p.file])),
    ...(totalMaxBytesPerSecond === undefined ? {} : { totalMaxBytesPerSecond }),
  });
  return { ok: true, config, warnings: sortProblems(warnings) };
}

async function loadServiceFile(
  dir: string,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
): Promise<{ service?: ServiceConfig; defaults?: unknown; totalMaxBytesPerSecond?: number }> {
  const file = join(dir, 'ferry.yaml');
  const read = await readYaml(file, problems);
  if (read === 'unreadable') return {};
  const source = read === 'missing' ? undefined : read;
  const secrets = source ? findInlineSecrets(source) : [];
  problems.push(...(source?.syntaxProblems ?? []), ...secrets.map((s) => s.problem));
  if (source !== undefined && source.syntaxProblems.length > 0) return {};

  const value = source?.value ?? {}; // an absent or empty ferry.yaml means "all defaults"
  const raw: unknown = isPlainObject(value) ? structuredClone(value) : value;
  let overridden: OverriddenFields = new Map();
  if (isPlainObject(raw)) {
    const applied = applyEnvOverrides(raw, env);
    problems.push(...applied.problems);
    overridden = applied.overridden;
  }
  const parsed = validate(ferryFileSchema, raw, { file, source, secrets, overridden });
  if (read === 'missing') {
    // Only receipts.bucket has no default; say why it is missing.
    for (const p of parsed.problems) if (p.file === file) p.message += ` (${file} does not exist)`;
  }
  problems.push(...parsed.problems);
  const defaultsRaw = withoutTotalCap(isPlainObject(raw) ? raw.defaults : undefined);
  const defaults = partnerDefaultsSchema.safeParse(defaultsRaw ?? {}).success ? defaultsRaw : undefined;
  if (parsed.data === undefined) return { defaults };
  const { defaults: parsedDefaults, ...service } = parsed.data;
  const total = parsedDefaults?.target?.maxBytesPerSecond;
  return { service, defaults, ...(total === undefined ? {} : { totalMaxBytesPerSecond: total }) };
}

/** `defaults` without `target.maxBytesPerSecond`, which caps all partners together and is never merged into one. */
function withoutTotalCap(defaults: unknown): unknown {
  if (!isPlainObject(defaults) || !isPlainObject(defaults.target)) return defaults;
  const { maxBytesPerSecond: _total, ...target } = defaults.target;
  return { ...defaults, target };
}

async function loadPartnerFiles(
  dir: string,
  defaults: unknown,
  problems: ConfigProblem[],
  warnings: ConfigProblem[],
): Promise<Array<{ file: string; partner: PartnerConfig; source: YamlSource }>> {
  const partnersDir = join(dir, 'partners');
  let names: string[];
  try {
    const entries = await readdir(partnersDir, { withFileTypes: true });
    names = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && PARTNER_FILE.test(e.name) && !/^[._]/.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    problems.push({
      file: partnersDir,
      line: 0,
      col: 0,
      path: '',
      message: `cannot be read (${errorCode(err)})`,
    });
    return [];
  }

  const valid: Array<{ file: string; partner: PartnerConfig; source: YamlSource }> = [];
  const idOwners = new Map<string, string>();
  for (const name of names) {
    const file = join(partnersDir, name);
    const source = await readYaml(file, problems);
    if (typeof source === 'string') continue; // unreadable (reported) or vanished since readdir
    problems.push(...source.syntaxProblems);
    const secrets = findInlineSecrets(source);
    problems.push(...secrets.map((s) => s.problem));
    if (source.syntaxProblems.length > 0) continue;
    if (source.value === null || source.value === undefined) {
      problems.push({
        file,
        line: 1,
        col: 1,
        path: '',
        message: 'file is empty: a partner needs id, schedule, source and target',
      });
      continue;
    }

    const rawId = isPlainObject(source.value) ? source.value.id : undefined;
    if (typeof rawId === 'string') {
      const owner = idOwners.get(rawId);
      if (owner === undefined) {
        idOwners.set(rawId, file);
      } else {
        const { line, col } = locatePath(source, ['id']);
        problems.push({
          file,
          line,
          col,
          path: 'id',
          message: `duplicate partner id "${rawId}": already used by ${owner}`,
        });
      }
    }

    warnings.push(...legacyAlgorithmWarnings(file, source));
    const parsed = validate(partnerSchema, withDefaults(defaults, source.value), { file, source, secrets });
    problems.push(...parsed.problems);
    if (parsed.data !== undefined) {
      valid.push({ file, partner: parsed.data, source });
      warnings.push(...partnerSetupWarnings(file, parsed.data, source));
    }
  }

  // Two partners writing into the same remote directory would overwrite (or "skip") each other's files.
  const targets = new Map<string, { id: string; file: string }>();
  for (const { file, partner, source } of valid) {
    const { host, port, directory } = partner.target;
    const key = `${host.toLowerCase()}\0${port}\0${directory}`;
    const first = targets.get(key);
    if (first === undefined) {
      targets.set(key, { id: partner.id, file });
      continue;
    }
    const { line, col } = locatePath(source, ['target', 'directory']);
    problems.push({
      file,
      line,
      col,
      path: 'target.directory',
      message: `same host, port and directory as partner "${first.id}" (${first.file})`,
    });
  }
  // A moved object must land outside every partner's source, or it would be delivered again.
  const all = valid.map((v) => v.partner);
  for (const { file, partner, source } of valid) {
    const conflicts = moveTargetConflicts(partner, all);
    if (conflicts.length === 0) continue;
    const { line, col } = locatePath(source, ['after', 'source', 'move']);
    problems.push({
      file,
      line,
      col,
      path: 'after.source.move',
      message: `moved objects would land inside the source prefix of ${conflicts.map((id) => `"${id}"`).join(', ')} and be delivered again`,
    });
  }
  return valid;
}

async function readYaml(
  file: string,
  problems: ConfigProblem[],
): Promise<YamlSource | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'missing';
    problems.push({ file, line: 0, col: 0, path: '', message: `cannot be read (${errorCode(err)})` });
    return 'unreadable';
  }
  return parseYamlSource(file, text);
}

interface ValidationContext {
  file: string;
  source: YamlSource | undefined;
  secrets: readonly InlineSecret[];
  overridden?: OverriddenFields;
}

/** Runs a schema and turns each issue into a located problem (unknown keys: one problem per key). */
function validate<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  ctx: ValidationContext,
): { data?: z.output<S>; problems: ConfigProblem[] } {
  const result = schema.safeParse(raw, { error: describeIssue });
  if (result.success) return { data: result.data, problems: [] };

  const secretPaths = ctx.secrets.map((s) => formatPath(s.path));
  const problems: ConfigProblem[] = [];
  const add = (path: YamlPath, at: 'key' | 'value', message: string): void => {
    const dotted = formatPath(path);
    // An inline secret is already reported; a second "unknown field" for it is noise.
    if (secretPaths.some((s) => dotted === s || dotted.startsWith(`${s}.`) || dotted.startsWith(`${s}[`))) {
      return;
    }
    const envName = ctx.overridden?.get(dotted);
    if (envName !== undefined) {
      problems.push({
        file: 'environment',
        line: 0,
        col: 0,
        path: envName,
        message: `${message} (overrides ${dotted})`,
      });
      return;
    }
    const { line, col } = ctx.source ? locatePath(ctx.source, path, at) : { line: 0, col: 0 };
    problems.push({ file: ctx.file, line, col, path: dotted, message });
  };

  for (const issue of result.error.issues) {
    const path = issue.path.filter((seg): seg is string | number => typeof seg !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add([...path, key], 'key', 'unknown field');
    } else if (path.length === 0 && issue.code === 'invalid_type') {
      add(path, 'value', 'must be a mapping of field: value lines');
    } else {
      add(path, 'value', issue.message);
    }
  }
  return { problems };
}

/** Plain-language messages for zod's generic issues; schema-specific messages are set in schema/. */
function describeIssue(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? 'required' : mustBe(iss.expected, iss.input);
    case 'too_small':
      if (iss.origin === 'array') return `must have at least ${String(iss.minimum)} entries`;
      if (iss.origin === 'string') return 'must not be empty';
      return iss.inclusive
        ? `must be at least ${String(iss.minimum)}`
        : `must be greater than ${String(iss.minimum)}`;
    case 'too_big':
      if (iss.origin === 'array') return `must have at most ${String(iss.maximum)} entries`;
      if (iss.origin === 'string') return `must be at most ${String(iss.maximum)} characters`;
      return iss.inclusive
        ? `must be at most ${String(iss.maximum)}`
        : `must be less than ${String(iss.maximum)}`;
    case 'invalid_value':
      return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return 'unknown field';
    case 'invalid_format':
      return 'has an invalid format';
    default:
      return 'is not valid';
  }
}

function mustBe(expected: string, input: unknown): string {
  switch (expected) {
    case 'int':
      return typeof input === 'number' ? 'must be a whole number' : 'must be a number';
    case 'number':
      return 'must be a number';
    case 'string':
      return 'must be a string';
    case 'boolean':
      return 'must be true or false';
    case 'array':
      return 'must be a list';
    case 'object':
      return 'must be a mapping';
    default:
      return `must be ${expected}`;
  }
}

/** ferry.yaml `defaults` under the partner's own values (the partner wins; lists are replaced, not merged). */
function withDefaults(defaults: unknown, value: unknown): unknown {
  if (value === undefined) return structuredClone(defaults);
  if (!isPlainObject(defaults) || !isPlainObject(value)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const [key, fallback] of Object.entries(defaults)) out[key] = withDefaults(fallback, value[key]);
  return out;
}

// Relative secret files are relative to the config directory, not to wherever the process started.
function resolvePartnerFiles(partner: PartnerConfig, dir: string): PartnerConfig {
  const auth = { ...partner.target.auth };
  for (const key of ['privateKeyFile', 'passphraseFile', 'passwordFile'] as const) {
    const ref = auth[key];
    if (ref !== undefined && !isAbsolute(ref)) auth[key] = resolve(dir, ref);
  }
  const target = { ...partner.target, auth };
  const proxy = partner.target.proxy;
  if (proxy !== undefined && proxy !== 'direct' && proxy.password !== undefined) {
    target.proxy = { ...proxy, password: resolveRef(proxy.password, dir) };
  }
  return resolveTransformFiles({ ...partner, target }, dir);
}

function resolveServiceFiles(service: ServiceConfig, dir: string): ServiceConfig {
  const http = { ...service.http };
  if (http.adminPassword) http.adminPassword = resolveRef(http.adminPassword, dir);
  if (http.viewerPassword) http.viewerPassword = resolveRef(http.viewerPassword, dir);
  const withPath = (logins: DashboardLogin[] | undefined) =>
    logins?.map((login) => ({ ...login, password: resolveRef(login.password, dir) }));
  if (http.operators) http.operators = withPath(http.operators);
  if (http.viewers) http.viewers = withPath(http.viewers);
  if (http.events) http.events = { ...http.events, token: resolveRef(http.events.token, dir) };
  const out: ServiceConfig = { ...service, http };
  const proxy = service.sftp?.proxy;
  if (proxy?.password !== undefined) {
    out.sftp = { ...service.sftp, proxy: { ...proxy, password: resolveRef(proxy.password, dir) } };
  }
  return out;
}

function resolveRef(ref: PasswordRef, dir: string): PasswordRef {
  return ref.file === undefined || isAbsolute(ref.file) ? ref : { file: resolve(dir, ref.file) };
}

/**
 * A warning per legacy algorithm a partner file names (read from the YAML itself, so the warnings
 * show even when the file has errors too). Unknown names are the schema's business.
 */
function legacyAlgorithmWarnings(file: string, source: YamlSource): ConfigProblem[] {
  const target = isPlainObject(source.value) ? source.value.target : undefined;
  const algorithms = isPlainObject(target) ? target.algorithms : undefined;
  if (!isPlainObject(algorithms)) return [];
  const out: ConfigProblem[] = [];
  for (const category of ALGORITHM_CATEGORIES) {
    const list = algorithms[category];
    if (!Array.isArray(list)) continue;
    list.forEach((name: unknown, i) => {
      if (typeof name !== 'string' || !isLegacyAlgorithm(category, name)) return;
      const path: YamlPath = ['target', 'algorithms', category, i];
      const { line, col } = locatePath(source, path);
      out.push({
        file,
        line,
        col,
        path: formatPath(path),
        message: `legacy algorithm "${name}" is outside Ferry's modern list; keep it only while the partner's server needs it (every connect logs a warning)`,
      });
    });
  }
  return out;
}

/**
 * Warnings for a valid partner whose settings load but cannot work as meant: a deadline outside the
 * delivery window, an SLA on a paused partner, a filename template that gives many objects one name.
 */
function partnerSetupWarnings(file: string, partner: PartnerConfig, source: YamlSource): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const warn = (path: YamlPath, message: string): void => {
    const { line, col } = locatePath(source, path);
    out.push({ file, line, col, path: formatPath(path), message });
  };
  const { window, expect, naming } = partner;
  if (window !== undefined && expect !== undefined && !deadlineInsideWindow(expect.by, window)) {
    warn(
      ['expect', 'by'],
      `"${expect.by}" is not inside the delivery window (${window.start}-${window.end}, ${partner.schedule.timezone}): a file found after the window closes waits for its next opening, past this deadline, and the day is missed; set expect.by after window.start and no later than window.end`,
    );
  }
  if (partner.paused === true && expect !== undefined) {
    warn(
      ['paused'],
      'SLA alerts (sla-warning, sla-missed, missing-export) for expect are not sent while the partner is paused; the SLA state is still shown. Remove paused: true once deliveries should run again (ferry resume does not clear it)',
    );
  }
  const repeating = repeatingPartitionWarning(partner.source);
  if (repeating !== undefined) warn(['source', 'prefix'], repeating);
  const template = naming?.filename;
  if (template !== undefined) {
    const collision = sharedNameScope(template);
    if (collision !== undefined) {
      warn(
        ['naming', 'filename'],
        `has no {name}, {key} or {seq}: ${collision}, so of the objects listed under the prefix only the first is delivered and every other one is skipped as name-collision (with an alert); add {name}, {key} or {seq}`,
      );
    }
  }
  return out;
}

/**
 * A dated prefix whose partition names come back (no year, or a day without its month) lists what an
 * earlier cycle left in a partition along with the new files, unless maxAgeDays makes those stale.
 */
function repeatingPartitionWarning(source: PartnerConfig['source']): string | undefined {
  if (source.prefixTemplate === undefined) return undefined;
  const repeat = partitionRepeat(source.prefixTemplate);
  if (repeat === undefined) return undefined;
  const lookback = source.lookbackDays ?? DEFAULT_LOOKBACK_DAYS;
  // Last cycle's file, written up to lookbackDays late, is at least this many days old when listed again.
  const below = repeat.gapDays - lookback;
  if (source.maxAgeDays !== undefined && source.maxAgeDays < below) return undefined;
  const missing = repeat.every === 'year' ? 'yyyy' : 'MM';
  const marker =
    source.requireMarker === undefined ? '' : `, and the new day's ${source.requireMarker} releases them too`;
  // Today's oldest listed partition holds files up to lookbackDays + 1 days old: they must not be stale.
  const fix =
    below > lookback + 1
      ? `, or set source.maxAgeDays above ${lookback + 1} and below ${below} (${repeat.gapDays} days between two uses of a name, less lookbackDays ${lookback}) to leave them out as stale`
      : '';
  return `${source.prefixTemplate.source} gives a partition the same name again every ${repeat.every}: a sweep lists what the last ${repeat.every} left in it, so a file not delivered then (there before the partner was set up, later than lookbackDays, or waiting for a marker) goes out a ${repeat.every} late${marker}; add ${missing} to the prefix${fix}`;
}

/**
 * Whether the deadline falls in (start, end] of the window's wall clock (crossing midnight when end <=
 * start). A deadline at the opening itself is outside: nothing found before it can be sent in time.
 */
function deadlineInsideWindow(by: string, window: { start: string; end: string }): boolean {
  const t = minutesOfDay(by);
  const start = minutesOfDay(window.start);
  const end = minutesOfDay(window.end);
  return end > start ? t > start && t <= end : t > start || t <= end;
}

const DATE_UNITS: ReadonlyArray<readonly [part: string, unit: string]> = [
  ['ss', 'second'],
  ['mm', 'minute'],
  ['HH', 'hour'],
  ['dd', 'day'],
  ['MM', 'month'],
  ['yy', 'year'],
  ['yyyy', 'year'],
];

/**
 * When a template names no per-object token ({name}, {key}, {seq}), which objects share a name: all of
 * them, or those modified in the same unit of its finest {date} part, in partitions of the same unit
 * of its finest {partition} part. undefined when names differ.
 */
function sharedNameScope(template: FilenameTemplate): string | undefined {
  const kinds = new Set(template.segments.map((s) => s.kind));
  if (kinds.has('name') || kinds.has('key') || kinds.has('seq')) return undefined;
  const finest = (kind: 'date' | 'partition'): string | undefined => {
    const parts = new Set<string>(
      template.segments.flatMap((s) =>
        s.kind === kind ? s.pattern.flatMap((p) => (typeof p === 'string' ? [p] : [])) : [],
      ),
    );
    return DATE_UNITS.find(([part]) => parts.has(part))?.[1];
  };
  const unit = finest('date');
  const partitionUnit = finest('partition');
  const ext = kinds.has('ext') ? ' with the same extension' : '';
  const partition = partitionUnit === undefined ? '' : ` in partitions of the same ${partitionUnit}`;
  if (unit === undefined) {
    return partition === ''
      ? `every object${ext} renders to the same name`
      : `all objects${ext}${partition} render to the same name`;
  }
  return `all objects${ext}${partition} modified ${unit === 'day' ? 'on' : 'in'} the same ${unit} (LastModified in schedule.timezone) render to the same name`;
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown error';
}
