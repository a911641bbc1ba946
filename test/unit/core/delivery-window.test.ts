import { describe, expect, it } from 'vitest';
import {
  delayUntilOpen,
  openingOn,
  windowStatus,
  type DeliveryWindow,
} from '../../../src/core/delivery-window.js';
import { addDays, isCalendarDate, zonedParts, zonedTimeToInstant } from '../../../src/core/zoned-time.js';

const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

function windowOf(overrides: Partial<DeliveryWindow> = {}): DeliveryWindow {
  return { start: '01:00', end: '05:00', days: EVERY_DAY, blackoutDates: [], ...overrides };
}

const at = (iso: string) => new Date(iso);
const isoOf = (d: Date | undefined) => d?.toISOString();

describe('zoned time', () => {
  it('reads the wall clock of a zone, with its weekday', () => {
    // 2026-01-05 is a Monday; New York is UTC-5 in winter.
    expect(zonedParts(at('2026-01-05T04:30:00Z'), 'America/New_York')).toMatchObject({
      date: '2026-01-04',
      weekday: 'sun',
      minutes: 23 * 60 + 30,
    });
  });

  it('maps a wall-clock time to its instant on either side of a DST change', () => {
    expect(isoOf(zonedTimeToInstant('2026-03-28', 60, 'Europe/Berlin'))).toBe('2026-03-28T00:00:00.000Z');
    expect(isoOf(zonedTimeToInstant('2026-03-30', 60, 'Europe/Berlin'))).toBe('2026-03-29T23:00:00.000Z');
  });

  it('maps a time skipped in spring to the instant after the gap, shifted like cron (02:30 → 03:30)', () => {
    const instant = zonedTimeToInstant('2026-03-29', 150, 'Europe/Berlin');
    expect(isoOf(instant)).toBe('2026-03-29T01:30:00.000Z');
    expect(zonedParts(instant, 'Europe/Berlin').minutes).toBe(210);
  });

  it('maps a time repeated in autumn to its first occurrence', () => {
    // Berlin 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens at 00:30Z and at 01:30Z.
    expect(isoOf(zonedTimeToInstant('2026-10-25', 150, 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
    // New York 2026-11-01: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
    expect(isoOf(zonedTimeToInstant('2026-11-01', 90, 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z');
  });

  it.each([
    ['2026-12-25', true],
    ['2028-02-29', true],
    ['2026-02-29', false],
    ['2026-13-01', false],
    ['26-12-25', false],
    ['2026-12-25T00:00', false],
  ])('isCalendarDate(%j) is %j', (text, expected) => {
    expect(isCalendarDate(text)).toBe(expected);
  });

  it('adds days across month and year ends', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });
});

describe('windowStatus', () => {
  it('is open inside the window and says when it closes and opens next', () => {
    expect(windowStatus(windowOf(), 'UTC', at('2026-01-05T02:00:00Z'))).toEqual({
      open: true,
      nextClose: at('2026-01-05T05:00:00Z'),
      nextOpen: at('2026-01-06T01:00:00Z'),
    });
  });

  it('treats the window as [start, end): open at the start minute, closed at the end minute', () => {
    expect(windowStatus(windowOf(), 'UTC', at('2026-01-05T01:00:00Z')).open).toBe(true);
    expect(windowStatus(windowOf(), 'UTC', at('2026-01-05T05:00:00Z'))).toEqual({
      open: false,
      nextOpen: at('2026-01-06T01:00:00Z'),
    });
  });

  it('before the opening, the next opening is today', () => {
    expect(windowStatus(windowOf(), 'UTC', at('2026-01-05T00:59:59Z'))).toEqual({
      open: false,
      nextOpen: at('2026-01-05T01:00:00Z'),
    });
  });

  it('reads the times in the schedule timezone', () => {
    // 01:00-05:00 New York (UTC-5) = 06:00-10:00Z in January.
    const w = windowOf();
    expect(windowStatus(w, 'America/New_York', at('2026-01-05T02:00:00Z')).open).toBe(false);
    expect(windowStatus(w, 'America/New_York', at('2026-01-05T07:00:00Z'))).toMatchObject({
      open: true,
      nextClose: at('2026-01-05T10:00:00Z'),
    });
  });

  describe('a window crossing midnight (22:00-04:00)', () => {
    const w = windowOf({ start: '22:00', end: '04:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'] });

    it('is open after midnight, in the opening that started the day before', () => {
      // Tuesday 02:00 belongs to Monday's opening.
      expect(windowStatus(w, 'UTC', at('2026-01-06T02:00:00Z'))).toEqual({
        open: true,
        nextClose: at('2026-01-06T04:00:00Z'),
        nextOpen: at('2026-01-06T22:00:00Z'),
      });
    });

    it('days name the day an opening starts on: Saturday 02:00 is open (Friday night), Monday 02:00 is not', () => {
      expect(windowStatus(w, 'UTC', at('2026-01-10T02:00:00Z')).open).toBe(true);
      expect(windowStatus(w, 'UTC', at('2026-01-12T02:00:00Z'))).toEqual({
        open: false,
        nextOpen: at('2026-01-12T22:00:00Z'),
      });
    });

    it('after Friday night, the next opening is Monday night', () => {
      expect(windowStatus(w, 'UTC', at('2026-01-10T12:00:00Z'))).toEqual({
        open: false,
        nextOpen: at('2026-01-12T22:00:00Z'),
      });
    });
  });

  describe('days filter and blackout dates', () => {
    it('skips days not listed', () => {
      const w = windowOf({ days: ['mon', 'wed'] });
      // Monday 2026-01-05 after the window → Wednesday.
      expect(windowStatus(w, 'UTC', at('2026-01-05T06:00:00Z')).nextOpen).toEqual(at('2026-01-07T01:00:00Z'));
    });

    it('a blackout date has no opening, and the next one is the day after', () => {
      const w = windowOf({ blackoutDates: ['2026-12-25'] });
      expect(windowStatus(w, 'UTC', at('2026-12-25T02:00:00Z'))).toEqual({
        open: false,
        nextOpen: at('2026-12-26T01:00:00Z'),
      });
      expect(openingOn(w, 'UTC', '2026-12-25')).toBeUndefined();
    });

    it('blackout dates are calendar dates of the schedule timezone', () => {
      const w = windowOf({ start: '20:00', end: '23:00', blackoutDates: ['2026-12-25'] });
      // 2026-12-25T02:00Z is still Dec 24, 21:00 in New York: open.
      expect(windowStatus(w, 'America/New_York', at('2026-12-25T02:00:00Z')).open).toBe(true);
      expect(windowStatus(w, 'America/New_York', at('2026-12-26T02:00:00Z')).open).toBe(false);
    });

    it('an opening that started the day before a blackout date runs to its end', () => {
      const w = windowOf({ start: '22:00', end: '04:00', blackoutDates: ['2026-12-25'] });
      expect(windowStatus(w, 'UTC', at('2026-12-25T03:00:00Z')).open).toBe(true);
      expect(windowStatus(w, 'UTC', at('2026-12-25T23:00:00Z')).open).toBe(false);
    });

    it('a window that never opens again has no next opening', () => {
      const w = windowOf({ days: ['mon'], blackoutDates: [] });
      const never: DeliveryWindow = { ...w, days: [] };
      expect(windowStatus(never, 'UTC', at('2026-01-05T02:00:00Z'))).toEqual({ open: false });
    });
  });

  describe('daylight saving time (Europe/Berlin)', () => {
    const tz = 'Europe/Berlin';

    it('keeps the wall-clock times on both sides of the spring change', () => {
      const w = windowOf({ start: '01:00', end: '05:00' });
      // Saturday 2026-03-28 CET (UTC+1): 00:00Z-04:00Z. Sunday 29th: 01:00 CET = 00:00Z, 05:00 CEST = 03:00Z.
      expect(openingOn(w, tz, '2026-03-28')).toEqual({
        open: at('2026-03-28T00:00:00Z'),
        close: at('2026-03-28T04:00:00Z'),
      });
      expect(openingOn(w, tz, '2026-03-29')).toEqual({
        open: at('2026-03-29T00:00:00Z'),
        close: at('2026-03-29T03:00:00Z'),
      });
      expect(windowStatus(w, tz, at('2026-03-29T03:30:00Z')).open).toBe(false);
      expect(windowStatus(w, tz, at('2026-03-29T02:30:00Z')).open).toBe(true);
    });

    it('a start inside the skipped hour opens right after the gap, shifted like cron', () => {
      const w = windowOf({ start: '02:30', end: '06:00' });
      expect(openingOn(w, tz, '2026-03-29')?.open).toEqual(at('2026-03-29T01:30:00Z')); // 03:30 CEST
    });

    it('a window entirely inside the skipped hour is shifted by the gap, like cron', () => {
      const w = windowOf({ start: '02:00', end: '02:59' });
      expect(openingOn(w, tz, '2026-03-29')).toEqual({
        open: at('2026-03-29T01:00:00Z'), // 03:00 CEST
        close: at('2026-03-29T01:59:00Z'),
      });
    });

    it('an opening that ends right after a start shifted by the gap is empty that day', () => {
      const w = windowOf({ start: '02:30', end: '03:00' });
      expect(openingOn(w, tz, '2026-03-29')).toBeUndefined();
      expect(windowStatus(w, tz, at('2026-03-29T00:30:00Z')).nextOpen).toEqual(at('2026-03-30T00:30:00Z'));
    });

    it('an autumn opening across the repeated hour lasts an hour longer', () => {
      const w = windowOf({ start: '01:00', end: '05:00' });
      const opening = openingOn(w, tz, '2026-10-25')!;
      expect(opening.close.getTime() - opening.open.getTime()).toBe(5 * 3_600_000);
    });

    it('a window crossing midnight on the night of the change', () => {
      const w = windowOf({ start: '23:00', end: '03:00' });
      // Sat 2026-03-28 23:00 CET = 22:00Z; Sun 03:00 CEST = 01:00Z: three real hours.
      expect(openingOn(w, tz, '2026-03-28')).toEqual({
        open: at('2026-03-28T22:00:00Z'),
        close: at('2026-03-29T01:00:00Z'),
      });
    });
  });

  it('New York spring change: 01:00-05:00 on 2026-03-08 is 06:00Z-09:00Z', () => {
    expect(openingOn(windowOf(), 'America/New_York', '2026-03-08')).toEqual({
      open: at('2026-03-08T06:00:00Z'),
      close: at('2026-03-08T09:00:00Z'),
    });
  });
});

describe('delayUntilOpen', () => {
  const opts = { jitterMs: 30_000, fallbackMs: 3_600_000, random: () => 0.5 };

  it('is 0 inside the window', () => {
    expect(delayUntilOpen(windowOf(), 'UTC', at('2026-01-05T02:00:00Z'), opts)).toBe(0);
  });

  it('waits until the next opening plus jitter', () => {
    expect(delayUntilOpen(windowOf(), 'UTC', at('2026-01-05T00:59:00Z'), opts)).toBe(60_000 + 15_000);
  });

  it('falls back to a fixed delay when the window never opens again', () => {
    expect(delayUntilOpen(windowOf({ days: [] }), 'UTC', at('2026-01-05T00:59:00Z'), opts)).toBe(3_600_000);
  });
});
