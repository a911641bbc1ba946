import { cp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  formatProblem,
  loadConfig,
  resolveConfigDir,
  type ConfigResult,
  type FerryConfig,
} from '../../../src/config/load-config.js';
import { useConfigDirs } from '../../support/config-dir.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const REPO_CONFIG = fileURLToPath(new URL('../../../config/', import.meta.url));
const SECRET_CANARIES = ['hunter2-canary-7f3a', 'canary-key-body', 'BEGIN OPENSSH'];

const VALID_PARTNER = [
  'id: acme',
  'schedule:',
  "  cron: '0 2 * * *'",
  'source:',
  '  bucket: warehouse-exports',
  '  prefix: acme/',
  'target:',
  '  host: sftp.acme.example',
  '  username: ferry',
  "  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4']",
  '  auth: { privateKeyFile: /run/secrets/acme }',
  '  directory: /inbound',
  '',
].join('\n');

/** Problems as `ferry validate` prints them, with the config dir prefix removed. */
function printed(result: ConfigResult, dir: string): string[] {
  expect(result.ok).toBe(false);
  if (result.ok) return [];
  return result.problems.map((p) => formatProblem(p).replace(`${dir}/`, ''));
}

function loaded(result: ConfigResult): FerryConfig {
  if (!result.ok) {
    throw new Error(`expected a valid config, got:\n${result.problems.map(formatProblem).join('\n')}`);
  }
  return result.config;
}

const configs = useConfigDirs('config-test');

/** A temp config dir: the given partner files and ferry.yaml (minimal by default, none when null). */
const configDir = (partners: Record<string, string>, ferryYaml?: string | null) =>
  configs.write({ partners, ferryYaml });

