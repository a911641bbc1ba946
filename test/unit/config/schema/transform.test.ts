import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';
import { generateTestKey, type TestKeyPair } from '../../../support/pgp-keys.js';

// Lines 1-8; the transform block under test starts on line 9.
const PARTNER_HEAD = `id: acme
schedule: { cron: '0 * * * *' }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/acme } }
source:
  bucket: warehouse-exports
  prefix: acme/
`;

const configs = useConfigDirs('transform-config');

let partnerKey: TestKeyPair;
let signer: TestKeyPair;
let lockedSigner: TestKeyPair;
let expired: TestKeyPair;
let signOnly: TestKeyPair;
beforeAll(async () => {
  [partnerKey, signer, lockedSigner, expired, signOnly] = await Promise.all([
    generateTestKey('partner'),
    generateTestKey('ferry'),
    generateTestKey('locked', { passphrase: 'correct horse' }),
    generateTestKey('expired', { date: new Date(Date.now() - 10 * 86_400_000), keyExpirationTime: 86_400 }),
    generateTestKey('sign-only', { subkeys: [] }),
  ]);
});

/** Writes `files` into a fresh config dir (keys/…), then loads a partner whose transform is `lines`. */
async function load(lines: string, files: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) {
  const keys = Object.fromEntries(Object.entries(files).map(([name, text]) => [`keys/${name}`, text]));
  const loaded = await configs.load({ partners: { 'acme.yaml': PARTNER_HEAD + lines }, files: keys }, env);
  return { dir: loaded.dir, partner: loaded.partner('acme'), problems: loaded.problems };
}

describe('partner transform settings', () => {
  it('accepts gzip and PGP with keys by file, resolving relative files against the config dir', async () => {
    const { dir, partner, problems } = await load(
      [
        'transform:',
        '  compress: gzip',
        '  pgp:',
        '    recipientKeysFile: keys/acme.asc',
        '    signingKeyFile: keys/sign.asc',
        '    passphraseEnv: FERRY_SIGN_PASS',
        '',
      ].join('\n'),
      { 'acme.asc': partnerKey.publicKey, 'sign.asc': lockedSigner.privateKey },
      { FERRY_SIGN_PASS: 'correct horse' },
    );
    expect(problems).toEqual([]);
    expect(partner?.transform).toEqual({
      compress: 'gzip',
      pgp: {
        recipientKeysFile: join(dir, 'keys/acme.asc'),
        signingKeyFile: join(dir, 'keys/sign.asc'),
        passphraseEnv: 'FERRY_SIGN_PASS',
        armor: false,
      },
    });
  });

  it('accepts several recipients from one environment variable and defaults compress to none', async () => {
    const { partner, problems } = await load(
      'transform:\n  pgp: { recipientKeysEnv: ACME_KEYS, armor: true }\n',
      {},
      { ACME_KEYS: `${partnerKey.publicKey}\n${signer.publicKey}` },
    );
    expect(problems).toEqual([]);
    expect(partner?.transform).toEqual({
      compress: 'none',
      pgp: { recipientKeysEnv: 'ACME_KEYS', armor: true },
    });
  });

  it('reports shape errors at their file:line:col and refuses inline keys', async () => {
    const { problems } = await load(
      [
        'transform:',
        '  compress: zstd',
        '  pgp:',
        '    recipientKeys: "-----BEGIN PGP PUBLIC KEY BLOCK-----"',
        '    passphraseEnv: PASS',
        '',
      ].join('\n'),
    );
    expect(problems).toEqual([
      'partners/acme.yaml:10:13: transform.compress: must be one of "none", "gzip"',
      "partners/acme.yaml:12:5: transform.pgp: needs recipientKeysFile or recipientKeysEnv (the partner's armored public keys)",
      'partners/acme.yaml:12:20: transform.pgp.recipientKeys: secrets must be references (passwordEnv, passwordFile, privateKeyFile, privateKeyEnv, passphraseEnv)',
      'partners/acme.yaml:13:20: transform.pgp.passphraseEnv: only allowed with signingKeyFile or signingKeyEnv',
    ]);
  });

  it('reports each unusable key at the field that names it', async () => {
    const { problems } = await load(
      'transform:\n  pgp: { recipientKeysFile: keys/bad.asc, signingKeyFile: keys/locked.asc }\n',
      { 'bad.asc': `${expired.publicKey}\n${signOnly.publicKey}`, 'locked.asc': lockedSigner.privateKey },
    );
    expect(problems).toEqual([
      `partners/acme.yaml:10:29: transform.pgp.recipientKeysFile: key ${expired.fingerprint} has expired`,
      `partners/acme.yaml:10:29: transform.pgp.recipientKeysFile: key ${signOnly.fingerprint} has no valid encryption (sub)key (expired, revoked or sign-only)`,
      'partners/acme.yaml:10:59: transform.pgp.signingKeyFile: is locked with a passphrase: set passphraseEnv or passphraseFile',
    ]);
  });

  it('refuses a missing file, a private key as recipient, garbage, and a wrong passphrase', async () => {
    const missing = await load('transform:\n  pgp: { recipientKeysFile: keys/none.asc }\n');
    expect(missing.problems).toEqual([
      'partners/acme.yaml:10:29: transform.pgp.recipientKeysFile: secret file keys/none.asc cannot be read (ENOENT)',
    ]);
    const secret = await load('transform:\n  pgp: { recipientKeysFile: keys/p.asc }\n', {
      'p.asc': partnerKey.privateKey,
    });
    expect(secret.problems).toEqual([
      `partners/acme.yaml:10:29: transform.pgp.recipientKeysFile: key ${partnerKey.fingerprint} is a private key: give the partner's public key only`,
    ]);
    const garbage = await load('transform:\n  pgp: { recipientKeysFile: keys/g.asc }\n', {
      'g.asc': 'hello',
    });
    expect(garbage.problems).toEqual([
      'partners/acme.yaml:10:29: transform.pgp.recipientKeysFile: does not hold armored OpenPGP public keys',
    ]);
    const wrong = await load(
      'transform:\n  pgp: { recipientKeysFile: keys/a.asc, signingKeyFile: keys/s.asc, passphraseEnv: PASS }\n',
      { 'a.asc': partnerKey.publicKey, 's.asc': lockedSigner.privateKey },
      { PASS: 'wrong' },
    );
    expect(wrong.problems).toEqual([
      'partners/acme.yaml:10:84: transform.pgp.passphraseEnv: does not unlock the signing key',
    ]);
  });
});

