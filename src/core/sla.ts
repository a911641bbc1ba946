// Daily delivery SLA (`expect`): which day's deadline applies, and where a partner stands against it.
// Pure: counts and the clock are parameters; the SLA checker (src/partners/) reads them from Redis.
import { minutesOfDay, openingOn, type DeliveryWindow } from './delivery-window.js';
import { addDays, zonedParts, zonedTimeToInstant } from './zoned-time.js';

/** A partner's `expect` ("HH:MM" in the schedule timezone). */
export interface SlaExpectation {
  by: string;
  atLeast: number;
  warnBeforeMinutes: number;
}

/** One SLA day: its calendar date (schedule timezone) and the deadline instant on it. */
export interface SlaDay {
  day: string;
  deadline: Date;
}

export type SlaStatusValue = 'ok' | 'pending' | 'warning' | 'missed' | 'missing-export';

export interface SlaEvaluation {
  status: SlaStatusValue;
  /** Files found for the day and not delivered (by the deadline, once it passed). */
  late: number;
  /** How many objects short of `atLeast`. */
  shortBy: number;
}

const HORIZON_DAYS = 800;

/** The deadline on calendar date `day`. */
export function slaDeadlineOn(day: string, by: string, timezone: string): Date {
  return zonedTimeToInstant(day, minutesOfDay(by), timezone);
}

/**
 * The SLA day shown for `now`: today (in `timezone`) when the SLA applies today — before its deadline
 * it is in progress, after it the day's outcome stays until midnight. undefined when it does not
 * apply today (`appliesOn`, e.g. outside the window's days).
 */
export function currentSlaDay(
  now: Date,
  by: string,
  timezone: string,
  appliesOn: (day: string) => boolean = () => true,
): SlaDay | undefined {
  const today = zonedParts(now, timezone).date;
  return appliesOn(today) ? { day: today, deadline: slaDeadlineOn(today, by, timezone) } : undefined;
}

/**
 * The SLA day an object found at `now` counts toward: the first day the SLA applies whose deadline is
 * at or after `now`. So a file exported at 23:00 counts toward tomorrow's 06:00 deadline, and one
 * found on Friday evening toward Monday's when the SLA applies on weekdays only.
 */
export function collectingSlaDay(
  now: Date,
  by: string,
  timezone: string,
  appliesOn: (day: string) => boolean = () => true,
): SlaDay | undefined {
  let day = zonedParts(now, timezone).date;
  for (let i = 0; i < HORIZON_DAYS; i += 1, day = addDays(day, 1)) {
    if (!appliesOn(day)) continue;
    const deadline = slaDeadlineOn(day, by, timezone);
    if (deadline.getTime() >= now.getTime()) return { day, deadline };
  }
  return undefined;
}

/**
 * Where a day stands. `found`: objects the day's sweeps found to deliver by the deadline; `delivered`:
 * how many of them are delivered (by the deadline, once it has passed).
 * - before `deadline − warnBeforeMinutes`: `ok` when at least `atLeast` were found and all delivered, else `pending`;
 * - from then until the deadline: `warning` unless ok;
 * - from the deadline: `missing-export` when fewer than `atLeast` were found, else `missed` when any
 *   found file was not delivered, else `ok`.
 */
export function evaluateSla(input: {
  now: Date;
  deadline: Date;
  warnBeforeMinutes: number;
  atLeast: number;
  found: number;
  delivered: number;
}): SlaEvaluation {
  const late = Math.max(0, input.found - input.delivered);
  const shortBy = Math.max(0, input.atLeast - input.found);
  const complete = late === 0 && shortBy === 0;
  const t = input.now.getTime();
  const deadline = input.deadline.getTime();
  let status: SlaStatusValue;
  if (t >= deadline) status = shortBy > 0 ? 'missing-export' : late > 0 ? 'missed' : 'ok';
  else if (complete) status = 'ok';
  else status = t >= deadline - input.warnBeforeMinutes * 60_000 ? 'warning' : 'pending';
  return { status, late, shortBy };
}

/** The alerts the SLA checker raises. */
export type SlaAlertKind = 'sla-warning' | 'sla-missed' | 'missing-export';

/**
 * Whether an SLA alert is held back. A pause (config `paused: true` or `ferry pause`) is an operator's
 * decision, so a paused partner raises none of them: not sla-warning / sla-missed (its deliveries wait
 * on purpose), and not missing-export either — its scheduled sweeps do not list the bucket, so "found
 * nothing" says nothing about the export. The state itself is still evaluated and shown.
 */
export function isSlaAlertSuppressed(_kind: SlaAlertKind, paused: boolean): boolean {
  return paused;
}

/** The `ferry_sla_state` gauge value: 0 ok/none, 1 pending, 2 warning, 3 missed or missing export. */
export function slaStateGaugeValue(status: SlaStatusValue | 'none'): 0 | 1 | 2 | 3 {
  switch (status) {
    case 'pending':
      return 1;
    case 'warning':
      return 2;
    case 'missed':
    case 'missing-export':
      return 3;
    default:
      return 0;
  }
}

/**
 * Whether the SLA applies to `day` when deliveries only run inside `window`: some opening of the
 * window overlaps the day's collection period (the previous day's deadline, this day's deadline].
 * Days the window never opens for (weekends, blackout dates) have no SLA.
 */
export function windowAllowsSlaDay(
  window: DeliveryWindow,
  timezone: string,
  by: string,
  day: string,
): boolean {
  const from = slaDeadlineOn(addDays(day, -1), by, timezone).getTime();
  const to = slaDeadlineOn(day, by, timezone).getTime();
  for (const d of [addDays(day, -2), addDays(day, -1), day]) {
    const opening = openingOn(window, timezone, d);
    if (opening && opening.open.getTime() < to && opening.close.getTime() > from) return true;
  }
  return false;
}
