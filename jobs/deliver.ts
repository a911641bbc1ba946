import { posix } from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import type { ObjectSource } from '../src/adapters/ports.js';
import { noopAlerter, type Alerter } from '../src/alerts/alerter.js';
import type { ReceiptStore, ReceiptTransform } from '../src/adapters/receipt-store.js';
import {
  checkCsvStream,
  createBodyPipeline,
  describeTransform,
  loadPgpKeys,
  type StreamDigest,
} from '../src/adapters/transform-stream.js';
import type { SftpConnection } from '../src/adapters/sftp-connection.js';
import type { FerryConfig } from '../src/config/load-config.js';
import type { PartnerConfig } from '../src/config/schema.js';
import { alertKindForFailure } from '../src/core/alert-message.js';
import { classifyError } from '../src/core/classify-error.js';
import { computeDeliveryId, tempNameFor } from '../src/core/delivery-id.js';
import { redeliveryIdFor } from '../src/core/redelivery.js';
import { transformsBytes } from '../src/core/transform-suffix.js';
import { FerryError, PermanentError, toJobError } from '../src/errors.js';
import { hitFailpoint } from '../src/failpoints.js';
import type { DeliveryHold } from '../src/partners/partner-controls.js';
import { isSettled, receiptMayExist, type DeliveryRecord } from '../src/ledger/delivery-record.js';
import { restoreFromReceipt, type LedgerTrust } from '../src/ledger/ledger-trust.js';
import type { Ledger } from '../src/ledger/redis-ledger.js';
import {
  deliveryRemoteName,
  isLedgerUntrusted,
  sampleRemoteName,
  UNTRUSTED_RECHECK_MS,
  type DeliveryRemoteName,
  type NameSequence,
} from '../src/ledger/name-sequence.js';
import type { RedeliveryRequest } from '../src/ledger/redeliveries.js';
import { safeText, type Logger } from '../src/observability/logger.js';
import { measureDeliveries, NO_METRICS, type Metrics } from '../src/observability/metrics.js';
import { DeliverJobData, type DeliverResult } from '../src/queues/payloads.js';
import { withClassifiedErrors } from './job-errors.js';
import {
  assertDigestRecorded,
  checkSidecarNames,
  clearStaleSidecars,
  completeSidecars,
} from './publish-sidecars.js';
import type { HousekeepingPendingStore } from '../src/ledger/housekeeping-pending.js';
import { runSourceHousekeeping } from './source-housekeeping.js';

export interface DeliverDeps {
  getConfig(): FerryConfig;
  source: ObjectSource;
  ledger: Ledger;
  receipts: ReceiptStore;
  /** Whether a missing record may skip the receipt read (see src/ledger/ledger-trust.ts). */
  trust: Pick<LedgerTrust, 'trusts'>;
  /** Runs `fn` on a pooled, pinned, authenticated connection to the partner (holds a cross-process slot). */
  withSession<T>(partner: PartnerConfig, fn: (session: SftpConnection) => Promise<T>): Promise<T>;
  logger: Logger;
  now(): Date;
  ferryVersion: string;
  /** Webhook alerts for what a person must act on (fire-and-forget; default: none). */
  alerts?: Alerter;
  /** Each run's outcome, bytes and duration (default: reported nowhere). */
  metrics?: Pick<Metrics, 'deliveryFinished'>;
  /**
   * Holds a delivery back before it takes a connection slot (partner paused, outside its delivery
   * window): the job goes back to delayed for `delayMs` without using an attempt. Default: never.
   */
  holdFor?: (partner: PartnerConfig, now: Date) => Promise<DeliveryHold | undefined>;
  /** Who asked for a redelivery and why (src/ledger/redeliveries.ts); without it redeliveries are refused. */
  redeliveryRequest?(deliveryId: string): Promise<RedeliveryRequest | undefined>;
  /** `{seq}` numbers for `naming.filename` (src/ledger/name-sequence.ts); required only by templates using it. */
  nameSequence?: NameSequence;
  /** Failed `after.source` steps, kept for the sweeps to retry (default: only logged and alerted). */
  housekeepingPending?: HousekeepingPendingStore;
}

