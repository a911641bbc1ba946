// "Send this object to this partner", as `ferry redeliver <partner> <key>` and
// POST /api/partners/:id/redeliver ask it: a delivered version is redelivered (redeliveries.ts); a
// version no sweep sends because it is older than `source.maxAgeDays` (never delivered) is sent as its
// first delivery, under the id a sweep would give it. Anything else is refused with a reason.
import type { ObjectSource, SourceObject } from '../core/ports.js';
import type { PartnerConfig } from '../config/schema.js';
import { deliveryIdFor } from '../core/delivery-id.js';
import { printable } from '../core/format-deliveries.js';
import { selectObjects } from '../core/select-objects.js';
import type { DeliverJobData } from '../queues/payloads.js';
import type { AuditLog } from './audit-log.js';
import type { Redeliveries, RedeliveryOutcome } from './redeliveries.js';

export type ObjectDeliveryOutcome =
  /** A redelivery of the delivered version (`<of>-r<n>`). */
  | { ok: true; kind: 'redelivery'; deliveryId: string; jobId: string; of: string }
  /** The first delivery of a stale, never-delivered version. */
  | { ok: true; kind: 'stale'; deliveryId: string; jobId: string }
  | {
      ok: false;
      /** `not-found`: the object is not in S3, or that version was never delivered and is not stale. */
      problem: 'not-found' | 'version-only' | Extract<RedeliveryOutcome, { ok: false }>['problem'];
      message: string;
    };

export interface ObjectDeliveryDeps {
  redeliveries: Pick<Redeliveries, 'request'>;
  source: Pick<ObjectSource, 'listPages'>;
  audit: Pick<AuditLog, 'append'>;
  /** Adds the deliver job (jobId = deliveryId: a no-op when that delivery already has one). */
  enqueue(partner: PartnerConfig, job: DeliverJobData): Promise<void>;
  /** Where the audit line goes (one JSON line with trackingId); default: nowhere. */
  log?: { info(obj: object, msg: string): void };
}

export interface ObjectDeliveryRequest {
  partner: PartnerConfig;
  key: string;
  reason: string;
  by: string;
  /** Replace the partner's file (redeliveries only; a first delivery follows `onExisting`). */
  replace?: boolean;
  /** The object version; default: the one S3 holds now (the only one a delivery can read). */
  etag?: string | undefined;
  /** The clock `source.maxAgeDays` is judged by (the sweeps' clock). */
  now: Date;
}

/** Redelivers `key`'s version, or sends it for the first time when a sweep leaves it out as stale. */
export async function requestObjectDelivery(
  deps: ObjectDeliveryDeps,
  r: ObjectDeliveryRequest,
): Promise<ObjectDeliveryOutcome> {
  const { partner, key } = r;
  const bucket = partner.source.bucket;
  const listed = await currentObject(deps.source, bucket, key);
  const etag = r.etag ?? listed?.etag;
  if (etag === undefined) {
    return {
      ok: false,
      problem: 'not-found',
      message: `s3://${bucket}/${printable(key)} does not exist now; a redelivery reads the object again (give --etag only for the version S3 still holds)`,
    };
  }
  // identity version: the version is the write S3 holds now (its LastModified names it).
  const current = listed?.etag === etag ? listed : undefined;
  if (partner.source.identity === 'version' && current === undefined) {
    return {
      ok: false,
      problem: 'version-only',
      message: `${partner.id} has source.identity: version; only the version S3 holds now can be redelivered (leave out --etag)`,
    };
  }
  const deliveryId = deliveryIdFor(partner, { bucket, key, etag, lastModified: current?.lastModified });
  const replace = r.replace === true;
  const outcome = await deps.redeliveries.request({ deliveryId, reason: r.reason, by: r.by, replace });
  if (outcome.ok) {
    deps.log?.info(
      {
        audit: true,
        action: 'redeliver',
        user: r.by,
        reason: r.reason,
        ...(replace ? { replace } : {}),
        partnerId: partner.id,
        deliveryId: outcome.deliveryId,
        trackingId: outcome.deliveryId,
        redeliveryOf: outcome.of,
      },
      'redelivery requested',
    );
    return {
      ok: true,
      kind: 'redelivery',
      deliveryId: outcome.deliveryId,
      jobId: outcome.jobId,
      of: outcome.of,
    };
  }
  if (outcome.problem !== 'not-found') return outcome;
  if (current === undefined || !isStale(current, partner, r.now)) {
    return {
      ok: false,
      problem: 'not-found',
      message: `version ${etag} of ${printable(key)} was never delivered to ${partner.id} (${deliveryId})`,
    };
  }
  if (!partner.enabled) {
    return { ok: false, problem: 'partner-unavailable', message: `partner ${partner.id} is disabled` };
  }
  await deps.enqueue(partner, {
    v: 1,
    deliveryId,
    partnerId: partner.id,
    bucket,
    key,
    etag,
    size: current.size,
    lastModified: current.lastModified.toISOString(),
  });
  await deps.audit.append({
    at: new Date().toISOString(),
    user: r.by,
    action: 'redeliver',
    reason: r.reason,
    deliveryId,
    partnerId: partner.id,
  });
  deps.log?.info(
    {
      audit: true,
      action: 'redeliver',
      user: r.by,
      reason: r.reason,
      partnerId: partner.id,
      deliveryId,
      trackingId: deliveryId,
      stale: true,
    },
    'delivery of a stale object requested',
  );
  return { ok: true, kind: 'stale', deliveryId, jobId: deliveryId };
}

/** True when a sweep leaves the object out only for its age (`source.maxAgeDays`). */
function isStale(object: SourceObject, partner: PartnerConfig, now: Date): boolean {
  return selectObjects([object], partner.source, now).skipped[0]?.reason === 'stale';
}

/** The object S3 holds now at exactly `key` (a listing with the key as prefix, first page). */
async function currentObject(
  source: Pick<ObjectSource, 'listPages'>,
  bucket: string,
  key: string,
): Promise<SourceObject | undefined> {
  for await (const page of source.listPages(bucket, key, 1000)) {
    const found = page.find((object) => object.key === key);
    if (found) return found;
    // Keys sort after their prefix: once past it on a page, it is not there.
    if (page.some((object) => object.key > key)) return undefined;
  }
  return undefined;
}
