// Every partner file contract option, misconfigured one at a time, through `ferry validate`
// (runValidate → loadConfig): each problem names partners/acme.yaml:<line>:<col> at the field that is
// wrong, with a message that says what to write instead. The base file is the whole contract
// (test/integration/partner-contract.test.ts) and validates clean.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/config/validate-command.js';
import { generateTestKey, writeKeyFile, type TestKeyPair } from '../../support/pgp-keys.js';
import { makeTempDir } from '../../support/temp-dir.js';

const CONTRACT = `id: acme
schedule: { cron: '0 2 * * *' }
source:
  bucket: warehouse-exports
  prefix: acme/
  exclude: ['*.tmp']
  requireMarker: _SUCCESS
target:
  host: sftp.acme.example
  username: ferry
  directory: /in
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4']
  auth: { privateKeyFile: /run/secrets/acme }
validate:
  csv:
    delimiter: ','
    header: [order_id, sku, qty, amount]
    minColumns: 4
    maxBytes: 5368709120
    encoding: utf-8
    allowEmpty: false
    neutralizeFormulas: escape
  prevalidateMaxBytes: 268435456
transform:
  compress: gzip
  pgp:
    recipientKeysFile: keys/acme.asc
    signingKeyFile: keys/ferry-sign.asc
    passphraseEnv: FERRY_SIGN_PASSPHRASE
    armor: false
naming:
  filename: 'ACME_{date:yyyyMMdd}_{seq:3}{ext}'
  checksumFile: md5
  doneFile: '{filename}.done'
after:
  source: { move: 'archive/{key}' }
`;

const ENV = { FERRY_SIGN_PASSPHRASE: 'contract-pass' };
let dir: string;
let partnerKey: TestKeyPair;
let signer: TestKeyPair;

