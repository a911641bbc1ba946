// Delivery windows: the wall-clock hours (in the partner's schedule timezone) in which deliveries may
// start. Pure: the clock is a parameter, and time-zone rules come from the runtime's Intl data.
import { addDays, zonedParts, zonedTimeToInstant, type Weekday } from './zoned-time.js';

export { WEEKDAYS, isCalendarDate, type Weekday } from './zoned-time.js';

/** A partner's `window` (times "HH:MM", dates "YYYY-MM-DD", both in the schedule timezone). */
export interface DeliveryWindow {
  start: string;
  end: string;
  days: readonly Weekday[];
  blackoutDates: readonly string[];
}

/** Whether the window is open at an instant, and the instants of its next change. */
export interface WindowStatus {
  open: boolean;
  /** The next opening after `now` (after the current opening closes, when open). Undefined: never again. */
  nextOpen?: Date;
  /** When open: the end of the current opening. */
  nextClose?: Date;
}

/** How far ahead openings are searched: a year of blackout dates still finds the next one. */
const HORIZON_DAYS = 800;

/** "01:30" → 90. Assumes the schema checked the format. */
export function minutesOfDay(time: string): number {
  const [h, m] = time.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * The opening that starts on calendar date `date`, or undefined when that date is not one of the
 * window's `days` or is a blackout date. An end at or before the start crosses midnight: the opening
 * ends on the next date (so `days` and `blackoutDates` name the date an opening *starts* on).
 */
export function openingOn(
  window: DeliveryWindow,
  timezone: string,
  date: string,
): { open: Date; close: Date } | undefined {
  if (window.blackoutDates.includes(date)) return undefined;
  const weekday = zonedParts(zonedTimeToInstant(date, 12 * 60, timezone), timezone).weekday;
  if (!window.days.includes(weekday)) return undefined;
  const start = minutesOfDay(window.start);
  const end = minutesOfDay(window.end);
  const open = zonedTimeToInstant(date, start, timezone);
  const close = zonedTimeToInstant(end > start ? date : addDays(date, 1), end, timezone);
  // A start shifted past the end by a spring DST change (02:30-03:00 that night): no opening that day.
  return close.getTime() > open.getTime() ? { open, close } : undefined;
}

/**
 * Is `now` inside the window, and when does it next open (and close)? Openings are half-open
 * intervals [start, end). Daylight saving: a start or end skipped by the spring change falls at the
 * instant after the gap (02:30 → 03:30, as cron does); one repeated in autumn is its first occurrence.
 */
export function windowStatus(window: DeliveryWindow, timezone: string, now: Date): WindowStatus {
  const t = now.getTime();
  // An opening that started yesterday may still be open (crossing midnight).
  let date = addDays(zonedParts(now, timezone).date, -1);
  let current: { open: Date; close: Date } | undefined;
  for (let i = 0; i < HORIZON_DAYS; i += 1, date = addDays(date, 1)) {
    const opening = openingOn(window, timezone, date);
    if (!opening) continue;
    if (opening.open.getTime() <= t && t < opening.close.getTime() && !current) {
      current = opening;
      continue;
    }
    if (opening.open.getTime() > t) {
      // Back-to-back openings (e.g. 22:00-22:00 is rejected, but 00:00-23:59 daily nearly touch) stay separate.
      return current
        ? { open: true, nextClose: current.close, nextOpen: opening.open }
        : { open: false, nextOpen: opening.open };
    }
  }
  return current ? { open: true, nextClose: current.close } : { open: false };
}

/**
 * How long a delivery found outside the window waits: until the next opening plus up to `jitterMs`
 * (so a backlog does not start all at once), or `fallbackMs` when the window never opens again.
 * 0 when the window is open now.
 */
export function delayUntilOpen(
  window: DeliveryWindow,
  timezone: string,
  now: Date,
  opts: { jitterMs: number; fallbackMs: number; random?: () => number },
): number {
  const status = windowStatus(window, timezone, now);
  if (status.open) return 0;
  if (!status.nextOpen) return opts.fallbackMs;
  const jitter = Math.floor((opts.random ?? Math.random)() * opts.jitterMs);
  return Math.max(1, status.nextOpen.getTime() - now.getTime()) + jitter;
}
