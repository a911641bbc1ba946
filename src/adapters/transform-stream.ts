// The byte pipeline of a transformed delivery: S3 body → [CSV check/escape] → [gzip] → [OpenPGP
// encrypt/sign] → SFTP writer.
// Every stage streams with back-pressure, so memory stays bounded whatever the object size, and the
// source bytes are counted and hashed before any transform (the writer hashes what was delivered).
import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadable } from 'node:stream/web';
import { createGzip } from 'node:zlib';
import * as openpgp from 'openpgp';
import { resolveSecret } from '../config/secrets.js';
import type { PgpConfig, TransformConfig } from '../config/schema.js';
import {
  createCsvEscaper,
  createCsvValidator,
  describeCsvProblem,
  type CsvProblem,
  type CsvRules,
} from '../core/csv-validator.js';
import { transformsBytes } from '../core/transform-suffix.js';
import { FerryError } from '../errors.js';
import type { ReceiptTransform } from './receipt-store.js';

/** The keys a PGP transform encrypts to and signs with, read and checked. */
export interface PgpKeys {
  encryptionKeys: openpgp.Key[];
  signingKey?: openpgp.PrivateKey;
  /** Fingerprints of the recipients' primary keys (lowercase hex), for the receipt. */
  recipients: string[];
}

/** A key that cannot be used, named by the `transform.pgp` field that references it. */
export interface PgpKeyProblem {
  field:
    | 'recipientKeysFile'
    | 'recipientKeysEnv'
    | 'signingKeyFile'
    | 'signingKeyEnv'
    | 'passphraseFile'
    | 'passphraseEnv';
  message: string;
}

/**
 * Reads the keys `pgp` references (files or environment variables) and checks each one can do its
 * job at `now`: the recipients are public keys, unexpired, with an encryption-capable (sub)key; the
 * signing key is a private key that can sign and is unlocked (or unlockable with the passphrase).
 * Returns every problem found; `keys` only when there is none.
 */
export async function readPgpKeys(
  pgp: PgpConfig,
  env: NodeJS.ProcessEnv = process.env,
  now: Date = new Date(),
): Promise<{ keys?: PgpKeys; problems: PgpKeyProblem[] }> {
  const problems: PgpKeyProblem[] = [];
  const recipientField = pgp.recipientKeysFile !== undefined ? 'recipientKeysFile' : 'recipientKeysEnv';
  const encryptionKeys = await readRecipients(pgp, recipientField, env, now, problems);

  let signingKey: openpgp.PrivateKey | undefined;
  if (pgp.signingKeyFile !== undefined || pgp.signingKeyEnv !== undefined) {
    const field = pgp.signingKeyFile !== undefined ? 'signingKeyFile' : 'signingKeyEnv';
    signingKey = await readSigningKey(pgp, field, env, now, problems);
  }
  if (problems.length > 0 || encryptionKeys === undefined) return { problems };
  return {
    keys: {
      encryptionKeys,
      ...(signingKey ? { signingKey } : {}),
      recipients: encryptionKeys.map((k) => k.getFingerprint()),
    },
    problems,
  };
}

/** readPgpKeys for a delivery: throws ERR_CONFIG_INVALID naming the first problem (keys changed since load). */
export async function loadPgpKeys(pgp: PgpConfig, env: NodeJS.ProcessEnv = process.env): Promise<PgpKeys> {
  const { keys, problems } = await readPgpKeys(pgp, env);
  if (keys) return keys;
  const first = problems[0];
  throw new FerryError(
    'ERR_CONFIG_INVALID',
    `transform.pgp.${first?.field ?? '?'}: ${first?.message ?? 'invalid'}`,
    {
      details: { field: first?.field },
    },
  );
}

async function readRef(
  ref: { file?: string; env?: string },
  field: PgpKeyProblem['field'],
  env: NodeJS.ProcessEnv,
  problems: PgpKeyProblem[],
): Promise<string | undefined> {
  try {
    return await resolveSecret(ref, env);
  } catch (err) {
    problems.push({ field, message: err instanceof FerryError ? err.message : 'cannot be read' });
    return undefined;
  }
}

const ARMORED_BLOCK = /-----BEGIN PGP ([A-Z ]+)-----[\s\S]*?-----END PGP \1-----/g;

