// POST /api/events/s3: each object-created event is a targeted check of its key, by the rules of a
// sweep, for every partner with `events: true` whose source holds the key. Only the checks differ in
// where the object comes from (one listing request for the key instead of the whole prefix); the
// selection (include/exclude, settle age, requireMarker), the ledger's verdict and the job id are the
// sweep's own, so an event and a sweep of the same object version add one job and deliver once.
import { findObject, lookUpMarkers } from '../adapters/marker-lookup.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { isKeyUnderSource } from '../core/prefix-template.js';
import type { ObjectEvent } from '../core/object-events.js';
import type { ObjectSource, SourceObject } from '../core/ports.js';
import { isMarkerKey, selectObjects } from '../core/select-objects.js';
import type { Ledger } from '../ledger/redis-ledger.js';
import { sortByLedger } from '../ledger/unsettled-deliveries.js';
import type { DeliverJobData } from '../queues/payloads.js';

export interface ObjectEventDeps {
  getConfig(): FerryConfig;
  source: Pick<ObjectSource, 'listPages'>;
  ledger: Pick<Ledger, 'get' | 'getStatuses'>;
  /** Adds deliver jobs with jobId = deliveryId, as a sweep does; `delayMs` for an object still settling. */
  enqueueDeliveries(partner: PartnerConfig, jobs: DeliverJobData[], delayMs: number): Promise<void>;
  /** Starts one sweep of the partner (deduplicated while one waits): for what an event alone cannot decide. */
  enqueueSweep(partner: PartnerConfig): Promise<void>;
  /** Told the deliveries enqueued, for the daily SLA (`expect`), as a sweep tells it. Default: nowhere. */
  recordFound?(partner: PartnerConfig, deliveryIds: readonly string[]): Promise<void>;
  /**
   * Told what came of each event (ferry_s3_events_total): per partner whose source holds its key, or
   * without a partner when none takes it (`unmatched`) or it is no object creation (`skipped`).
   */
  eventChecked?(partnerId: string | undefined, outcome: ObjectEventOutcome): void;
  /** Remembers when the partner's last event came (ferry plan, GET /api/partners). */
  recordEvent(partnerId: string, at: Date): Promise<void>;
  /** The clock sweeps select by (settle age, maxAgeDays). */
  now(): Date;
  logger?: { info(obj: object, msg: string): void };
}

/** What came of one event for one partner (or for none). */
export type ObjectEventOutcome = 'enqueued' | 'delayed' | 'sweep' | 'ignored' | 'unmatched' | 'skipped';

/** What one request's events came to (the 202 body). */
export interface ObjectEventCounts {
  /** Events in the body, the ignored kinds (deletes, tests) included. */
  events: number;
  /** (event, partner) pairs whose partner takes events and whose source holds the key. */
  matched: number;
  /** Deliver jobs asked for (an existing job of the same id makes it a no-op). */
  enqueued: number;
  /** Of those, jobs that wait until their object has settled (source.minAgeSeconds). */
  delayed: number;
  /** Sweeps started instead: a marker arrived, or naming.filename needs the whole listing. */
  sweeps: number;
  /** Events that led to nothing (no partner, gone or newer in S3, not eligible, settled, repeated). */
  ignored: number;
}

