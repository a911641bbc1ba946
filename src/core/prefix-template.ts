// A dated source prefix (`source.prefix: initech/exports/{date:yyyy-MM-dd}/`): one partition per day
// (or month, year), so a sweep lists only the few partitions that can still hold new exports instead
// of every key ever exported. Parsed once at config load; the `{date:…}` syntax is naming's
// (src/core/template-text.ts). Pure.
import {
  parseDateToken,
  renderDate,
  scanTemplate,
  templateFailure,
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

// A partition is a calendar day at its finest: the sweep steps through days, not hours.
const TIME_PARTS: readonly DatePart[] = ['HH', 'mm', 'ss'];

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
    const time = date.pattern.find((p): p is DatePart => typeof p === 'string' && TIME_PARTS.includes(p));
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

const patterns = new WeakMap<PrefixTemplate, RegExp>();

/**
 * The partition prefix `key` is under (e.g. `initech/exports/2026-03-29/`), or undefined when the key
 * is under none the template can render. Any digits match a date letter: `9999-99-99` is a partition
 * as far as this says; which partitions are listed is `renderPrefixes`'s business.
 */
export function partitionOfKey(template: PrefixTemplate, key: string): string | undefined {
  let pattern = patterns.get(template);
  if (pattern === undefined) {
    let body = '';
    for (const s of template.segments) {
      if (s.kind === 'text') body += escapeRegExp(s.text);
      else for (const p of s.pattern) body += typeof p === 'string' ? DIGITS[p] : escapeRegExp(p.text);
    }
    pattern = new RegExp(`^${body}`, 'u');
    patterns.set(template, pattern);
  }
  return pattern.exec(key)?.[0];
}

/** What a source says about where its keys are: the plain prefix, or the static part and template. */
export interface PrefixedSource {
  prefix: string;
  prefixTemplate?: PrefixTemplate;
}

/**
 * The prefix a key's remote name is relative to: its partition under a template, else the prefix.
 * A key under no partition gets the static prefix back (the safe-name rules then refuse the rest).
 */
export function keyPrefixFor(source: PrefixedSource, key: string): string {
  if (source.prefixTemplate === undefined) return source.prefix;
  return partitionOfKey(source.prefixTemplate, key) ?? source.prefix;
}

/** True when `key` is under the source's prefix (under a template: under one of its partitions). */
export function isKeyUnderSource(source: PrefixedSource, key: string): boolean {
  if (source.prefixTemplate === undefined) return key.startsWith(source.prefix);
  return partitionOfKey(source.prefixTemplate, key) !== undefined;
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}
