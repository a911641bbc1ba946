// Names and times of the per-partner sweep schedules. BullMQ evaluates the same cron expressions with
// the same cron-parser, so what this module predicts is what the scheduler does.
import { CronExpressionParser } from 'cron-parser';
import { FerryError } from '../errors.js';

/**
 * A kind of per-partner job scheduler: its id for a partner (`<prefix><partnerId>`, stable, so upserts
 * from many processes converge) and the partner an id of that kind belongs to (undefined for others).
 */
function schedulerIds(prefix: string) {
  return {
    idFor: (partnerId: string): string => `${prefix}${partnerId}`,
    partnerIdOf: (id: string): string | undefined =>
      id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined,
  };
}

const SWEEPS = schedulerIds('sweep-');
const ACKS = schedulerIds('acks-');
const MANIFESTS = schedulerIds('manifests-');

/** The BullMQ job-scheduler id of a partner's sweep. */
export const schedulerIdFor = SWEEPS.idFor;
/** The partner a sweep scheduler id belongs to, or undefined for ids Ferry did not create. */
export const partnerIdFromSchedulerId = SWEEPS.partnerIdOf;
/** The job-scheduler id of a partner's answer reads (`ack.pollEveryMinutes`), beside its sweeps'. */
export const ackSchedulerIdFor = ACKS.idFor;
/** The partner an answer-read scheduler id belongs to, or undefined. */
export const partnerIdFromAckSchedulerId = ACKS.partnerIdOf;
/** The job-scheduler id of a partner's manifest checks (`manifest.checkEveryMinutes`). */
export const manifestSchedulerIdFor = MANIFESTS.idFor;
/** The partner a manifest-check scheduler id belongs to, or undefined. */
export const partnerIdFromManifestSchedulerId = MANIFESTS.partnerIdOf;

/** True when the runtime knows `timezone` as an IANA zone (e.g. "Europe/Berlin"). */
export function isValidTimeZone(timezone: string): boolean {
  if (timezone.length === 0) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The next `count` run times of `cron` in `timezone`, strictly after `from`. Wall-clock times follow
 * daylight saving: a time skipped by the spring change runs at the first instant after the gap
 * (02:30 → 03:30), a time repeated in autumn runs once. Throws ERR_CONFIG_INVALID for an invalid
 * expression or zone.
 */
export function nextRuns(cron: string, timezone: string, from: Date, count: number): Date[] {
  // cron-parser's own message for an unknown zone is cryptic; check first.
  if (!isValidTimeZone(timezone)) {
    throw new FerryError('ERR_CONFIG_INVALID', `unknown time zone ${JSON.stringify(timezone)}`, {
      details: { timezone },
    });
  }
  let expression;
  try {
    expression = CronExpressionParser.parse(cron, { currentDate: from, tz: timezone });
  } catch (err) {
    throw new FerryError('ERR_CONFIG_INVALID', `invalid cron expression ${JSON.stringify(cron)}`, {
      cause: err,
      details: { cron },
    });
  }
  const runs: Date[] = [];
  for (let i = 0; i < count; i += 1) runs.push(expression.next().toDate());
  return runs;
}
