// Secrets are resolved when used (at connect time), so a rotated file or variable is picked up without a
// reload, and the values never sit in the config object. Errors name the reference, never the value.
import { readFile } from 'node:fs/promises';
import { FerryError } from '../errors.js';
import type { SecretAuth } from './schema.js';

export interface SecretRef {
  env?: string;
  file?: string;
}

export interface ResolvedAuth {
  privateKey?: string;
  passphrase?: string;
  password?: string;
}

/**
 * Reads a secret from an environment variable or a file. A trailing newline (as `echo pw > file` leaves)
 * is dropped. Throws FerryError ERR_SECRET_MISSING when the variable is unset/empty or the file cannot be
 * read or is empty.
 */
export async function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return (await readSecret(ref, env)).replace(/\r?\n$/, '');
}

/** Resolves a partner's SFTP credentials; only the fields the auth settings reference are returned. */
export async function resolvePartnerAuth(
  auth: SecretAuth,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedAuth> {
  const out: ResolvedAuth = {};
  if (auth.privateKeyFile !== undefined || auth.privateKeyEnv !== undefined) {
    // Key material is passed to ssh2 exactly as stored (PEM parsers accept the trailing newline).
    out.privateKey = await readSecret({ file: auth.privateKeyFile, env: auth.privateKeyEnv }, env);
  }
  if (auth.passphraseFile !== undefined || auth.passphraseEnv !== undefined) {
    out.passphrase = await resolveSecret({ file: auth.passphraseFile, env: auth.passphraseEnv }, env);
  }
  if (auth.passwordFile !== undefined || auth.passwordEnv !== undefined) {
    out.password = await resolveSecret({ file: auth.passwordFile, env: auth.passwordEnv }, env);
  }
  return out;
}

async function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv): Promise<string> {
  if (ref.env !== undefined && ref.file !== undefined) {
    throw new FerryError(
      'ERR_CONFIG_INVALID',
      'a secret reference names both an environment variable and a file',
      {
        details: { env: ref.env, file: ref.file },
      },
    );
  }
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined || value === '') {
      throw new FerryError('ERR_SECRET_MISSING', `environment variable ${ref.env} is not set`, {
        details: { env: ref.env },
      });
    }
    return value;
  }
  if (ref.file !== undefined) {
    let value: string;
    try {
      value = await readFile(ref.file, 'utf8');
    } catch (err) {
      const code =
        typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown error';
      // The fs error's message holds only the path; keep it as the cause for the stack.
      throw new FerryError('ERR_SECRET_MISSING', `secret file ${ref.file} cannot be read (${code})`, {
        cause: err,
        details: { file: ref.file, errno: code },
      });
    }
    if (value.trim() === '') {
      throw new FerryError('ERR_SECRET_MISSING', `secret file ${ref.file} is empty`, {
        details: { file: ref.file },
      });
    }
    return value;
  }
  throw new FerryError(
    'ERR_CONFIG_INVALID',
    'a secret reference names neither an environment variable nor a file',
  );
}