describe('loadConfig with a valid directory', () => {
  const dir = join(FIXTURES, 'valid');

  it('loads every partner file and ignores files starting with "_" or "." and non-YAML files', async () => {
    const config = loaded(await loadConfig(dir, {}));
    expect([...config.partners.keys()]).toEqual(['acme', 'globex']);
    expect(config.partnerFiles.get('acme')).toBe(join(dir, 'partners', 'acme.yaml'));
    expect(config.partnerFiles.get('globex')).toBe(join(dir, 'partners', 'globex.yml'));
    expect(config.dir).toBe(dir);
  });

  it('keeps every value a partner sets and normalises fingerprints and directories', async () => {
    const acme = loaded(await loadConfig(dir, {})).partners.get('acme');
    expect(acme).toEqual({
      id: 'acme',
      enabled: true,
      schedule: { cron: '0 2 * * *', timezone: 'America/New_York' },
      source: { bucket: 'warehouse-exports', prefix: 'acme/daily/', include: ['*.csv'], minAgeSeconds: 120 },
      target: {
        host: 'sftp.acme.example',
        port: 2222,
        username: 'ferry',
        hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
        auth: { privateKeyFile: '/run/secrets/acme_ed25519', passphraseEnv: 'ACME_KEY_PASSPHRASE' },
        directory: '/inbound/daily',
        fileMode: 0o640,
        publish: 'rename',
        onExisting: 'skip',
        maxConnections: 3,
        maxFilesInFlight: 4,
      },
      retry: { attempts: 7, backoffSeconds: 10, maxBackoffSeconds: 600 },
    });
  });

  it('fills unset partner fields from ferry.yaml defaults, then from the built-in defaults', async () => {
    const globex = loaded(await loadConfig(dir, {})).partners.get('globex');
    expect(globex).toEqual({
      id: 'globex',
      enabled: true,
      schedule: { cron: '*/15 * * * *', timezone: 'Europe/Paris' },
      source: { bucket: 'warehouse-exports', prefix: '', include: ['*'], minAgeSeconds: 30 },
      target: {
        host: 'sftp.globex.example',
        port: 22,
        username: 'ferry',
        hostKeys: ['SHA256:WVtbzIJdktCWfiT9qOO1/eQdczFMLCUyOPBlXSeeRU0'],
        auth: { passwordFile: resolve(dir, 'secrets/globex_password') },
        directory: '/',
        fileMode: 0o600,
        publish: 'rename',
        onExisting: 'fail',
        maxConnections: 2,
        maxFilesInFlight: 4,
      },
      retry: { attempts: 5, backoffSeconds: 30, maxBackoffSeconds: 3600 },
    });
  });

  it('reads service settings and defaults the ones ferry.yaml leaves out', async () => {
    const config = loaded(await loadConfig(dir, {}));
    expect(config.service).toEqual({
      redis: { url: 'redis://127.0.0.1:6390', prefix: '{ferry-test}' },
      s3: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:4568', forcePathStyle: true },
      http: {
        host: '127.0.0.1',
        port: 3100,
        adminUser: 'ops',
        adminPassword: { file: resolve(dir, 'secrets/admin_password') },
      },
      receipts: { bucket: 'ferry-audit', prefix: 'ferry/receipts/' },
      worker: {
        concurrency: 8,
        stallTimeoutSeconds: 60,
        connectTimeoutSeconds: 20,
        keepaliveIntervalSeconds: 10,
        keepaliveCountMax: 3,
        idleTimeoutSeconds: 30,
        lockDurationSeconds: 60,
        stalledIntervalSeconds: 30,
        maxStalledCount: 3,
        slotLeaseSeconds: 30,
      },
      sweep: { pageSize: 1000 },
      janitor: { enabled: true, minAgeMinutes: 60, intervalMinutes: 15 },
      log: { level: 'warn' },
    });
  });

  it('returns a deep-frozen config whose maps refuse writes', async () => {
    const config = loaded(await loadConfig(dir, {}));
    const acme = config.partners.get('acme')!;
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.service.worker)).toBe(true);
    expect(Object.isFrozen(acme.target.hostKeys)).toBe(true);
    expect(Object.isFrozen(acme.target.auth)).toBe(true);
    expect(() => (config.partners as Map<string, unknown>).set('x', acme)).toThrow(TypeError);
    expect(() => (config.partnerFiles as Map<string, string>).delete('acme')).toThrow(TypeError);
    expect(config.partners.size).toBe(2);
  });

  it('lets the environment override ferry.yaml and records only where the admin password lives', async () => {
    const config = loaded(
      await loadConfig(dir, {
        REDIS_URL: 'redis://10.0.0.5:6380',
        S3_ENDPOINT: 'https://s3.internal.example',
        S3_FORCE_PATH_STYLE: '0',
        AWS_REGION: 'ap-southeast-2',
        FERRY_ADMIN_USER: 'root-ops',
        FERRY_ADMIN_PASSWORD: 'hunter2-canary-7f3a',
        FERRY_HTTP_PORT: '8080',
        LOG_LEVEL: 'debug',
      }),
    );
    expect(config.service.redis.url).toBe('redis://10.0.0.5:6380');
    expect(config.service.s3).toEqual({
      region: 'ap-southeast-2',
      endpoint: 'https://s3.internal.example',
      forcePathStyle: false,
    });
    expect(config.service.http).toEqual({
      host: '127.0.0.1',
      port: 8080,
      adminUser: 'root-ops',
      adminPassword: { env: 'FERRY_ADMIN_PASSWORD' },
    });
    expect(config.service.log.level).toBe('debug');
    expect(JSON.stringify(config)).not.toContain('hunter2-canary-7f3a');
  });

  it('treats empty environment variables as unset', async () => {
    const config = loaded(await loadConfig(dir, { REDIS_URL: '', S3_FORCE_PATH_STYLE: '', LOG_LEVEL: '' }));
    expect(config.service.redis.url).toBe('redis://127.0.0.1:6390');
    expect(config.service.s3.forcePathStyle).toBe(true);
    expect(config.service.log.level).toBe('warn');
  });

  it('reports invalid environment overrides by variable name', async () => {
    const result = await loadConfig(dir, {
      S3_FORCE_PATH_STYLE: 'yes',
      FERRY_HTTP_PORT: 'http',
      LOG_LEVEL: 'loud',
    });
    expect(printed(result, dir)).toEqual([
      'environment: S3_FORCE_PATH_STYLE: must be "true", "false", "1" or "0"',
      'environment: FERRY_HTTP_PORT: must be a port number (0-65535)',
      'environment: LOG_LEVEL: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent" (overrides log.level)',
    ]);
  });
});

