// Step 4: publish the data file by the protocol's state machine (src/core/publish-protocol.ts): look at
// the partner, ask nextPublishStep, carry the step out, until the file is published or the delivery
// settles without publishing (superseded, skipped, failed by onExisting).
import { createHash } from 'node:crypto';
import { DelayedError } from 'bullmq';
import { describeCsv, describeShape, describeTransform } from '../../src/adapters/transform-stream.js';
import type { SftpConnection } from '../../src/adapters/sftp-connection.js';
import { classifyError } from '../../src/core/classify-error.js';
import { normalizeEtag } from '../../src/core/delivery-id.js';
import {
  nextPublishStep,
  type PublishFacts,
  type PublishPhase,
  type SettleWithoutPublishing,
} from '../../src/core/publish-protocol.js';
import { asidePathFor } from '../../src/core/janitor.js';
import { FerryError } from '../../src/errors.js';
import { PermanentError } from '../job-errors.js';
import { hitFailpoint } from '../../src/failpoints.js';
import { overwrites, type Delivery } from './context.js';
import { checkOwnership, pathLeaseTtlMs, removeQuietly } from './ownership.js';
import { assertDigestRecorded, clearStaleSidecars } from './sidecars.js';
import { registerTemp } from './temp-files.js';
import { transferBytes, type Uploaded } from './transfer.js';

export type DataFileOutcome =
  | ({ kind: 'published'; recovered: boolean } & Uploaded)
  | { kind: 'settled'; outcome: SettleWithoutPublishing };

/** How long a delivery waits in the delayed set while another delivery of its path holds the lease. */
const PATH_BUSY_RECHECK_MS = 2_000;
/** Steps one attempt may take; the machine needs at most five (check, upload, rename…). */
const MAX_STEPS = 8;

/**
 * Takes the lease of the delivery's remote path (one writer per path). While another delivery holds
 * it, the job waits in the delayed set without using an attempt. Returns what the path record says
 * about newer versions already published there.
 */
export async function acquirePath(d: Delivery): Promise<void> {
  const { deps, id, job } = d;
  const lease = await deps.pathLeases.acquire(id.partnerId, d.remotePath, id.deliveryId, pathLeaseTtlMs(d));
  if (!lease.ok) {
    if (job.token === undefined) {
      throw new FerryError('ERR_PATH_BUSY', `${d.remotePath} is being written by ${lease.holder}`);
    }
    const until = Date.now() + PATH_BUSY_RECHECK_MS;
    await job.moveToDelayed(until, job.token);
    d.log.info(
      { hold: 'path-busy', holder: lease.holder, until: new Date(until).toISOString() },
      'delivery waits: another delivery of the same remote path is being written',
    );
    throw new DelayedError();
  }
  d.fence = lease.fence;
  const newest = lease.record.publishedLastModifiedMs;
  // A redelivery is an operator's explicit ask: it may send an older version again.
  const newer =
    d.data.redelivery === undefined &&
    newest !== undefined &&
    newest > d.lastModifiedMs &&
    lease.record.publishedBy !== id.deliveryId;
  d.fragmentOf = lease.record.fragmentOf;
  d.newestPublishedBy = lease.record.publishedBy;
  d.superseded = newer ? 'newer-published' : undefined;
}

