// `manifest:` — after a window's (or a sweep's) deliveries, one control file listing them. Runs in the
// sweep worker: after each sweep of the partner, when the last delivery a manifest waits for ends,
// and every manifest.checkEveryMinutes. Each step is safe to repeat: taking is atomic and stored
// (src/ledger/manifest-batches.ts), the S3 object is the record's bytes, and the delivery job's id is
// the object's delivery id, so a crash anywhere ends in exactly one manifest, published by the same
// exactly-once steps as a data file (jobs/delivery/manifest-partner.ts).
import type { PartnerConfig } from '../src/config/schema.js';
import { deliveryIdFor } from '../src/core/delivery-id.js';
import {
  decideManifest,
  manifestObjectKey,
  manifestPer,
  renderManifest,
  renderManifestName,
  type ManifestNameTemplate,
  type ManifestRecord,
} from '../src/core/manifest-plan.js';
import type { ObjectSource } from '../src/core/ports.js';
import { hitFailpoint } from '../src/failpoints.js';
import type { ManifestBatches } from '../src/ledger/manifest-batches.js';
import type { Ledger } from '../src/ledger/redis-ledger.js';
import type { Logger } from '../src/observability/logger.js';
import type { DeliverJobData } from '../src/queues/payloads.js';
import { manifestPartner } from './delivery/manifest-partner.js';

/** BullMQ states of a delivery the next manifest waits for: it will run soon. Delayed ones (a retry's
 * backoff, a closed window, a pause) and ended ones go into a later manifest. */
const STILL_COMING: ReadonlySet<string> = new Set(['waiting', 'active', 'prioritized', 'waiting-children']);

/** How many manifests one check takes at most (a window's files beyond MAX_MANIFEST_FILES, or days missed). */
const TAKES_PER_CHECK = 10;

export interface ManifestPublisherDeps {
  batches: ManifestBatches;
  source: Pick<ObjectSource, 'head' | 'put'>;
  receipts: { bucket: string; prefix: string };
  ledger: Pick<Ledger, 'getStatuses'>;
  enqueueDeliveries(partner: PartnerConfig, jobs: DeliverJobData[]): Promise<void>;
  /** The BullMQ state of a delivery's job ('unknown' when it has none). */
  jobState(deliveryId: string): Promise<string>;
  now(): Date;
}

export interface ManifestPublisher {
  /** Publishes what is due for the partner: manifests taken and not yet delivered, then new ones. */
  check(partner: PartnerConfig, log: Logger): Promise<void>;
  /** After a listing sweep: the next manifest waits for the deliveries it enqueued; then check. */
  afterSweep(partner: PartnerConfig, enqueued: readonly string[], log: Logger): Promise<void>;
}

export function createManifestPublisher(deps: ManifestPublisherDeps): ManifestPublisher {
  async function publish(partner: PartnerConfig, record: ManifestRecord, log: Logger): Promise<void> {
    const { bucket, prefix } = deps.receipts;
    const key = manifestObjectKey(prefix, record);
    const body = Buffer.from(renderManifest(record), 'utf8');
    let object = await deps.source.head(bucket, key);
    // Only Ferry writes here and the record fixes the bytes: the same size is the same object.
    if (object?.size !== body.length) {
      await deps.source.put(bucket, key, body, record.format === 'json' ? 'application/json' : 'text/csv');
      object = await deps.source.head(bucket, key);
      if (object === undefined) {
        throw new Error(`manifest object s3://${bucket}/${key} is not there after its write`);
      }
    }
    await hitFailpoint('after_manifest_put');
    const as = manifestPartner(partner, bucket, key);
    const deliveryId = deliveryIdFor(as, { bucket, key, etag: object.etag });
    await deps.batches.noteDelivery(partner.id, record.scope, deliveryId);
    const status = (await deps.ledger.getStatuses([deliveryId])).get(deliveryId);
    if (status !== undefined && status !== 'publishing') {
      // Delivered, or settled otherwise (a failed one waits for `ferry retry` like any delivery).
      await deps.batches.settled(partner.id, record.scope);
      return;
    }
    await deps.enqueueDeliveries(partner, [
      {
        v: 1,
        deliveryId,
        partnerId: partner.id,
        bucket,
        key,
        etag: object.etag,
        size: object.size,
        lastModified: object.lastModified.toISOString(),
        manifest: record.scope,
      },
    ]);
    log.info(
      {
        manifest: record.scope,
        deliveryId,
        trackingId: deliveryId,
        name: record.name,
        files: record.lines.length,
      },
      'manifest queued for delivery',
    );
  }

  /**
   * The name for a manifest dated `date`; when it is the previous manifest's (two sweeps in one
   * second), the next second's, so the second one is not refused as already on the server.
   */
  async function nameAfterLast(
    partner: PartnerConfig,
    template: ManifestNameTemplate,
    date: Date,
  ): Promise<string> {
    const render = (at: Date) => renderManifestName(template, partner.id, at, partner.schedule.timezone);
    const [last] = await deps.batches.recent(partner.id, 1);
    let at = date;
    for (let i = 0; i < 60 && render(at) === last?.record.name; i += 1) at = new Date(at.getTime() + 1000);
    return render(at);
  }

  /** False while a delivery the next manifest waits for is queued or running. */
  async function nothingComing(partner: PartnerConfig, log: Logger): Promise<boolean> {
    const waiting = await deps.batches.waitingFor(partner.id);
    if (waiting.length === 0) return true;
    const states = await Promise.all(waiting.map((id) => deps.jobState(id)));
    const ended = waiting.filter((_, i) => !STILL_COMING.has(states[i] ?? 'unknown'));
    const left = await deps.batches.stopWaiting(partner.id, ended);
    if (left > 0) log.debug({ waitingFor: left }, 'manifest waits for deliveries still queued or running');
    return left === 0;
  }

  async function check(partner: PartnerConfig, log: Logger): Promise<void> {
    const config = partner.manifest;
    if (config === undefined) return;
    for (const record of await deps.batches.unsent(partner.id)) await publish(partner, record, log);
    if (!(await nothingComing(partner, log))) return;
    const per = manifestPer(partner);
    const timezone = partner.schedule.timezone;
    for (let i = 0; i < TAKES_PER_CHECK; i += 1) {
      const oldest = await deps.batches.oldestOpenMs(partner.id);
      if (oldest === undefined) return;
      const now = deps.now();
      const decision = decideManifest(
        per,
        oldest,
        now,
        partner.window && {
          window: partner.window,
          timezone,
          lastOpenedMs: await deps.batches.lastOpenedMs(partner.id),
        },
      );
      if (!decision.ready) {
        log.debug({ why: decision.why }, 'manifest not due yet');
        return;
      }
      const createdAt = now.toISOString();
      const name = await nameAfterLast(partner, config.filename, decision.date);
      const record = await deps.batches.take(
        partner.id,
        decision.scope,
        decision.cutoffMs,
        {
          name,
          format: config.format,
          createdAt,
        },
        decision.openedMs,
      );
      if (record === undefined) return;
      log.info(
        { manifest: record.scope, name: record.name, files: record.lines.length },
        `manifest ${record.name} lists ${record.lines.length} delivered files`,
      );
      await hitFailpoint('after_manifest_take');
      await publish(partner, record, log);
      // Taken before (same scope again): what is left goes into a later one.
      if (record.createdAt !== createdAt) return;
    }
  }

  return {
    check,
    async afterSweep(partner, enqueued, log) {
      if (partner.manifest === undefined) return;
      await deps.batches.waitFor(partner.id, enqueued);
      await check(partner, log);
    },
  };
}
