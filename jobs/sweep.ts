import { listPrefixes } from '../src/adapters/list-prefixes.js';
import type { Job } from 'bullmq';
import { createMarkerLookup } from '../src/adapters/marker-lookup.js';
import type { ObjectSource, SourceObject } from '../src/core/ports.js';
import type { Alerter } from '../src/observability/alerter.js';
import type { FerryConfig } from '../src/config/load-config.js';
import type { PartnerConfig } from '../src/config/schema.js';
import { sweepPrefixes } from '../src/core/prefix-template.js';
import { remoteNameFor } from '../src/core/filename-template.js';
import { selectObjects } from '../src/core/select-objects.js';
import type { HousekeepingPendingStore } from '../src/ledger/housekeeping-pending.js';
import type { Ledger } from '../src/ledger/redis-ledger.js';
import { sortByLedger } from '../src/ledger/unsettled-deliveries.js';
import { MAX_STALE_LISTED, type StaleObject, type SweepSummaries } from '../src/ledger/sweep-summary.js';
import type { Logger } from '../src/observability/logger.js';
import type { Metrics } from '../src/observability/metrics.js';
import { SweepJobData, type DeliverJobData, type SweepResult } from '../src/queues/payloads.js';
import type { ManifestPublisher } from './manifest-publish.js';
import type { AckPoller } from './ack-poll.js';
import type { Janitor } from './janitor.js';
import { PermanentError, withClassifiedErrors } from './job-errors.js';
import { retryPendingHousekeeping } from './source-housekeeping.js';

export interface SweepDeps {
  getConfig(): FerryConfig;
  source: ObjectSource;
  ledger: Ledger;
  /** Adds deliver jobs with jobId = deliveryId (a no-op for ids that already have a job). */
  enqueueDeliveries(partner: PartnerConfig, jobs: DeliverJobData[]): Promise<void>;
  logger: Logger;
  now(): Date;
  /** What each completed sweep found (default: reported nowhere). */
  metrics?: Pick<Metrics, 'sweepFinished'>;
  /** Whether the partner is paused (config or operator): scheduled sweeps then do nothing. Default: never. */
  isPaused?(partner: PartnerConfig): Promise<boolean>;
  /** Told the deliveries each page found not yet delivered, for the daily SLA (`expect`). Default: nowhere. */
  recordFound?(partner: PartnerConfig, deliveryIds: readonly string[]): Promise<void>;
  /** Failed `after.source` steps: each sweep retries a bounded number of the partner's. Default: none. */
  housekeepingPending?: HousekeepingPendingStore;
  /** Webhook alerts for a retried step that fails again (default: none). */
  alerts?: Alerter;
  /** Removes Ferry's leftover temp/.old files on the partner's server, when due (default: none). */
  janitor?: Pick<Janitor, 'runIfDue'>;
  /** Reads the partner's answers after each sweep (`ack:`; default: none). */
  acks?: Pick<AckPoller, 'poll'>;
  /** Publishes the partner's manifest when due (`manifest:`; default: none). */
  manifests?: ManifestPublisher;
  /** Where each listing sweep's counts and stale objects are kept for the API and UI (default: nowhere). */
  sweepSummaries?: Pick<SweepSummaries, 'record'>;
}

/**
 * The sweep processor: a level-triggered reconciler. It lists the partner's whole prefix page by page
 * (a dated prefix: the partitions of its last lookbackDays days, or `sinceDays`, one after another), filters, and enqueues every object version the ledger has not settled. Repeating it is harmless.
 */
