// The byte pipeline of a transformed delivery: S3 body → [CSV check/escape] → [gzip] → [OpenPGP
// encrypt/sign] → SFTP writer.
// Every stage streams with back-pressure, so memory stays bounded whatever the object size, and the
// source bytes are counted and hashed before any transform (the writer hashes what was delivered).
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadable } from 'node:stream/web';
import { constants as zlibConstants, crc32, createDeflateRaw, createGzip, type DeflateRaw } from 'node:zlib';
import * as openpgp from 'openpgp';
import { resolveSecret } from '../config/secrets.js';
import type { PgpConfig, ShapeConfig, TransformConfig } from '../config/schema.js';
import type { ShapeRules } from '../core/csv-shaper.js';
import { createCsvShapeStage } from './csv-shape-stream.js';
import {
  createCsvEscaper,
  createCsvValidator,
  csvDataRows,
  describeCsvProblem,
  type CsvProblem,
  type CsvRules,
} from '../core/csv-validator.js';
import { transformsBytes } from '../core/transform-suffix.js';
import { FerryError } from '../errors.js';
import type { ReceiptCsv, ReceiptShape, ReceiptTransform } from './receipt-store.js';

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
  /** With `shape`: the data rows written (complete once `stream` has ended). */
  shapedRows?(): number;
  /** With CSV rules: the data rows the check counted (csvDataRows; undefined until `stream` has ended). */
  csvRows?(): number | undefined;
}

/**
 * Builds `body → hash → [CSV check, or check + escape] → [shape] → [gzip] → [OpenPGP]`. OpenPGP.js v6 takes web streams only, so that stage is
 * bridged with Readable.toWeb/fromWeb (both honour back-pressure). Destroying `stream` tears the
 * whole chain down, the S3 body included.
 */
export async function createBodyPipeline(
  body: Readable,
  transform: TransformConfig | undefined,
  keys: PgpKeys | undefined,
  csv?: CsvRules,
  shape?: ShapeRules,
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
  const checker = csv ? createCsvCheckStage(csv) : undefined;
  if (checker) stages.push(checker);
  const shaper = shape ? createCsvShapeStage(shape) : undefined;
  if (shaper) stages.push(shaper);
  if (transform.compress === 'gzip') {
    stages.push(createParallelGzip(transform.compressLevel ?? DEFAULT_GZIP_LEVEL));
  }
  const tail = stages[stages.length - 1]!;
  // One pipeline: an error in any stage destroys every stage (the S3 body included) with it.
  pipeline([body, ...stages], ignore);
  const source = (): StreamDigest => ({ bytes, sha256 });
  const rows = {
    ...(shaper ? { shapedRows: () => shaper.rows() } : {}),
    ...(checker ? { csvRows: () => checker.dataRows() } : {}),
  };
  if (transform.pgp === undefined || keys === undefined) return { stream: tail, source, ...rows };
  try {
    return { stream: await encryptStream(tail, transform.pgp, keys), source, ...rows };
  } catch (err) {
    tail.destroy(err as Error); // and with it the S3 body
    throw err;
  }
}

/** zlib's own default, and Ferry's when `transform.compressLevel` is left out. */
export const DEFAULT_GZIP_LEVEL = 6;
/** Source bytes per deflate block: the per-block cost (setup, a 5-byte sync marker) vanishes, memory stays small. */
const GZIP_BLOCK_BYTES = 1024 * 1024;
/** Deflate's window: each block is primed with the previous block's last 32 KiB, so the ratio is gzip's. */
const DEFLATE_WINDOW = 32 * 1024;
/** zlib's output slices. Small on purpose: see createParallelGzip. */
const GZIP_OUT_CHUNK = 64 * 1024;

/** One block being compressed: its own raw deflate stream and the output it has made so far. */
interface GzipBlock {
  deflate: DeflateRaw;
  out: Buffer[];
  done: Promise<void>;
}

