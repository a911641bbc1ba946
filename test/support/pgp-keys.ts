// Test OpenPGP keys, generated per test run (curve25519: milliseconds), and helpers to write them out.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { makeTempDir } from './temp-dir.js';

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

/** A partner's key pair and Ferry's signing pair, written as the files a partner's `transform.pgp` names. */
export interface TestKeyFiles {
  /** The temp dir holding the files (more can be written there); `remove` deletes it. */
  dir: string;
  /** The partner's pair; its public key is `recipientKeysFile`. */
  partnerKey: TestKeyPair;
  /** Ferry's signing pair; its private key, locked with `passphrase`, is `signingKeyFile`. */
  ferryKey: TestKeyPair;
  recipientKeysFile: string;
  signingKeyFile: string;
  /** Holds `passphrase` and a newline (for `passphraseFile`). */
  passphraseFile: string;
  remove: () => Promise<void>;
}

/** Generates both pairs and writes them to a new temp dir named after `label`. */
export async function writeTestKeyFiles(
  label: string,
  { partnerName = 'partner', passphrase = 'sign-pass' }: { partnerName?: string; passphrase?: string } = {},
): Promise<TestKeyFiles> {
  const [partnerKey, ferryKey] = await Promise.all([
    generateTestKey(partnerName),
    generateTestKey('ferry', { passphrase }),
  ]);
  const dir = await makeTempDir(label);
  return {
    dir,
    partnerKey,
    ferryKey,
    recipientKeysFile: await writeKeyFile(dir, `${partnerName}.asc`, partnerKey.publicKey),
    signingKeyFile: await writeKeyFile(dir, 'ferry-sign.asc', ferryKey.privateKey),
    passphraseFile: await writeKeyFile(dir, 'ferry-sign.pass', `${passphrase}\n`),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Decrypts a binary message with the partner's key, requiring a signature by Ferry's key (checked by the caller). */
export async function decryptSigned(keys: TestKeyFiles, binaryMessage: Uint8Array) {
  return openpgp.decrypt({
    message: await openpgp.readMessage({ binaryMessage }),
    decryptionKeys: await openpgp.readPrivateKey({ armoredKey: keys.partnerKey.privateKey }),
    verificationKeys: await openpgp.readKey({ armoredKey: keys.ferryKey.publicKey }),
    expectSigned: true,
    format: 'binary',
  });
}
