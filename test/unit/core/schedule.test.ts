import { describe, expect, it } from 'vitest';
import {
  isValidTimeZone,
  nextRuns,
  partnerIdFromSchedulerId,
  schedulerIdFor,
} from '../../../src/core/schedule.js';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('scheduler ids', () => {
  it.each(['acme', 'acme-eu', 'sweep-x'])('round-trips partner %j', (partnerId) => {
    expect(schedulerIdFor(partnerId)).toBe(`sweep-${partnerId}`);
    expect(partnerIdFromSchedulerId(schedulerIdFor(partnerId))).toBe(partnerId);
  });

  it.each(['', 'sweep-', 'sweep', 'repeat:abc', 'deliver-acme', 'Sweep-acme'])(
    'does not claim scheduler %j as a partner sweep',
    (id) => {
      expect(partnerIdFromSchedulerId(id)).toBeUndefined();
    },
  );
});

describe('isValidTimeZone', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/New_York'])('accepts %j', (tz) => {
    expect(isValidTimeZone(tz)).toBe(true);
  });
  it.each(['', 'Mars/Base', 'Europe/Berln'])('rejects %j', (tz) => {
    expect(isValidTimeZone(tz)).toBe(false);
  });
});

describe('nextRuns', () => {
  it('returns runs strictly after the start instant', () => {
    expect(iso(nextRuns('0 9 * * *', 'UTC', new Date('2026-03-07T09:00:00Z'), 2))).toEqual([
      '2026-03-08T09:00:00.000Z',
      '2026-03-09T09:00:00.000Z',
    ]);
  });

  it('evaluates wall-clock time in the partner time zone', () => {
    expect(iso(nextRuns('30 6 * * 1-5', 'Europe/Berlin', new Date('2026-11-25T00:00:00Z'), 3))).toEqual([
      '2026-11-25T05:30:00.000Z',
      '2026-11-26T05:30:00.000Z',
      '2026-11-27T05:30:00.000Z',
    ]);
  });

  it('keeps 09:00 New York local time across the spring DST change (UTC shifts 14:00 → 13:00)', () => {
    expect(iso(nextRuns('0 9 * * *', 'America/New_York', new Date('2026-03-07T12:00:00Z'), 3))).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
  });

  it('keeps 09:00 New York local time across the autumn DST change (UTC shifts 13:00 → 14:00)', () => {
    expect(iso(nextRuns('0 9 * * *', 'America/New_York', new Date('2026-10-31T00:00:00Z'), 2))).toEqual([
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
    ]);
  });

  it('runs a time skipped by spring-forward (02:30) right after the gap, at 03:30 EDT', () => {
    expect(iso(nextRuns('30 2 * * *', 'America/New_York', new Date('2026-03-07T12:00:00Z'), 3))).toEqual([
      '2026-03-08T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('runs a time repeated by fall-back (01:30) only once', () => {
    expect(iso(nextRuns('30 1 * * *', 'America/New_York', new Date('2026-10-31T12:00:00Z'), 2))).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('runs an hourly schedule once per real hour through fall-back, with no gap and no double run', () => {
    expect(iso(nextRuns('0 * * * *', 'America/New_York', new Date('2026-11-01T04:30:00Z'), 4))).toEqual([
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T06:00:00.000Z', // 01:00 EST
      '2026-11-01T07:00:00.000Z', // 02:00 EST
      '2026-11-01T08:00:00.000Z',
    ]);
  });

  it('runs an hourly schedule once per real hour through spring-forward', () => {
    expect(iso(nextRuns('0 * * * *', 'America/New_York', new Date('2026-03-08T05:30:00Z'), 3))).toEqual([
      '2026-03-08T06:00:00.000Z', // 01:00 EST
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-08T08:00:00.000Z',
    ]);
  });

  it('returns nothing for a count of 0', () => {
    expect(nextRuns('* * * * *', 'UTC', new Date('2026-01-01T00:00:00Z'), 0)).toEqual([]);
  });

  it.each([
    ['an out-of-range minute', '61 * * * *', 'UTC'],
    ['garbage', 'every day', 'UTC'],
    ['an unknown time zone', '0 9 * * *', 'Mars/Base'],
  ])('rejects %s as ERR_CONFIG_INVALID', (_label, cron, tz) => {
    expect(() => nextRuns(cron, tz, new Date('2026-01-01T00:00:00Z'), 1)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});
