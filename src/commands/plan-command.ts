// `ferry plan [<partner>]`: a dry run of the next sweep — what would be delivered where, and what
// would be left and why. Reads S3 and Redis, writes nothing.
import { listPrefixes } from '../adapters/list-prefixes.js';
import { DEFAULT_LOOKBACK_DAYS, keyPrefixFor, sweepPrefixes } from '../core/prefix-template.js';
import { createMarkerLookup } from '../adapters/marker-lookup.js';
import { createS3Client, createS3Source } from '../adapters/s3-source.js';
import type { ObjectSource, SourceObject } from '../core/ports.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig, ShapeConfig } from '../config/schema.js';
import { deliveryIdFor } from '../core/delivery-id.js';
import { describeBandwidthSetting } from '../core/describe-bandwidth-setting.js';
import { describeManifestSetting } from '../core/describe-manifest-setting.js';
import {
  countPlan,
  formatPlanLine,
  formatPlanSummary,
  planObject,
  type PlanCounts,
  type PlanFacts,
} from '../core/plan-delivery.js';
import { namesUseSequence, remoteNameFor } from '../core/filename-template.js';
import { selectObjects } from '../core/select-objects.js';
import { isSettled } from '../ledger/delivery-record.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createEventTimes, type EventTimes } from '../ledger/event-times.js';
import { createRedisLedger, type Ledger } from '../ledger/redis-ledger.js';
import { createPartnerControls, windowStateFor, type PartnerControls } from '../partners/partner-controls.js';
import { connectProducer } from './connect-producer.js';

export interface PlanCommandOptions {
  config: FerryConfig;
  /** One partner; default: every enabled partner. */
  partnerId?: string;
  now?: Date;
  out(line: string): void;
  /** Progress of long listings. */
  err(line: string): void;
  /** Test seam: the S3 side (default: built from ferry.yaml). */
  source?: ObjectSource;
}

export async function runPlanCommand(o: PlanCommandOptions): Promise<number> {
  let partners: PartnerConfig[];
  if (o.partnerId !== undefined) {
    const partner = o.config.partners.get(o.partnerId);
    if (!partner) {
      o.err(
        `ferry plan: unknown partner "${o.partnerId}" (configured: ${[...o.config.partners.keys()].join(', ')})`,
      );
      return 2;
    }
    partners = [partner];
  } else {
    partners = [...o.config.partners.values()].filter((p) => p.enabled);
  }
  const svc = o.config.service;
  const s3 = o.source === undefined ? createS3Client(svc.s3) : undefined;
  const source = o.source ?? createS3Source(s3!);
  const redis = await connectProducer(o.config);
  try {
    const keys = createRedisKeys(svc.redis.prefix);
    const ledger = createRedisLedger(redis, keys);
    const controls = createPartnerControls(redis, keys);
    const eventTimes = createEventTimes(redis, keys);
    for (const partner of partners) {
      if (!partner.enabled) o.out(`${partner.id}: disabled (sweeps do nothing); planned as if enabled`);
      await planPartner(o, partner, source, ledger, controls, eventTimes);
    }
    return 0;
  } finally {
    await redis.quit().catch(() => undefined);
    s3?.destroy();
  }
}

