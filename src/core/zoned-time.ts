// Wall-clock time in an IANA time zone, with the runtime's Intl data (no dependency). Pure.

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOUR_MS = 3_600_000;

/** True for a real calendar date written "YYYY-MM-DD" ("2026-02-30" is not). */
export function isCalendarDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** "2026-03-29" plus `days` (may be negative). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A formatter of `timezone`'s wall clock (year … second, 24 h, weekday), one per zone. */
export function zonedFormatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** The wall clock at `instant` in `timezone`: calendar date, weekday and minute of the day. */
export function zonedParts(
  instant: Date,
  timezone: string,
): { date: string; weekday: Weekday; minutes: number; offsetMs: number } {
  const parts: Record<string, string> = {};
  for (const p of zonedFormatter(timezone).formatToParts(instant)) parts[p.type] = p.value;
  const [y, mo, d, h, mi, s] = ['year', 'month', 'day', 'hour', 'minute', 'second'].map((k) =>
    Number(parts[k]),
  ) as [number, number, number, number, number, number];
  const wallAsUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  const seconds = Math.floor(instant.getTime() / 1000) * 1000;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: parts.weekday!.toLowerCase().slice(0, 3) as Weekday,
    minutes: h * 60 + mi,
    offsetMs: wallAsUtc - seconds,
  };
}

/**
 * The instant the wall clock of `timezone` shows `minutes` past midnight on `date`. A time skipped by a
 * spring DST change maps to the instant after the gap, shifted by the gap (02:30 → 03:30, as cron-parser
 * does); a time repeated in autumn maps to its first occurrence.
 */
export function zonedTimeToInstant(date: string, minutes: number, timezone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const wallAsUtc = Date.UTC(y, m - 1, d, Math.floor(minutes / 60), minutes % 60);
  // Offsets in force well before and well after: a zone changes offset at most once in 36 hours.
  const before = zonedParts(new Date(wallAsUtc - 18 * HOUR_MS), timezone).offsetMs;
  const after = zonedParts(new Date(wallAsUtc + 18 * HOUR_MS), timezone).offsetMs;
  const candidates = [...new Set([before, after])]
    .map((offset) => wallAsUtc - offset)
    .sort((a, b) => a - b)
    .filter((t) => {
      const p = zonedParts(new Date(t), timezone);
      return p.date === date && p.minutes === minutes;
    });
  return new Date(candidates[0] ?? wallAsUtc - before);
}