describe('loadConfig reports each partner problem at its file:line:col', () => {
  const dir = join(FIXTURES, 'broken');
  const problemsOf = async (file: string): Promise<string[]> =>
    printed(await loadConfig(dir, {}), dir).filter((line) => line.startsWith(`partners/${file}:`));

  it.each([
    ['unknown-field.yaml', 'partners/unknown-field.yaml:11:3: target.hostKeyFingerprnt: unknown field'],
    [
      'bad-cron.yaml',
      'partners/bad-cron.yaml:3:9: schedule.cron: invalid cron expression: Constraint error, got value 25 expected range 0-23',
    ],
    [
      'bad-timezone.yaml',
      'partners/bad-timezone.yaml:4:13: schedule.timezone: unknown timezone: use an IANA name like "UTC" or "America/New_York"',
    ],
    [
      'unquoted-file-mode.yaml',
      'partners/unquoted-file-mode.yaml:13:13: target.fileMode: must be a quoted octal string like "0640"',
    ],
    ['port-string.yaml', 'partners/port-string.yaml:9:9: target.port: must be a number'],
    [
      'relative-directory.yaml',
      'partners/relative-directory.yaml:12:14: target.directory: must be an absolute path (start with "/")',
    ],
    [
      'dotdot-directory.yaml',
      'partners/dotdot-directory.yaml:12:14: target.directory: must not contain ".." segments',
    ],
    [
      'missing-host-keys.yaml',
      'partners/missing-host-keys.yaml:8:3: target.hostKeys: required: pin at least one host key fingerprint (ssh-keygen -lf <host key>.pub)',
    ],
    [
      'bad-fingerprint.yaml',
      'partners/bad-fingerprint.yaml:10:14: target.hostKeys[0]: must be a SHA256 fingerprint as "ssh-keygen -lf" prints it: "SHA256:" followed by 43 base64 characters',
    ],
    [
      'direct-overwrite.yaml',
      'partners/direct-overwrite.yaml:14:15: target.onExisting: cannot be "overwrite" with publish: direct (it would truncate the partner\'s file before the new one is verified); use publish: rename',
    ],
  ])('%s', async (file, expected) => {
    expect(await problemsOf(file)).toEqual([expected]);
  });

  it('rejects inline secrets by field, never repeating the value', async () => {
    const lines = await problemsOf('inline-secret.yaml');
    const message =
      'secrets must be references (passwordEnv, passwordFile, privateKeyFile, privateKeyEnv, passphraseEnv)';
    expect(lines).toEqual([
      `partners/inline-secret.yaml:11:21: target.auth.privateKeyFile: ${message}`,
      `partners/inline-secret.yaml:12:5: target.auth.password: ${message}`,
    ]);
    const result = await loadConfig(dir, {});
    for (const canary of SECRET_CANARIES) expect(JSON.stringify(result)).not.toContain(canary);
  });

  it('reports several problems of one file together, in line order', async () => {
    expect(await problemsOf('several-problems.yaml')).toEqual([
      'partners/several-problems.yaml:1:5: id: must be 1-63 characters: lowercase letters, digits, "_" and "-", starting with a letter or digit (it is part of job ids, Redis keys and receipt paths)',
      'partners/several-problems.yaml:3:9: schedule.cron: must have 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first',
      'partners/several-problems.yaml:13:19: target.maxConnections: must be at least 1',
    ]);
  });

  it('reports the problems of every file in one run, sorted by file then line', async () => {
    const result = await loadConfig(dir, {});
    const lines = printed(result, dir);
    expect(lines).toHaveLength(15);
    const keys = lines.map((l) => l.split(':').slice(0, 3));
    const sorted = [...keys].sort(
      ([fa, la, ca], [fb, lb, cb]) =>
        fa!.localeCompare(fb!) || Number(la) - Number(lb) || Number(ca) - Number(cb),
    );
    expect(keys).toEqual(sorted);
  });
});

