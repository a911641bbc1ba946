// Step 2: the delivery's remote name (naming.filename, a `{seq}` number given once), checked against the
// safe-name rules with its sidecars' names; a name breaking them quarantines the delivery unsent.
import { posix } from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import { noopAlerter } from '../../src/observability/alerter.js';
import { checkCsvStream, checkShapeStream } from '../../src/adapters/transform-stream.js';
import { PREVALIDATE_MAX_BYTES, type PartnerConfig } from '../../src/config/schema.js';
import { classifyError } from '../../src/core/classify-error.js';
import { deliveryIdFor, tempNameFor } from '../../src/core/delivery-id.js';
import { phaseOf } from '../../src/core/publish-protocol.js';
import { PermanentError } from '../job-errors.js';
import type { DeliveryRecord } from '../../src/ledger/delivery-record.js';
import {
  deliveryRemoteName,
  isLedgerUntrusted,
  sampleRemoteName,
  UNTRUSTED_RECHECK_MS,
  type DeliveryRemoteName,
} from '../../src/ledger/name-sequence.js';
import type { Logger } from '../../src/observability/logger.js';
import type { DeliverJobData } from '../../src/queues/payloads.js';
import type { DeliverDeps, Identity } from './context.js';
import { hasShape, shapeRulesFor } from './shape-rules.js';
import { checkSidecarNames } from './sidecars.js';

export interface NamedDelivery {
  remotePath: string;
  tempPath: string;
  /** The `{seq}` number the name took, for the receipt. */
  seq?: { scope: string; n: number };
  /** False when a CSV pre-check failed before a number was given (the name is then a sample). */
  numbered: boolean;
  /** Runs (or joins) the CSV pre-check (validate.csv, small files); rejects ERR_CSV_INVALID. */
  prevalidate: () => Promise<Prevalidation>;
}

/** What the CSV pre-check did: whether it ran, and the data rows validate.csv counted when it did. */
export interface Prevalidation {
  ran: boolean;
  csvRows?: number;
}

/**
 * Names the delivery. `{seq}`: the name and its sidecars' are checked with a sample number first
 * (quarantined unread), and the CSV check of a file read before its upload runs before the number is
 * given, so a file quarantined by either takes none (no gap). An intent already recorded keeps the
 * name it was recorded with (naming edited mid-delivery must not send the file under a second name).
 */
export async function nameDelivery(
  deps: DeliverDeps,
  job: Job,
  partner: PartnerConfig,
  data: DeliverJobData,
  id: Identity,
  known: DeliveryRecord | undefined,
  log: Logger,
): Promise<NamedDelivery> {
  // Jobs queued before `lastModified` was in the payload date by the job's creation time (kept across retries).
  const object = {
    key: data.key,
    lastModified: new Date(data.lastModified ?? job.timestamp),
    numberedAs: deliveryIdFor(partner, data),
  };
  const sample = sampleRemoteName(partner, object);
  let checked: Promise<Prevalidation> | undefined;
  if (sample !== undefined) {
    if (!sample.ok) throw await quarantineHostileName(deps, partner, id, log, sample.reason);
    const sampled = checkSidecarNames(partner, posix.join(partner.target.directory, sample.name));
    if (!sampled.ok) throw await quarantineHostileName(deps, partner, id, log, sampled.reason);
    checked = prevalidateCsv(deps, partner, id, data.size, object.lastModified.getTime());
    // Awaited by the caller inside its failure handling; this only keeps it from being unhandled here.
    checked.catch(() => undefined);
  }
  const numbered = checked === undefined || (await checked.then(() => true).catch(() => false));
  const named: DeliveryRemoteName = numbered ? await numberedName(deps, job, partner, object, log) : sample!;
  if (!named.ok) throw await quarantineHostileName(deps, partner, id, log, named.reason);
  const recorded =
    known?.remotePath !== undefined && phaseOf(known, partner.target.publish) !== 'none'
      ? known.remotePath
      : undefined;
  // Already ends with what undoes a transform (`.gz`, `.pgp`/`.asc`), checked with it (255 bytes).
  const remotePath = recorded ?? posix.join(partner.target.directory, named.name);
  const sidecarNames = checkSidecarNames(partner, remotePath);
  if (!sidecarNames.ok) throw await quarantineHostileName(deps, partner, id, log, sidecarNames.reason);
  const tempPath =
    partner.target.publish === 'rename'
      ? (known?.tempPath ??
        posix.join(posix.dirname(remotePath), tempNameFor(posix.basename(remotePath), id.deliveryId)))
      : remotePath;
  return {
    remotePath,
    tempPath,
    ...(named.seq ? { seq: { scope: named.seq.scope, n: named.seq.n } } : {}),
    numbered,
    prevalidate: () => checked ?? prevalidateCsv(deps, partner, id, data.size, object.lastModified.getTime()),
  };
}