async function planPartner(
  o: PlanCommandOptions,
  partner: PartnerConfig,
  source: ObjectSource,
  ledger: Ledger,
  controls: PartnerControls,
  eventTimes: EventTimes,
): Promise<void> {
  const now = o.now ?? new Date();
  const pause = await controls.pauseState(partner);
  const window = windowStateFor(partner, now);
  const paused = pause.paused
    ? {
        detail:
          pause.source === 'config'
            ? 'paused: true in its config'
            : `by ${pause.by ?? '?'} at ${pause.at ?? '?'}${pause.reason ? `: ${pause.reason}` : ''}`,
      }
    : undefined;
  const windowClosed = window.open ? undefined : { detail: `opens ${window.nextOpen ?? 'not again'}` };
  o.out(
    `${partner.id}: s3://${partner.source.bucket}/${partner.source.prefix} → ${partner.target.host}:${partner.target.directory}`,
  );
  if (partner.events === true) {
    const last = await eventTimes.last(partner.id);
    o.out(`  events: on, last event ${last ?? 'never'} (POST /api/events/s3; the sweep still runs)`);
  }
  if (partner.shape) o.out(`  ${describeShapeSetting(partner.shape)}`);
  if (partner.manifest) o.out(`  ${describeManifestSetting({ ...partner, manifest: partner.manifest })}`);
  // A dated prefix: the partitions the next scheduled sweep lists (sweeps list nothing older).
  const prefixes = sweepPrefixes(partner.source, now, partner.schedule.timezone);
  if (partner.source.prefixTemplate) {
    o.out(
      `  lists ${prefixes.map((p) => `s3://${partner.source.bucket}/${p}`).join(', ')} (${partner.source.prefixTemplate.source}, lookbackDays ${partner.source.lookbackDays ?? DEFAULT_LOOKBACK_DAYS}; older: ferry sweep ${partner.id} --since 30d)`,
    );
  }
  const bandwidth = describeBandwidthSetting(
    partner.target.maxBytesPerSecond,
    o.config.totalMaxBytesPerSecond,
  );
  if (bandwidth !== undefined) o.out(`  ${bandwidth}`);
  const counts: PlanCounts = {};
  let listed = 0;
  let pages = 0;
  const markers = createMarkerLookup(source, partner.source.bucket, partner.source);
  const sameName = createSameNameCheck(partner);
  for await (const page of listPrefixes(
    source,
    partner.source.bucket,
    prefixes,
    o.config.service.sweep.pageSize,
  )) {
    pages += 1;
    listed += page.length;
    if (pages > 1) o.err(`${partner.id}: listed ${listed} objects…`);
    const present = await markers.forPage(page, now);
    const selection = selectObjects<SourceObject>(page, partner.source, now, present);
    const skipOf = new Map(selection.skipped.map((s) => [s.object, s.reason]));
    const ids = new Map(selection.eligible.map((obj) => [obj, deliveryIdFor(partner, obj)]));
    const statuses = await ledger.getStatuses([...ids.values()]);
    // Full records only where the status alone does not decide (reasons, error codes).
    const detailed = new Map(
      await Promise.all(
        [...ids.values()]
          .filter((id) => ['skipped', 'failed', 'quarantined'].includes(statuses.get(id) ?? ''))
          .map(async (id) => [id, await ledger.get(id)] as const),
      ),
    );
    for (const object of page) {
      const id = ids.get(object);
      const status = id === undefined ? undefined : statuses.get(id);
      const record = id === undefined ? undefined : detailed.get(id);
      const selectionSkip = skipOf.get(object);
      const name = remoteNameFor(partner, object);
      const same = selectionSkip === undefined ? sameName(object.key, name, status) : undefined;
      const outcome = planObject({
        ...(selectionSkip === undefined ? {} : { selectionSkip }),
        ...(status === undefined
          ? {}
          : {
              ledger: {
                status,
                settled: record ? isSettled(record) : status !== 'skipped',
                ...(record?.reason ? { reason: record.reason } : {}),
                ...(record?.lastErrorCode ? { lastErrorCode: record.lastErrorCode } : {}),
              },
            }),
        // A `{seq}` renders as `#`s here: its number is given only when the delivery runs.
        name,
        ...(namesUseSequence(partner) ? { numberAtDelivery: true } : {}),
        ...(same === undefined ? {} : { sameName: same }),
        directory: partner.target.directory,
        ...(paused ? { paused } : {}),
        ...(windowClosed ? { windowClosed } : {}),
      });
      countPlan(counts, outcome);
      o.out(formatPlanLine(object.key, outcome));
    }
  }
  o.out(formatPlanSummary(partner.id, listed, counts));
}

// Ledger states whose object is not (and will not be) on the server under its name.
const NOT_SENT = new Set(['quarantined', 'superseded', 'failed', 'skipped']);

/**
 * Remembers the remote name of every listed object that is or will be on the server and tells a later
 * one with the same name, as the sweep (name-collision) and the server (onExisting) will: a dated
 * prefix's partitions often hold the same file names. `{seq}` names never collide (and show as `#`s).
 */
function createSameNameCheck(
  partner: PartnerConfig,
): (
  key: string,
  name: ReturnType<typeof remoteNameFor>,
  status: string | undefined,
) => PlanFacts['sameName'] {
  const firstKeyOf = new Map<string, string>();
  const template = partner.naming?.filename;
  const fix =
    partner.source.prefixTemplate !== undefined && !template?.segments.some((s) => s.kind === 'partition')
      ? 'names repeating across partitions are told apart by {partition:…} in naming.filename'
      : undefined;
  // Key-derived names under a plain prefix are the keys themselves: unique, nothing to remember.
  const canRepeat =
    !namesUseSequence(partner) && (template !== undefined || partner.source.prefixTemplate !== undefined);
  return (key, name, status) => {
    if (!canRepeat || !name.ok || (status !== undefined && NOT_SENT.has(status))) return undefined;
    const first = firstKeyOf.get(name.name);
    if (first === undefined) firstKeyOf.set(name.name, key);
    if (first === undefined || first === key) return undefined;
    const acrossPartitions = keyPrefixFor(partner.source, first) !== keyPrefixFor(partner.source, key);
    return {
      as: first,
      then: template === undefined ? partner.target.onExisting : 'name-collision',
      ...(fix !== undefined && acrossPartitions ? { fix } : {}),
    };
  };
}

/** One line for `ferry plan`: what a partner's `shape` makes of each CSV. */
export function describeShapeSetting(shape: ShapeConfig): string {
  const columns = shape.columns
    .map((c) =>
      c.from === undefined
        ? `${c.as}="${c.value?.source ?? ''}"`
        : c.from === c.as
          ? c.as
          : `${c.as}←${c.from}`,
    )
    .join(', ');
  const format = [
    `delimiter ${JSON.stringify(shape.delimiter)}`,
    `quote ${shape.quote}`,
    shape.lineEnding,
    `${shape.encoding} (unmappable: ${shape.unmappable})`,
    shape.header ? 'header' : 'no header',
    ...(shape.trailer ? [`trailer "${shape.trailer.source}"`] : []),
  ];
  return `shape: ${columns}; ${format.join(', ')}`;
}