export function createSweepProcessor(deps: SweepDeps) {
  return withClassifiedErrors(
    'sweep',
    's3',
    deps.logger,
    async function sweep(job: Job): Promise<SweepResult> {
      const parsed = SweepJobData.safeParse(job.data);
      if (!parsed.success) {
        throw new PermanentError('ERR_PAYLOAD_INVALID', `sweep job ${job.id ?? '?'} has invalid data`);
      }
      const { partnerId } = parsed.data;
      const config = deps.getConfig();
      const partner = config.partners.get(partnerId);
      const started = Date.now();
      const result: SweepResult = {
        partnerId,
        listed: 0,
        eligible: 0,
        enqueued: 0,
        settled: { delivered: 0, quarantined: 0, skipped: 0, superseded: 0, failed: 0 },
        skipped: {},
        pending: [],
        durationMs: 0,
      };
      const log = deps.logger.child({ partnerId, jobId: job.id, reason: parsed.data.reason });
      if (!partner || !partner.enabled) {
        log.warn({ configured: Boolean(partner) }, 'sweep skipped: partner not configured or disabled');
        return result;
      }
      if (parsed.data.reason !== 'manual' && (await deps.isPaused?.(partner))) {
        log.info('sweep skipped: partner paused (ferry resume, or paused: false in its config)');
        return result;
      }
      if (parsed.data.reason === 'acks') {
        // Only the partner's answers (ack.pollEveryMinutes): nothing is listed or enqueued.
        await deps.acks?.poll(partner, log);
        return result;
      }
      if (parsed.data.reason === 'manifest') {
        await deps.manifests?.check(partner, log);
        return result;
      }

      const now = deps.now();
      const stale: StaleObject[] = []; // the first few, for the API and UI (sent only on request)
      let oldestUndelivered = Infinity; // lastModified (ms) of the oldest object listed and not yet delivered
      const prefixes = sweepPrefixes(partner.source, now, partner.schedule.timezone, parsed.data.sinceDays);
      const pages = listPrefixes(deps.source, partner.source.bucket, prefixes, config.service.sweep.pageSize);
      // requireMarker: which directories have their marker, cached for this sweep (no cost without it).
      const renderedNames = new Map<string, string>(); // naming.filename: rendered name → first key
      const markers = createMarkerLookup(deps.source, partner.source.bucket, partner.source);
      for await (const page of readAhead(pages)) {
        result.listed += page.length;
        const present = await markers.forPage(page, now);
        const selection = selectObjects<SourceObject>(page, partner.source, now, present);
        for (const s of selection.skipped) {
          result.skipped[s.reason] = (result.skipped[s.reason] ?? 0) + 1;
          if (s.reason === 'stale' && stale.length < MAX_STALE_LISTED) {
            const { key, size, etag, lastModified } = s.object;
            stale.push({ key, size, etag, lastModified: lastModified.toISOString() });
          }
        }
        result.eligible += selection.eligible.length;
        if (selection.eligible.length === 0) continue;

        const { candidates, statuses, jobs, settled } = await sortByLedger(
          deps.ledger,
          partner,
          selection.eligible,
        );
        for (const status of Object.keys(settled) as (keyof typeof settled)[]) {
          result.settled[status] += settled[status];
        }
        for (const j of jobs) {
          oldestUndelivered = Math.min(oldestUndelivered, new Date(j.lastModified ?? 0).getTime());
        }
        // A `{seq}` template cannot collide: names equal but for the number get different numbers.
        if (partner.naming?.filename && partner.naming.filename.seq === undefined) {
          const delivered = candidates.filter((c) => statuses.get(c.deliveryId) === 'delivered');
          dropNameCollisions(
            partner,
            delivered.map((c) => c.object),
            jobs,
            renderedNames,
            result,
            log,
          );
        }
        if (jobs.length > 0) {
          await deps.enqueueDeliveries(partner, jobs);
          await recordFoundQuietly(deps, partner, jobs, log);
          result.enqueued += jobs.length;
          for (const j of jobs) result.pending.push(j.deliveryId);
        }
      }
      // after.source steps that failed after earlier deliveries (bounded; never fails the sweep).
      const housekeepingPending = deps.housekeepingPending;
      if (housekeepingPending) await retryPendingHousekeeping({ ...deps, housekeepingPending }, partner, log);
      // Ferry's own leftovers on the partner's server, at most once per janitor.intervalMinutes (never throws).
      await deps.janitor?.runIfDue(partner, log);
      // The partner's answers to delivered files (ack:), one listing (never throws).
      await deps.acks?.poll(partner, log);
      // manifest: the next one waits for what this sweep enqueued; one taken before may be due now.
      if (partner.manifest !== undefined && deps.manifests) {
        await deps.manifests.afterSweep(partner, result.pending, log).catch((err: unknown) => {
          log.warn({ err: (err as Error).message }, 'manifest check failed; the next check retries it');
        });
      }
      result.durationMs = Date.now() - started;
      deps.metrics?.sweepFinished(partnerId, {
        seconds: result.durationMs / 1000,
        seen: result.listed,
        enqueued: result.enqueued,
        oldestUndeliveredAgeSeconds: Number.isFinite(oldestUndelivered)
          ? (now.getTime() - oldestUndelivered) / 1000
          : 0,
      });
      await recordSummaryQuietly(deps, partnerId, now, result, stale, log);
      log.info(
        {
          listed: result.listed,
          eligible: result.eligible,
          enqueued: result.enqueued,
          settled: result.settled,
          skipped: result.skipped,
          ...(markers.requests > 0 ? { markerRequests: markers.requests } : {}),
          ...(partner.source.prefixTemplate ? { prefixes } : {}),
          durationMs: result.durationMs,
        },
        `sweep found ${result.enqueued} objects to deliver`,
      );
      return result;
    },
  );
}

