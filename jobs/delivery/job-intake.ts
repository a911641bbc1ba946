// Before any step: the job's payload is untrusted (Bull Board can add and edit jobs), so its identity
// is recomputed from config, and a delivery held back (paused partner, closed window) waits delayed.
import { DelayedError, type Job } from 'bullmq';
import type { PartnerConfig } from '../../src/config/schema.js';
import { deliveryIdFor } from '../../src/core/delivery-id.js';
import { manifestScopeOfKey } from '../../src/core/manifest-plan.js';
import { redeliveryIdFor } from '../../src/core/redelivery.js';
import { PermanentError } from '../job-errors.js';
import type { RedeliveryRequest } from '../../src/ledger/redeliveries.js';
import { DeliverJobData } from '../../src/queues/payloads.js';
import { isKeyUnderSource } from '../../src/core/prefix-template.js';
import type { DeliverDeps, Identity } from './context.js';
import { manifestPartner } from './manifest-partner.js';

export interface AcceptedJob {
  data: DeliverJobData;
  partner: PartnerConfig;
  id: Identity;
  redelivery: RedeliveryRequest | undefined;
  /** A manifest's delivery: its scope (the partner is then seen as manifestPartner gives it). */
  manifest?: string;
}

/** Parses and checks the payload; throws PermanentError ERR_PAYLOAD_INVALID / ERR_PARTNER_UNKNOWN / ERR_KEY_OUTSIDE_PREFIX. */
export async function acceptJob(deps: DeliverDeps, job: Job): Promise<AcceptedJob> {
  const parsed = DeliverJobData.safeParse(job.data);
  if (!parsed.success) {
    throw new PermanentError('ERR_PAYLOAD_INVALID', `deliver job ${job.id ?? '?'} has invalid data`);
  }
  const data = parsed.data;
  const config = deps.getConfig();
  const configured = config.partners.get(data.partnerId);
  if (!configured) {
    throw new PermanentError('ERR_PARTNER_UNKNOWN', `partner ${data.partnerId} is not configured`);
  }
  const manifest = manifestScopeOfJob(deps, configured.id, data);
  if (data.manifest !== undefined && data.manifest !== manifest) {
    throw new PermanentError('ERR_PAYLOAD_INVALID', `manifest ${data.manifest} does not match the key`);
  }
  const partner = manifest === undefined ? configured : manifestPartner(configured, data.bucket, data.key);
  // A redelivery's id is the object version's id with `-r<n>` appended (identity version: LastModified too).
  const base = deliveryIdFor(partner, data);
  const expected = data.redelivery === undefined ? base : redeliveryIdFor(base, data.redelivery);
  if (expected !== data.deliveryId || job.id !== data.deliveryId) {
    throw new PermanentError('ERR_PAYLOAD_INVALID', 'delivery id does not match the object identity');
  }
  if (data.bucket !== partner.source.bucket || !isKeyUnderSource(partner.source, data.key)) {
    // A dated prefix: under one of its partitions (any date; how far back a sweep lists is its own business).
    throw new PermanentError('ERR_KEY_OUTSIDE_PREFIX', `key is outside the partner's source prefix`);
  }
  const id: Identity = {
    deliveryId: data.deliveryId,
    partnerId: data.partnerId,
    bucket: data.bucket,
    key: data.key,
    etag: data.etag,
    // Kept in the ledger so a retry or redelivery can rebuild a version id after the job is gone.
    ...(partner.source.identity === 'version' && data.lastModified !== undefined
      ? { sourceLastModified: data.lastModified }
      : {}),
  };
  const redelivery = await requestedRedelivery(deps, data);
  return { data, partner, id, redelivery, ...(manifest === undefined ? {} : { manifest }) };
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
  // Replacing the partner's file is the operator's choice, audited with the request: a job edited to
  // carry it is refused. (A job re-added from the ledger without it runs with the partner's onExisting.)
  if (data.replace === true && request.replace !== true) {
    throw new PermanentError(
      'ERR_PAYLOAD_INVALID',
      `redelivery ${data.deliveryId} was not requested with replace`,
    );
  }
  return request;
}

/**
 * Runs `processor` unless the partner is paused or outside its window: then the job returns to the
 * delayed set (BullMQ's moveToDelayed skips the attempt count) and DelayedError tells the worker so.
 * Unknown partners and bad payloads go through: the processor rejects them.
 */
export function withHold<R>(
  deps: DeliverDeps,
  holdFor: NonNullable<DeliverDeps['holdFor']>,
  processor: (job: Job) => Promise<R>,
): (job: Job) => Promise<R> {
  return async (job) => {
    const partnerId = (job.data as { partnerId?: unknown } | null)?.partnerId;
    const partner = typeof partnerId === 'string' ? deps.getConfig().partners.get(partnerId) : undefined;
    const found = partner && job.token !== undefined ? await holdFor(partner, deps.now()) : undefined;
    // A manifest closes its window: it goes out after the window's last delivery, even past the end
    // (told by its key, so a redelivery of one, whose job has no `manifest`, is one too).
    const manifest = partner !== undefined && manifestScopeOfJob(deps, partner.id, job.data) !== undefined;
    const hold = manifest && found?.reason === 'window' ? undefined : found;
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
 * The scope of the manifest a job delivers, or undefined for a data file. A manifest is told by where
 * its object is (beside the receipts), so a redelivery made from its record, without `manifest` in its
 * job data, is one too.
 */
function manifestScopeOfJob(deps: DeliverDeps, partnerId: string, data: unknown): string | undefined {
  const { bucket, key } = (data ?? {}) as { bucket?: unknown; key?: unknown };
  const receipts = deps.getConfig().service.receipts;
  return bucket === receipts.bucket && typeof key === 'string'
    ? manifestScopeOfKey(receipts.prefix, partnerId, key)
    : undefined;
}