type Identity = Pick<DeliveryRecord, 'deliveryId' | 'partnerId' | 'bucket' | 'key' | 'etag'>;

/**
 * The deliver processor: one S3 object version to one partner, every step safe to repeat
 * (ARCHITECTURE "Delivery algorithm"). The ledger and the S3 receipt — not BullMQ — decide
 * whether the object was already delivered.
 */
export function createDeliverProcessor(deps: DeliverDeps) {
  const processor = withClassifiedErrors(
    'deliver',
    's3',
    deps.logger,
    async function deliver(job: Job): Promise<DeliverResult> {
      const data = parsePayload(job);
      const partner = deps.getConfig().partners.get(data.partnerId);
      if (!partner) {
        throw new PermanentError('ERR_PARTNER_UNKNOWN', `partner ${data.partnerId} is not configured`);
      }
      checkIdentity(job, data, partner);
      const redelivery = await requestedRedelivery(deps, data);

      const id: Identity = {
        deliveryId: data.deliveryId,
        partnerId: data.partnerId,
        bucket: data.bucket,
        key: data.key,
        etag: data.etag,
      };
      const log = deps.logger.child({
        partnerId: partner.id,
        deliveryId: id.deliveryId,
        trackingId: id.deliveryId,
        jobId: job.id,
        s3Key: safeText(data.key),
        attempt: job.attemptsMade + 1,
        ...(redelivery ? { redeliveryOf: redelivery.of, requestedBy: redelivery.by } : {}),
      });
      const startedAt = deps.now();

      const { record: known, trustEpoch } = await deps.ledger.getWithTrustEpoch(id.deliveryId);
      // after.source (tag / move): best effort, repeated by an already-delivered run so a retry completes it.
      const housekeep = (mark: string): Promise<void> =>
        data.redelivery === undefined
          ? runSourceHousekeeping(deps, partner, data, mark, log)
          : Promise.resolve();
      if (known?.status === 'delivered') {
        log.info({ outcome: 'already-delivered', remotePath: known.remotePath }, 'delivery already recorded');
        await housekeep(known.deliveredAt ?? id.deliveryId);
        return {
          outcome: 'already-delivered',
          deliveryId: id.deliveryId,
          remotePath: known.remotePath,
          bytes: 0,
        };
      }
      if ((known?.status === 'quarantined' || known?.status === 'skipped') && isSettled(known)) {
        log.info({ outcome: known.status, reason: known.reason }, 'delivery already settled');
        return { outcome: known.status, deliveryId: id.deliveryId, bytes: 0, reason: known.reason };
      }
      // A trusted ledger proves there is no receipt unless this delivery got as far as publishing.
      const receipt =
        deps.trust.trusts(trustEpoch) && !receiptMayExist(known)
          ? undefined
          : await deps.receipts.read(partner.id, id.deliveryId);
      if (receipt) {
        // Redis lost the record (e.g. restarted empty); the receipt is the durable witness.
        await restoreFromReceipt(deps.ledger, receipt, deps.nameSequence);
        log.info(
          { outcome: 'already-delivered', remotePath: receipt.target.path },
          'delivery restored from receipt',
        );
        await housekeep(receipt.deliveredAt);
        return {
          outcome: 'already-delivered',
          deliveryId: id.deliveryId,
          remotePath: receipt.target.path,
          bytes: 0,
        };
      }

      // Jobs queued before `lastModified` was in the payload date by the job's creation time: it is
      // kept across retries, so the name stays deterministic for that job. A `{seq}` number is given
      // below, once per object version (a redelivery reuses its original's), and read back on retries.
      const object = {
        key: data.key,
        lastModified: new Date(data.lastModified ?? job.timestamp),
        numberedAs: computeDeliveryId(data),
      };
      // `{seq}`: the name and its sidecars' are checked with a sample number first (quarantined unread),
      // and the CSV check of a file read before its upload runs before the number is given, so a file
      // quarantined by either takes none (no gap). That check's failure is handled in the try below,
      // which awaits the same promise; a file that failed it is logged without a remote path.
      const sample = sampleRemoteName(partner, object);
      let checked: Promise<boolean> | undefined;
      if (sample !== undefined) {
        if (!sample.ok) throw await quarantineHostileName(deps, partner, id, log, sample.reason);
        const sampled = checkSidecarNames(partner, posix.join(partner.target.directory, sample.name));
        if (!sampled.ok) throw await quarantineHostileName(deps, partner, id, log, sampled.reason);
        checked = prevalidateCsv(deps, partner, id, data.size);
      }
      const numbered = checked === undefined || (await checked.then(() => true).catch(() => false));
      const named: DeliveryRemoteName = numbered
        ? await numberedName(deps, job, partner, object, log)
        : sample!; // only a sample starts the early check
      if (!named.ok) throw await quarantineHostileName(deps, partner, id, log, named.reason);
      // Already ends with what undoes a transform (`.gz`, `.pgp`/`.asc`), checked with it (255 bytes).
      const remoteName = named.name;
      const remotePath = posix.join(partner.target.directory, remoteName);
      const tempPath =
        partner.target.publish === 'rename'
          ? posix.join(partner.target.directory, tempNameFor(remoteName, id.deliveryId))
          : remotePath;
      const plog = numbered ? log.child({ remotePath: safeText(remotePath) }) : log;
      // A sidecar name breaking a safe-name rule (e.g. too long once suffixed) quarantines like the key's.
      const sidecarNames = checkSidecarNames(partner, remotePath);
      if (!sidecarNames.ok) throw await quarantineHostileName(deps, partner, id, plog, sidecarNames.reason);

      try {
        const prevalidated = await (checked ?? prevalidateCsv(deps, partner, id, data.size));
        const outcome = await deps.withSession(partner, async (session) => {
          const ctx = {
            deps,
            session,
            partner,
            id,
            known,
            remotePath,
            tempPath,
            log: plog,
            job,
            prevalidated,
            freshName: named.seq !== undefined && data.redelivery === undefined,
          };
          const moved = await transfer(ctx);
          if (moved.kind === 'skipped') return moved;
          // Sidecars follow the published data file; a retry (recovered path too) completes a short set.
          const sidecars = await completeSidecars(session, partner, remotePath, id.deliveryId, {
            sha256: moved.sha256,
            ...(moved.md5 === undefined ? {} : { md5: moved.md5 }),
          });
          await hitFailpoint('after_sidecars');
          return { ...moved, sidecars };
        });
        if (outcome.kind === 'skipped') {
          await deps.ledger.record({ ...id, status: 'skipped', reason: outcome.reason });
          plog.warn({ outcome: 'skipped', reason: outcome.reason }, 'delivery skipped');
          return { outcome: 'skipped', deliveryId: id.deliveryId, bytes: 0, reason: outcome.reason };
        }
        const deliveredAt = deps.now();
        await deps.receipts.write({
          version: 1,
          deliveryId: id.deliveryId,
          trackingId: id.deliveryId,
          partnerId: partner.id,
          source: {
            bucket: id.bucket,
            key: id.key,
            etag: id.etag,
            size: outcome.source?.bytes ?? (outcome.transform ? data.size : outcome.size),
            ...(outcome.source ? { sha256: outcome.source.sha256 } : {}),
          },
          target: {
            host: partner.target.host,
            port: partner.target.port,
            path: remotePath,
            mode: `0${partner.target.fileMode.toString(8)}`,
          },
          sha256: outcome.sha256,
          ...(outcome.md5 === undefined ? {} : { md5: outcome.md5 }),
          bytes: outcome.size,
          ...(outcome.transform ? { transform: outcome.transform } : {}),
          ...(outcome.sidecars.length > 0 ? { sidecars: outcome.sidecars } : {}),
          ...(named.seq ? { naming: { seqScope: named.seq.scope, seq: named.seq.n } } : {}),
          attempts: job.attemptsMade + 1,
          publish: partner.target.publish,
          startedAt: startedAt.toISOString(),
          deliveredAt: deliveredAt.toISOString(),
          durationMs: deliveredAt.getTime() - startedAt.getTime(),
          ferryVersion: deps.ferryVersion,
          ...(redelivery
            ? {
                redeliveryOf: redelivery.of,
                reason: redelivery.reason,
                requestedBy: redelivery.by,
                requestedAt: redelivery.at,
              }
            : {}),
        });
        await hitFailpoint('after_receipt');
        await deps.ledger.record({
          ...id,
          status: 'delivered',
          size: outcome.size,
          sha256: outcome.sha256,
          ...(outcome.md5 === undefined ? {} : { md5: outcome.md5 }),
          remotePath,
          // Failed attempts were counted by noteAttempt; this one succeeded.
          attempts: job.attemptsMade + 1,
          deliveredAt: deliveredAt.toISOString(),
        });
        await hitFailpoint('after_ledger');
        plog.info(
          {
            outcome: 'delivered',
            bytes: outcome.uploaded,
            size: outcome.size,
            sha256: outcome.sha256,
            recovered: outcome.kind === 'recovered',
            durationMs: deliveredAt.getTime() - startedAt.getTime(),
          },
          outcome.kind === 'recovered'
            ? 'delivery recovered after a lost acknowledgement'
            : 'delivery completed',
        );
        await housekeep(deliveredAt.toISOString());
        await hitFailpoint('before_complete');
        return {
          outcome: 'delivered',
          deliveryId: id.deliveryId,
          remotePath,
          bytes: outcome.uploaded,
          sha256: outcome.sha256,
        };
      } catch (err) {
        const classified = classifyError(err, 'sftp');
        if (classified.code === 'ERR_JOB_LOCK_LOST') {
          // Not a failed delivery: the run that owns the job now finishes it. Record and alert nothing.
          plog.warn({ errCode: classified.code }, classified.message);
          throw toJobError(classified);
        }
        if (classified.intent === 'skip') {
          await deps.ledger.record({ ...id, status: 'skipped', reason: classified.code });
          plog.warn(
            { outcome: 'skipped', errCode: classified.code },
            'source object gone or changed: skipped',
          );
          return { outcome: 'skipped', deliveryId: id.deliveryId, bytes: 0, reason: classified.code };
        }
        if (classified.code === 'ERR_CSV_INVALID') {
          // Like a hostile key: held until a person looks (a new export is a new object version).
          await deps.ledger.record({ ...id, status: 'quarantined', reason: classified.message });
          plog.error(
            { outcome: 'quarantined', errCode: classified.code, reason: classified.message, alert: true },
            'file quarantined: it failed CSV validation and was not published',
          );
          (deps.alerts ?? noopAlerter).notify({
            kind: alertKindForFailure(classified.code, classified.intent),
            partnerId: partner.id,
            errCode: classified.code,
            message: `file quarantined: ${classified.message}`,
            deliveryId: id.deliveryId,
            s3Key: data.key,
          });
          throw toJobError(classified);
        }
        const attempts = job.opts.attempts ?? 1;
        const final = classified.intent === 'permanent' || job.attemptsMade + 1 >= attempts;
        await deps.ledger.noteAttempt(id.deliveryId, { code: classified.code, message: classified.message });
        if (final) {
          await deps.ledger.record({
            ...id,
            status: 'failed',
            lastErrorCode: classified.code,
            lastError: classified.message,
          });
        }
        plog.error(
          {
            errCode: classified.code,
            err: classified.message,
            willRetry: !final,
            alert: final,
            ...classified.details,
          },
          final ? 'delivery failed for good' : 'delivery attempt failed; will retry',
        );
        if (final) {
          (deps.alerts ?? noopAlerter).notify({
            kind: alertKindForFailure(classified.code, classified.intent),
            partnerId: partner.id,
            errCode: classified.code,
            message: classified.message,
            deliveryId: id.deliveryId,
            s3Key: data.key,
            attempts: job.attemptsMade + 1,
          });
        }
        throw toJobError(classified);
      }
    },
  );
  const measured = measureDeliveries(processor, deps.metrics ?? NO_METRICS, (id) =>
    deps.getConfig().partners.has(id),
  );
  return deps.holdFor ? withHold(deps, deps.holdFor, measured) : measured;
}

