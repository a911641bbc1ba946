// Step 3: the bytes. S3 (pinned to the ETag) → optional CSV check / escape / gzip / PGP → the partner,
// with a stall watchdog and the job's ownership checked while it runs, then the server's size verified.
import { pipeline as pipeStreams, type Readable } from 'node:stream';
import type { ReceiptCsv, ReceiptTransform } from '../../src/adapters/receipt-store.js';
import {
  checkCsvStream,
  createBodyPipeline,
  describeCsv,
  describeShape,
  describeTransform,
  loadPgpKeys,
  type StreamDigest,
} from '../../src/adapters/transform-stream.js';
import type { SftpConnection } from '../../src/adapters/sftp-connection.js';
import { classifyError } from '../../src/core/classify-error.js';
import { transformsBytes } from '../../src/core/transform-suffix.js';
import { isSimulatedCrash } from '../../src/failpoints.js';
import { FerryError } from '../../src/errors.js';
import type { Delivery } from './context.js';
import { checkOwnership, isOwnershipLost, removeQuietly } from './ownership.js';
import { hasShape, shapeRulesFor } from './shape-rules.js';
import { verifyUpload } from './verify.js';

/** The verified bytes on the partner (at the temp name, or the final name in direct mode). */
export interface Uploaded {
  /** Size and sha256 of the delivered bytes; `source` and `transform` only when a transform applied. */
  size: number;
  sha256: string;
  /** md5 of the delivered bytes, when the partner's checksum file is md5. */
  md5?: string;
  /** Bytes sent on this attempt. */
  uploaded: number;
  source?: StreamDigest;
  transform?: ReceiptTransform;
  /** validate.csv's data rows, for a partner without `shape` (describeCsv). */
  csv?: ReceiptCsv;
}

/**
 * Streams the object to `d.tempPath` and verifies it. `beforeFirstByte` runs once the S3 body is open
 * (direct mode records `writing` there). On failure the file written is removed, best effort: no
 * intent names a temp file yet (the caller withdrew any), and a direct-mode fragment is Ferry's
 * (recorded `writing`, so a later attempt or version replaces what a dead link left).
 */
export async function transferBytes(
  d: Delivery,
  session: SftpConnection,
  beforeFirstByte: (sizeAsStored: number | undefined) => Promise<void>,
): Promise<Uploaded> {
  const { deps, partner, id } = d;
  // neutralizeFormulas: escape rewrites the bytes too: it needs the pipeline and its digests.
  const escapesCsv = partner.validate?.csv?.neutralizeFormulas === 'escape';
  const shape = hasShape(partner) ? shapeRulesFor(d, partner) : undefined;
  const transformed = transformsBytes(partner.transform) || escapesCsv || shape !== undefined;
  // Keys are read per delivery (a rotated key file is picked up) and before the S3 body is opened.
  const keys = partner.transform?.pgp ? await loadPgpKeys(partner.transform.pgp) : undefined;
  const body = await deps.source.open(id.bucket, id.key, id.etag);
  const expected = body.contentLength;
  try {
    // The size in place is known in advance only when the bytes are sent as stored.
    await beforeFirstByte(transformed ? undefined : expected);
  } catch (err) {
    body.stream.destroy(); // not read: give the S3 connection back now
    throw err;
  }
  // Escaping happens here even after a prevalidation pass (which only checked).
  const csv = d.prevalidated && !escapesCsv ? undefined : partner.validate?.csv;
  const pipeline = transformed
    ? await createBodyPipeline(body.stream, partner.transform, keys, csv, shape)
    : undefined;
  const plain = csv && !pipeline ? checkCsvStream(body.stream, csv) : undefined;
  const uploaded = await uploadWithWatchdog(d, session, pipeline?.stream ?? plain ?? body.stream, expected);
  // Counted by the check that ran in this upload, else by the prevalidation read.
  const csvRows = pipeline?.csvRows?.() ?? plain?.dataRows() ?? d.csvRows;
  const csvFound = describeCsv(partner.validate?.csv, partner.shape, csvRows);
  // With a transform the partner's size is the writer's count; S3's size is checked against the bytes read.
  const source = pipeline?.source();
  const delivered = source ? uploaded.bytes : expected;
  await verifyUpload(d, session, { uploaded, source, expected, delivered });
  return {
    size: delivered,
    sha256: uploaded.sha256,
    ...(uploaded.md5 === undefined ? {} : { md5: uploaded.md5 }),
    uploaded: uploaded.bytes,
    ...(source
      ? {
          source,
          transform: describeTransform(
            partner.transform,
            keys,
            partner.validate?.csv,
            partner.shape && describeShape(partner.shape, pipeline?.shapedRows?.()),
          ),
        }
      : {}),
    ...(csvFound ? { csv: csvFound } : {}),
  };
}

async function uploadWithWatchdog(d: Delivery, session: SftpConnection, stream: Readable, expected: number) {
  const { deps, partner, tempPath, log } = d;
  const stallMs = deps.getConfig().service.worker.stallTimeoutSeconds * 1000;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      controller.abort(
        new FerryError('ERR_TRANSFER_STALLED', `no progress for ${stallMs / 1000} s`, {
          details: { stallTimeoutSeconds: stallMs / 1000 },
        }),
      );
    }, stallMs);
  };
  arm();
  // A run that lost its job lock or its path lease stops writing at once: the run that took over
  // rewrites the same temp file, and ending before it starts keeps BullMQ's lock renewal on it.
  const lockMs = deps.getConfig().service.worker.lockDurationSeconds * 1000;
  const ownershipCheck = setInterval(() => {
    checkOwnership(d).then(
      () => undefined,
      (err: unknown) => {
        if (isOwnershipLost(err)) controller.abort(err);
        // Redis away: BullMQ's own renewal reports it; the next check decides.
      },
    );
  }, lockMs / 2);
  // The upload passes a source error through unchanged (and destroys the source without one on its own
  // failures): an error the S3 body emitted is an S3 fault, not one of the SFTP link it was piped into.
  let bodyError: unknown;
  stream.once('error', (err) => {
    bodyError = err;
    // A CSV check can fail before the upload listens (a small file): stop it now, not at the stall timeout.
    if (err instanceof FerryError && err.code === 'ERR_CSV_INVALID') controller.abort(err);
  });
  // Bandwidth caps: the bytes are spaced out before the writer, which keeps its pipeline full.
  const throttle = deps.throttle?.(partner, controller.signal);
  const sent = throttle ? pipeStreams(stream, throttle, () => undefined) : stream;
  try {
    const result = await session.upload(tempPath, sent, {
      mode: partner.target.fileMode,
      signal: controller.signal,
      onProgress: arm,
      md5: partner.naming?.checksumFile === 'md5', // hashed only for partners that want it
      // Sent with the last write, so it costs no round trip: verify needs no STAT after the CLOSE.
      sizeBeforeClose: true,
      fsync: partner.target.fsync !== false,
    });
    log.debug({ bytes: result.bytes, expectedBytes: expected }, 'upload acknowledged');
    return result;
  } catch (err) {
    stream.destroy();
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
    // The temp file of a run that lost its ownership belongs to the run that took over: leave it.
    if (!isOwnershipLost(reason) && !isSimulatedCrash(err)) await removeQuietly(session, tempPath, log);
    if (reason instanceof FerryError) throw reason;
    if (bodyError !== undefined && err === bodyError) throw classifyError(err, 's3');
    throw err;
  } finally {
    clearTimeout(timer);
    clearInterval(ownershipCheck);
  }
}