describe('loadConfig reports YAML syntax errors at the parser position', () => {
  it('points at a tab used as indentation', async () => {
    const text = VALID_PARTNER.replace('  username: ferry', '\tusername: ferry');
    const dir = await configDir({ 'acme.yaml': text });
    expect(printed(await loadConfig(dir, {}), dir)).toEqual([
      'partners/acme.yaml:9:1: tabs are not allowed as indentation: use spaces',
    ]);
  });

  it('explains an unquoted cron expression read as a YAML alias', async () => {
    const text = VALID_PARTNER.replace("cron: '0 2 * * *'", 'cron: */5 * * * *');
    const dir = await configDir({ 'acme.yaml': text });
    expect(printed(await loadConfig(dir, {}), dir)).toEqual([
      'partners/acme.yaml:3:9: schedule.cron: unquoted "*" starts a YAML alias: quote the value, e.g. cron: "*/5 * * * *"',
    ]);
  });

  it('rejects a duplicate key', async () => {
    const text = VALID_PARTNER.replace('  username: ferry', '  username: ferry\n  host: other.example');
    const dir = await configDir({ 'acme.yaml': text });
    expect(printed(await loadConfig(dir, {}), dir)).toEqual([
      'partners/acme.yaml:10:3: target.host: duplicate key (YAML keys must be unique)',
    ]);
  });

  it('keeps checking the other files when one cannot be parsed', async () => {
    const broken = VALID_PARTNER.replace('id: acme', 'id: globex').replace('prefix: acme/', 'prefix: [');
    const dir = await configDir({ 'acme.yaml': VALID_PARTNER, 'globex.yaml': broken });
    const lines = printed(await loadConfig(dir, {}), dir);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.every((l) => l.startsWith('partners/globex.yaml:'))).toBe(true);
    expect(lines[0]).toMatch(/^partners\/globex\.yaml:\d+:\d+: /);
  });

  it('rejects an empty partner file', async () => {
    const dir = await configDir({ 'acme.yaml': '# nothing yet\n' });
    expect(printed(await loadConfig(dir, {}), dir)).toEqual([
      'partners/acme.yaml:1:1: file is empty: a partner needs id, schedule, source and target',
    ]);
  });

  it('rejects a partner file that is not a mapping', async () => {
    const dir = await configDir({ 'acme.yaml': '- id: acme\n' });
    expect(printed(await loadConfig(dir, {}), dir)).toEqual([
      'partners/acme.yaml:1:1: must be a mapping of field: value lines',
    ]);
  });
});

describe('loadConfig checks across partner files', () => {
  const dir = join(FIXTURES, 'duplicates');

  it('reports a duplicate id at the second file, naming the first', async () => {
    const lines = printed(await loadConfig(dir, {}), dir);
    expect(lines).toContain(
      `partners/b-second.yaml:2:5: id: duplicate partner id "acme": already used by ${dir}/partners/a-first.yaml`,
    );
  });

  it('reports two partners delivering to the same host, port and directory', async () => {
    const lines = printed(await loadConfig(dir, {}), dir);
    expect(lines).toContain(
      `partners/c-same-target.yaml:14:14: target.directory: same host, port and directory as partner "acme" (${dir}/partners/a-first.yaml)`,
    );
    expect(lines).toHaveLength(2);
  });
});

