// The last step of a failed run: classify, record, alert. What a retry can fix is retried with
// backoff; what needs a person (permanent, or out of attempts) is recorded failed and alerted.
import { DelayedError } from 'bullmq';
import { noopAlerter } from '../../src/observability/alerter.js';
import { alertKindForFailure } from '../../src/core/alert-message.js';
import { classifyError } from '../../src/core/classify-error.js';
import { toJobError } from '../job-errors.js';
import { isSimulatedCrash } from '../../src/failpoints.js';
import type { DeliverResult } from '../../src/queues/payloads.js';
import type { Delivery } from './context.js';
import { isOwnershipLost } from './ownership.js';
import { releaseTemps } from './temp-files.js';

/** Turns a failed run into its ledger record, log line and alert; returns a result only for a skip. */
export async function settleFailure(d: Delivery, err: unknown): Promise<DeliverResult> {
  // A simulated process death (fault-space explorer): nothing runs after it, as after a real kill. A
  // delivery waiting for its path went back to the delayed set on purpose.
  if (isSimulatedCrash(err) || err instanceof DelayedError) throw err;
  const { deps, partner, id, job, data, log } = d;
  const classified = classifyError(err, 'sftp');
  if (isOwnershipLost(classified)) {
    // Not a failed delivery: the run that owns the job (or the path) now finishes it. Record and alert nothing.
    log.warn({ errCode: classified.code }, classified.message);
    throw toJobError(classified);
  }
  // No intent names a temp file (none was recorded, or it was withdrawn): the janitor may have it.
  if (d.phase === 'none') await releaseTemps(d);
  if (classified.intent === 'skip') {
    await deps.ledger.record({ ...id, status: 'skipped', reason: classified.code });
    log.warn({ outcome: 'skipped', errCode: classified.code }, 'source object gone or changed: skipped');
    return { outcome: 'skipped', deliveryId: id.deliveryId, bytes: 0, reason: classified.code };
  }
  const alerts = deps.alerts ?? noopAlerter;
  if (classified.code === 'ERR_CSV_INVALID') {
    // Like a hostile key: held until a person looks (a new export is a new object version).
    await deps.ledger.record({ ...id, status: 'quarantined', reason: classified.message });
    log.error(
      { outcome: 'quarantined', errCode: classified.code, reason: classified.message, alert: true },
      'file quarantined: it failed CSV validation and was not published',
    );
    alerts.notify({
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
    // The record keeps its phase (and the temp file its evidence): a retry from Bull Board resumes there.
    await deps.ledger.record({
      ...id,
      status: 'failed',
      lastErrorCode: classified.code,
      lastError: classified.message,
    });
  }
  log.error(
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
    alerts.notify({
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
