// `after.source`: tags a delivered source object, or moves it once every partner it feeds has it.
// Best effort for the delivery: called by the deliver processor after the ledger says delivered (and
// again by an `already-delivered` run); a failure never fails or redoes the delivery. It is logged,
// alerted (`source-housekeeping-failed`) and recorded as pending in Redis, and the partner's sweeps
// retry pending entries (bounded in count and time per sweep, least recently tried first) until the
// step succeeds, the object is gone or replaced, or the config no longer asks for any step on it.
import type { ObjectSource } from '../src/core/ports.js';
import type { Alerter } from '../src/observability/alerter.js';
import type { FerryConfig } from '../src/config/load-config.js';
import type { PartnerConfig } from '../src/config/schema.js';
import { classifyError } from '../src/core/classify-error.js';
import { deliveryIdFor } from '../src/core/delivery-id.js';
import {
  decideMove,
  deliveredTagKey,
  mergeTag,
  partnersSelecting,
  renderMoveTarget,
} from '../src/core/source-housekeeping.js';
import type { HousekeepingPendingStore, PendingHousekeeping } from '../src/ledger/housekeeping-pending.js';
import type { Ledger } from '../src/ledger/redis-ledger.js';
import { safeText, type Logger } from '../src/observability/logger.js';

export interface SourceHousekeepingDeps {
  getConfig(): FerryConfig;
  source: Pick<ObjectSource, 'getTags' | 'putTags' | 'copy' | 'remove'>;
  ledger: Pick<Ledger, 'getStatuses'>;
  /** Where failed steps wait for a sweep to retry them (default: nowhere — the failure is only logged). */
  housekeepingPending?: HousekeepingPendingStore;
  /** Webhook alerts (default: none; the log line still carries `alert: true`). */
  alerts?: Pick<Alerter, 'notify'>;
  now?(): Date;
}

/** The delivered object version (job data fields). */
export interface DeliveredObject {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  /** The delivery's id, when known (a deliver job's, a pending entry's); else computed from the object. */
  deliveryId?: string;
  /** LastModified as listed (ISO): partners with `source.identity: version` need it for their ids. */
  lastModified?: string;
}

/** `done`: nothing (more) to do; `pending`: failed, recorded for a retry; `dropped`: the object is gone or replaced. */
export type HousekeepingOutcome = 'done' | 'pending' | 'dropped';

/** Pending entries one sweep retries at most: a dead S3 permission must not stall the partner's sweeps. */
export const HOUSEKEEPING_RETRIES_PER_SWEEP = 100;
/** Time after which a sweep starts no more retries (the rest wait for the next sweep). */
export const HOUSEKEEPING_RETRY_BUDGET_MS = 30_000;

/**
 * Runs `partner`'s tag step and, when a partner fed by the object asks for a move, the move if every
 * such partner has the object recorded delivered. Never throws.
 * `deliveredMark` is the tag value: the delivery time (ISO), or the delivery id when it is unknown.
 */
export async function runSourceHousekeeping(
  deps: SourceHousekeepingDeps,
  partner: PartnerConfig,
  object: DeliveredObject,
  deliveredMark: string,
  log: Logger,
): Promise<void> {
  await housekeep(deps, partner, object, deliveredMark, log);
}

/** runSourceHousekeeping, telling what came of it (the sweep's retry pass counts outcomes). */
async function housekeep(
  deps: SourceHousekeepingDeps,
  partner: PartnerConfig,
  object: DeliveredObject,
  deliveredMark: string,
  log: Logger,
): Promise<HousekeepingOutcome> {
  const tags = partner.after?.source === 'tag';
  // The common case costs nothing: no tag for this partner and no partner moves anything.
  if (!tags && !anyPartnerMoves(deps.getConfig())) return 'done';
  const deliveryId = object.deliveryId ?? deliveryIdFor(partner, object);
  let step = 'tag';
  try {
    if (tags) await tagObject(deps, partner, object, deliveredMark, log);
    step = 'move';
    await moveWhenAllDelivered(deps, partner.id, deliveryId, object, log);
  } catch (err) {
    const cause = classifyError(err, 's3');
    if (cause.code === 'ERR_SOURCE_GONE' || cause.code === 'ERR_SOURCE_CHANGED') {
      log.info({ reason: cause.code, step }, 'source object gone or replaced: housekeeping dropped');
      await resolvePending(deps, partner.id, deliveryId, log);
      return 'dropped';
    }
    const attempts = await recordPending(
      deps,
      {
        deliveryId,
        partnerId: partner.id,
        bucket: object.bucket,
        key: object.key,
        etag: object.etag,
        size: object.size,
        mark: deliveredMark,
        lastErrCode: cause.code,
        step,
      },
      log,
    );
    log.error(
      {
        errCode: 'ERR_SOURCE_HOUSEKEEPING',
        causeCode: cause.code,
        err: cause.message,
        step,
        ...(attempts === undefined ? {} : { housekeepingAttempts: attempts }),
        alert: true,
      },
      `source housekeeping (${step}) failed; the delivery stands${
        attempts === undefined ? '' : ", the partner's sweeps retry it"
      }`,
    );
    deps.alerts?.notify({
      kind: 'source-housekeeping-failed',
      partnerId: partner.id,
      errCode: cause.code,
      message: `after.source ${step} failed (${cause.message}); the delivery stands${
        attempts === undefined ? '' : ' and the sweeps retry it'
      }`,
      deliveryId,
      s3Key: object.key,
      ...(attempts === undefined ? {} : { attempts }),
    });
    return 'pending';
  }
  await resolvePending(deps, partner.id, deliveryId, log);
  return 'done';
}