async function readRecipients(
  pgp: PgpConfig,
  field: 'recipientKeysFile' | 'recipientKeysEnv',
  env: NodeJS.ProcessEnv,
  now: Date,
  problems: PgpKeyProblem[],
): Promise<openpgp.Key[] | undefined> {
  const text = await readRef(
    { file: pgp.recipientKeysFile, env: pgp.recipientKeysEnv },
    field,
    env,
    problems,
  );
  if (text === undefined) return undefined;
  const keys: openpgp.Key[] = [];
  try {
    // A file may hold several armored blocks (one per recipient); readKeys reads only the first.
    const blocks = text.match(ARMORED_BLOCK) ?? [];
    if (blocks.length === 0) throw new Error('no armored block');
    for (const block of blocks) keys.push(...(await openpgp.readKeys({ armoredKeys: block })));
  } catch {
    problems.push({ field, message: 'does not hold armored OpenPGP public keys' });
    return undefined;
  }
  const before = problems.length;
  for (const key of keys) {
    const who = `key ${key.getFingerprint()}`;
    if (key.isPrivate()) {
      problems.push({ field, message: `${who} is a private key: give the partner's public key only` });
    } else if (await isExpired(key, now)) {
      problems.push({ field, message: `${who} has expired` });
    } else if (!(await can(() => key.getEncryptionKey(undefined, now)))) {
      problems.push({
        field,
        message: `${who} has no valid encryption (sub)key (expired, revoked or sign-only)`,
      });
    }
  }
  return problems.length === before ? keys : undefined;
}

async function readSigningKey(
  pgp: PgpConfig,
  field: 'signingKeyFile' | 'signingKeyEnv',
  env: NodeJS.ProcessEnv,
  now: Date,
  problems: PgpKeyProblem[],
): Promise<openpgp.PrivateKey | undefined> {
  const text = await readRef({ file: pgp.signingKeyFile, env: pgp.signingKeyEnv }, field, env, problems);
  if (text === undefined) return undefined;
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: text });
  } catch {
    problems.push({ field, message: 'does not hold an armored OpenPGP private key' });
    return undefined;
  }
  if (await isExpired(key, now)) {
    problems.push({ field, message: `key ${key.getFingerprint()} has expired` });
    return undefined;
  }
  if (!(await can(() => key.getSigningKey(undefined, now)))) {
    problems.push({ field, message: `key ${key.getFingerprint()} has no valid signing (sub)key` });
    return undefined;
  }
  if (key.isDecrypted()) return key;
  const passField = pgp.passphraseFile !== undefined ? 'passphraseFile' : 'passphraseEnv';
  if (pgp.passphraseFile === undefined && pgp.passphraseEnv === undefined) {
    problems.push({ field, message: 'is locked with a passphrase: set passphraseEnv or passphraseFile' });
    return undefined;
  }
  const passphrase = await readRef(
    { file: pgp.passphraseFile, env: pgp.passphraseEnv },
    passField,
    env,
    problems,
  );
  if (passphrase === undefined) return undefined;
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch {
    problems.push({ field: passField, message: 'does not unlock the signing key' });
    return undefined;
  }
}

async function isExpired(key: openpgp.Key, now: Date): Promise<boolean> {
  const expires = await key.getExpirationTime().catch(() => null);
  return expires instanceof Date && expires.getTime() <= now.getTime();
}

async function can(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

/** Bytes and sha256 of what passed through, so far (final once the stream ended). */
export interface StreamDigest {
  bytes: number;
  sha256: string;
}

/** The delivered byte stream and the digest of the source bytes it was made from. */
export interface BodyPipeline {
  /** What the partner receives; errors of every stage come out here. */
  stream: Readable;
  /** Bytes and sha256 of the S3 body as read (complete once `stream` has ended). */
  source(): StreamDigest;
}

/**
 * Builds `body → hash → [CSV check, or check + escape] → [gzip] → [OpenPGP]`. OpenPGP.js v6 takes web streams only, so that stage is
 * bridged with Readable.toWeb/fromWeb (both honour back-pressure). Destroying `stream` tears the
 * whole chain down, the S3 body included.
 */
export async function createBodyPipeline(
  body: Readable,
  transform: TransformConfig | undefined,
  keys: PgpKeys | undefined,
  csv?: CsvRules,
): Promise<BodyPipeline> {
  transform ??= { compress: 'none' };
  if (transform.pgp !== undefined && keys === undefined) {
    throw new FerryError('ERR_CONFIG_INVALID', 'transform.pgp has no keys loaded');
  }
  const hash = createHash('sha256');
  let bytes = 0;
  let sha256 = '';
  const meter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      bytes += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      sha256 = hash.digest('hex');
      cb();
    },
  });
  const stages: Transform[] = [meter];
  if (csv) stages.push(createCsvCheckStage(csv));
  if (transform.compress === 'gzip') stages.push(createGzip({ chunkSize: 64 * 1024 }));
  const tail = stages[stages.length - 1]!;
  // One pipeline: an error in any stage destroys every stage (the S3 body included) with it.
  pipeline([body, ...stages], ignore);
  const source = (): StreamDigest => ({ bytes, sha256 });
  if (transform.pgp === undefined || keys === undefined) return { stream: tail, source };
  try {
    return { stream: await encryptStream(tail, transform.pgp, keys), source };
  } catch (err) {
    tail.destroy(err as Error); // and with it the S3 body
    throw err;
  }
}