/** Runs the publish state machine for the data file on one session. */
export async function publishDataFile(d: Delivery, session: SftpConnection): Promise<DataFileOutcome> {
  const { deps, partner, id, remotePath, tempPath, log } = d;
  const mode = partner.target.publish;
  const rename = mode === 'rename';
  let phase: PublishPhase = d.phase;
  const resumed = phase !== 'none';
  const superseded = d.superseded;
  let digests = recordedDigests(d, phase);
  // Resuming an intent: its sidecars will need the digests it recorded (md5 too, when configured).
  if (digests) assertDigestRecorded(partner, digests);
  let uploaded: Uploaded | undefined;
  const facts: PublishFacts = {
    mode,
    onExisting: partner.target.onExisting,
    phase,
    freshName: d.freshName,
    ...(d.data.replace === true ? { replace: true } : {}),
    ...(superseded ? { superseded } : {}),
  };
  if (phase === 'intent' || phase === 'writing') {
    // An earlier attempt's bytes are published only while S3 still holds that version.
    Object.assign(facts, await sourceNow(d));
  }
  // Before its temp file is looked at or written: the janitor must not take it meanwhile.
  if (rename && phase !== 'published') await registerTemp(d, tempPath);
  if (phase !== 'published') Object.assign(facts, await observe(d, session, phase));
  let asideUsed = false;

  for (let i = 0; i < MAX_STEPS; i++) {
    d.phase = phase;
    facts.phase = phase;
    if (digests) facts.recordedSize = digests.size;
    else if (phase === 'writing' && d.known?.size !== undefined) facts.recordedSize = d.known.size;
    const step = nextPublishStep(facts);
    switch (step.step) {
      case 'check-final': {
        const found = await session.sha256Of(remotePath);
        if (phase === 'writing') {
          // direct: the bytes were sent as stored, so S3's version is what a complete file holds.
          const source = await digestOfSource(d);
          facts.finalIsOurs = found.size === source.size && found.sha256 === source.sha256;
          if (facts.finalIsOurs) digests = source;
        } else {
          facts.finalIsOurs =
            digests !== undefined && found.size === digests.size && found.sha256 === digests.sha256;
        }
        log.info({ finalIsOurs: facts.finalIsOurs }, 'read the final file back to tell whose it is');
        break;
      }
      case 'upload': {
        if (phase === 'intent') {
          // The temp file is rewritten: withdraw the intent first, so a failure cannot pass for a publish.
          await withdrawIntent(d);
          phase = 'none';
        }
        uploaded = await transferOrDropFragment(d, session, async (sizeAsStored) => {
          if (rename) return;
          d.phase = 'writing';
          // direct: the final name is written in place; record it first so a retry knows the fragment is
          // Ferry's (and, for bytes sent as stored, which size a complete one has).
          await deps.ledger.record({
            ...id,
            status: 'publishing',
            phase: 'writing',
            remotePath,
            ...(sizeAsStored === undefined ? {} : { size: sizeAsStored }),
          });
          await deps.pathLeases.markFragment(id.partnerId, remotePath, id.deliveryId);
          await hitFailpoint('after_writing');
          // No partner may see an earlier file's checksum or done file next to the new (partial) data file.
          await clearStaleSidecars(session, partner, remotePath);
        });
        // The rows shape wrote, else those validate.csv counted (describeCsv: none with shape).
        const rows = uploaded.transform?.shape?.rows ?? uploaded.csv?.rows;
        digests = {
          size: uploaded.size,
          sha256: uploaded.sha256,
          ...(uploaded.md5 ? { md5: uploaded.md5 } : {}),
          ...(rows === undefined ? {} : { rows }),
        };
        if (rename) {
          // The intent: from here on only the rename consumes the verified temp file.
          await deps.ledger.record({
            ...id,
            status: 'publishing',
            phase: 'intent',
            ...digests,
            remotePath,
            tempPath,
          });
          phase = 'intent';
          d.phase = phase;
          await hitFailpoint('after_intent');
          facts.temp = { size: uploaded.size };
          // A final file seen before this upload cannot be a half-done rename of its intent.
          facts.finalIsOurs = facts.final === undefined ? undefined : false;
        } else {
          await recordPublished(d, digests);
          phase = 'published';
        }
        break;
      }
      case 'rename': {
        await checkOwnership(d);
        await clearStaleSidecars(session, partner, remotePath);
        try {
          const aside = step.replace && !(overwrites(d) && session.supportsPosixRename);
          if (aside) await registerTemp(d, asideOf(tempPath));
          asideUsed = await renameIntoPlace(session, overwrites(d), tempPath, remotePath, step.replace);
        } catch (err) {
          // The server refused the rename (it answered): it did not happen, and no retry will do it.
          // The temp file is no longer evidence of anything: withdraw the intent, then remove it.
          if (classifyError(err, 'sftp').code === 'ERR_SFTP_RENAME_UNSUPPORTED') {
            await withdrawIntent(d);
            d.phase = 'none';
            await removeQuietly(session, tempPath, log);
          }
          throw err;
        }
        await hitFailpoint('after_rename');
        facts.temp = undefined;
        break;
      }
      case 'published': {
        if (!digests) throw new FerryError('ERR_UNKNOWN', `${remotePath} published without recorded digests`);
        if (step.removeTemp) await removeQuietly(session, tempPath, log);
        if (rename && (asideUsed || resumed)) await removeAside(session, overwrites(d), tempPath, log);
        if (phase !== 'published') await recordPublished(d, digests);
        else if (resumed) await notePublished(d); // idempotent: a crash may have come between the two records
        // The sidecars need the digests recorded with the intent (md5 too, when configured): never re-read.
        assertDigestRecorded(partner, digests);
        const csvFound = describeCsv(partner.validate?.csv, partner.shape, digests.rows);
        return {
          kind: 'published',
          recovered: uploaded === undefined,
          ...(uploaded ?? {
            ...digests,
            uploaded: 0,
            transform: describeTransform(
              partner.transform,
              undefined,
              partner.validate?.csv,
              // The rows the attempt that wrote the file counted, recorded with its intent.
              partner.shape && describeShape(partner.shape, digests.rows),
            ),
            ...(csvFound ? { csv: csvFound } : {}),
          }),
        };
      }
      case 'settle': {
        if (rename && phase === 'intent') await withdrawIntent(d);
        d.phase = rename ? 'none' : phase;
        if (rename && facts.temp !== undefined) await removeQuietly(session, tempPath, log);
        // direct: a fragment of a version S3 no longer holds at all is Ferry's to remove (no newer one will replace it).
        const goneFragment = !rename && phase === 'writing' && d.fragmentOf === id.deliveryId;
        if (goneFragment && step.outcome.kind === 'skipped') await removeQuietly(session, remotePath, log);
        return { kind: 'settled', outcome: step.outcome };
      }
    }
  }
  throw new FerryError('ERR_UNKNOWN', `the publish of ${remotePath} took more than ${MAX_STEPS} steps`);
}