/** What one sweep's retry pass did. */
export interface HousekeepingRetrySummary {
  retried: number;
  /** Succeeded, or the config no longer asks for any step on the object (the entry is cleared). */
  done: number;
  dropped: number;
  stillPending: number;
  /** Read for this pass but not started: the time budget was spent (they wait for the next sweep). */
  deferred: number;
}

export interface HousekeepingRetryOptions {
  /** Entries read per pass (default HOUSEKEEPING_RETRIES_PER_SWEEP). */
  limit?: number;
  /** No retry starts after this long (default HOUSEKEEPING_RETRY_BUDGET_MS); the first always runs. */
  budgetMs?: number;
}

type RetryDeps = SourceHousekeepingDeps & {
  housekeepingPending: HousekeepingPendingStore;
  source: Pick<ObjectSource, 'head'>;
};

/**
 * Retries the partner's pending housekeeping, least recently tried first (a failed retry goes to the
 * back), at most `limit` entries and only while the time budget lasts, each through
 * runSourceHousekeeping. An entry the config no longer asks anything for is cleared without an S3 call;
 * otherwise the object version is checked first (HeadObject ETag): a tag must never land on a newer
 * object under the same key. Never throws.
 */
export async function retryPendingHousekeeping(
  deps: RetryDeps,
  partner: PartnerConfig,
  log: Logger,
  options: HousekeepingRetryOptions = {},
): Promise<HousekeepingRetrySummary> {
  const { limit = HOUSEKEEPING_RETRIES_PER_SWEEP, budgetMs = HOUSEKEEPING_RETRY_BUDGET_MS } = options;
  const summary: HousekeepingRetrySummary = { retried: 0, done: 0, dropped: 0, stillPending: 0, deferred: 0 };
  let entries: PendingHousekeeping[];
  try {
    entries = await deps.housekeepingPending.oldest(partner.id, limit);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'pending source housekeeping could not be read');
    return summary;
  }
  const started = performance.now();
  for (const [n, entry] of entries.entries()) {
    // Slow S3 answers must not hold the sweep: the rest keep their place for the next pass.
    if (n > 0 && performance.now() - started >= budgetMs) {
      summary.deferred = entries.length - n;
      break;
    }
    const entryLog = log.child({
      deliveryId: entry.deliveryId,
      trackingId: entry.deliveryId,
      s3Key: safeText(entry.key),
      housekeepingRetry: entry.attempts,
    });
    summary.retried += 1;
    const outcome = !stepsWanted(deps.getConfig(), partner, entry)
      ? await clearUnwanted(deps, entry, entryLog)
      : (await sameVersion(deps, entry, entryLog))
        ? await housekeep(deps, partner, entry, entry.mark, entryLog)
        : 'dropped';
    summary[outcome === 'pending' ? 'stillPending' : outcome] += 1;
  }
  if (summary.retried > 0) {
    // What is still waiting (beyond this pass's bounds too): the figure an operator watches shrink.
    const remaining = await deps.housekeepingPending.count(partner.id).catch(() => undefined);
    log.info(
      { ...summary, remaining, ...(summary.deferred > 0 ? { budgetMs } : {}) },
      summary.deferred > 0
        ? 'pending source housekeeping retried until the time budget was spent'
        : 'pending source housekeeping retried',
    );
  }
  return summary;
}

/**
 * Whether the config still asks for a step on this object: a tag by this partner, or a move by a
 * partner whose source selects it. Config only, no S3 call.
 */
function stepsWanted(config: FerryConfig, partner: PartnerConfig, object: DeliveredObject): boolean {
  if (partner.after?.source === 'tag') return true;
  if (!anyPartnerMoves(config)) return false;
  return partnersSelecting(config.partners.values(), object).some((p) => typeof p.after?.source === 'object');
}

/** `after.source` was turned off (or the move no longer applies): the entry has nothing left to redo. */
async function clearUnwanted(
  deps: RetryDeps,
  entry: PendingHousekeeping,
  log: Logger,
): Promise<HousekeepingOutcome> {
  log.info({ step: entry.step }, 'after.source no longer asks for this step: pending housekeeping cleared');
  await resolvePending(deps, entry.partnerId, entry.deliveryId, log);
  return 'done';
}

