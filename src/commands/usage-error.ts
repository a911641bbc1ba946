// Usage errors of the `ferry` command: each names the argument that is missing or wrong and why, and
// src/cli.ts prints it with the command's usage line and exits 2. The checks here are pure.
import { parseDurationMs } from '../core/delivery-cursor.js';
import { printable } from '../core/format-deliveries.js';
import { checkReason, REASON_MAX, REASON_MIN } from '../core/redelivery.js';

/** Thrown by an argument check; src/cli.ts prints `ferry <command>: <problem> (usage: …)` and exits 2. */
export class UsageError extends Error {
  constructor(
    readonly command: string,
    readonly problem: string,
  ) {
    super(`ferry ${command}: ${problem}`);
    this.name = 'UsageError';
  }
}

/** A usage error of `command` ('sweep', 'deliveries show', …); `problem` names the argument and why. */
export function usageError(command: string, problem: string): UsageError {
  return new UsageError(command, problem);
}

/**
 * The usage line of `command` in the help text: its `ferry <command> …` line without the padding after
 * the command name or the description after three spaces. Derived, so the help stays the one source.
 */
export function usageLine(help: string, command: string): string | undefined {
  const escaped = command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const line = new RegExp(`^\\s*ferry ${escaped}(?: +(\\S.*?))?(?: {3,}.*)?$`, 'm').exec(help);
  if (!line) return undefined;
  return line[1] === undefined ? `ferry ${command}` : `ferry ${command} ${line[1]}`;
}

/**
 * node:util parseArgs' message as one line, without its advice on `--` (which fits only when the text
 * was meant as a positional argument): "Unknown option '--x'", "Option '--limit <value>' argument missing".
 */
export function parseArgsProblem(message: string): string {
  return message
    .replace(/\. To specify a positional argument starting with a '-'.*$/s, '')
    .replace(/\s*\n\s*/g, ' ');
}

/** `ferry <command>: <problem> (usage: <its usage line>)`, one line. */
export function formatUsageError(e: UsageError, help: string): string {
  const usage = usageLine(help, e.command);
  return usage === undefined ? e.message : `${e.message} (usage: ${usage})`;
}

/** Shown in messages: quoted, hostile characters escaped, long values cut. */
export function quoted(text: string): string {
  return `"${printable(text.length > 80 ? `${text.slice(0, 80)}…` : text)}"`;
}

/**
 * The positional arguments: every `required` one (named like `<partner>`), then at most `optional`
 * more. Throws naming the first missing one, or the first one too many.
 */
export function expectPositionals<const R extends readonly string[]>(
  command: string,
  positionals: readonly string[],
  required: R,
  optional = 0,
): { [K in keyof R]: string } & string[] {
  const missing = required[positionals.length];
  if (missing !== undefined) throw usageError(command, `missing ${missing}`);
  const extra = positionals[required.length + optional];
  if (extra !== undefined) throw usageError(command, `unexpected argument ${quoted(extra)}`);
  return [...positionals] as { [K in keyof R]: string } & string[];
}

/** A `--flag SECONDS`-like option: a finite number above 0. */
export function positiveNumberOption(command: string, flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw usageError(command, `--${flag} must be a positive number, got ${quoted(text)}`);
  }
  return value;
}

/** `--since 30d` of `ferry sweep`: a duration (`36h`, `30d`, `2w`) in whole days, rounded up (at most 3660). */
export function sinceDaysOption(command: string, text: string): number {
  const ms = parseDurationMs(text);
  const days = ms === undefined ? undefined : Math.ceil(ms / 86_400_000);
  if (days === undefined || days > 3660) {
    throw usageError(
      command,
      `--since must be a duration such as 30d, 2w or 36h (at most 3660 days), got ${quoted(text)}`,
    );
  }
  return days;
}

/** A `--flag N` option: a whole number from 1 to `max`. */
export function positiveIntegerOption(command: string, flag: string, text: string, max: number): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || value < 1 || value > max) {
    throw usageError(command, `--${flag} must be a whole number from 1 to ${max}, got ${quoted(text)}`);
  }
  return value;
}

/** A `--flag` option with a fixed set of values. */
export function oneOfOption<T extends string>(
  command: string,
  flag: string,
  text: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw usageError(command, `--${flag} must be one of ${allowed.join(', ')}, got ${quoted(text)}`);
  }
  return text as T;
}

/** The operator's `--reason` (pause, resume, redeliver, retry): required, 3-500 characters, one line. */
export function reasonOption(command: string, text: string | undefined): string {
  if (text === undefined) {
    throw usageError(
      command,
      `missing --reason TEXT (${REASON_MIN}-${REASON_MAX} characters; it goes to the audit trail)`,
    );
  }
  const checked = checkReason(text);
  if (checked.ok) return checked.reason;
  const length = text.trim().length;
  const tooShortOrLong = length < REASON_MIN || length > REASON_MAX;
  throw usageError(command, `--${checked.message}${tooShortOrLong ? `, got ${length}` : ''}`);
}