/**
 * validate.csv and shape for objects up to validate.prevalidateMaxBytes: one streaming read (pinned to
 * the ETag) through the validator and the shaper (output dropped) before any byte goes to the partner.
 * Throws ERR_CSV_INVALID; returns whether it ran, with validate.csv's data rows (larger objects are
 * checked inline during the upload instead; the shaping itself always runs in the upload).
 */
async function prevalidateCsv(
  deps: DeliverDeps,
  partner: PartnerConfig,
  id: Identity,
  size: number,
  lastModifiedMs: number,
): Promise<Prevalidation> {
  const csv = partner.validate?.csv;
  const shape = hasShape(partner) ? shapeRulesFor({ id, lastModifiedMs }, partner) : undefined;
  const maxBytes = partner.validate?.prevalidateMaxBytes ?? PREVALIDATE_MAX_BYTES;
  if ((!csv && !shape) || size > maxBytes) return { ran: false };
  const body = await deps.source.open(id.bucket, id.key, id.etag);
  const checker = csv ? checkCsvStream(body.stream, csv) : undefined;
  try {
    const checked = checker ?? body.stream;
    for await (const chunk of shape ? checkShapeStream(checked, shape) : checked) void chunk;
  } catch (err) {
    throw classifyError(err, 's3'); // ERR_CSV_INVALID as is; a broken body is an S3 fault
  }
  const csvRows = checker?.dataRows();
  return { ran: true, ...(csvRows === undefined ? {} : { csvRows }) };
}

/**
 * The delivery's remote name, its `{seq}` number given now or read back. While the ledger is being
 * rebuilt from receipts no new number can be given (a lost counter could repeat one): the job goes
 * back to the delayed set without using an attempt or holding a worker slot, like a paused partner's.
 */
async function numberedName(
  deps: DeliverDeps,
  job: Job,
  partner: PartnerConfig,
  object: Parameters<typeof deliveryRemoteName>[2],
  log: Logger,
): Promise<DeliveryRemoteName> {
  try {
    return await deliveryRemoteName(deps.nameSequence, partner, object);
  } catch (err) {
    if (!isLedgerUntrusted(err) || job.token === undefined) throw err;
    const until = Date.now() + UNTRUSTED_RECHECK_MS;
    await job.moveToDelayed(until, job.token);
    log.info(
      { hold: 'ledger-untrusted', until: new Date(until).toISOString() },
      'delivery held: {seq} numbers wait until the ledger is rebuilt from receipts',
    );
    throw new DelayedError();
  }
}

/**
 * A remote name (the data file's, or a sidecar's) that breaks the safe-name rules: the delivery is
 * quarantined (ledger reason, alert) and never sent. Returns the error to throw.
 */
async function quarantineHostileName(
  deps: DeliverDeps,
  partner: PartnerConfig,
  id: Identity,
  log: Logger,
  reason: string,
): Promise<PermanentError> {
  await deps.ledger.record({ ...id, status: 'quarantined', reason });
  log.error(
    { outcome: 'quarantined', errCode: 'ERR_KEY_HOSTILE', reason, alert: true },
    'object key quarantined: never sent to the partner',
  );
  (deps.alerts ?? noopAlerter).notify({
    kind: 'key-quarantined',
    partnerId: partner.id,
    errCode: 'ERR_KEY_HOSTILE',
    message: `object key quarantined: ${reason}`,
    deliveryId: id.deliveryId,
    s3Key: id.key,
  });
  return new PermanentError('ERR_KEY_HOSTILE', `object key quarantined: ${reason}`);
}
