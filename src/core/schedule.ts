// Names and times of the per-partner sweep schedules. BullMQ evaluates the same cron expressions with
// the same cron-parser, so what this module predicts is what the scheduler does.
import { CronExpressionParser } from 'cron-parser';
import { FerryError } from '../errors.js';

const SCHEDULER_PREFIX = 'sweep-';

/** The BullMQ job-scheduler id of a partner's sweep; stable, so upserts from many processes converge. */
export function schedulerIdFor(partnerId: string): string {
  return `${SCHEDULER_PREFIX}${partnerId}`;
}

const ACK_SCHEDULER_PREFIX = 'acks-';

/** The job-scheduler id of a partner's answer reads (`ack.pollEveryMinutes`), beside its sweeps'. */
export function ackSchedulerIdFor(partnerId: string): string {
  return `${ACK_SCHEDULER_PREFIX}${partnerId}`;
}

/** The partner an answer-read scheduler id belongs to, or undefined. */
export function partnerIdFromAckSchedulerId(id: string): string | undefined {
  return id.startsWith(ACK_SCHEDULER_PREFIX) && id.length > ACK_SCHEDULER_PREFIX.length
    ? id.slice(ACK_SCHEDULER_PREFIX.length)
    : undefined;
}

const MANIFEST_SCHEDULER_PREFIX = 'manifests-';

/** The job-scheduler id of a partner's manifest checks (`manifest.checkEveryMinutes`). */
export function manifestSchedulerIdFor(partnerId: string): string {
  return `${MANIFEST_SCHEDULER_PREFIX}${partnerId}`;
}

/** The partner a manifest-check scheduler id belongs to, or undefined. */
export function partnerIdFromManifestSchedulerId(id: string): string | undefined {
  return id.startsWith(MANIFEST_SCHEDULER_PREFIX) && id.length > MANIFEST_SCHEDULER_PREFIX.length
    ? id.slice(MANIFEST_SCHEDULER_PREFIX.length)
    : undefined;
}

/** The partner a scheduler id belongs to, or undefined for ids Ferry did not create. */
export function partnerIdFromSchedulerId(id: string): string | undefined {
  return id.startsWith(SCHEDULER_PREFIX) && id.length > SCHEDULER_PREFIX.length
    ? id.slice(SCHEDULER_PREFIX.length)
    : undefined;
}

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
