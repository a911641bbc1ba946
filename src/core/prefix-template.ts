// A dated source prefix (`source.prefix: initech/exports/{date:yyyy-MM-dd}/`): one partition per day
// (or month, year), so a sweep lists only the few partitions that can still hold new exports instead
// of every key ever exported. Parsed once at config load; the `{date:…}` syntax is naming's
// (src/core/template-text.ts). Pure.
import {
  parseDateToken,
  renderDate,
  scanTemplate,
  templateFailure,
  timePartIn,
  type DatePart,
  type DateSegment,
  type TemplateFailure,
  type TextSegment,
} from './template-text.js';
import { addDays, zonedParts } from './zoned-time.js';

/** A parsed prefix template; `staticPart` is the text before its first token (what IAM grants). */
export interface PrefixTemplate {
  source: string;
  staticPart: string;
  segments: readonly (DateSegment | TextSegment)[];
}

export type ParsePrefixTemplateResult = { ok: true; template: PrefixTemplate } | TemplateFailure;

/** The default `source.lookbackDays`: today and the 3 days before it. */
export const DEFAULT_LOOKBACK_DAYS = 3;

const DIGITS: Record<DatePart, string> = {
  yyyy: '\\d{4}',
  yy: '\\d{2}',
  MM: '\\d{2}',
  dd: '\\d{2}',
  HH: '\\d{2}',
  mm: '\\d{2}',
  ss: '\\d{2}',
};

/** True when `prefix` holds a `{…}` token (a literal brace is written `{{`). */
export function hasPrefixTokens(prefix: string): boolean {
  return prefix.replaceAll('{{', '').includes('{');
}

/**
 * Parses a source prefix with `{date:…}` tokens (day, month and year letters only). Never throws;
 * a prefix without tokens parses too (its static part is all of it, with `{{`/`}}` unescaped).
 */
export function parsePrefixTemplate(source: string): ParsePrefixTemplateResult {
  const scanned = scanTemplate<DateSegment>(source, (token, at) => {
    if (!token.startsWith('date:')) {
      return templateFailure(`unknown token {${token}} (a prefix takes only {date:…})`, at);
    }
    const date = parseDateToken(token, at);
    if ('ok' in date) return date;
    const time = timePartIn(date.pattern);
    if (time !== undefined) {
      return templateFailure(
        `{${token}}: a prefix partition is a day, month or year (use yyyy, yy, MM, dd; not ${time})`,
        at,
      );
    }
    return date;
  });
  if (!scanned.ok) return scanned;
  const first = scanned.segments.findIndex((s) => s.kind === 'date');
  const before = first === -1 ? scanned.segments : scanned.segments.slice(0, first);
  const staticPart = before.map((s) => (s.kind === 'text' ? s.text : '')).join('');
  return { ok: true, template: { source, staticPart, segments: scanned.segments } };
}

/**
 * The partition prefixes a sweep lists: the template rendered for the calendar days from `days` days
 * before `now`'s date in `timezone` up to that date, oldest first, each once (a monthly pattern gives
 * one prefix for many days). Days are counted on the calendar, so a 23- or 25-hour DST day is one day.
 */
export function renderPrefixes(
  template: PrefixTemplate,
  now: Date,
  timezone: string,
  days: number,
): string[] {
  const today = zonedParts(now, timezone).date;
  const out: string[] = [];
  for (let back = Math.max(0, Math.floor(days)); back >= 0; back -= 1) {
    // Noon UTC of the calendar day, rendered in UTC: that very date, whatever the zone.
    const day = new Date(`${addDays(today, -back)}T12:00:00Z`);
    const rendered = renderAt(template, day, 'UTC');
    if (!out.includes(rendered)) out.push(rendered);
  }
  return out;
}

/** The template rendered for `at` in `timezone` (e.g. today's partition, for an upload). */
export function renderAt(template: PrefixTemplate, at: Date, timezone: string): string {
  let out = '';
  for (const s of template.segments) out += s.kind === 'text' ? s.text : renderDate(s, at, timezone);
  return out;
}

/** A template as a key-matching expression: one capture group per date letter, in `letters`. */
interface KeyPattern {
  regex: RegExp;
  letters: DatePart[];
}

const patterns = new WeakMap<PrefixTemplate, KeyPattern>();

function keyPattern(template: PrefixTemplate): KeyPattern {
  let pattern = patterns.get(template);
  if (pattern === undefined) {
    let body = '';
    const letters: DatePart[] = [];
    for (const s of template.segments) {
      if (s.kind === 'text') body += escapeRegExp(s.text);
      else {
        for (const p of s.pattern) {
          if (typeof p === 'string') letters.push(p);
          body += typeof p === 'string' ? `(${DIGITS[p]})` : escapeRegExp(p.text);
        }
      }
    }
    pattern = { regex: new RegExp(`^${body}`, 'u'), letters };
    patterns.set(template, pattern);
  }
  return pattern;
}

/**
 * The partition prefix `key` is under (e.g. `initech/exports/2026-03-29/`), or undefined when the key
 * is under none the template can render. Any digits match a date letter: `9999-99-99` is a partition
 * as far as this says; which partitions are listed is `renderPrefixes`'s business.
 */
export function partitionOfKey(template: PrefixTemplate, key: string): string | undefined {
  return keyPattern(template).regex.exec(key)?.[0];
}

/**
 * The date a partition stands for. `month` is undefined when the template names a day without its
 * month (`{date:dd}/`), `year` when it names no year; a monthly partition's `day` is 1, a yearly
 * one's `month` and `day` are 1.
 */