/** Whether the entry's object version is still there (HeadObject); a gone or replaced one is dropped here. */
async function sameVersion(deps: RetryDeps, entry: PendingHousekeeping, log: Logger): Promise<boolean> {
  let reason: 'ERR_SOURCE_GONE' | 'ERR_SOURCE_CHANGED';
  try {
    const current = await deps.source.head(entry.bucket, entry.key);
    if (current !== undefined && current.etag === entry.etag) return true;
    reason = current === undefined ? 'ERR_SOURCE_GONE' : 'ERR_SOURCE_CHANGED';
  } catch {
    return true; // not a version answer (e.g. AccessDenied): the step itself will tell
  }
  log.info({ reason }, 'source object gone or replaced: pending housekeeping dropped');
  await resolvePending(deps, entry.partnerId, entry.deliveryId, log);
  return false;
}

function anyPartnerMoves(config: FerryConfig): boolean {
  for (const p of config.partners.values()) if (typeof p.after?.source === 'object') return true;
  return false;
}

/** Records the failure; undefined when Redis is unavailable (the log line and alert still go out). */
async function recordPending(
  deps: SourceHousekeepingDeps,
  failure: Parameters<HousekeepingPendingStore['recordFailure']>[0],
  log: Logger,
): Promise<number | undefined> {
  if (!deps.housekeepingPending) return undefined;
  try {
    return await deps.housekeepingPending.recordFailure(failure, deps.now?.() ?? new Date());
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'failed source housekeeping could not be recorded for a retry');
    return undefined;
  }
}

async function resolvePending(
  deps: SourceHousekeepingDeps,
  partnerId: string,
  deliveryId: string,
  log: Logger,
): Promise<void> {
  if (!deps.housekeepingPending) return;
  try {
    if (await deps.housekeepingPending.resolve(partnerId, deliveryId)) {
      log.info('pending source housekeeping completed');
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'pending source housekeeping could not be cleared');
  }
}

async function tagObject(
  deps: SourceHousekeepingDeps,
  partner: PartnerConfig,
  object: DeliveredObject,
  value: string,
  log: Logger,
): Promise<void> {
  const tagKey = deliveredTagKey(partner.id);
  const merged = mergeTag(await deps.source.getTags(object.bucket, object.key), tagKey, value);
  if (merged.kind === 'full') {
    log.warn(
      { errCode: 'ERR_SOURCE_HOUSEKEEPING', tag: tagKey },
      'source object already has 10 tags: delivered tag not added',
    );
    return;
  }
  if (merged.kind === 'unchanged') return;
  await deps.source.putTags(object.bucket, object.key, merged.tags);
  log.debug({ tag: tagKey }, 'source object tagged');
}

async function moveWhenAllDelivered(
  deps: SourceHousekeepingDeps,
  partnerId: string,
  deliveryId: string,
  object: DeliveredObject,
  log: Logger,
): Promise<void> {
  const partners = [...deps.getConfig().partners.values()];
  if (!partners.some((p) => typeof p.after?.source === 'object')) return;
  // A config problem, not a transient one: alerted, not retried (a retry would fail the same way).
  const configProblem = (message: string, facts: Record<string, unknown>): void => {
    log.error({ errCode: 'ERR_SOURCE_HOUSEKEEPING', ...facts, alert: true }, message);
    deps.alerts?.notify({
      kind: 'source-housekeeping-failed',
      partnerId,
      errCode: 'ERR_SOURCE_HOUSEKEEPING',
      message,
      deliveryId,
      s3Key: object.key,
    });
  };
  const selecting = partnersSelecting(partners, object);
  const { bucket, key, etag } = object;
  // A version partner's id needs LastModified; unknown (a pending entry), it counts as not delivered:
  // the move waits rather than taking the object from a partner that may not have it yet.
  const ids = new Map(
    selecting.flatMap((p) =>
      p.id === partnerId
        ? [[p.id, deliveryId] as const]
        : p.source.identity === 'version' && object.lastModified === undefined
          ? []
          : [[p.id, deliveryIdFor(p, { bucket, key, etag, lastModified: object.lastModified })] as const],
    ),
  );
  const statuses = await deps.ledger.getStatuses([...ids.values()]);
  const delivered = new Set([...ids].filter(([, id]) => statuses.get(id) === 'delivered').map(([p]) => p));
  const decision = decideMove(selecting, delivered);
  if (decision.kind === 'none') return;
  if (decision.kind === 'wait') {
    log.debug({ waitingFor: decision.pending }, 'source move waits for other partners');
    return;
  }
  if (decision.kind === 'conflict') {
    configProblem('partners fed by this object name different move targets: not moved', {
      templates: decision.templates,
    });
    return;
  }
  const target = renderMoveTarget(decision.template, object.key);
  if (target === undefined) {
    configProblem(
      'the move target rendered from this key is unsafe (".." segment, empty or the key itself): not moved',
      {},
    );
    return;
  }
  try {
    await deps.source.copy(object.bucket, object.key, target, object.etag);
    await deps.source.remove(object.bucket, object.key, object.etag);
  } catch (err) {
    const code = classifyError(err, 's3').code;
    // Another partner's last run moved it first, or the object was replaced: nothing left to do.
    if (code === 'ERR_SOURCE_GONE' || code === 'ERR_SOURCE_CHANGED') {
      log.info({ reason: code }, 'source object already moved or replaced: not moved');
      return;
    }
    throw err;
  }
  log.info({ movedTo: safeText(target) }, 'source object moved after every partner received it');
}
