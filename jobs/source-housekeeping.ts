// `after.source`: tags a delivered source object, or moves it once every partner it feeds has it.
// Best effort: called by the deliver processor after the ledger says delivered (and again by an
// `already-delivered` run); a failure is logged with an alert and never fails or redoes the delivery.
import type { ObjectSource } from '../src/adapters/ports.js';
import type { FerryConfig } from '../src/config/load-config.js';
import type { PartnerConfig } from '../src/config/schema.js';
import { classifyError } from '../src/core/classify-error.js';
import { computeDeliveryId } from '../src/core/delivery-id.js';
import {
  decideMove,
  deliveredTagKey,
  mergeTag,
  partnersSelecting,
  renderMoveTarget,
} from '../src/core/source-housekeeping.js';
import type { Ledger } from '../src/ledger/redis-ledger.js';
import { safeText, type Logger } from '../src/observability/logger.js';

export interface SourceHousekeepingDeps {
  getConfig(): FerryConfig;
  source: Pick<ObjectSource, 'getTags' | 'putTags' | 'copy' | 'remove'>;
  ledger: Pick<Ledger, 'getStatuses'>;
}

/** The delivered object version (job data fields). */
export interface DeliveredObject {
  bucket: string;
  key: string;
  etag: string;
  size: number;
}

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
  let step = 'tag';
  try {
    if (partner.after?.source === 'tag') await tagObject(deps, partner, object, deliveredMark, log);
    step = 'move';
    await moveWhenAllDelivered(deps, object, log);
  } catch (err) {
    const cause = classifyError(err, 's3');
    log.error(
      {
        errCode: 'ERR_SOURCE_HOUSEKEEPING',
        causeCode: cause.code,
        err: cause.message,
        step,
        alert: true,
      },
      `source housekeeping (${step}) failed; the delivery stands`,
    );
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
  object: DeliveredObject,
  log: Logger,
): Promise<void> {
  const partners = [...deps.getConfig().partners.values()];
  // The common case costs nothing: no partner moves anything.
  if (!partners.some((p) => typeof p.after?.source === 'object')) return;
  const selecting = partnersSelecting(partners, object);
  const { bucket, key, etag } = object;
  const ids = new Map(
    selecting.map((p) => [p.id, computeDeliveryId({ partnerId: p.id, bucket, key, etag })]),
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
    log.error(
      { errCode: 'ERR_SOURCE_HOUSEKEEPING', templates: decision.templates, alert: true },
      'partners fed by this object name different move targets: not moved',
    );
    return;
  }
  const target = renderMoveTarget(decision.template, object.key);
  if (target === undefined) {
    log.error(
      { errCode: 'ERR_SOURCE_HOUSEKEEPING', alert: true },
      'the move target rendered from this key is unsafe (".." segment, empty or the key itself): not moved',
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
