import { z } from 'zod';
import { FerryError } from '../errors.js';
import type { ObjectSource } from '../core/ports.js';

/** The durable witness of one delivery: written to S3 after the ledger says delivered. */
export interface DeliveryReceipt {
  version: 1;
  deliveryId: string;
  trackingId: string;
  partnerId: string;
  /** `sha256` of the S3 bytes: set when a transform made the delivered bytes differ from them. */
  /** `lastModified`: with `source.identity: version` only (part of the delivery id). */
  source: { bucket: string; key: string; etag: string; size: number; sha256?: string; lastModified?: string };
  target: { host: string; port: number; path: string; mode: string };
  /** sha256 and size of the bytes delivered (after any transform). */
  sha256: string;
  /** md5 of the same bytes, when the partner's checksum file is md5 (`naming.checksumFile`). */
  md5?: string;
  bytes: number;
  /** What was done to the bytes on the way (partner `transform`); absent when they were sent as stored. */
  transform?: ReceiptTransform;
  /** What `validate.csv` found in the file, for a partner without `shape` (absent in receipts before it). */
  csv?: ReceiptCsv;
  /** `naming.checksumFile` / `naming.doneFile` members published after the data file, in order. */
  sidecars?: { path: string; kind: 'checksum' | 'done' }[];
  /**
   * The `{seq}` number the name took (`naming.filename`) and its scope (the name with the number
   * masked): a ledger rebuilt from receipts raises that scope's counter past it (name-sequence.ts).
   */
  naming?: { seqScope: string; seq: number };
  attempts: number;
  publish: 'rename' | 'direct';
  startedAt: string;
  deliveredAt: string;
  durationMs: number;
  ferryVersion: string;
  /** On a redelivery: the delivery it repeats, and who asked for it and why. */
  redeliveryOf?: string;
  reason?: string;
  requestedBy?: string;
  requestedAt?: string;
}

export interface ReceiptTransform {
  compress: 'none' | 'gzip';
  /** `transform.compressLevel` when configured (left out: zlib's default, 6). */
  compressLevel?: number;
  /** `validate.csv.neutralizeFormulas: escape`: formula cells got a `'` before any compress/pgp. */
  csvEscape?: boolean;
  /** `recipients`: fingerprints of the keys encrypted to (absent on a recovered delivery). */
  pgp?: { recipients?: string[]; signed: boolean; armor: boolean };
  /** The partner's `shape`, applied before any compress/pgp. */
  shape?: ReceiptShape;
}

/** What `shape` made of the CSV: the output columns and format, and the data rows written. */
export interface ReceiptShape {
  columns: string[];
  header: boolean;
  delimiter: string;
  quote: 'minimal' | 'all';
  lineEnding: 'lf' | 'crlf';
  encoding: 'utf-8' | 'utf-8-bom' | 'iso-8859-1' | 'windows-1252';
  /** The trailer template, as configured. */
  trailer?: string;
  /** Data rows written (header and trailer not counted), as the attempt that wrote the file counted them. */
  rows?: number;
}

/** The delivered CSV as `validate.csv` counted it. */
export interface ReceiptCsv {
  /** Data rows: the header row not counted when `validate.csv.header` is set (else every record counts). */
  rows: number;
}

/**
 * The witness of a delivery that was never published because a newer version of the object won its
 * remote path (src/core/publish-protocol.ts `superseded`): for auditors asking what became of it.
 * Stored beside the delivery receipts as `<deliveryId>.superseded.json` (never read as one of them).
 */
export interface SupersededReceipt {
  version: 1;
  outcome: 'superseded';
  deliveryId: string;
  trackingId: string;
  partnerId: string;
  source: { bucket: string; key: string; etag: string; size: number };
  target: { host: string; port: number; path: string };
  /** `newer-published`: a newer version was published to the path; `source-replaced`: S3 holds a newer one. */
  supersededBy: 'newer-published' | 'source-replaced';
  /** The delivery that published the newer version, when the path record names it. */
  newerDeliveryId?: string;
  attempts: number;
  decidedAt: string;
  ferryVersion: string;
}

/**
 * The partner's answer to a delivered file (`ack:`), stored beside its delivery receipt as
 * `<deliveryId>.ack.json`: appended evidence, the delivery receipt is never rewritten.
 */
export interface AckReceipt {
  version: 1;
  kind: 'ack';
  deliveryId: string;
  trackingId: string;
  partnerId: string;
  /** The delivered file the answer is about. */
  remotePath: string;
  result: 'acknowledged' | 'rejected';
  /** The answer file's path on the partner server, as it was read. */
  answerPath: string;
  /** A reject's text (at most 4 KiB). */
  reason?: string;
  readAt: string;
  ferryVersion: string;
}

export interface ReceiptStore {
  write(receipt: DeliveryReceipt): Promise<void>;
  writeAck(receipt: AckReceipt): Promise<void>;
  writeSuperseded(receipt: SupersededReceipt): Promise<void>;
  /** The superseded receipt, or undefined when none exists; throws ERR_RECEIPT_INVALID on a corrupt one. */
  readSuperseded(partnerId: string, deliveryId: string): Promise<SupersededReceipt | undefined>;
  /** The stored receipt, or undefined when none exists; throws ERR_RECEIPT_INVALID on a corrupt one. */
  read(partnerId: string, deliveryId: string): Promise<DeliveryReceipt | undefined>;
  keyFor(partnerId: string, deliveryId: string): string;
}