/**
 * transferBytes, and in direct mode: when the version is gone from S3 (412/404 before a byte is
 * written) the fragment an earlier attempt left is removed — this run holds the path's lease, so the
 * file at the final name is that fragment (a newer version, if any, writes its own).
 */
async function transferOrDropFragment(
  d: Delivery,
  session: SftpConnection,
  beforeFirstByte: (sizeAsStored: number | undefined) => Promise<void>,
): Promise<Uploaded> {
  // Only while the path record still marks it ours: a newer version published since clears the mark.
  const ownFragment =
    d.partner.target.publish === 'direct' && d.phase === 'writing' && d.fragmentOf === d.id.deliveryId;
  try {
    return await transferBytes(d, session, beforeFirstByte);
  } catch (err) {
    if (ownFragment && classifyError(err, 's3').intent === 'skip') {
      await removeQuietly(session, d.remotePath, d.log);
    }
    throw err;
  }
}

/** What the partner shows for the phase: only the stats the decision needs (a new delivery: one). */
async function observe(
  d: Delivery,
  session: SftpConnection,
  phase: PublishPhase,
): Promise<Partial<PublishFacts>> {
  if (d.partner.target.publish === 'direct') {
    // A fragment of its own (writing) is rewritten unless it may be complete: only then is it looked at.
    if (phase === 'writing' && d.known?.size === undefined) return {};
    const final = await session.stat(d.remotePath);
    return {
      ...(final ? { final: { size: final.size } } : {}),
      finalIsFerryFragment: d.fragmentOf !== undefined,
    };
  }
  const [final, temp] = await Promise.all([
    session.stat(d.remotePath),
    phase === 'intent' ? session.stat(d.tempPath) : undefined,
  ]);
  return {
    ...(final ? { final: { size: final.size } } : {}),
    ...(temp ? { temp: { size: temp.size } } : {}),
  };
}

