// Test OpenPGP keys, generated per test run (curve25519: milliseconds), and helpers to write them out.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';

export interface TestKeyPair {
  publicKey: string;
  privateKey: string;
  fingerprint: string;
}

/** A keypair; `options` go to openpgp.generateKey (passphrase, dates, subkeys). */
export async function generateTestKey(
  name: string,
  options: { passphrase?: string; date?: Date; keyExpirationTime?: number; subkeys?: object[] } = {},
): Promise<TestKeyPair> {
  const { publicKey, privateKey } = await openpgp.generateKey({
    type: 'curve25519',
    userIDs: [{ name, email: `${name}@example.test` }],
    format: 'armored',
    ...options,
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKey, privateKey, fingerprint: key.getFingerprint() };
}

/** Writes `text` to `<dir>/<name>` and returns the path. */
export async function writeKeyFile(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}