describe('loadConfig reports ferry.yaml problems', () => {
  it('locates service problems, including inline secrets and unknown sections', async () => {
    const dir = join(FIXTURES, 'broken-service');
    const result = await loadConfig(dir, {});
    expect(printed(result, dir)).toEqual([
      'ferry.yaml:3:11: redis.prefix: must contain a {hash tag} so every key lands in one Redis Cluster slot, e.g. "{ferry}"',
      'ferry.yaml:6:19: s3.forcePathStyle: must be true or false',
      'ferry.yaml:9:14: http.adminUser: needs adminPasswordEnv or adminPasswordFile (or FERRY_ADMIN_PASSWORD in the environment)',
      'ferry.yaml:10:3: http.adminPassword: secrets must be references (passwordEnv, passwordFile, privateKeyFile, privateKeyEnv, passphraseEnv)',
      'ferry.yaml:12:3: receipts.bucket: required',
      'ferry.yaml:12:3: receipts.prefx: unknown field',
      'ferry.yaml:13:24: worker.concurrency: must be at least 1',
      'ferry.yaml:14:1: logs: unknown field',
    ]);
    expect(JSON.stringify(result)).not.toContain('hunter2-canary-7f3a');
  });

  it('says ferry.yaml is missing when receipts.bucket cannot be found', async () => {
    const dir = await configDir({ 'acme.yaml': VALID_PARTNER }, null);
    expect(printed(await loadConfig(dir, {}), dir)).toEqual([
      `ferry.yaml: receipts.bucket: required (${dir}/ferry.yaml does not exist)`,
    ]);
  });

  it('rejects partner defaults that are not allowed to be defaulted', async () => {
    const ferry = 'receipts: { bucket: ferry-audit }\ndefaults:\n  target:\n    host: shared.example\n';
    const dir = await configDir({ 'acme.yaml': VALID_PARTNER }, ferry);
    expect(printed(await loadConfig(dir, {}), dir)).toEqual([
      'ferry.yaml:4:5: defaults.target.host: unknown field',
    ]);
  });

  it('reports a missing config directory', async () => {
    const missing = join(FIXTURES, 'does-not-exist');
    const result = await loadConfig(missing, {});
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
      `${missing}: config directory not found`,
    ]);
  });

  it('accepts a config directory without partners', async () => {
    const dir = await configDir({});
    await rm(join(dir, 'partners'), { recursive: true });
    expect(loaded(await loadConfig(dir, {})).partners.size).toBe(0);
  });
});

describe('the shipped config files', () => {
  it('config/ferry.yaml is valid', async () => {
    const config = loaded(await loadConfig(REPO_CONFIG, {}));
    expect(config.service.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.service.receipts.bucket).toBe('ferry-audit');
  });

  it('config/partners/_example.yaml is a valid partner once copied to a loaded name', async () => {
    const dir = await configDir({});
    await cp(join(REPO_CONFIG, 'ferry.yaml'), join(dir, 'ferry.yaml'));
    await cp(join(REPO_CONFIG, 'partners', '_example.yaml'), join(dir, 'partners', 'example.yaml'));
    const example = loaded(await loadConfig(dir, {})).partners.get('example');
    expect(example?.target.hostKeys).toHaveLength(2);
    expect(example?.schedule.timezone).toBe('America/New_York');
  });
});

describe('resolveConfigDir', () => {
  it('prefers the flag, then FERRY_CONFIG, then ./config', () => {
    expect(resolveConfigDir('/etc/ferry', { FERRY_CONFIG: '/srv/ferry' })).toBe('/etc/ferry');
    expect(resolveConfigDir(undefined, { FERRY_CONFIG: '/srv/ferry' })).toBe('/srv/ferry');
    expect(resolveConfigDir(undefined, {})).toBe('./config');
  });
});