// Receipts outlive deploys and can be edited by hand: validate what comes back before trusting it.
const receiptSchema = z.object({
  version: z.literal(1),
  deliveryId: z.string(),
  trackingId: z.string(),
  partnerId: z.string(),
  source: z.object({
    bucket: z.string(),
    key: z.string(),
    etag: z.string(),
    size: z.number(),
    sha256: z.string().optional(),
    lastModified: z.string().optional(),
  }),
  target: z.object({ host: z.string(), port: z.number(), path: z.string(), mode: z.string() }),
  sha256: z.string(),
  md5: z.string().optional(),
  bytes: z.number(),
  transform: z
    .object({
      compress: z.enum(['none', 'gzip']),
      compressLevel: z.number().int().optional(),
      csvEscape: z.boolean().optional(),
      pgp: z
        .object({ recipients: z.array(z.string()).optional(), signed: z.boolean(), armor: z.boolean() })
        .optional(),
      shape: z
        .object({
          columns: z.array(z.string()),
          header: z.boolean(),
          delimiter: z.string(),
          quote: z.enum(['minimal', 'all']),
          lineEnding: z.enum(['lf', 'crlf']),
          encoding: z.enum(['utf-8', 'utf-8-bom', 'iso-8859-1', 'windows-1252']),
          trailer: z.string().optional(),
          rows: z.number().int().min(0).optional(),
        })
        .optional(),
    })
    .optional(),
  csv: z.object({ rows: z.number().int().min(0) }).optional(),
  sidecars: z.array(z.object({ path: z.string(), kind: z.enum(['checksum', 'done']) })).optional(),
  naming: z.object({ seqScope: z.string(), seq: z.number().int().positive() }).optional(),
  attempts: z.number(),
  publish: z.enum(['rename', 'direct']),
  startedAt: z.string(),
  deliveredAt: z.string(),
  durationMs: z.number(),
  ferryVersion: z.string(),
  redeliveryOf: z.string().optional(),
  reason: z.string().optional(),
  requestedBy: z.string().optional(),
  requestedAt: z.string().optional(),
}) satisfies z.ZodType<DeliveryReceipt>;

const supersededSchema = z.object({
  version: z.literal(1),
  outcome: z.literal('superseded'),
  deliveryId: z.string(),
  trackingId: z.string(),
  partnerId: z.string(),
  source: z.object({ bucket: z.string(), key: z.string(), etag: z.string(), size: z.number() }),
  target: z.object({ host: z.string(), port: z.number(), path: z.string() }),
  supersededBy: z.enum(['newer-published', 'source-replaced']),
  newerDeliveryId: z.string().optional(),
  attempts: z.number(),
  decidedAt: z.string(),
  ferryVersion: z.string(),
}) satisfies z.ZodType<SupersededReceipt>;

/**
 * Receipts as JSON objects at `<prefix><partnerId>/<deliveryId>.json`. A non-empty prefix gets a
 * trailing `/` if it lacks one, so `receipts` and `receipts/` name the same place.
 */
export function createReceiptStore(
  source: ObjectSource,
  location: { bucket: string; prefix: string },
): ReceiptStore {
  const prefix =
    location.prefix === '' || location.prefix.endsWith('/') ? location.prefix : `${location.prefix}/`;
  const keyFor = (partnerId: string, deliveryId: string): string =>
    `${prefix}${partnerId}/${deliveryId}.json`;
  // A delivery id has no dot: the ledger rebuild's `<id>.json` pattern never matches this name.
  const supersededKeyFor = (partnerId: string, deliveryId: string): string =>
    `${prefix}${partnerId}/${deliveryId}.superseded.json`;

  return {
    keyFor,

    async write(receipt) {
      const body = `${JSON.stringify(receipt, null, 2)}\n`;
      await source.put(
        location.bucket,
        keyFor(receipt.partnerId, receipt.deliveryId),
        body,
        'application/json',
      );
    },

    async writeAck(receipt) {
      await source.put(
        location.bucket,
        `${prefix}${receipt.partnerId}/${receipt.deliveryId}.ack.json`,
        `${JSON.stringify(receipt, null, 2)}\n`,
        'application/json',
      );
    },

    async writeSuperseded(receipt) {
      const body = `${JSON.stringify(receipt, null, 2)}\n`;
      await source.put(
        location.bucket,
        supersededKeyFor(receipt.partnerId, receipt.deliveryId),
        body,
        'application/json',
      );
    },

    read: (partnerId, deliveryId) =>
      readChecked(keyFor(partnerId, deliveryId), receiptSchema, partnerId, deliveryId),

    readSuperseded: (partnerId, deliveryId) =>
      readChecked(supersededKeyFor(partnerId, deliveryId), supersededSchema, partnerId, deliveryId),
  };

  async function readChecked<T extends { deliveryId: string; partnerId: string }>(
    key: string,
    schema: z.ZodType<T>,
    partnerId: string,
    deliveryId: string,
  ): Promise<T | undefined> {
    const text = await source.getText(location.bucket, key);
    if (text === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw invalid(location.bucket, key, err);
    }
    const result = schema.safeParse(parsed);
    if (!result.success || result.data.deliveryId !== deliveryId || result.data.partnerId !== partnerId) {
      throw invalid(location.bucket, key, result.error);
    }
    return result.data;
  }
}

function invalid(bucket: string, key: string, cause: unknown): FerryError {
  return new FerryError(
    'ERR_RECEIPT_INVALID',
    `receipt s3://${bucket}/${key} is not a valid delivery receipt`,
    {
      cause,
      details: { bucket, key },
    },
  );
}