export interface PartitionDate {
  year?: number;
  month?: number;
  day: number;
}

export type PartitionDateResult = { ok: true; date: PartitionDate } | { ok: false; reason: string };

/** Which parts of a partition's date the template gives (the day always: 1 when it is coarser). */
export function partitionDateParts(template: PrefixTemplate): { year: boolean; month: boolean } {
  const letters = new Set(keyPattern(template).letters);
  const year = letters.has('yyyy') || letters.has('yy');
  // Without MM, a year's partition starts in January; a day's month is simply not said.
  return { year, month: letters.has('MM') || (year && !letters.has('dd')) };
}

/**
 * The date of the partition `key` is under, read from the key's own digits (`yy` is 20yy), so it is a
 * pure function of the key. A key in no partition, a partition whose letters disagree (`{date:yyyy}/
 * {date:yyyy-MM-dd}/` with two years) or that is no calendar date (`2026-02-30/`) has none. Never throws.
 */
export function partitionDateOfKey(template: PrefixTemplate, key: string): PartitionDateResult {
  const { regex, letters } = keyPattern(template);
  const match = regex.exec(key);
  if (match === null) return { ok: false, reason: `key is in no partition of ${template.source}` };
  const seen: Partial<Record<DatePart, number>> = {};
  for (const [i, letter] of letters.entries()) {
    const value = Number(match[i + 1]);
    const before = seen[letter];
    if (before !== undefined && before !== value) {
      return { ok: false, reason: `partition ${match[0]} gives ${letter} twice, as ${before} and ${value}` };
    }
    seen[letter] = value;
  }
  const { yyyy, yy, MM, dd } = seen;
  if (yyyy !== undefined && yy !== undefined && yyyy % 100 !== yy) {
    return { ok: false, reason: `partition ${match[0]} gives two different years (yyyy ${yyyy}, yy ${yy})` };
  }
  const known = partitionDateParts(template);
  const year = yyyy ?? (yy === undefined ? undefined : 2000 + yy);
  const month = MM ?? (known.month ? 1 : undefined);
  const day = dd ?? 1;
  if ((month !== undefined && (month < 1 || month > 12)) || day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, reason: `partition ${match[0]} is not a calendar date` };
  }
  return {
    ok: true,
    date: { ...(year === undefined ? {} : { year }), ...(month === undefined ? {} : { month }), day },
  };
}

// The most days the month can have: a February without its year may be a leap year's.
function daysInMonth(year: number | undefined, month: number | undefined): number {
  if (month === undefined) return 31;
  if (month === 2) return year === undefined || isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** What a source says about where its keys are: the plain prefix, or the static part and template. */
export interface PrefixedSource {
  prefix: string;
  prefixTemplate?: PrefixTemplate | undefined;
}

/** The prefix `key` is under: its partition under a template, else the plain prefix; undefined when neither. */
export function prefixOfKey(source: PrefixedSource, key: string): string | undefined {
  if (source.prefixTemplate === undefined) return key.startsWith(source.prefix) ? source.prefix : undefined;
  return partitionOfKey(source.prefixTemplate, key);
}

/**
 * The prefix a key's remote name is relative to: its partition under a template, else the prefix.
 * A key under no partition gets the static prefix back (the safe-name rules then refuse the rest).
 */
export function keyPrefixFor(source: PrefixedSource, key: string): string {
  return prefixOfKey(source, key) ?? source.prefix;
}

/** True when `key` is under the source's prefix (under a template: under one of its partitions). */
export function isKeyUnderSource(source: PrefixedSource, key: string): boolean {
  return prefixOfKey(source, key) !== undefined;
}

/** The prefixes a sweep lists at `now`: the partitions of the last `days` days, or the plain prefix. */
export function sweepPrefixes(
  source: PrefixedSource & { lookbackDays?: number },
  now: Date,
  timezone: string,
  sinceDays?: number,
): string[] {
  if (source.prefixTemplate === undefined) return [source.prefix];
  const lookback = source.lookbackDays ?? DEFAULT_LOOKBACK_DAYS;
  return renderPrefixes(source.prefixTemplate, now, timezone, Math.max(lookback, sinceDays ?? 0));
}

/**
 * A partition name used again for a later date: `every` month or year, and `gapDays`, the fewest whole
 * days from the end of the last day a name stood for to the first day it stands for again.
 */
export interface PartitionRepeat {
  every: 'month' | 'year';
  gapDays: number;
}

/**
 * Whether the template gives a later date a partition name it gave before: a day without its month
 * (`{date:dd}`, `{date:yyyy}/{date:dd}`) every month, a name without a year (`{date:MM}/{date:dd}`,
 * `{date:MM}`) every year; undefined when each name is used once (`yy` counts as a year: it repeats
 * after a century). The order of the letters does not matter: `{date:dd-MM-yyyy}` never repeats, and
 * renderPrefixes lists partitions by date, not by name.
 */
export function partitionRepeat(template: PrefixTemplate): PartitionRepeat | undefined {
  const parts = new Set<DatePart>();
  for (const s of template.segments) {
    if (s.kind === 'date') for (const p of s.pattern) if (typeof p === 'string') parts.add(p);
  }
  // 1 February ends 27 days before 1 March; 31 December 2026 364 days before 31 December 2027; a
  // January partition 334 days before the next January (365 less its own 31 days).
  if (parts.has('dd') && !parts.has('MM')) return { every: 'month', gapDays: 27 };
  if (parts.has('yyyy') || parts.has('yy')) return undefined;
  return { every: 'year', gapDays: parts.has('dd') ? 364 : 334 };
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}