// transform.compressLevel: an optional gzip level 1–9 (left out: 6), only with compress: gzip.
// Lines 1-7 (`transform:` on line 7); the fields under test start on line 8.
const PARTNER = `${partnerYamlHead()}transform:\n`;

const compressConfigs = useConfigDirs('compress-level-config');

const loadCompress = (lines: string) => compressConfigs.loadPartner('acme', PARTNER + lines);

describe('transform.compressLevel', () => {
  it('is read with gzip, and left out by default', async () => {
    const set = await loadCompress('  compress: gzip\n  compressLevel: 1\n');
    expect(set.problems).toEqual([]);
    expect(set.partner?.transform).toEqual({ compress: 'gzip', compressLevel: 1 });
    const unset = await loadCompress('  compress: gzip\n');
    expect(unset.partner?.transform).toEqual({ compress: 'gzip' });
  });

  it('must be a whole number 1–9, at its file:line:col', async () => {
    const zero = await loadCompress('  compress: gzip\n  compressLevel: 0\n');
    expect(zero.problems).toEqual([
      expect.stringMatching(/^partners\/acme\.yaml:9:18: transform\.compressLevel: /),
    ]);
    const ten = await loadCompress('  compress: gzip\n  compressLevel: 10\n');
    expect(ten.problems).toEqual([
      expect.stringMatching(/^partners\/acme\.yaml:9:18: transform\.compressLevel: /),
    ]);
    const half = await loadCompress('  compress: gzip\n  compressLevel: 2.5\n');
    expect(half.problems).toEqual([
      expect.stringMatching(/^partners\/acme\.yaml:9:18: transform\.compressLevel: /),
    ]);
  });

  it('needs compress: gzip', async () => {
    const { problems } = await loadCompress('  compressLevel: 3\n');
    expect(problems).toEqual(['partners/acme.yaml:8:18: transform.compressLevel: needs compress: gzip']);
  });
});
