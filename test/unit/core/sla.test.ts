import { describe, expect, it } from 'vitest';
import type { DeliveryWindow } from '../../../src/core/delivery-window.js';
import {
  collectingSlaDay,
  currentSlaDay,
  evaluateSla,
  isSlaAlertSuppressed,
  slaStateGaugeValue,
  windowAllowsSlaDay,
} from '../../../src/core/sla.js';

const at = (iso: string) => new Date(iso);
const DEADLINE = at('2026-01-05T06:00:00Z');

function evaluate(overrides: Partial<Parameters<typeof evaluateSla>[0]>) {
  return evaluateSla({
    now: at('2026-01-05T03:00:00Z'),
    deadline: DEADLINE,
    warnBeforeMinutes: 30,
    atLeast: 1,
    found: 0,
    delivered: 0,
    ...overrides,
  });
}

describe('evaluateSla', () => {
  it.each([
    // [now, found, delivered, atLeast, status]
    ['2026-01-05T03:00:00Z', 0, 0, 1, 'pending'],
    ['2026-01-05T03:00:00Z', 2, 1, 1, 'pending'],
    ['2026-01-05T03:00:00Z', 2, 2, 1, 'ok'],
    ['2026-01-05T03:00:00Z', 0, 0, 0, 'ok'],
    ['2026-01-05T05:30:00Z', 2, 1, 1, 'warning'],
    ['2026-01-05T05:45:00Z', 0, 0, 1, 'warning'],
    ['2026-01-05T05:45:00Z', 3, 3, 1, 'ok'],
    ['2026-01-05T06:00:00Z', 2, 1, 1, 'missed'],
    ['2026-01-05T06:00:00Z', 0, 0, 1, 'missing-export'],
    ['2026-01-05T06:00:00Z', 1, 0, 2, 'missing-export'],
    ['2026-01-05T09:00:00Z', 2, 2, 2, 'ok'],
  ] as const)(
    'at %s with %i found, %i delivered, atLeast %i: %s',
    (now, found, delivered, atLeast, status) => {
      expect(evaluate({ now: at(now), found, delivered, atLeast }).status).toBe(status);
    },
  );

  it('counts the late files and the shortfall separately (both can be true after the deadline)', () => {
    expect(evaluate({ now: at('2026-01-05T07:00:00Z'), found: 1, delivered: 0, atLeast: 3 })).toEqual({
      status: 'missing-export',
      late: 1,
      shortBy: 2,
    });
  });

  it('warnBeforeMinutes 0 goes from pending straight to the deadline outcome', () => {
    expect(evaluate({ now: at('2026-01-05T05:59:59Z'), found: 1, warnBeforeMinutes: 0 }).status).toBe(
      'pending',
    );
  });
});

describe('SLA days', () => {
  it('the day shown is today in the schedule timezone, before and after its deadline', () => {
    // 2026-01-05T03:00Z is still Jan 4 in New York (22:00).
    expect(currentSlaDay(at('2026-01-05T03:00:00Z'), '06:00', 'America/New_York')).toEqual({
      day: '2026-01-04',
      deadline: at('2026-01-04T11:00:00Z'),
    });
    expect(currentSlaDay(at('2026-01-05T12:00:00Z'), '06:00', 'America/New_York')?.deadline).toEqual(
      at('2026-01-05T11:00:00Z'),
    );
  });

  it('a file found after the deadline counts toward the next day', () => {
    expect(collectingSlaDay(at('2026-01-05T05:59:00Z'), '06:00', 'UTC')?.day).toBe('2026-01-05');
    expect(collectingSlaDay(at('2026-01-05T06:00:00Z'), '06:00', 'UTC')?.day).toBe('2026-01-05');
    expect(collectingSlaDay(at('2026-01-05T06:00:01Z'), '06:00', 'UTC')?.day).toBe('2026-01-06');
  });

  it('follows DST: a 06:00 Berlin deadline is 05:00Z in winter and 04:00Z in summer', () => {
    expect(currentSlaDay(at('2026-03-28T12:00:00Z'), '06:00', 'Europe/Berlin')?.deadline).toEqual(
      at('2026-03-28T05:00:00Z'),
    );
    expect(currentSlaDay(at('2026-03-29T12:00:00Z'), '06:00', 'Europe/Berlin')?.deadline).toEqual(
      at('2026-03-29T04:00:00Z'),
    );
  });

  describe('with a weekday window', () => {
    const window: DeliveryWindow = {
      start: '01:00',
      end: '05:00',
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      blackoutDates: ['2026-01-07'],
    };
    const applies = (day: string) => windowAllowsSlaDay(window, 'UTC', '06:00', day);

    it('has no SLA on days the window does not open', () => {
      expect(applies('2026-01-05')).toBe(true); // Monday
      expect(applies('2026-01-07')).toBe(false); // blackout Wednesday
      expect(applies('2026-01-10')).toBe(false); // Saturday
      expect(currentSlaDay(at('2026-01-10T12:00:00Z'), '06:00', 'UTC', applies)).toBeUndefined();
    });

    it("files found on Friday after the deadline count toward Monday's", () => {
      expect(collectingSlaDay(at('2026-01-09T08:00:00Z'), '06:00', 'UTC', applies)?.day).toBe('2026-01-12');
    });

    it('a window crossing midnight serves the next morning’s deadline', () => {
      const night: DeliveryWindow = { start: '22:00', end: '04:00', days: ['fri'], blackoutDates: [] };
      // Friday night's opening ends Saturday 04:00, before Saturday's 06:00 deadline.
      expect(windowAllowsSlaDay(night, 'UTC', '06:00', '2026-01-10')).toBe(true);
      expect(windowAllowsSlaDay(night, 'UTC', '06:00', '2026-01-11')).toBe(false);
    });
  });
});

describe('slaStateGaugeValue', () => {
  it.each([
    ['none', 0],
    ['ok', 0],
    ['pending', 1],
    ['warning', 2],
    ['missed', 3],
    ['missing-export', 3],
  ] as const)('%s → %i', (status, value) => {
    expect(slaStateGaugeValue(status)).toBe(value);
  });
});

describe('isSlaAlertSuppressed', () => {
  it.each(['sla-warning', 'sla-missed', 'missing-export'] as const)(
    'holds back %s while the partner is paused and raises it otherwise',
    (kind) => {
      expect(isSlaAlertSuppressed(kind, true)).toBe(true);
      expect(isSlaAlertSuppressed(kind, false)).toBe(false);
    },
  );
});
