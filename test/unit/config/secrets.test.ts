import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/errors.js';
import { resolvePartnerAuth, resolveSecret } from '../../../src/config/secrets.js';
import { makeTempDir } from '../../support/temp-dir.js';

const CANARY = 'hunter2-canary-7f3a';
let dir: string;

beforeEach(async () => {
  dir = await makeTempDir('secrets-test');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The FerryError a promise rejects with. */
async function failureOf(promise: Promise<unknown>): Promise<FerryError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FerryError);
  return err as FerryError;
}

describe('resolveSecret', () => {
  it('reads an environment variable', async () => {
    expect(await resolveSecret({ env: 'ACME_PASSWORD' }, { ACME_PASSWORD: CANARY })).toBe(CANARY);
  });

  it('reads a file and drops its trailing newline', async () => {
    const file = join(dir, 'password');
    await writeFile(file, `${CANARY}\n`);
    expect(await resolveSecret({ file }, {})).toBe(CANARY);
  });

  it('fails with ERR_SECRET_MISSING naming the variable when it is unset or empty', async () => {
    for (const env of [{}, { ACME_PASSWORD: '' }]) {
      const err = await failureOf(resolveSecret({ env: 'ACME_PASSWORD' }, env));
      expect(err.code).toBe('ERR_SECRET_MISSING');
      expect(err.intent).toBe('permanent');
      expect(err.message).toContain('ACME_PASSWORD');
    }
  });

  it('fails with ERR_SECRET_MISSING naming the file when it cannot be read', async () => {
    const file = join(dir, 'absent');
    const err = await failureOf(resolveSecret({ file }, {}));
    expect(err.code).toBe('ERR_SECRET_MISSING');
    expect(err.message).toBe(`secret file ${file} cannot be read (ENOENT)`);
  });

  it('fails with ERR_SECRET_MISSING when the file is empty', async () => {
    const file = join(dir, 'empty');
    await writeFile(file, '\n');
    expect((await failureOf(resolveSecret({ file }, {}))).code).toBe('ERR_SECRET_MISSING');
  });
});

describe('resolvePartnerAuth', () => {
  it('resolves a private key from a file (unchanged) and its passphrase from the environment', async () => {
    const keyFile = join(dir, 'id_ed25519');
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
    await writeFile(keyFile, key);
    const auth = await resolvePartnerAuth(
      { privateKeyFile: keyFile, passphraseEnv: 'ACME_PASSPHRASE' },
      { ACME_PASSPHRASE: CANARY },
    );
    expect(auth).toEqual({ privateKey: key, passphrase: CANARY });
  });

  it('resolves a password from the environment', async () => {
    expect(await resolvePartnerAuth({ passwordEnv: 'ACME_PASSWORD' }, { ACME_PASSWORD: CANARY })).toEqual({
      password: CANARY,
    });
  });

  it('names the missing reference and never a value', async () => {
    const err = await failureOf(
      resolvePartnerAuth(
        { privateKeyEnv: 'ACME_KEY', passphraseEnv: 'ACME_PASSPHRASE' },
        { ACME_KEY: CANARY },
      ),
    );
    expect(err.message).toBe('environment variable ACME_PASSPHRASE is not set');
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain(CANARY);
  });
});
