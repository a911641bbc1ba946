// What the templates of a partner file share (`naming.filename`, `shape` values): `{token}`s between
// literal text, `{{`/`}}` for literal braces, and `{date:<pattern>}` rendered in a timezone.
import { zonedFormatter } from './zoned-time.js';

export type TemplateFailure = { ok: false; message: string; index: number };
export type TextSegment = { kind: 'text'; text: string };

export type DatePart = 'yyyy' | 'yy' | 'MM' | 'dd' | 'HH' | 'mm' | 'ss';
export type DatePattern = (DatePart | { text: string })[];
export type DateSegment = { kind: 'date'; pattern: DatePattern };

const DATE_PARTS: readonly DatePart[] = ['yyyy', 'yy', 'MM', 'dd', 'HH', 'mm', 'ss'];
const TIME_PARTS: readonly DatePart[] = ['HH', 'mm', 'ss'];

/** The first time-of-day letter (HH mm ss) of a pattern: a partition's date has none (a day at its finest). */
export function timePartIn(pattern: DatePattern): DatePart | undefined {
  return pattern.find((p): p is DatePart => typeof p === 'string' && TIME_PARTS.includes(p));
}

export function templateFailure(message: string, index: number): TemplateFailure {
  return { ok: false, message, index };
}

/**
 * Splits `source` into text and tokens; `parseToken` turns each token's inside (`name`, `date:yyyy`)
 * into a segment or a failure at `at` (the index of its `{`). Never throws.
 */
export function scanTemplate<S>(
  source: string,
  parseToken: (token: string, at: number) => S | TemplateFailure,
): { ok: true; segments: (S | TextSegment)[] } | TemplateFailure {
  const segments: (S | TextSegment)[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if ((c === '{' || c === '}') && source[i + 1] === c) {
      text += c;
      i += 2;
      continue;
    }
    if (c === '}') return templateFailure('unbalanced "}" (write "}}" for a literal brace)', i);
    if (c !== '{') {
      text += c;
      i += 1;
      continue;
    }
    const close = source.indexOf('}', i + 1);
    const nextOpen = source.indexOf('{', i + 1);
    if (close === -1 || (nextOpen !== -1 && nextOpen < close)) {
      return templateFailure('unbalanced "{" (write "{{" for a literal brace)', i);
    }
    if (text) segments.push({ kind: 'text', text });
    text = '';
    const parsed = parseToken(source.slice(i + 1, close), i);
    if (isFailure(parsed)) return parsed;
    segments.push(parsed);
    i = close + 1;
  }
  if (text) segments.push({ kind: 'text', text });
  return { ok: true, segments };
}

function isFailure(value: unknown): value is TemplateFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

/**
 * `date:<pattern>` (or another `<name>:<pattern>` token, e.g. naming's `partition:`): letters yyyy yy
 * MM dd HH mm ss, other letters are errors, other characters literal.
 */
export function parseDateToken(token: string, at: number): DateSegment | TemplateFailure {
  const pattern = parseDatePattern(token, at);
  return 'ok' in pattern ? pattern : { kind: 'date', pattern };
}

/** The pattern of a `<name>:<pattern>` token (see parseDateToken), or a failure at `at` naming `letters`. */
export function parseDatePattern(
  token: string,
  at: number,
  letters = 'yyyy, yy, MM, dd, HH, mm, ss',
): DatePattern | TemplateFailure {
  const pattern: DatePattern = [];
  const name = token.slice(0, token.indexOf(':'));
  let j = name.length + 1;
  if (j === token.length) {
    return templateFailure(`{${name}:} needs a pattern, e.g. {${name}:yyyyMMdd}`, at);
  }
  while (j < token.length) {
    const part = DATE_PARTS.find((p) => token.startsWith(p, j));
    if (part) {
      pattern.push(part);
      j += part.length;
    } else if (/\p{L}/u.test(token[j] ?? '')) {
      return templateFailure(
        `{${token}}: unknown date pattern letter "${token[j]}" at ${j} (use ${letters})`,
        at,
      );
    } else {
      pattern.push({ text: token[j] ?? '' });
      j += 1;
    }
  }
  return pattern;
}

/** A pattern rendered from the values of its letters. */
export function renderPattern(pattern: DatePattern, values: Readonly<Record<DatePart, string>>): string {
  let out = '';
  for (const p of pattern) out += typeof p === 'string' ? values[p] : p.text;
  return out;
}

/** A date segment rendered for `at` in `timeZone` (IANA). */
export function renderDate(segment: DateSegment, at: Date, timeZone: string): string {
  return renderPattern(segment.pattern, dateParts(at, timeZone));
}

function dateParts(at: Date, timeZone: string): Record<DatePart, string> {
  const parts = zonedFormatter(timeZone).formatToParts(at);
  const pick = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const yyyy = pick('year').padStart(4, '0');
  return {
    yyyy,
    yy: yyyy.slice(-2),
    MM: pick('month'),
    dd: pick('day'),
    HH: pick('hour'),
    mm: pick('minute'),
    ss: pick('second'),
  };
}