/**
 * A gzip stage that compresses 1 MiB blocks on several libuv threadpool threads at once (pigz's
 * scheme), where createGzip runs one deflate at a time: one gzip member whose deflate stream is the
 * blocks' raw deflate output in order, each ended by a sync flush (byte-aligned, no final bit) and
 * primed with the previous block's last 32 KiB, then an empty final block. Any gunzip reads it. At most
 * `inFlight` finished blocks wait for their deflate (then the stage stops taking input: back-pressure),
 * so memory stays at a few MiB whatever the size. The output depends only on the bytes and the level.
 * Source chunks go to a block's deflate stream as they come and its output leaves in zlib's 64 KiB
 * slices, never joined into 1 MiB buffers: big buffers make V8 run a full GC every few MB (external
 * memory grows faster than the young generation fills), which cost +50 % CPU in a worker.
 */
export function createParallelGzip(
  level: number = DEFAULT_GZIP_LEVEL,
  // Two: a second core's worth; more only added memory (and CPU) on the 2-core bench machine.
  inFlight: number = Math.min(2, availableParallelism()),
): Transform {
  // No zlib.crc32 (Node < 20.15): the trailer's CRC would need a second pass; fall back to one deflate.
  if (typeof crc32 !== 'function') return createGzip({ level, chunkSize: GZIP_OUT_CHUNK });
  const queue: GzipBlock[] = [];
  let block: GzipBlock | undefined;
  let filled = 0;
  /** The current block's last pieces, enough to cover DEFLATE_WINDOW bytes: the next block's dictionary. */
  let tail: Buffer[] = [];
  let tailBytes = 0;
  let crc = 0;
  let size = 0;
  let headerSent = false;

  const open = (): GzipBlock => {
    const dictionary = tailBytes > 0 ? lastBytes(tail, DEFLATE_WINDOW) : undefined;
    tail = [];
    tailBytes = 0;
    const deflate = createDeflateRaw({
      level,
      chunkSize: GZIP_OUT_CHUNK,
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      ...(dictionary ? { dictionary } : {}),
    });
    const out: Buffer[] = [];
    deflate.on('data', (chunk: Buffer) => out.push(chunk));
    const done = new Promise<void>((resolve, reject) => {
      deflate.once('end', resolve);
      deflate.once('error', reject);
    });
    done.catch(ignore); // handled when its turn comes; a later block failing first is not "unhandled"
    return { deflate, out, done };
  };
  const write = (piece: Buffer): void => {
    block ??= open();
    block.deflate.write(piece); // buffered by the stream; bounded by the block size
    filled += piece.length;
    tail.push(piece);
    tailBytes += piece.length;
    while (tail.length > 1 && tailBytes - tail[0]!.length >= DEFLATE_WINDOW) {
      tailBytes -= tail.shift()!.length;
    }
  };
  // Pushes finished blocks' output in order until at most `keep` are waiting.
  const drain = async (stream: Transform, keep: number): Promise<void> => {
    while (queue.length > keep) {
      const oldest = queue[0]!;
      await oldest.done;
      queue.shift();
      for (const chunk of oldest.out) stream.push(chunk);
    }
  };

  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (!headerSent) {
        this.push(gzipHeader(level));
        headerSent = true;
      }
      crc = crc32(chunk, crc);
      size += chunk.length;
      const run = async (): Promise<void> => {
        for (let offset = 0; offset < chunk.length;) {
          const take = Math.min(GZIP_BLOCK_BYTES - filled, chunk.length - offset);
          write(offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
          offset += take;
          if (filled === GZIP_BLOCK_BYTES) {
            block!.deflate.end();
            queue.push(block!);
            block = undefined;
            filled = 0;
            await drain(this, inFlight - 1);
          }
        }
      };
      run().then(() => cb(), cb);
    },
    flush(cb: TransformCallback) {
      if (!headerSent) this.push(gzipHeader(level));
      if (block) {
        block.deflate.end();
        queue.push(block);
        block = undefined;
      }
      drain(this, 0).then(() => {
        // Every block ended byte-aligned (sync flush): an empty final block ends the deflate stream
        // (what zlib itself writes for no input), then CRC-32 and ISIZE (the length modulo 2^32).
        const end = Buffer.alloc(10);
        end[0] = 0x03;
        end.writeUInt32LE(crc >>> 0, 2);
        end.writeUInt32LE(size % 2 ** 32, 6);
        cb(null, end);
      }, cb);
    },
    destroy(err: Error | null, cb: (error: Error | null) => void) {
      for (const pending of [...queue, ...(block ? [block] : [])]) pending.deflate.destroy();
      cb(err);
    },
  });
}

