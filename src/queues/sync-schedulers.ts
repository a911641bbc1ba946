import type { Queue } from 'bullmq';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import {
  ackSchedulerIdFor,
  manifestSchedulerIdFor,
  partnerIdFromAckSchedulerId,
  partnerIdFromManifestSchedulerId,
  partnerIdFromSchedulerId,
  schedulerIdFor,
} from '../core/schedule.js';
import type { Logger } from '../observability/logger.js';
import { JOB } from '../queues/names.js';
import { SWEEP_JOB_OPTIONS } from '../queues/queues.js';

export interface SyncResult {
  upserted: string[];
  unchanged: string[];
  removed: string[];
}

/**
 * Makes the sweep queue's job schedulers match the config: one per enabled partner (cron + timezone,
 * stable id), one more per enabled partner with `ack:` (its answer reads) and with `manifest:` (its
 * checks), none for removed or
 * disabled ones. Safe to run from several processes at once: ids are
 * stable and unchanged schedulers are left alone rather than re-upserted.
 */
export async function syncSchedulers(queue: Queue, config: FerryConfig, logger: Logger): Promise<SyncResult> {
  const result: SyncResult = { upserted: [], unchanged: [], removed: [] };
  const existing = new Map((await queue.getJobSchedulers(0, -1)).map((s) => [s.key, s]));
  for (const partner of config.partners.values()) {
    if (!partner.enabled) continue;
    const id = schedulerIdFor(partner.id);
    const current = existing.get(id);
    if (current && current.pattern === partner.schedule.cron && current.tz === partner.schedule.timezone) {
      result.unchanged.push(id);
      continue;
    }
    await queue.upsertJobScheduler(
      id,
      { pattern: partner.schedule.cron, tz: partner.schedule.timezone },
      { name: JOB.sweep, data: { v: 1, partnerId: partner.id, reason: 'schedule' }, opts: SWEEP_JOB_OPTIONS },
    );
    result.upserted.push(id);
  }
  // Besides its sweeps, a partner with `ack:` reads its answers every ack.pollEveryMinutes (a daily
  // sweep would leave an answer, or an overdue wait, unseen until the next day), and one with
  // `manifest:` checks every manifest.checkEveryMinutes whether one is due.
  for (const periodic of PERIODIC) {
    for (const partner of config.partners.values()) {
      const minutes = partner.enabled ? periodic.everyMinutes(partner) : undefined;
      if (minutes === undefined) continue;
      const id = periodic.idFor(partner.id);
      const every = minutes * 60_000;
      if (existing.get(id)?.every === every) {
        result.unchanged.push(id);
        continue;
      }
      await queue.upsertJobScheduler(
        id,
        { every },
        {
          name: JOB.sweep,
          data: { v: 1, partnerId: partner.id, reason: periodic.reason },
          opts: SWEEP_JOB_OPTIONS,
        },
      );
      result.upserted.push(id);
    }
  }
  for (const id of existing.keys()) {
    const sweepOf = partnerIdFromSchedulerId(id);
    const periodic = PERIODIC.find((p) => p.partnerIdOf(id) !== undefined);
    const partnerId = sweepOf ?? periodic?.partnerIdOf(id);
    if (partnerId === undefined) continue;
    const partner = config.partners.get(partnerId);
    const wanted =
      partner?.enabled === true && (sweepOf !== undefined || periodic?.everyMinutes(partner) !== undefined);
    if (!wanted) {
      await queue.removeJobScheduler(id);
      result.removed.push(id);
    }
  }
  if (result.upserted.length || result.removed.length) {
    logger.info({ upserted: result.upserted, removed: result.removed }, 'job schedulers updated');
  }
  return result;
}

/** The per-partner schedules besides the sweep's: each runs a sweep job with its own reason. */
const PERIODIC: readonly {
  reason: 'acks' | 'manifest';
  idFor(partnerId: string): string;
  partnerIdOf(id: string): string | undefined;
  everyMinutes(partner: PartnerConfig): number | undefined;
}[] = [
  {
    reason: 'acks',
    idFor: ackSchedulerIdFor,
    partnerIdOf: partnerIdFromAckSchedulerId,
    everyMinutes: (p) => p.ack?.pollEveryMinutes,
  },
  {
    reason: 'manifest',
    idFor: manifestSchedulerIdFor,
    partnerIdOf: partnerIdFromManifestSchedulerId,
    everyMinutes: (p) => p.manifest?.checkEveryMinutes,
  },
];