/**
 * A pass-through stage that checks the bytes against `rules` (src/core/csv-validator.ts) and fails
 * with ERR_CSV_INVALID at the first problem. A problem found at the end fails in flush, before the
 * stream ends, so the writer never completes (and never publishes) a file that broke the rules.
 * With `neutralizeFormulas: escape` it also rewrites formula cells (`=1+2` → `'=1+2`).
 */
export function createCsvCheckStage(rules: CsvRules): Transform {
  if (rules.neutralizeFormulas === 'escape') return createCsvEscapeStage(rules);
  const validator = createCsvValidator(rules);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const problem = validator.feed(chunk);
      cb(problem ? invalid(problem) : null, problem ? undefined : chunk);
    },
    flush(cb: TransformCallback) {
      const verdict = validator.end();
      cb(verdict.ok ? null : invalid(verdict));
    },
  });
}

function invalid(problem: CsvProblem): FerryError {
  return new FerryError('ERR_CSV_INVALID', describeCsvProblem(problem), {
    details: { csvRow: problem.row, csvColumn: problem.column },
  });
}

function createCsvEscapeStage(rules: CsvRules): Transform {
  const escaper = createCsvEscaper(rules);
  const asBuffer = (out: Uint8Array): Buffer => Buffer.from(out.buffer, out.byteOffset, out.length);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const { out, problem } = escaper.feed(chunk);
      if (problem) return cb(invalid(problem));
      // An empty push would read as nothing; a cell held back comes out with a later chunk.
      cb(null, out.length > 0 ? asBuffer(out) : undefined);
    },
    flush(cb: TransformCallback) {
      const { out, verdict } = escaper.end();
      if (!verdict.ok) return cb(invalid(verdict));
      cb(null, out.length > 0 ? asBuffer(out) : undefined);
    },
  });
}

/** True when `rules` make the delivered bytes differ from the source (the upload needs the pipeline). */
export function csvRewritesBytes(rules: CsvRules | undefined): boolean {
  return rules?.neutralizeFormulas === 'escape';
}

/**
 * `body` through createCsvCheckStage, checking only (escape mode's rewrite is the upload pipeline's
 * job, so here formula cells pass); destroying the result destroys `body` too.
 */
export function checkCsvStream(body: Readable, rules: CsvRules): Readable {
  const checkOnly = csvRewritesBytes(rules) ? { ...rules, neutralizeFormulas: false as const } : rules;
  const stage = createCsvCheckStage(checkOnly);
  pipeline(body, stage, ignore);
  return stage;
}

/** `input` encrypted (and signed) for the recipients, as a byte stream. */
async function encryptStream(input: Readable, pgp: PgpConfig, keys: PgpKeys): Promise<Readable> {
  const message = await openpgp.createMessage({
    binary: Readable.toWeb(input) as ReadableStream<Uint8Array>,
  });
  const options = {
    message,
    encryptionKeys: keys.encryptionKeys,
    ...(keys.signingKey ? { signingKeys: keys.signingKey } : {}),
  };
  const encrypted = (
    pgp.armor
      ? await openpgp.encrypt({ ...options, format: 'armored' })
      : await openpgp.encrypt({ ...options, format: 'binary' })
  ) as WebReadable<Uint8Array | string>;
  // Cancelling the web stream (the writer destroyed `stream`) cancels OpenPGP and, through toWeb, `input`.
  const stream = new Transform({
    transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback) {
      // Armored output comes as strings: the writer takes bytes.
      cb(null, typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    },
  });
  pipeline(Readable.fromWeb(encrypted), stream, ignore);
  return stream;
}

function ignore(): void {
  // Errors surface on the last stream of each pipeline (the one the writer reads).
}

/**
 * The receipt's `transform` entry, or undefined when the bytes are delivered as stored. `csv`: the
 * partner's CSV rules; `neutralizeFormulas: escape` rewrites bytes too (`csvEscape: true`).
 */
export function describeTransform(
  transform: TransformConfig | undefined,
  keys?: PgpKeys,
  csv?: CsvRules,
): ReceiptTransform | undefined {
  const escape = csvRewritesBytes(csv) ? { csvEscape: true } : {};
  if (transform === undefined || !transformsBytes(transform)) {
    return escape.csvEscape ? { compress: transform?.compress ?? 'none', ...escape } : undefined;
  }
  const { pgp } = transform;
  if (pgp === undefined) return { compress: transform.compress, ...escape };
  return {
    compress: transform.compress,
    ...escape,
    pgp: {
      ...(keys ? { recipients: keys.recipients } : {}),
      signed: pgp.signingKeyFile !== undefined || pgp.signingKeyEnv !== undefined,
      armor: pgp.armor,
    },
  };
}