/**
 * Runs `processor` unless the partner is paused or outside its window: then the job returns to the
 * delayed set (BullMQ's moveToDelayed skips the attempt count) and DelayedError tells the worker so.
 * Unknown partners and bad payloads go through: the processor rejects them.
 */
function withHold<R>(
  deps: DeliverDeps,
  holdFor: NonNullable<DeliverDeps['holdFor']>,
  processor: (job: Job) => Promise<R>,
): (job: Job) => Promise<R> {
  return async (job) => {
    const partnerId = (job.data as { partnerId?: unknown } | null)?.partnerId;
    const partner = typeof partnerId === 'string' ? deps.getConfig().partners.get(partnerId) : undefined;
    const hold = partner && job.token !== undefined ? await holdFor(partner, deps.now()) : undefined;
    if (!hold) return processor(job);
    const until = Date.now() + hold.delayMs;
    await job.moveToDelayed(until, job.token);
    deps.logger[hold.reason === 'paused' ? 'debug' : 'info'](
      {
        partnerId,
        deliveryId: job.id,
        trackingId: job.id,
        jobId: job.id,
        hold: hold.reason,
        until: new Date(until).toISOString(),
      },
      hold.reason === 'paused' ? 'delivery held: partner paused' : 'delivery held until the window opens',
    );
    throw new DelayedError();
  };
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

function parsePayload(job: Job): DeliverJobData {
  const parsed = DeliverJobData.safeParse(job.data);
  if (!parsed.success) {
    throw new PermanentError('ERR_PAYLOAD_INVALID', `deliver job ${job.id ?? '?'} has invalid data`);
  }
  return parsed.data;
}

/** Job data is untrusted (Bull Board can add and edit jobs): recompute its identity from config. */
function checkIdentity(job: Job, data: DeliverJobData, partner: PartnerConfig): void {
  // A redelivery's id is the object version's id with `-r<n>` appended.
  const expected =
    data.redelivery === undefined
      ? computeDeliveryId(data)
      : redeliveryIdFor(computeDeliveryId(data), data.redelivery);
  if (expected !== data.deliveryId || job.id !== data.deliveryId) {
    throw new PermanentError('ERR_PAYLOAD_INVALID', 'delivery id does not match the object identity');
  }
  if (data.bucket !== partner.source.bucket || !data.key.startsWith(partner.source.prefix)) {
    throw new PermanentError('ERR_KEY_OUTSIDE_PREFIX', `key is outside the partner's source prefix`);
  }
}

/** A redelivery must have been asked for (API or CLI, with a reason): a hand-made job is refused. */
async function requestedRedelivery(
  deps: DeliverDeps,
  data: DeliverJobData,
): Promise<RedeliveryRequest | undefined> {
  if (data.redelivery === undefined) return undefined;
  const request = await deps.redeliveryRequest?.(data.deliveryId);
  if (!request || request.n !== data.redelivery) {
    throw new PermanentError('ERR_PAYLOAD_INVALID', `redelivery ${data.deliveryId} was not requested`);
  }
  return request;
}

type TransferOutcome =
  | {
      kind: 'uploaded' | 'recovered';
      /** Size and sha256 of the delivered bytes; `source` and `transform` only when a transform applied. */
      size: number;
      sha256: string;
      /** md5 of the delivered bytes, when the partner's checksum file is md5. */
      md5?: string;
      uploaded: number;
      source?: StreamDigest;
      transform?: ReceiptTransform;
    }
  | { kind: 'skipped'; reason: string };

interface TransferContext {
  deps: DeliverDeps;
  session: SftpConnection;
  partner: PartnerConfig;
  id: Identity;
  known: DeliveryRecord | undefined;
  remotePath: string;
  tempPath: string;
  log: Logger;
  job: Job;
  /** The CSV rules were checked in a first read (prevalidateCsv); else they run inline, if set. */
  prevalidated?: boolean;
  /** The name carries a {seq} number given to this delivery (not a redelivery): it cannot exist yet. */
  freshName?: boolean;
}

/** Everything that happens on the SFTP connection: look, upload, verify, publish. */
async function transfer(ctx: TransferContext): Promise<TransferOutcome> {
  const { deps, session, partner, id, known, remotePath, tempPath, log } = ctx;
  const rename = partner.target.publish === 'rename';
  const finalStat = await session.stat(remotePath);
  // Our intent is recorded (a failed-for-good record keeps it): an earlier attempt got as far as publishing.
  const ours = known?.status === 'publishing' || (known?.status === 'failed' && known.sha256 !== undefined);

  const recoveredTransform = {
    transform: describeTransform(partner.transform, undefined, partner.validate?.csv),
  };

  // An earlier attempt was publishing under another name (naming edited, a lost {seq} number): sending
  // under this one too could give the partner the file twice.
  if (ours && known?.remotePath !== undefined && known.remotePath !== remotePath) {
    throw new PermanentError(
      'ERR_DELIVERY_AMBIGUOUS',
      `an earlier attempt was publishing ${known.remotePath}, this one would name it ${remotePath} (naming changed?); not sending under a second name without an operator`,
    );
  }

  // Look before you write. The sha256 is recorded once the uploaded bytes were verified (both modes).
  if (ours && known?.size !== undefined && known.sha256) {
    // The sidecars need the digests recorded with the intent (md5 too, when configured): never re-read.
    const digests = { sha256: known.sha256, ...(known.md5 === undefined ? {} : { md5: known.md5 }) };
    assertDigestRecorded(partner, digests);
    const recovered = {
      kind: 'recovered' as const,
      size: known.size,
      ...digests,
      uploaded: 0,
      ...recoveredTransform,
    };
    if (finalStat && finalStat.size === known.size) return recovered;
    // direct: the verified file was in place; it is gone or was changed since (the partner's doing).
    const tempStat = rename ? await session.stat(tempPath) : undefined;
    if (tempStat && tempStat.size === known.size) {
      await publish(session, partner, tempPath, remotePath, finalStat !== undefined);
      return recovered;
    }
    throw new PermanentError(
      'ERR_DELIVERY_AMBIGUOUS',
      `${remotePath} was being published but neither it nor the temp file is there (the partner may have taken it); not resending without an operator`,
    );
  }

  if (finalStat && !(ours && !rename)) {
    if (ctx.freshName) {
      // A {seq} name is new by construction: one already there means a number was given twice (Redis
      // lost counters a receipt could not restore). Never overwrite or skip over the partner's file.
      throw new PermanentError(
        'ERR_REMOTE_EXISTS',
        `${remotePath} already exists on the partner although its {seq} number was just given (were Redis's counters lost?); not overwriting it`,
      );
    }
    if (partner.target.onExisting === 'skip') return { kind: 'skipped', reason: 'remote-exists' };
    if (partner.target.onExisting === 'fail') {
      throw new PermanentError(
        'ERR_REMOTE_EXISTS',
        `${remotePath} already exists on the partner (onExisting: fail)`,
      );
    }
  }

  // Keys are read per delivery (a rotated key file is picked up) and before the S3 body is opened.
  // neutralizeFormulas: escape rewrites the bytes too: it needs the pipeline and its digests.
  const escapesCsv = partner.validate?.csv?.neutralizeFormulas === 'escape';
  const transformed = transformsBytes(partner.transform) || escapesCsv;
  const keys = partner.transform?.pgp ? await loadPgpKeys(partner.transform.pgp) : undefined;
  const body = await deps.source.open(id.bucket, id.key, id.etag);
  const expected = body.contentLength;
  if (!rename) {
    try {
      // direct: the final name is written in place; record intent first so a retry knows the partial file is ours.
      await deps.ledger.record({
        ...id,
        status: 'publishing',
        ...(transformed ? {} : { size: expected }),
        remotePath,
      });
      // No partner may see an earlier file's checksum or done file next to the new (partial) data file.
      await clearStaleSidecars(session, partner, remotePath);
    } catch (err) {
      body.stream.destroy(); // not read: give the S3 connection back now
      throw err;
    }
  }
  // Escaping happens here even after a prevalidation pass (which only checked).
  const csv = ctx.prevalidated === true && !escapesCsv ? undefined : partner.validate?.csv;
  const pipeline = transformed
    ? await createBodyPipeline(body.stream, partner.transform, keys, csv)
    : undefined;
  const plain = csv && !pipeline ? checkCsvStream(body.stream, csv) : body.stream;
  const uploaded = await uploadWithWatchdog(ctx, pipeline?.stream ?? plain, expected);
  // With a transform the partner's size is the writer's count; S3's size is checked against the bytes read.
  const source = pipeline?.source();
  const delivered = source ? uploaded.bytes : expected;
  await hitFailpoint('after_temp_upload');
  try {
    const stat = await session.stat(tempPath);
    // ssh2 can report success on a truncated write (a full partner disk): trust only the server's size.
    if (source && (!stat || stat.size !== delivered || source.bytes !== expected)) {
      throw new FerryError(
        'ERR_SIZE_MISMATCH',
        `uploaded ${stat?.size ?? 'no'} bytes on the partner, wrote ${delivered}; read ${source.bytes} of ${expected} source bytes`,
        {
          details: {
            expectedBytes: expected,
            remoteBytes: stat?.size,
            readBytes: source.bytes,
            writtenBytes: delivered,
          },
        },
      );
    }
    if (!stat || stat.size !== delivered || uploaded.bytes !== delivered) {
      throw new FerryError(
        'ERR_SIZE_MISMATCH',
        `uploaded ${stat?.size ?? 'no'} bytes on the partner, read ${uploaded.bytes}, S3 says ${expected}`,
        { details: { expectedBytes: expected, remoteBytes: stat?.size, readBytes: uploaded.bytes } },
      );
    }
    await hitFailpoint('after_verify');
    // The verified bytes' size and digests: in rename mode the intent to publish the temp file; in
    // direct mode proof that the file in place is complete, so a retry (e.g. the receipt write failed)
    // completes the sidecars instead of rewriting it and firing the done file a second time.
    await deps.ledger.record({
      ...id,
      status: 'publishing',
      size: delivered,
      sha256: uploaded.sha256,
      ...(uploaded.md5 === undefined ? {} : { md5: uploaded.md5 }),
      remotePath,
    });
    if (rename) await hitFailpoint('after_intent');
    await assertJobLockHeld(ctx);
    if (rename) {
      await publish(session, partner, tempPath, remotePath, finalStat !== undefined);
      await hitFailpoint('after_rename');
    }
  } catch (err) {
    // After a lost lock the temp file belongs to the run that took the job over: leave it alone.
    if (rename && !isLockLost(err)) await removeQuietly(session, tempPath, log);
    throw err;
  }
  return {
    kind: 'uploaded',
    size: delivered,
    sha256: uploaded.sha256,
    ...(uploaded.md5 === undefined ? {} : { md5: uploaded.md5 }),
    uploaded: uploaded.bytes,
    ...(source
      ? { source, transform: describeTransform(partner.transform, keys, partner.validate?.csv) }
      : {}),
  };
}

/**
 * validate.csv for objects up to validate.prevalidateMaxBytes: one streaming read (pinned to the ETag)
 * through the validator before any byte goes to the partner. Throws ERR_CSV_INVALID; returns whether it
 * ran (larger objects are checked inline during the upload instead).
 */
async function prevalidateCsv(
  deps: DeliverDeps,
  partner: PartnerConfig,
  id: Identity,
  size: number,
): Promise<boolean> {
  const csv = partner.validate?.csv;
  if (!csv || size > partner.validate!.prevalidateMaxBytes) return false;
  const body = await deps.source.open(id.bucket, id.key, id.etag);
  try {
    for await (const chunk of checkCsvStream(body.stream, csv)) void chunk;
  } catch (err) {
    throw classifyError(err, 's3'); // ERR_CSV_INVALID as is; a broken body is an S3 fault
  }
  return true;
}

async function uploadWithWatchdog(
  ctx: TransferContext,
  stream: NodeJS.ReadableStream & import('node:stream').Readable,
  expected: number,
) {
  const { deps, session, partner, tempPath, log } = ctx;
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
  // A run that lost its job lock stops writing at once: the run that takes the job over rewrites the
  // same temp file, and ending before it starts keeps BullMQ's lock renewal (kept per job id) on it.
  const token = ctx.job.token;
  const lockMs = deps.getConfig().service.worker.lockDurationSeconds * 1000;
  const lockCheck =
    token === undefined
      ? undefined
      : setInterval(() => {
          ctx.job.extendLock(token, lockMs).then(
            (held) => {
              if (held !== 1) controller.abort(lockLostError());
            },
            () => undefined, // Redis away: BullMQ's own renewal reports it; the next check decides
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
  try {
    const result = await session.upload(tempPath, stream, {
      mode: partner.target.fileMode,
      signal: controller.signal,
      onProgress: arm,
      md5: partner.naming?.checksumFile === 'md5', // hashed only for partners that want it
    });
    log.debug({ bytes: result.bytes, expectedBytes: expected }, 'upload acknowledged');
    return result;
  } catch (err) {
    stream.destroy();
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
    if (!isLockLost(reason)) await removeQuietly(session, tempPath, log);
    if (reason instanceof FerryError) throw reason;
    if (bodyError !== undefined && err === bodyError) throw classifyError(err, 's3');
    throw err;
  } finally {
    clearTimeout(timer);
    clearInterval(lockCheck);
  }
}

function lockLostError(): FerryError {
  return new FerryError(
    'ERR_JOB_LOCK_LOST',
    'lost the job lock (another run owns this delivery now); stopped before publishing',
  );
}

function isLockLost(err: unknown): boolean {
  return err instanceof FerryError && err.code === 'ERR_JOB_LOCK_LOST';
}

/**
 * Publishing is only safe while this run still holds the job's lock. Once it expired (a blocked event
 * loop, Redis away for longer than the lock), BullMQ hands the job to another run, which truncates and
 * rewrites the same temp file: a size check cannot tell, so publishing it could expose a file with a
 * hole in it. Extending the lock proves ownership for another lock period, long enough to rename.
 */
async function assertJobLockHeld(ctx: TransferContext): Promise<void> {
  const { job, deps } = ctx;
  if (job.token === undefined) return; // not run by a Worker (no lock to hold)
  const lockMs = deps.getConfig().service.worker.lockDurationSeconds * 1000;
  if ((await job.extendLock(job.token, lockMs)) !== 1) throw lockLostError();
}

/** Moves the verified temp file to its final name per `onExisting`; never removes the partner's file first unless the new one is verified. */
async function publish(
  session: SftpConnection,
  partner: PartnerConfig,
  from: string,
  to: string,
  finalExists: boolean,
): Promise<void> {
  await clearStaleSidecars(session, partner, to);
  try {
    if (partner.target.onExisting === 'overwrite' && session.supportsPosixRename) {
      await session.posixRename(from, to);
    } else if (partner.target.onExisting === 'overwrite' && finalExists) {
      // No atomic replace on this server. The partner's file is moved aside, not deleted, so a server
      // that refuses renames loses nothing; the final name is missing only between the two renames.
      const aside = `${from.replace(/\.part$/, '')}.old`;
      await session.remove(aside).catch(() => undefined); // left by a crash between the renames
      await session.rename(to, aside);
      try {
        await session.rename(from, to);
      } catch (err) {
        await session.rename(aside, to).catch(() => undefined);
        throw err;
      }
      await session.remove(aside).catch(() => undefined);
    } else {
      await session.rename(from, to);
    }
  } catch (err) {
    const classified = classifyError(err, 'sftp');
    if (classified.code === 'ERR_SFTP_PERMISSION' || classified.code === 'ERR_SFTP_RENAME_UNSUPPORTED') {
      throw new PermanentError(
        'ERR_SFTP_RENAME_UNSUPPORTED',
        `the server refused to rename ${from} to ${to}; check the directory's permissions or set publish: direct`,
        { cause: err },
      );
    }
    throw classified;
  }
}

async function removeQuietly(session: SftpConnection, path: string, log: Logger): Promise<void> {
  if (!session.alive) return;
  try {
    await session.remove(path);
  } catch (err) {
    const code = classifyError(err, 'sftp').code;
    if (code !== 'ERR_SFTP_NO_SUCH_PATH') log.warn({ errCode: code }, 'could not remove temp file');
  }
}