/** The last `n` bytes of `parts` (fewer if they hold fewer), as one buffer. */
function lastBytes(parts: Buffer[], n: number): Buffer {
  const joined = Buffer.concat(parts);
  return joined.subarray(Math.max(0, joined.length - n));
}

/** RFC 1952 header as zlib writes it: no name, no mtime, XFL by level, OS Unix. */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

/** A CSV check stage; `dataRows()`: the file's data rows (csvDataRows) once it ended valid, else undefined. */
export type CsvCheckStage = Transform & { dataRows(): number | undefined };

/**
 * A pass-through stage that checks the bytes against `rules` (src/core/csv-validator.ts) and fails
 * with ERR_CSV_INVALID at the first problem. A problem found at the end fails in flush, before the
 * stream ends, so the writer never completes (and never publishes) a file that broke the rules.
 * With `neutralizeFormulas: escape` it also rewrites formula cells (`=1+2` → `'=1+2`).
 */
export function createCsvCheckStage(rules: CsvRules): CsvCheckStage {
  if (rules.neutralizeFormulas === 'escape') return createCsvEscapeStage(rules);
  const validator = createCsvValidator(rules);
  let rows: number | undefined;
  const stage = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const problem = validator.feed(chunk);
      cb(problem ? invalid(problem) : null, problem ? undefined : chunk);
    },
    flush(cb: TransformCallback) {
      const verdict = validator.end();
      if (verdict.ok) rows = csvDataRows(verdict.rows, rules);
      cb(verdict.ok ? null : invalid(verdict));
    },
  });
  return Object.assign(stage, { dataRows: () => rows });
}

function invalid(problem: CsvProblem): FerryError {
  return new FerryError('ERR_CSV_INVALID', describeCsvProblem(problem), {
    details: { csvRow: problem.row, csvColumn: problem.column },
  });
}

function createCsvEscapeStage(rules: CsvRules): CsvCheckStage {
  const escaper = createCsvEscaper(rules);
  const asBuffer = (out: Uint8Array): Buffer => Buffer.from(out.buffer, out.byteOffset, out.length);
  let rows: number | undefined;
  const stage = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const { out, problem } = escaper.feed(chunk);
      if (problem) return cb(invalid(problem));
      // An empty push would read as nothing; a cell held back comes out with a later chunk.
      cb(null, out.length > 0 ? asBuffer(out) : undefined);
    },
    flush(cb: TransformCallback) {
      const { out, verdict } = escaper.end();
      if (!verdict.ok) return cb(invalid(verdict));
      rows = csvDataRows(verdict.rows, rules);
      cb(null, out.length > 0 ? asBuffer(out) : undefined);
    },
  });
  return Object.assign(stage, { dataRows: () => rows });
}

/** True when `rules` make the delivered bytes differ from the source (the upload needs the pipeline). */
export function csvRewritesBytes(rules: CsvRules | undefined): boolean {
  return rules?.neutralizeFormulas === 'escape';
}

/**
 * `body` through createCsvCheckStage, checking only (escape mode's rewrite is the upload pipeline's
 * job, so here formula cells pass); destroying the result destroys `body` too. Its `dataRows()` once read.
 */
