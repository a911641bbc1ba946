// A partner's `window` (when deliveries may start) and `expect` (the daily delivery SLA).
import { z } from 'zod';
import { WEEKDAYS, isCalendarDate } from '../../core/delivery-window.js';
import { whenValid } from './fields.js';

const clockTimeField = z
  .string()
  .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be a quoted 24-hour time "HH:MM", like "01:00"');

const weekdayField = z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` });

const blackoutDateField = z.string().check((ctx) => {
  if (!isCalendarDate(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: 'must be a quoted calendar date "YYYY-MM-DD", like "2026-12-25"',
    });
  }
});

/** `window`: deliveries only start inside it (wall clock of the schedule's timezone). */
export const windowSchema = z
  .strictObject({
    start: clockTimeField,
    end: clockTimeField,
    days: z
      .array(weekdayField)
      .min(1, 'must list at least one day (leave the field out for every day)')
      .default([...WEEKDAYS]),
    blackoutDates: z.array(blackoutDateField).default([]),
  })
  .superRefine(
    (window, ctx) => {
      if (window.start === window.end) {
        ctx.addIssue({
          code: 'custom',
          message: 'must differ from start (the window would be empty)',
          path: ['end'],
        });
      }
    },
    whenValid('start', 'end'),
  );

/** `expect`: the daily delivery SLA (wall clock of the schedule's timezone). */
export const expectSchema = z.strictObject({
  by: clockTimeField,
  atLeast: z.int().min(0).default(0),
  warnBeforeMinutes: z.int().min(0).max(1439).default(30),
});