/** Checks each event's key for each partner that takes events; `ignoredInBody` are counted as ignored. */
export async function checkObjectEvents(
  deps: ObjectEventDeps,
  events: readonly ObjectEvent[],
  ignoredInBody: number,
): Promise<ObjectEventCounts> {
  const counts: ObjectEventCounts = {
    events: events.length + ignoredInBody,
    matched: 0,
    enqueued: 0,
    delayed: 0,
    sweeps: 0,
    ignored: ignoredInBody,
  };
  for (let i = 0; i < ignoredInBody; i++) deps.eventChecked?.(undefined, 'skipped');
  const config = deps.getConfig();
  const now = deps.now();
  const takers = [...config.partners.values()].filter((p) => p.enabled && p.events === true);
  const current = new Map<string, Promise<SourceObject | undefined>>(); // one listing request per key
  const seen = new Set<string>(); // (partner, key) pairs already checked in this request
  const sweeping = new Set<string>();
  const heard = new Set<string>();
  for (const event of events) {
    const partners = takers.filter(
      // A dated prefix: the key must be in one of its partitions, as a sweep (and the deliver job) holds.
      (p) => p.source.bucket === event.bucket && isKeyUnderSource(p.source, event.key),
    );
    let acted = false;
    if (partners.length > 0) {
      counts.matched += partners.length;
      for (const p of partners) heard.add(p.id);
      const where = `${event.bucket}\n${event.key}`;
      if (!current.has(where)) current.set(where, findObject(deps.source, event.bucket, event.key));
      const object = await current.get(where);
      // Gone, or an older version than S3 holds now: that version can no longer be delivered.
      const stale = object === undefined || (event.etag !== undefined && event.etag !== object.etag);
      for (const partner of partners) {
        const pair = `${partner.id}\n${event.key}`;
        if (stale || object === undefined || seen.has(pair)) {
          deps.eventChecked?.(partner.id, 'ignored');
          continue;
        }
        seen.add(pair);
        const outcome = await checkForPartner(deps, partner, object, now, sweeping);
        if (outcome === 'sweep') counts.sweeps += 1;
        if (outcome === 'enqueued' || outcome === 'delayed') counts.enqueued += 1;
        if (outcome === 'delayed') counts.delayed += 1;
        if (outcome !== 'nothing') acted = true;
        deps.eventChecked?.(partner.id, outcome === 'nothing' ? 'ignored' : outcome);
      }
    } else {
      deps.eventChecked?.(undefined, 'unmatched');
    }
    if (!acted) counts.ignored += 1;
  }
  await Promise.all([...heard].map((id) => deps.recordEvent(id, now)));
  deps.logger?.info({ ...counts }, 'object events checked');
  return counts;
}

type Outcome = 'enqueued' | 'delayed' | 'sweep' | 'nothing';

async function checkForPartner(
  deps: ObjectEventDeps,
  partner: PartnerConfig,
  object: SourceObject,
  now: Date,
  sweeping: Set<string>,
): Promise<Outcome> {
  const rules = partner.source;
  // A marker arrived: the objects of its directory it held back are for a listing to find.
  // naming.filename without {seq}: which of two objects keeps a name is decided in listing order.
  const needsSweep =
    isMarkerKey(object.key, rules) ||
    (partner.naming?.filename !== undefined && partner.naming.filename.seq === undefined);
  if (needsSweep) {
    if (!sweeping.has(partner.id)) await deps.enqueueSweep(partner);
    sweeping.add(partner.id);
    return 'sweep';
  }
  // Judged as of when it has settled: a young object is checked now and its job waits until then.
  const settlesAt = object.lastModified.getTime() + rules.minAgeSeconds * 1000;
  const at = new Date(Math.max(now.getTime(), settlesAt));
  const markers = await lookUpMarkers(deps.source, rules.bucket, rules, [object], at);
  if (selectObjects([object], rules, at, markers).eligible.length === 0) return 'nothing';
  const { jobs } = await sortByLedger(deps.ledger, partner, [object]);
  if (jobs.length === 0) return 'nothing';
  // A second past the settle time, so the job never runs on the edge of it.
  const delayMs = at.getTime() > now.getTime() ? at.getTime() - now.getTime() + 1000 : 0;
  await deps.enqueueDeliveries(partner, jobs, delayMs);
  // SLA bookkeeping never fails the request: a lost record shows as a missing file until the next sweep.
  await deps
    .recordFound?.(
      partner,
      jobs.map((j) => j.deliveryId),
    )
    .catch(() => undefined);
  return delayMs > 0 ? 'delayed' : 'enqueued';
}