export function checkCsvStream(body: Readable, rules: CsvRules): CsvCheckStage {
  const checkOnly = csvRewritesBytes(rules) ? { ...rules, neutralizeFormulas: false as const } : rules;
  const stage = createCsvCheckStage(checkOnly);
  pipeline(body, stage, ignore);
  return stage;
}

/** `body` through the shape stage, output dropped (a prevalidation read); destroying the result destroys `body`. */
export function checkShapeStream(body: Readable, rules: ShapeRules): Readable {
  const stage = createCsvShapeStage(rules);
  pipeline(body, stage, ignore);
  return stage;
}

/**
 * Never compress inside OpenPGP (gzip, when asked, ran before it; compressing again costs CPU for
 * nothing). Sign with SHA-256 where the keys allow it: hardware-accelerated, ~2× SHA-512's speed here.
 */
const PGP_CONFIG: Partial<openpgp.Config> = {
  preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed,
  preferredHashAlgorithm: openpgp.enums.hash.sha256,
};

/** `input` encrypted (and signed) for the recipients, as a byte stream. */
async function encryptStream(input: Readable, pgp: PgpConfig, keys: PgpKeys): Promise<Readable> {
  const message = await openpgp.createMessage({
    binary: Readable.toWeb(input) as ReadableStream<Uint8Array>,
  });
  const options = {
    message,
    encryptionKeys: keys.encryptionKeys,
    ...(keys.signingKey ? { signingKeys: keys.signingKey } : {}),
    config: PGP_CONFIG,
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

/** The receipt's record of a partner's `shape`: the output format, and the data rows written when known. */
export function describeShape(shape: ShapeConfig, rows?: number): ReceiptShape {
  return {
    columns: shape.columns.map((c) => c.as),
    header: shape.header,
    delimiter: shape.delimiter,
    quote: shape.quote,
    lineEnding: shape.lineEnding,
    encoding: shape.encoding,
    ...(shape.trailer === undefined ? {} : { trailer: shape.trailer.source }),
    ...(rows === undefined ? {} : { rows }),
  };
}

/**
 * The receipt's `csv` entry: the data rows `validate.csv` counted, for a partner without `shape` (with
 * it, `transform.shape.rows` holds the rows written). Undefined when there is no such count.
 */
export function describeCsv(
  csv: CsvRules | undefined,
  shape: ShapeConfig | undefined,
  rows: number | undefined,
): ReceiptCsv | undefined {
  return csv === undefined || shape !== undefined || rows === undefined ? undefined : { rows };
}

/**
 * The receipt's `transform` entry, or undefined when the bytes are delivered as stored. `csv`: the
 * partner's CSV rules; `neutralizeFormulas: escape` rewrites bytes too (`csvEscape: true`). `shape`:
 * describeShape's record, when the partner's CSV is reshaped.
 */
export function describeTransform(
  transform: TransformConfig | undefined,
  keys?: PgpKeys,
  csv?: CsvRules,
  shape?: ReceiptShape,
): ReceiptTransform | undefined {
  const rewrites = {
    ...(csvRewritesBytes(csv) ? { csvEscape: true } : {}),
    ...(shape === undefined ? {} : { shape }),
  };
  const rewritten = Object.keys(rewrites).length > 0;
  if (transform === undefined || !transformsBytes(transform)) {
    return rewritten ? { compress: transform?.compress ?? 'none', ...rewrites } : undefined;
  }
  const { pgp } = transform;
  const level = transform.compressLevel !== undefined ? { compressLevel: transform.compressLevel } : {};
  if (pgp === undefined) return { compress: transform.compress, ...level, ...rewrites };
  return {
    compress: transform.compress,
    ...level,
    ...rewrites,
    pgp: {
      ...(keys ? { recipients: keys.recipients } : {}),
      signed: pgp.signingKeyFile !== undefined || pgp.signingKeyEnv !== undefined,
      armor: pgp.armor,
    },
  };
}