/**
 * Yields the pages of `pages` while the next one is already being fetched, so the ledger lookups and
 * enqueues of one page overlap the listing of the next (at most two pages held). A listing error
 * surfaces when its page is reached, as without read-ahead; leaving early closes the listing.
 */
async function* readAhead<T>(pages: AsyncIterable<T>): AsyncGenerator<T> {
  const it = pages[Symbol.asyncIterator]();
  let next = it.next();
  // Not awaited when the consumer stops first: keep its rejection from going unhandled.
  next.catch(() => undefined);
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = it.next();
      next.catch(() => undefined);
      yield current.value;
    }
  } finally {
    // Closes the listing once the fetch in flight settles (an async generator queues return() behind
    // it); not awaited, so an error in this page's processing is not held up by the next page's fetch.
    it.return?.().catch(() => undefined);
  }
}

/**
 * `naming.filename` can render two objects to one name. The first one listed keeps it (listing order
 * is stable, and an object already delivered keeps its name in every later sweep); later ones are left
 * out with reason `name-collision` and an alert, never sent over it. A name that fails the safe-name
 * rules is left to the deliver job, which quarantines it.
 */
function dropNameCollisions(
  partner: PartnerConfig,
  delivered: readonly SourceObject[],
  jobs: DeliverJobData[],
  seen: Map<string, string>,
  result: SweepResult,
  log: Logger,
): void {
  const claim = (key: string, lastModified: Date): { name: string; first: string } | undefined => {
    const named = remoteNameFor(partner, { key, lastModified });
    if (!named.ok) return undefined;
    const first = seen.get(named.name) ?? key;
    seen.set(named.name, first);
    return { name: named.name, first };
  };
  for (const o of delivered) claim(o.key, o.lastModified);
  const kept = jobs.filter((j) => {
    const claimed = claim(j.key, new Date(j.lastModified ?? 0));
    if (claimed === undefined || claimed.first === j.key) return true;
    result.skipped['name-collision'] = (result.skipped['name-collision'] ?? 0) + 1;
    log.error(
      {
        trackingId: j.deliveryId,
        key: j.key,
        firstKey: claimed.first,
        remoteName: claimed.name,
        alert: true,
      },
      'name-collision: naming.filename renders this object to the name of another listed object',
    );
    return false;
  });
  jobs.splice(0, jobs.length, ...kept);
}

/** SLA bookkeeping must not fail a sweep: a lost record shows as a missing file, and is logged. */
async function recordFoundQuietly(
  deps: SweepDeps,
  partner: PartnerConfig,
  jobs: readonly DeliverJobData[],
  log: Logger,
): Promise<void> {
  if (!deps.recordFound || !partner.expect) return;
  try {
    await deps.recordFound(
      partner,
      jobs.map((j) => j.deliveryId),
    );
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not record found files for the SLA');
  }
}

/** The summary is for people: a Redis hiccup writing it must not fail (and repeat) the sweep. */
async function recordSummaryQuietly(
  deps: SweepDeps,
  partnerId: string,
  at: Date,
  result: SweepResult,
  stale: StaleObject[],
  log: Logger,
): Promise<void> {
  if (!deps.sweepSummaries) return;
  try {
    await deps.sweepSummaries.record(partnerId, {
      at: at.toISOString(),
      listed: result.listed,
      eligible: result.eligible,
      enqueued: result.enqueued,
      skipped: result.skipped,
      stale,
    });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not record the sweep summary');
  }
}
