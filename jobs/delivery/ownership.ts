// A run may write and publish only while it owns the delivery (its BullMQ job lock) and the remote
// path (its path lease, with the fence it was given): after either expired, another run may be
// rewriting the same temp file, and publishing it could expose a file with a hole in it.
import type { SftpConnection } from '../../src/adapters/sftp-connection.js';
import { classifyError } from '../../src/core/classify-error.js';
import { FerryError } from '../../src/errors.js';
import { isSimulatedCrash } from '../../src/failpoints.js';
import type { Logger } from '../../src/observability/logger.js';
import type { Delivery } from './context.js';

/** How long a path lease lasts unrenewed: past any single SFTP request's deadline, so a publish in flight ends first. */
export function pathLeaseTtlMs(d: Pick<Delivery, 'deps'>): number {
  const worker = d.deps.getConfig().service.worker;
  return 2 * Math.max(worker.lockDurationSeconds, worker.stallTimeoutSeconds) * 1000;
}

/**
 * Extends the job lock and renews the path lease for another period; throws ERR_JOB_LOCK_LOST or
 * ERR_PATH_LEASE_LOST (both transient: the run that owns them now finishes the delivery).
 */
export async function checkOwnership(d: Delivery): Promise<void> {
  const { job, deps } = d;
  if (job.token !== undefined) {
    const lockMs = deps.getConfig().service.worker.lockDurationSeconds * 1000;
    if ((await job.extendLock(job.token, lockMs)) !== 1) {
      throw new FerryError(
        'ERR_JOB_LOCK_LOST',
        'lost the job lock (another run owns this delivery now); stopped before publishing',
      );
    }
  }
  if (d.fence === undefined) return;
  const held = await deps.pathLeases.renew(
    d.id.partnerId,
    d.remotePath,
    d.id.deliveryId,
    d.fence,
    pathLeaseTtlMs(d),
  );
  if (!held) {
    throw new FerryError(
      'ERR_PATH_LEASE_LOST',
      `lost the lease of ${d.remotePath} (it expired and another delivery of that path took it); stopped before publishing`,
    );
  }
}

/** True for the errors checkOwnership throws: what this run wrote now belongs to the run that took over. */
export function isOwnershipLost(err: unknown): boolean {
  return (
    err instanceof FerryError && (err.code === 'ERR_JOB_LOCK_LOST' || err.code === 'ERR_PATH_LEASE_LOST')
  );
}

/** Removes a file Ferry wrote, best effort (a missing file is fine; other failures are logged). */
export async function removeQuietly(session: SftpConnection, path: string, log: Logger): Promise<void> {
  if (!session.alive) return;
  try {
    await session.remove(path);
  } catch (err) {
    const code = classifyError(err, 'sftp').code;
    if (code !== 'ERR_SFTP_NO_SUCH_PATH') log.warn({ errCode: code }, 'could not remove a file Ferry wrote');
  }
}

/**
 * Runs `fn` holding the path lease taken by acquirePath, and gives it back after — unless this run
 * left evidence a retry must resume from (an intent, a fragment, a published file without its
 * sidecars): then the lease stays until it expires, so no other version of the path goes first.
 */
export async function withPathLease<T>(d: Delivery, fn: () => Promise<T>): Promise<T> {
  let failed: unknown;
  try {
    return await fn();
  } catch (err) {
    failed = err;
    throw err;
  } finally {
    const keep = failed !== undefined && (isSimulatedCrash(failed) || d.phase !== 'none');
    if (!keep) {
      await d.deps.pathLeases.release(d.id.partnerId, d.remotePath, d.id.deliveryId).catch((err: unknown) => {
        d.log.warn({ err: String(err) }, 'could not give the path lease back (it expires on its own)');
      });
    }
  }
}
