// Field primitives and helpers more than one section of ferry.yaml or a partner file uses.
// Messages never echo the offending value (it may be a secret pasted into the wrong field).
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
export const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * A cross-field check that still runs when *other* fields of the object are wrong, so one run reports
 * every problem; it is skipped only when one of the fields it reads failed its own validation.
 */
export function whenValid(...fields: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
  // A missing or non-mapping object (e.g. `target:` left empty) has nothing to cross-check.
  return {
    when: (payload) =>
      typeof payload.value === 'object' &&
      payload.value !== null &&
      !payload.issues.some((issue) => fields.includes(String(issue.path?.[0]))),
  };
}

/** True when the runtime's Intl zone data knows the IANA name ("UTC", "America/New_York"). */
export function isValidTimezone(name: string): boolean {
  if (name.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Why the cron expression is unusable, or undefined when cron-parser (as BullMQ uses it) accepts it. */
export function checkCronExpression(expr: string, timezone = 'UTC'): string | undefined {
  const fields = expr
    .trim()
    .split(/\s+/)
    .filter((f) => f !== '');
  if (fields.length !== 5 && fields.length !== 6) {
    return 'must have 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first';
  }
  try {
    CronExpressionParser.parse(expr, { tz: timezone });
    return undefined;
  } catch (err) {
    return `invalid cron expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export const nonEmptyText = z
  .string()
  .min(1, 'must not be empty')
  .refine((v) => !CONTROL_CHARS.test(v), 'must not contain control characters');

export const envNameField = z
  .string()
  .regex(ENV_NAME, 'must be an environment variable name like ACME_SFTP_KEY');
export const fileRefField = nonEmptyText;
export const positiveInt = z.int().min(1);

export const timezoneField = z
  .string()
  .refine(isValidTimezone, 'unknown timezone: use an IANA name like "UTC" or "America/New_York"');

export const cronField = z.string().check((ctx) => {
  const problem = checkCronExpression(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

/** Where a password is read at startup: an environment variable or a file (never the value). */
export interface PasswordRef {
  env?: string;
  file?: string;
}
