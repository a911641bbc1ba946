// The deliver processor: one S3 object version to one partner, as ARCHITECTURE's "Delivery algorithm"
// and the publish protocol (src/core/publish-protocol.ts) say, each step a file of jobs/delivery/.
import { posix } from 'node:path';
import type { Job } from 'bullmq';
import { phaseOf } from '../src/core/publish-protocol.js';
import { hitFailpoint } from '../src/failpoints.js';
import { safeText } from '../src/observability/logger.js';
import { measureDeliveries, NO_METRICS } from '../src/observability/metrics.js';
import type { DeliverResult } from '../src/queues/payloads.js';
import type { DeliverDeps, Delivery } from './delivery/context.js';
import { settleFailure } from './delivery/failure.js';
import { acceptJob, withHold, type AcceptedJob } from './delivery/job-intake.js';
import { lookUpDelivery } from './delivery/look-up.js';
import { withPathLease } from './delivery/ownership.js';
import { acquirePath, publishDataFile } from './delivery/publish.js';
import { recordDelivered } from './delivery/receipt.js';
import { nameDelivery } from './delivery/remote-name.js';
import { publishSidecars } from './delivery/sidecars.js';
import { settleUnpublished } from './delivery/settle.js';
import { releaseTemps } from './delivery/temp-files.js';
import { withClassifiedErrors } from './job-errors.js';
import { runSourceHousekeeping } from './source-housekeeping.js';

export type { DeliverDeps } from './delivery/context.js';

/**
 * Every step is safe to repeat: the ledger and the S3 receipt — not BullMQ — decide whether the object
 * was already delivered, and the publish protocol decides from evidence what a retry does next.
 */
export function createDeliverProcessor(deps: DeliverDeps) {
  const processor = withClassifiedErrors('deliver', 's3', deps.logger, (job: Job) => deliver(deps, job));
  const measured = measureDeliveries(processor, deps.metrics ?? NO_METRICS, (id) =>
    deps.getConfig().partners.has(id),
  );
  return deps.holdFor ? withHold(deps, deps.holdFor, measured) : measured;
}

async function deliver(deps: DeliverDeps, job: Job): Promise<DeliverResult> {
  const accepted = await acceptJob(deps, job);
  try {
    return await deliverAccepted(deps, job, accepted);
  } finally {
    // Whatever the outcome (a failed attempt waits delayed, or failed for good): a manifest waiting
    // for this delivery is checked when it was the last one. Never fails the job.
    if (accepted.manifest === undefined && accepted.partner.manifest !== undefined) {
      await deps.manifests?.ended(accepted.partner, accepted.id.deliveryId).catch((err: unknown) => {
        deps.logger.warn(
          { partnerId: accepted.partner.id, trackingId: accepted.id.deliveryId, err: (err as Error).message },
          'manifest not checked after this delivery; its periodic check will',
        );
      });
    }
  }
}

async function deliverAccepted(deps: DeliverDeps, job: Job, accepted: AcceptedJob): Promise<DeliverResult> {
  const { data, partner, id, redelivery, manifest } = accepted;
  const log = deps.logger.child({
    partnerId: partner.id,
    deliveryId: id.deliveryId,
    trackingId: id.deliveryId,
    jobId: job.id,
    s3Key: safeText(data.key),
    attempt: job.attemptsMade + 1,
    ...(redelivery ? { redeliveryOf: redelivery.of, requestedBy: redelivery.by } : {}),
    ...(data.replace === true ? { replace: true } : {}),
  });
  const startedAt = deps.now();
  // after.source (tag / move): best effort, repeated by an already-delivered run so a retry completes it.
  const housekeep = (mark: string) =>
    data.redelivery === undefined ? runSourceHousekeeping(deps, partner, data, mark, log) : Promise.resolve();

  // ack: the delivered file now waits for the partner's answer; repeated by an already-delivered run
  // (a crash right after the delivery was recorded), a no-op once it waits or was answered.
  const awaitAnswer = async (remotePath: string | undefined, deliveredAt: string) => {
    if (partner.ack === undefined || deps.ackIndex === undefined || remotePath === undefined) return;
    try {
      await deps.ackIndex.expect(
        partner.id,
        id.deliveryId,
        posix.basename(remotePath),
        Date.parse(deliveredAt),
      );
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        "not noted as waiting for the partner's answer; an answer will show as unmatched",
      );
    }
  };

  // manifest: a delivered data file joins the partner's next manifest, and a delivered manifest is
  // done. Repeated by an already-delivered run; a failure fails the run, so the retry joins it.
  const noteManifest = async (deliveredAt: string) => {
    if (deps.manifests === undefined) return;
    if (manifest !== undefined) await deps.manifests.sent(partner.id, manifest);
    else if (partner.manifest !== undefined) {
      await deps.manifests.join(partner.id, id.deliveryId, Date.parse(deliveredAt) || deps.now().getTime());
    }
  };

  const looked = await lookUpDelivery(deps, partner, id, log);
  if (looked.settled) {
    if (looked.housekeepingMark !== undefined) {
      // Redis lost the record, and with it which manifest listed the file: never listed twice.
      if (looked.recordLost !== true) await noteManifest(looked.housekeepingMark);
      await awaitAnswer(looked.settled.remotePath, looked.housekeepingMark);
      await housekeep(looked.housekeepingMark);
    }
    return looked.settled;
  }
  const named = await nameDelivery(deps, job, partner, data, id, looked.known, log);
  const d: Delivery = {
    deps,
    job,
    data,
    partner,
    id,
    log: named.numbered ? log.child({ remotePath: safeText(named.remotePath) }) : log,
    known: looked.known,
    remotePath: named.remotePath,
    tempPath: named.tempPath,
    lastModifiedMs: new Date(data.lastModified ?? job.timestamp).getTime(),
    freshName: named.seq !== undefined && data.redelivery === undefined,
    prevalidated: false,
    phase: phaseOf(looked.known, partner.target.publish),
  };
  try {
    const prevalidation = await named.prevalidate();
    d.prevalidated = prevalidation.ran;
    d.csvRows = prevalidation.csvRows;
    await acquirePath(d);
    const outcome = await withPathLease(d, () =>
      deps.withSession(partner, async (session) => {
        const dataFile = await publishDataFile(d, session);
        if (dataFile.kind === 'settled') return dataFile;
        const sidecars = await publishSidecars(d, session, dataFile);
        await hitFailpoint('after_sidecars');
        return { ...dataFile, sidecars };
      }),
    );
    if (outcome.kind === 'settled') return await settleUnpublished(d, outcome.outcome);
    const deliveredAt = await recordDelivered(d, outcome, { startedAt, seq: named.seq, redelivery });
    await releaseTemps(d);
    d.log.info(
      {
        outcome: 'delivered',
        bytes: outcome.uploaded,
        size: outcome.size,
        sha256: outcome.sha256,
        recovered: outcome.recovered,
        durationMs: deliveredAt.getTime() - startedAt.getTime(),
      },
      outcome.recovered ? 'delivery recovered from what an earlier attempt left' : 'delivery completed',
    );
    await noteManifest(deliveredAt.toISOString());
    await awaitAnswer(d.remotePath, deliveredAt.toISOString());
    await housekeep(deliveredAt.toISOString());
    await hitFailpoint('before_complete');
    return {
      outcome: 'delivered',
      deliveryId: id.deliveryId,
      remotePath: d.remotePath,
      bytes: outcome.uploaded,
      sha256: outcome.sha256,
    };
  } catch (err) {
    return settleFailure(d, err);
  }
}
