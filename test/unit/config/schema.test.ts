import { describe, expect, it } from 'vitest';
import {
  checkCronExpression,
  normaliseRemoteDirectory,
  partnerSchema,
  serviceSchema,
} from '../../../src/config/schema.js';

const FINGERPRINT = 'SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4';

/** A minimal valid partner as YAML would give it, with overrides per section. */
function partnerInput(overrides: { target?: Record<string, unknown>; retry?: Record<string, unknown> } = {}) {
  return {
    id: 'acme',
    schedule: { cron: '0 2 * * *' },
    source: { bucket: 'warehouse-exports', prefix: 'acme/' },
    target: {
      host: 'sftp.acme.example',
      username: 'ferry',
      hostKeys: [FINGERPRINT],
      auth: { privateKeyFile: '/run/secrets/acme' },
      directory: '/inbound',
      ...overrides.target,
    },
    ...(overrides.retry ? { retry: overrides.retry } : {}),
  };
}

/** The custom messages of a failed parse, as `path: message`. */
function messagesOf(input: unknown): string[] {
  const result = partnerSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('partnerSchema', () => {
  it('drops the trailing "=" some tools add to a fingerprint', () => {
    const parsed = partnerSchema.parse(partnerInput({ target: { hostKeys: [`${FINGERPRINT}=`] } }));
    expect(parsed.target.hostKeys).toEqual([FINGERPRINT]);
  });

  it.each([
    ['0640', 0o640],
    ['640', 0o640],
    ['0600', 0o600],
    ['0755', 0o755],
  ])('parses fileMode "%s" as octal', (mode, expected) => {
    expect(partnerSchema.parse(partnerInput({ target: { fileMode: mode } })).target.fileMode).toBe(expected);
  });

  it('takes target.fsync as a boolean, left out (on) unless given', () => {
    expect(partnerSchema.parse(partnerInput()).target.fsync).toBeUndefined();
    expect(partnerSchema.parse(partnerInput({ target: { fsync: false } })).target.fsync).toBe(false);
    expect(messagesOf(partnerInput({ target: { fsync: 'no' } }))).toEqual([
      'target.fsync: Invalid input: expected boolean, received string',
    ]);
  });

  it.each(['0666', '0642', '777'])('rejects the world-writable fileMode "%s"', (mode) => {
    expect(messagesOf(partnerInput({ target: { fileMode: mode } }))).toEqual([
      'target.fileMode: must not be world-writable (o+w); use e.g. "0640"',
    ]);
  });

  it.each(['0o640', '0888', '06400', 'rw-r-----'])('rejects the malformed fileMode "%s"', (mode) => {
    expect(messagesOf(partnerInput({ target: { fileMode: mode } }))).toEqual([
      'target.fileMode: must be a quoted octal string like "0640"',
    ]);
  });

  it('requires exactly one way to authenticate', () => {
    expect(messagesOf(partnerInput({ target: { auth: {} } }))).toEqual([
      'target.auth: needs exactly one of privateKeyFile, privateKeyEnv, passwordEnv, passwordFile',
    ]);
    expect(
      messagesOf(partnerInput({ target: { auth: { privateKeyFile: '/k', passwordEnv: 'ACME_PASSWORD' } } })),
    ).toEqual([
      'target.auth.passwordEnv: only one of privateKeyFile, privateKeyEnv, passwordEnv, passwordFile may be set (privateKeyFile is already set)',
    ]);
  });

  it('allows a passphrase only with a private key', () => {
    const input = partnerInput({
      target: { auth: { passwordEnv: 'ACME_PASSWORD', passphraseEnv: 'ACME_PASS' } },
    });
    expect(messagesOf(input)).toEqual([
      'target.auth.passphraseEnv: only allowed with privateKeyFile or privateKeyEnv',
    ]);
    const withKey = partnerInput({
      target: { auth: { privateKeyEnv: 'ACME_KEY', passphraseEnv: 'ACME_PASS' } },
    });
    expect(partnerSchema.parse(withKey).target.auth).toEqual({
      privateKeyEnv: 'ACME_KEY',
      passphraseEnv: 'ACME_PASS',
    });
  });

  it('rejects an environment variable name that is not one', () => {
    expect(messagesOf(partnerInput({ target: { auth: { privateKeyEnv: 'acme key' } } }))).toEqual([
      'target.auth.privateKeyEnv: must be an environment variable name like ACME_SFTP_KEY',
    ]);
  });

  it('still reports a cross-field conflict when another field of the same section is wrong', () => {
    const input = partnerInput({ target: { port: 0, publish: 'direct', onExisting: 'overwrite' } });
    expect(messagesOf(input)).toHaveLength(2);
  });

  it('requires maxBackoffSeconds to be at least backoffSeconds', () => {
    expect(messagesOf(partnerInput({ retry: { backoffSeconds: 60, maxBackoffSeconds: 30 } }))).toEqual([
      'retry.maxBackoffSeconds: must be at least backoffSeconds',
    ]);
  });

  it('requires the prefix to end with "/" unless it is the whole bucket', () => {
    const input = { ...partnerInput(), source: { bucket: 'warehouse-exports', prefix: 'acme' } };
    expect(messagesOf(input)).toEqual(['source.prefix: must end with "/" (or be "" for the whole bucket)']);
  });
});

describe('checkCronExpression', () => {
  it.each(['0 2 * * *', '*/5 * * * *', '30 0 2 * * 1-5', '0 0 1 */3 *'])('accepts "%s"', (expr) => {
    expect(checkCronExpression(expr)).toBeUndefined();
  });

  it.each([
    ['@daily', /must have 5 fields/],
    ['0 2 * *', /must have 5 fields/],
    ['0 0 2 * * * 2030', /must have 5 fields/],
    ['0 25 * * *', /^invalid cron expression: /],
    ['0 0 30 2 *', /^invalid cron expression: /],
  ])('rejects "%s"', (expr, message) => {
    expect(checkCronExpression(expr)).toMatch(message);
  });
});

describe('normaliseRemoteDirectory', () => {
  it.each([
    ['/inbound/', '/inbound'],
    ['//inbound//daily/', '/inbound/daily'],
    ['/inbound/./daily', '/inbound/daily'],
    ['/', '/'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseRemoteDirectory(input)).toBe(expected);
  });
});

describe('serviceSchema', () => {
  it('needs only receipts.bucket', () => {
    const service = serviceSchema.parse({ receipts: { bucket: 'ferry-audit' } });
    expect(service.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: '{ferry}' });
    expect(service.http).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(service.receipts.prefix).toBe('ferry/receipts/');
  });

  it('defaults the admin user when only a password reference is given', () => {
    const service = serviceSchema.parse({
      receipts: { bucket: 'ferry-audit' },
      http: { adminPasswordEnv: 'FERRY_ADMIN_PASSWORD' },
    });
    expect(service.http).toEqual({
      host: '127.0.0.1',
      port: 3000,
      adminUser: 'admin',
      adminPassword: { env: 'FERRY_ADMIN_PASSWORD' },
    });
  });
});