/** The object version's size and digests (md5 too, when the partner's checksum file needs it), read from S3. */
async function digestOfSource(d: Delivery): Promise<Digests> {
  const body = await d.deps.source.open(d.id.bucket, d.id.key, d.id.etag);
  const sha256 = createHash('sha256');
  const md5 = d.partner.naming?.checksumFile === 'md5' ? createHash('md5') : undefined;
  let size = 0;
  for await (const chunk of body.stream as AsyncIterable<Buffer>) {
    sha256.update(chunk);
    md5?.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: sha256.digest('hex'), ...(md5 ? { md5: md5.digest('hex') } : {}) };
}

/** HeadObject: does S3 still hold the version this delivery is publishing? */
async function sourceNow(d: Delivery): Promise<Partial<PublishFacts>> {
  if (d.data.redelivery !== undefined) return {};
  const head = await d.deps.source.head(d.id.bucket, d.id.key);
  if (head === undefined) return { sourceGone: true };
  return normalizeEtag(head.etag) === d.id.etag ? {} : { superseded: 'source-replaced' };
}

/** What the intent records of the verified bytes; `rows`: the data rows `shape` wrote, else validate.csv counted. */
type Digests = { size: number; sha256: string; md5?: string; rows?: number };

function recordedDigests(d: Delivery, phase: PublishPhase): Digests | undefined {
  const k = d.known;
  if (phase === 'none' || phase === 'writing' || k?.size === undefined || k.sha256 === undefined) {
    return undefined;
  }
  return {
    size: k.size,
    sha256: k.sha256,
    ...(k.md5 === undefined ? {} : { md5: k.md5 }),
    ...(k.rows === undefined ? {} : { rows: k.rows }),
  };
}

async function recordPublished(d: Delivery, digests: Digests): Promise<void> {
  const { deps, id } = d;
  await deps.ledger.record({
    ...id,
    status: 'publishing',
    phase: 'published',
    ...digests,
    remotePath: d.remotePath,
  });
  d.phase = 'published';
  await notePublished(d);
  await hitFailpoint('after_published');
}

function notePublished(d: Delivery): Promise<void> {
  return d.deps.pathLeases.notePublished(d.id.partnerId, d.remotePath, {
    deliveryId: d.id.deliveryId,
    lastModifiedMs: d.lastModifiedMs,
  });
}

/** Giving up a publish: the ledger stops naming the temp file as evidence before anything removes it. */
async function withdrawIntent(d: Delivery): Promise<void> {
  await d.deps.ledger.record({ ...d.id, status: 'publishing', phase: 'none' });
}

/**
 * Moves the verified temp file to its final name per `onExisting` (`overwrite`: this delivery
 * overwrites); never removes the partner's file before the new one is in place. Returns whether the
 * partner's file was moved aside (`.old`).
 */
async function renameIntoPlace(
  session: SftpConnection,
  overwrite: boolean,
  from: string,
  to: string,
  replace: boolean,
): Promise<boolean> {
  try {
    if (overwrite && session.supportsPosixRename) {
      await session.posixRename(from, to);
      return false;
    }
    if (!replace) {
      await session.rename(from, to);
      return false;
    }
    // No atomic replace on this server. The partner's file is moved aside, not deleted, so a server
    // that refuses renames loses nothing; the final name is missing only between the two renames
    // (a crash there leaves temp + .old: the retry renames the temp and removes the .old).
    const aside = asideOf(from);
    await session.remove(aside).catch(() => undefined); // left by a crash between the renames
    await session.rename(to, aside);
    await hitFailpoint('after_aside');
    try {
      await session.rename(from, to);
    } catch (err) {
      await session.rename(aside, to).catch(() => undefined); // the partner keeps its file
      throw err;
    }
    return true;
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

const asideOf = asidePathFor;

/** The partner's old file moved aside by a non-atomic overwrite, once the new one is in place. */
async function removeAside(
  session: SftpConnection,
  overwrite: boolean,
  tempPath: string,
  log: Delivery['log'],
): Promise<void> {
  if (!overwrite || session.supportsPosixRename) return;
  await removeQuietly(session, asideOf(tempPath), log);
}