beforeAll(async () => {
  [partnerKey, signer] = await Promise.all([
    generateTestKey('acme'),
    generateTestKey('ferry', { passphrase: 'contract-pass' }),
  ]);
  dir = await makeTempDir('partner-contract-validate');
  await mkdir(join(dir, 'partners'));
  await mkdir(join(dir, 'keys'));
  await writeKeyFile(join(dir, 'keys'), 'acme.asc', partnerKey.publicKey);
  await writeKeyFile(join(dir, 'keys'), 'ferry-sign.asc', signer.privateKey);
  await writeKeyFile(join(dir, 'keys'), 'ferry-sign.pub.asc', signer.publicKey);
  await writeFile(join(dir, 'ferry.yaml'), 'receipts: { bucket: ferry-audit }\n');
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function validate(yaml: string, env: NodeJS.ProcessEnv = ENV) {
  await writeFile(join(dir, 'partners', 'acme.yaml'), yaml);
  const out: string[] = [];
  const code = await runValidate(dir, env, (l) => out.push(l.replaceAll(`${dir}/`, '')));
  return { code, out };
}

/** 1-based line:col of `offset` in `text`. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

interface Row {
  /** What is wrong. */
  what: string;
  /** A line (or part of one) of CONTRACT, and what replaces it. */
  from: string;
  to: string;
  /** Where the problem must point: the first occurrence of this text at or after the edit. */
  at: string;
  /** `at` is before the edit instead: its last occurrence there. */
  atBefore?: true;
  field: string;
  message: string | RegExp;
  env?: NodeJS.ProcessEnv;
}

const FILENAME = "filename: 'ACME_{date:yyyyMMdd}_{seq:3}{ext}'";
const MOVE = "source: { move: 'archive/{key}' }";
const TOKENS = '(tokens: name, ext, key, partner, date:<pattern>, partition:<pattern>, seq, seq:<width>)';
const ONE_OF_AFTER = 'must be none, tag, or { move: "archive/{key}" }';

const ROWS: Row[] = [
  // source.exclude
  {
    what: 'exclude: an empty glob',
    from: "exclude: ['*.tmp']",
    to: "exclude: ['*.tmp', '']",
    at: "''",
    field: 'source.exclude[1]',
    message: 'must not be empty',
  },
  {
    what: 'exclude: a malformed glob (an unbalanced brace would match nothing)',
    from: "exclude: ['*.tmp']",
    to: "exclude: ['*.{tmp']",
    at: "'*.{",
    field: 'source.exclude[0]',
    message: 'malformed glob: Missing closing: "}" - use "\\\\}" to match literal characters',
  },
  {
    what: 'exclude: an absolute glob',
    from: "exclude: ['*.tmp']",
    to: "exclude: ['/tmp/*.tmp']",
    at: "'/tmp",
    field: 'source.exclude[0]',
    message: 'globs are relative to the prefix and must not start with "/"',
  },
  {
    what: 'exclude: a glob that is not text',
    from: "exclude: ['*.tmp']",
    to: 'exclude: [42]',
    at: '42',
    field: 'source.exclude[0]',
    message: 'must be a string',
  },
  {
    what: 'exclude: not a list',
    from: "exclude: ['*.tmp']",
    to: "exclude: '*.tmp'",
    at: "'*.tmp'",
    field: 'source.exclude',
    message: 'must be a list',
  },
  // source.requireMarker
  {
    what: 'requireMarker: a path with "/"',
    from: 'requireMarker: _SUCCESS',
    to: 'requireMarker: out/_SUCCESS',
    at: 'out/',
    field: 'source.requireMarker',
    message: 'must be a file name without "/" (it is looked for beside each object)',
  },
  {
    what: 'requireMarker: ".."',
    from: 'requireMarker: _SUCCESS',
    to: "requireMarker: '..'",
    at: "'..'",
    field: 'source.requireMarker',
    message: 'must be a file name, not "." or ".."',
  },
  {
    what: 'requireMarker: empty',
    from: 'requireMarker: _SUCCESS',
    to: "requireMarker: ''",
    at: "''",
    field: 'source.requireMarker',
    message: 'must not be empty',
  },
  // validate.csv
  {
    what: 'csv: an unknown field',
    from: "    delimiter: ','",
    to: "    delimiter: ','\n    quote: '\"'",
    at: 'quote',
    field: 'validate.csv.quote',
    message: 'unknown field',
  },
  {
    what: 'csv.delimiter: two characters',
    from: "delimiter: ','",
    to: "delimiter: ';;'",
    at: "';;'",
    field: 'validate.csv.delimiter',
    message: 'must be one character, not a quote or a line break',
  },
  {
    what: 'csv.delimiter: a quote',
    from: "delimiter: ','",
    to: `delimiter: '"'`,
    at: `'"'`,
    field: 'validate.csv.delimiter',
    message: 'must be one character, not a quote or a line break',
  },
  {
    what: 'csv.header: an empty list',
    from: 'header: [order_id, sku, qty, amount]',
    to: 'header: []',
    at: '[]',
    field: 'validate.csv.header',
    message: 'must list at least one column name',
  },
  {
    what: 'csv.header: not a list',
    from: 'header: [order_id, sku, qty, amount]',
    to: 'header: order_id,sku',
    at: 'order_id,sku',
    field: 'validate.csv.header',
    message: 'must be a list',
  },
  {
    what: 'csv.minColumns: 0',
    from: 'minColumns: 4',
    to: 'minColumns: 0',
    at: '0',
    field: 'validate.csv.minColumns',
    message: 'must be at least 1',
  },
  {
    what: 'csv.minColumns: a quoted number',
    from: 'minColumns: 4',
    to: "minColumns: '4'",
    at: "'4'",
    field: 'validate.csv.minColumns',
    message: 'must be a number',
  },
  {
    what: 'csv.maxBytes: -1',
    from: 'maxBytes: 5368709120',
    to: 'maxBytes: -1',
    at: '-1',
    field: 'validate.csv.maxBytes',
    message: 'must be at least 1',
  },
  {
    what: 'csv.maxBytes: a fraction',
    from: 'maxBytes: 5368709120',
    to: 'maxBytes: 1.5',
    at: '1.5',
    field: 'validate.csv.maxBytes',
    message: 'must be a whole number',
  },
  {
    what: 'csv.encoding: latin1',
    from: 'encoding: utf-8',
    to: 'encoding: latin1',
    at: 'latin1',
    field: 'validate.csv.encoding',
    message: 'must be one of "utf-8"',
  },
  {
    what: 'csv.allowEmpty: a string',
    from: 'allowEmpty: false',
    to: "allowEmpty: 'no'",
    at: "'no'",
    field: 'validate.csv.allowEmpty',
    message: 'must be true or false',
  },
  {
    what: 'csv.neutralizeFormulas: "yes"',
    from: 'neutralizeFormulas: escape',
    to: 'neutralizeFormulas: yes',
    at: 'yes',
    field: 'validate.csv.neutralizeFormulas',
    message: 'must be false, true, quarantine or escape',
  },
  // validate.prevalidateMaxBytes
  {
    what: 'prevalidateMaxBytes: -1',
    from: 'prevalidateMaxBytes: 268435456',
    to: 'prevalidateMaxBytes: -1',
    at: '-1',
    field: 'validate.prevalidateMaxBytes',
    message: 'must be at least 0',
  },
  {
    what: 'prevalidateMaxBytes: a unit',
    from: 'prevalidateMaxBytes: 268435456',
    to: 'prevalidateMaxBytes: 256MiB',
    at: '256MiB',
    field: 'validate.prevalidateMaxBytes',
    message: 'must be a number',
  },
  {
    what: 'validate: an unknown field',
    from: 'prevalidateMaxBytes: 268435456',
    to: 'prevalidateMaxBytes: 268435456\n  json: {}',
    at: 'json',
    field: 'validate.json',
    message: 'unknown field',
  },
  // transform.compress
  {
    what: 'compress: zip',
    from: 'compress: gzip',
    to: 'compress: zip',
    at: 'zip',
    field: 'transform.compress',
    message: 'must be one of "none", "gzip"',
  },
  // transform.pgp
  {
    what: 'pgp: no recipients',
    from: '    recipientKeysFile: keys/acme.asc\n',
    to: '',
    at: 'signingKeyFile',
    field: 'transform.pgp',
    message: "needs recipientKeysFile or recipientKeysEnv (the partner's armored public keys)",
  },
  {
    what: 'pgp: recipients by file and env',
    from: 'recipientKeysFile: keys/acme.asc',
    to: 'recipientKeysFile: keys/acme.asc\n    recipientKeysEnv: ACME_KEYS',
    at: 'keys/',
    field: 'transform.pgp.recipientKeysFile',
    message: 'set recipientKeysEnv or recipientKeysFile, not both',
  },
  {
    what: 'pgp: a recipient key file that is missing',
    from: 'recipientKeysFile: keys/acme.asc',
    to: 'recipientKeysFile: keys/missing.asc',
    at: 'keys/',
    field: 'transform.pgp.recipientKeysFile',
    message: 'secret file keys/missing.asc cannot be read (ENOENT)',
  },
  {
    what: 'pgp: a recipient key variable that is not set',
    from: 'recipientKeysFile: keys/acme.asc',
    to: 'recipientKeysEnv: ACME_PGP_KEYS',
    at: 'ACME_PGP_KEYS',
    field: 'transform.pgp.recipientKeysEnv',
    message: 'environment variable ACME_PGP_KEYS is not set',
  },
  {
    what: 'pgp: a private key as recipient',
    from: 'recipientKeysFile: keys/acme.asc',
    to: 'recipientKeysFile: keys/ferry-sign.asc',
    at: 'keys/',
    field: 'transform.pgp.recipientKeysFile',
    message: /^key [0-9a-f]{40} is a private key: give the partner's public key only$/,
  },
  {
    what: 'pgp: a public key as signing key',
    from: 'signingKeyFile: keys/ferry-sign.asc',
    to: 'signingKeyFile: keys/ferry-sign.pub.asc',
    at: 'keys/',
    field: 'transform.pgp.signingKeyFile',
    message: 'does not hold an armored OpenPGP private key',
  },
  {
    what: 'pgp: signing keys by file and env',
    from: 'signingKeyFile: keys/ferry-sign.asc',
    to: 'signingKeyFile: keys/ferry-sign.asc\n    signingKeyEnv: FERRY_SIGN_KEY',
    at: 'keys/',
    field: 'transform.pgp.signingKeyFile',
    message: 'set signingKeyEnv or signingKeyFile, not both',
  },
  {
    what: 'pgp: a passphrase without a signing key',
    from: '    signingKeyFile: keys/ferry-sign.asc\n',
    to: '',
    at: 'FERRY_SIGN_PASSPHRASE',
    field: 'transform.pgp.passphraseEnv',
    message: 'only allowed with signingKeyFile or signingKeyEnv',
  },
  {
    what: 'pgp: a locked signing key without a passphrase',
    from: '    passphraseEnv: FERRY_SIGN_PASSPHRASE\n',
    to: '',
    at: 'keys/ferry-sign.asc',
    atBefore: true,
    field: 'transform.pgp.signingKeyFile',
    message: 'is locked with a passphrase: set passphraseEnv or passphraseFile',
  },
  {
    what: 'pgp: a passphrase variable that is not set',
    from: 'passphraseEnv: FERRY_SIGN_PASSPHRASE',
    to: 'passphraseEnv: NOT_SET_PASSPHRASE',
    at: 'NOT_SET',
    field: 'transform.pgp.passphraseEnv',
    message: 'environment variable NOT_SET_PASSPHRASE is not set',
  },
  {
    what: 'pgp: a wrong passphrase',
    from: 'passphraseEnv: FERRY_SIGN_PASSPHRASE',
    to: 'passphraseEnv: FERRY_SIGN_PASSPHRASE',
    at: 'FERRY_SIGN_PASSPHRASE',
    field: 'transform.pgp.passphraseEnv',
    message: 'does not unlock the signing key',
    env: { FERRY_SIGN_PASSPHRASE: 'wrong' },
  },
  {
    what: 'pgp.armor: a string',
    from: 'armor: false',
    to: "armor: 'yes'",
    at: "'yes'",
    field: 'transform.pgp.armor',
    message: 'must be true or false',
  },
  {
    what: 'pgp: an unknown field',
    from: 'armor: false',
    to: 'armour: true',
    at: 'armour',
    field: 'transform.pgp.armour',
    message: 'unknown field',
  },
  // naming.filename
  {
    what: 'filename: a "/" in its literal text (every name would be quarantined)',
    from: FILENAME,
    to: "filename: 'out/ACME_{seq:3}{ext}'",
    at: "'out",
    field: 'naming.filename',
    message:
      'literal text "out/ACME_" makes every name unsafe (separator: name contains "/" or "\\" (nested keys are not delivered; Ferry writes one flat directory)) (at character 1)',
  },
  {
    what: 'filename: an unknown token',
    from: FILENAME,
    to: "filename: 'ACME_{day}_{seq:3}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message: `unknown token {day} ${TOKENS} (at character 6)`,
  },
  {
    what: 'filename: {date} without a pattern',
    from: FILENAME,
    to: "filename: 'ACME_{date}_{seq:3}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message: `unknown token {date} ${TOKENS} (at character 6)`,
  },
  {
    what: 'filename: an unknown date letter',
    from: FILENAME,
    to: "filename: 'ACME_{date:YYYYMMDD}_{seq:3}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message:
      '{date:YYYYMMDD}: unknown date pattern letter "Y" at 5 (use yyyy, yy, MM, dd, HH, mm, ss) (at character 6)',
  },
  {
    what: 'filename: an unbalanced brace',
    from: FILENAME,
    to: "filename: 'ACME_{date:yyyyMMdd_{seq:3}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message: 'unbalanced "{" (write "{{" for a literal brace) (at character 6)',
  },
  {
    what: 'filename: two {seq} tokens',
    from: FILENAME,
    to: "filename: 'ACME_{seq}_{seq:3}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message: 'only one {seq} token is allowed (at character 12)',
  },
  {
    what: 'filename: {seq:0}',
    from: FILENAME,
    to: "filename: 'ACME_{date:yyyyMMdd}_{seq:0}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message: '{seq:0}: the width must be one digit 1-9, e.g. {seq:3} → 001 (at character 22)',
  },
  {
    what: 'filename: {seq:10}',
    from: FILENAME,
    to: "filename: 'ACME_{date:yyyyMMdd}_{seq:10}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message: '{seq:10}: the width must be one digit 1-9, e.g. {seq:3} → 001 (at character 22)',
  },
  {
    what: 'filename: {seq} running into a token',
    from: FILENAME,
    to: "filename: 'ACME_{date:yyyyMMdd}{seq:3}{ext}'",
    at: "'ACME",
    field: 'naming.filename',
    message:
      /^\{seq\} must be set apart from other tokens by text that is not a digit .* \(at character 21\)$/,
  },
  // naming.checksumFile, naming.doneFile
  {
    what: 'checksumFile: sha1',
    from: 'checksumFile: md5',
    to: 'checksumFile: sha1',
    at: 'sha1',
    field: 'naming.checksumFile',
    message: 'must be one of "none", "sha256", "md5"',
  },
  {
    what: 'doneFile: no {filename}',
    from: "doneFile: '{filename}.done'",
    to: "doneFile: 'DONE'",
    at: "'DONE'",
    field: 'naming.doneFile',
    message: 'has no {filename} token: every data file would share one done file (at character 1)',
  },
  {
    what: 'doneFile: an unknown token',
    from: "doneFile: '{filename}.done'",
    to: "doneFile: '{name}.done'",
    at: "'{name}",
    field: 'naming.doneFile',
    message: 'unknown token {name} (tokens: filename) (at character 1)',
  },
  {
    what: 'doneFile: an unbalanced brace',
    from: "doneFile: '{filename}.done'",
    to: "doneFile: '{filename.done'",
    at: "'{filename",
    field: 'naming.doneFile',
    message: 'unbalanced "{" (write "{{" for a literal brace) (at character 1)',
  },
  // after.source
  {
    what: 'after.source: delete',
    from: MOVE,
    to: 'source: delete',
    at: 'delete',
    field: 'after.source',
    message: ONE_OF_AFTER,
  },
  {
    what: 'after.source: a misspelled mode',
    from: MOVE,
    to: 'source: tags',
    at: 'tags',
    field: 'after.source',
    message: ONE_OF_AFTER,
  },
  {
    what: 'move: a target inside the prefix',
    from: MOVE,
    to: "source: { move: 'acme/archive/{key}' }",
    at: "'acme/",
    field: 'after.source.move',
    message: 'moved objects would land inside the source prefix of "acme" and be delivered again',
  },
  {
    what: 'move: the key itself',
    from: MOVE,
    to: "source: { move: '{key}' }",
    at: "'{key}'",
    field: 'after.source.move',
    message: 'moved objects would land inside the source prefix of "acme" and be delivered again',
  },
  {
    what: 'move: an unknown token',
    from: MOVE,
    to: "source: { move: 'archive/{path}' }",
    at: "'archive",
    field: 'after.source.move',
    message: 'may only use the tokens {key} and {name}',
  },
  {
    what: 'move: an unknown field beside it',
    from: MOVE,
    to: "source: { move: 'archive/{key}', keep: true }",
    at: 'keep',
    field: 'after.source.keep',
    message: 'unknown field',
  },
];

describe('ferry validate on the whole partner contract', () => {
  it('accepts the contract as written', async () => {
    const { code, out } = await validate(CONTRACT);
    expect(out).toEqual([`config OK: 1 partner (acme) in ${dir}`]);
    expect(code).toBe(0);
  });

  it.each(ROWS.map((r) => [r.what, r] as const))('%s: one problem at its file:line:col', async (_, row) => {
    const start = CONTRACT.indexOf(row.from);
    expect(start).toBeGreaterThanOrEqual(0);
    const yaml = CONTRACT.slice(0, start) + row.to + CONTRACT.slice(start + row.from.length);
    const at = row.atBefore ? yaml.lastIndexOf(row.at, start) : yaml.indexOf(row.at, start);
    expect(at).toBeGreaterThanOrEqual(0);
    const { code, out } = await validate(yaml, row.env ?? ENV);
    expect(code).toBe(1);
    expect(out).toHaveLength(1);
    const prefix = `partners/acme.yaml:${lineCol(yaml, at)}: ${row.field}: `;
    expect(out[0]!.slice(0, prefix.length)).toBe(prefix);
    const message = out[0]!.slice(prefix.length);
    if (typeof row.message === 'string') expect(message).toBe(row.message);
    else expect(message).toMatch(row.message);
  });

  it('an inline key instead of a reference: the secret is refused, never echoed, and the missing recipients named', async () => {
    const yaml = CONTRACT.replace(
      'recipientKeysFile: keys/acme.asc',
      "recipientKeys: '-----BEGIN PGP PUBLIC KEY BLOCK-----'",
    );
    const { code, out } = await validate(yaml);
    expect(code).toBe(1);
    expect(out).toEqual([
      `partners/acme.yaml:27:5: transform.pgp: needs recipientKeysFile or recipientKeysEnv (the partner's armored public keys)`,
      'partners/acme.yaml:27:20: transform.pgp.recipientKeys: secrets must be references (passwordEnv, passwordFile, privateKeyFile, privateKeyEnv, passphraseEnv)',
    ]);
    expect(out.join('\n')).not.toContain('-----BEGIN');
  });
});
