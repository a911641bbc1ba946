// `naming.filename`: the remote name built from a template instead of the key. Parsed once at config
// load; rendered per object from data that is fixed for an object version (its key and LastModified),
// so every retry and every redelivery of one version renders the same name (exactly-once needs it:
// the "already there?" check and the temp name are keyed on the final name).
import { deriveRemoteName, type RemoteNameResult } from './remote-name.js';

type DatePart = 'yyyy' | 'yy' | 'MM' | 'dd' | 'HH' | 'mm' | 'ss';
type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'name' | 'ext' | 'key' | 'partner' }
  | { kind: 'date'; pattern: (DatePart | { text: string })[] };

/** A parsed `naming.filename` template. */
export interface FilenameTemplate {
  source: string;
  segments: readonly Segment[];
}

export type ParseTemplateResult =
  { ok: true; template: FilenameTemplate } | { ok: false; message: string; index: number };

/** What a template is rendered for: one object version of one partner. */
export interface TemplateInput {
  key: string;
  prefix: string;
  partnerId: string;
  /** The object's LastModified: the `{date:…}` instant. */
  lastModified: Date;
  /** The schedule's IANA timezone the date is shown in. */
  timezone: string;
}

const DATE_PARTS: readonly DatePart[] = ['yyyy', 'yy', 'MM', 'dd', 'HH', 'mm', 'ss'];
const TOKENS = 'name, ext, key, partner, date:<pattern>';

/**
 * Parses a template: `{name}`, `{ext}`, `{key}`, `{partner}`, `{date:<pattern>}` (pattern letters
 * yyyy yy MM dd HH mm ss; other letters are errors, other characters literal); `{{` and `}}` are
 * literal braces. `{seq}` is rejected: a per-day counter depends on what else was delivered, so a
 * retry could render a different name. Never throws; `index` is the offending character.
 */
export function parseFilenameTemplate(source: string): ParseTemplateResult {
  const segments: Segment[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if ((c === '{' || c === '}') && source[i + 1] === c) {
      text += c;
      i += 2;
      continue;
    }
    if (c === '}') return fail('unbalanced "}" (write "}}" for a literal brace)', i);
    if (c !== '{') {
      text += c;
      i += 1;
      continue;
    }
    const close = source.indexOf('}', i + 1);
    const nextOpen = source.indexOf('{', i + 1);
    if (close === -1 || (nextOpen !== -1 && nextOpen < close)) {
      return fail('unbalanced "{" (write "{{" for a literal brace)', i);
    }
    if (text) segments.push({ kind: 'text', text });
    text = '';
    const token = source.slice(i + 1, close);
    const parsed = parseToken(token, i);
    if ('message' in parsed) return parsed;
    segments.push(parsed);
    i = close + 1;
  }
  if (text) segments.push({ kind: 'text', text });
  if (!segments.some((s) => s.kind !== 'text')) {
    return fail(`has no token: every object would get the same name (tokens: ${TOKENS})`, 0);
  }
  return { ok: true, template: { source, segments } };
}

function parseToken(token: string, at: number): Segment | { ok: false; message: string; index: number } {
  if (token === 'name' || token === 'ext' || token === 'key' || token === 'partner') return { kind: token };
  if (token === 'seq') {
    return fail(
      '{seq} is not supported yet: a per-partner-per-day counter depends on delivery order, so a retry could get a different name (exactly-once needs a deterministic name)',
      at,
    );
  }
  if (token.startsWith('date:')) {
    const pattern: (DatePart | { text: string })[] = [];
    let j = 'date:'.length;
    if (j === token.length) return fail('{date:} needs a pattern, e.g. {date:yyyyMMdd}', at);
    while (j < token.length) {
      const part = DATE_PARTS.find((p) => token.startsWith(p, j));
      if (part) {
        pattern.push(part);
        j += part.length;
      } else if (/\p{L}/u.test(token[j] ?? '')) {
        return fail(
          `{${token}}: unknown date pattern letter "${token[j]}" at ${j} (use yyyy, yy, MM, dd, HH, mm, ss)`,
          at,
        );
      } else {
        pattern.push({ text: token[j] ?? '' });
        j += 1;
      }
    }
    return { kind: 'date', pattern };
  }
  return fail(`unknown token {${token}} (tokens: ${TOKENS})`, at);
}

function fail(message: string, index: number): { ok: false; message: string; index: number } {
  return { ok: false, message, index };
}

/**
 * Renders the remote name of one object, then applies the same safe-name rules as a key-derived
 * name (src/core/remote-name.ts): a name that breaks one is rejected with its rule (the deliver job
 * quarantines it), so no template or key can produce `..`, `/` or control characters.
 */
export function renderFilename(template: FilenameTemplate, input: TemplateInput): RemoteNameResult {
  const relative = deriveRelativeKey(input.key, input.prefix);
  if (relative === undefined) return deriveRemoteName(input.key, input.prefix); // outside-prefix verdict
  const base = relative.slice(relative.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const name = dot > 0 ? base.slice(0, dot) : base;
  const ext = dot > 0 ? base.slice(dot) : '';
  let date: Record<DatePart, string> | undefined;
  let out = '';
  for (const s of template.segments) {
    if (s.kind === 'text') out += s.text;
    else if (s.kind === 'name') out += name;
    else if (s.kind === 'ext') out += ext;
    else if (s.kind === 'key') out += relative.replaceAll('/', '_');
    else if (s.kind === 'partner') out += input.partnerId;
    else if (s.kind === 'date') {
      date ??= dateParts(input.lastModified, input.timezone);
      for (const p of s.pattern) out += typeof p === 'string' ? date[p] : p.text;
    }
  }
  return deriveRemoteName(out, '');
}

function deriveRelativeKey(key: string, prefix: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function dateParts(at: Date, timeZone: string): Record<DatePart, string> {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(at);
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

/** The remote name of an object: the template's, when the partner has one, else the key's. */
export function remoteNameFor(
  partner: {
    id: string;
    source: { prefix: string };
    schedule: { timezone: string };
    naming?: { filename?: FilenameTemplate };
  },
  object: { key: string; lastModified: Date },
): RemoteNameResult {
  if (!partner.naming?.filename) return deriveRemoteName(object.key, partner.source.prefix);
  return renderFilename(partner.naming.filename, {
    key: object.key,
    prefix: partner.source.prefix,
    partnerId: partner.id,
    lastModified: object.lastModified,
    timezone: partner.schedule.timezone,
  });
}
