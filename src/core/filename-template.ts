// `naming.filename`: the remote name built from a template instead of the key. Parsed once at config
// load; rendered per object from data that is fixed for an object version (its key and LastModified;
// `{partition:…}` is the date in the key's own partition, never a clock), so every retry and every
// redelivery of one version renders the same name (exactly-once needs it: the "already there?" check
// and the temp name are keyed on the final name). The one exception,
// `{seq}`, is a number allocated once per delivery and stored in Redis (src/ledger/name-sequence.ts);
// this file only renders it.
import {
  keyPrefixFor,
  partitionDateOfKey,
  partitionDateParts,
  type PartitionDateResult,
  type PrefixTemplate,
} from './prefix-template.js';
import { deriveRemoteName, type RemoteNameResult } from './remote-name.js';
import {
  parseDateToken,
  parseDatePattern,
  renderDate,
  renderPattern,
  scanTemplate,
  templateFailure,
  timePartIn,
  type DatePart,
  type DatePattern,
  type DateSegment,
  type TemplateFailure,
  type TextSegment,
} from './template-text.js';
import { transformSuffix, type TransformNaming } from './transform-suffix.js';

/** `{partition:<pattern>}`: the date of the key's partition; `at` is its `{` in the source. */
type PartitionSegment = { kind: 'partition'; pattern: DatePattern; at: number };
type Token =
  | { kind: 'name' | 'ext' | 'key' | 'partner' }
  | DateSegment
  | PartitionSegment
  | { kind: 'seq'; width: number };
type Segment = Token | TextSegment;

/** A parsed `naming.filename` template. */
export interface FilenameTemplate {
  source: string;
  segments: readonly Segment[];
  /** The `{seq}` / `{seq:N}` token, if any: `width` digits with zero padding (0 = no padding). */
  seq?: { width: number };
}

export type ParseTemplateResult = { ok: true; template: FilenameTemplate } | TemplateFailure;

/** What a template is rendered for: one object version of one partner. */
export interface TemplateInput {
  key: string;
  prefix: string;
  partnerId: string;
  /** The object's LastModified: the `{date:…}` instant. */
  lastModified: Date;
  /** The schedule's IANA timezone the date is shown in. */
  timezone: string;
  /** The date of the key's partition (partitionDateOfKey), for `{partition:…}`; none without a dated prefix. */
  partition?: PartitionDateResult;
  /**
   * What `{seq}` renders as: the delivery's number, or a placeholder (`'mask'`: the counter's
   * scope, see sequenceScopeFor; `'hashes'`: `#` × width, what `ferry plan` shows). Default `'hashes'`.
   */
  seq?: number | 'mask' | 'hashes';
}

const TOKENS = 'name, ext, key, partner, date:<pattern>, partition:<pattern>, seq, seq:<width>';
const PARTITION_LETTERS = 'yyyy, yy, MM, dd';
// Stands for the number in a counter's scope. A NUL never survives the safe-name rules, so in the
// scope of a valid name it marks exactly where the number goes: equal scopes with different numbers
// are different names.
const SEQ_MASK = '\u0000';
const SEQ_MAX_WIDTH = 9;

/**
 * Parses a template: `{name}`, `{ext}`, `{key}`, `{partner}`, `{date:<pattern>}` (pattern letters
 * yyyy yy MM dd HH mm ss; other letters are errors, other characters literal), `{partition:<pattern>}`
 * (the date of the key's partition under a dated prefix; letters yyyy yy MM dd), `{seq}` / `{seq:N}`
 * (a per-scope counter, N = 1–9 digits of zero padding, at most one per template); `{{` and `}}` are
 * literal braces. Never throws; `index` is the offending character.
 */
export function parseFilenameTemplate(source: string): ParseTemplateResult {
  let seqAt: number | undefined;
  const scanned = scanTemplate(source, (token, at) => {
    const parsed = parseToken(token, at);
    if ('kind' in parsed && parsed.kind === 'seq') {
      if (seqAt !== undefined) return fail('only one {seq} token is allowed', at);
      seqAt = at;
    }
    return parsed;
  });
  if (!scanned.ok) return scanned;
  const { segments } = scanned;
  if (!segments.some((s) => s.kind !== 'text')) {
    return fail(`has no token: every object would get the same name (tokens: ${TOKENS})`, 0);
  }
  const unsafe = unsafeLiteral(segments);
  if (unsafe !== undefined) {
    const at = source.indexOf(unsafe.text);
    return fail(
      `literal text ${JSON.stringify(unsafe.text)} makes every name unsafe (${unsafe.reason})`,
      Math.max(at, 0),
    );
  }
  const seq = segments.find((s) => s.kind === 'seq');
  if (seq && seqAt !== undefined && !seqStandsApart(segments, segments.indexOf(seq))) {
    return fail(
      '{seq} must be set apart from other tokens by text that is not a digit (e.g. "{name}_{seq:3}.csv"): a number running into a token\'s digits could repeat another name',
      seqAt,
    );
  }
  return { ok: true, template: { source, segments, ...(seq ? { seq: { width: seq.width } } : {}) } };
}

// The template's own text must pass the safe-name rules whatever the tokens render to ("out/",
// a control character, ".." would quarantine every object): each literal is checked between
// stand-ins, so rules about a name's start or end apply only to text at the template's start or end.
function unsafeLiteral(segments: readonly Segment[]): { text: string; reason: string } | undefined {
  for (const [i, s] of segments.entries()) {
    if (s.kind !== 'text') continue;
    const sample = `${i === 0 ? '' : 'a'}${s.text}${i === segments.length - 1 ? '' : 'a'}`;
    const checked = deriveRemoteName(sample, '');
    if (!checked.ok) return { text: s.text, reason: checked.reason };
  }
  return undefined;
}

// Names of one scope never collide (one counter); names of two scopes could, if the number ran into
// a token's digits: "a1" + "1" and "a" + "11" are both "a11". Non-digit text on both sides fences the
// number off. `{ext}` may follow: it is empty or starts with ".".
function seqStandsApart(segments: readonly Segment[], at: number): boolean {
  const before = segments[at - 1];
  const after = segments[at + 1];
  const okBefore = before === undefined || (before.kind === 'text' && !/[0-9]$/.test(before.text));
  const okAfter =
    after === undefined || after.kind === 'ext' || (after.kind === 'text' && !/^[0-9]/.test(after.text));
  return okBefore && okAfter;
}

function parseToken(token: string, at: number): Token | TemplateFailure {
  if (token === 'name' || token === 'ext' || token === 'key' || token === 'partner') return { kind: token };
  if (token === 'seq') return { kind: 'seq', width: 0 };
  if (token.startsWith('seq:')) {
    const width = token.slice('seq:'.length);
    if (!/^[1-9]$/.test(width)) {
      return fail(`{${token}}: the width must be one digit 1-${SEQ_MAX_WIDTH}, e.g. {seq:3} → 001`, at);
    }
    return { kind: 'seq', width: Number(width) };
  }
  if (token.startsWith('date:')) return parseDateToken(token, at);
  if (token.startsWith('partition:')) return parsePartitionToken(token, at);
  return fail(`unknown token {${token}} (tokens: ${TOKENS})`, at);
}

function parsePartitionToken(token: string, at: number): PartitionSegment | TemplateFailure {
  const pattern = parseDatePattern(token, at, PARTITION_LETTERS);
  if ('ok' in pattern) return pattern;
  const time = timePartIn(pattern);
  if (time !== undefined) {
    return fail(
      `{${token}}: a partition is a day, month or year and has no time (use ${PARTITION_LETTERS}; not ${time}; {date:…} is the object's LastModified)`,
      at,
    );
  }
  return { kind: 'partition', pattern, at };
}

/**
 * Why a template's `{partition:…}` cannot be rendered for a partner's prefix (a config error at load),
 * or undefined: a prefix without `{date:…}` has no partitions, and a letter the prefix's partitions do
 * not give (a year under `{date:MM}/{date:dd}/`, a month under `{date:dd}/`) has no value. `index` is
 * the token's `{`.
 */
export function partitionTokenProblem(
  template: FilenameTemplate,
  prefixTemplate: PrefixTemplate | undefined,
): TemplateFailure | undefined {
  for (const s of template.segments) {
    if (s.kind !== 'partition') continue;
    const token = `{partition:${patternText(s.pattern)}}`;
    if (prefixTemplate === undefined) {
      return fail(
        `${token} needs a dated source.prefix (e.g. prefix: exports/{date:yyyy-MM-dd}/): this partner's prefix has no {date:…}, so its keys have no partition date`,
        s.at,
      );
    }
    const known = partitionDateParts(prefixTemplate);
    const letters = new Set(s.pattern.filter((p): p is DatePart => typeof p === 'string'));
    const missing =
      !known.year && (letters.has('yyyy') || letters.has('yy'))
        ? 'year'
        : !known.month && letters.has('MM')
          ? 'month'
          : undefined;
    if (missing !== undefined) {
      return fail(
        `${token}: the partitions of ${prefixTemplate.source} do not say their ${missing} (add ${missing === 'year' ? 'yyyy' : 'MM'} to the prefix, or leave it out of the token)`,
        s.at,
      );
    }
  }
  return undefined;
}

function patternText(pattern: DatePattern): string {
  return pattern.map((p) => (typeof p === 'string' ? p : p.text)).join('');
}

const fail = templateFailure;

/**
 * Renders the remote name of one object, then applies the same safe-name rules as a key-derived
 * name (src/core/remote-name.ts): a name that breaks one is rejected with its rule (the deliver job
 * quarantines it), so no template or key can produce `..`, `/` or control characters. `suffix` (the
 * transform's `.gz`/`.pgp`) is appended before the check, so the checked name is the final one.
 */
export function renderFilename(
  template: FilenameTemplate,
  input: TemplateInput,
  suffix = '',
): RemoteNameResult {
  const rendered = renderRaw(template, input);
  if (!rendered.ok) return rendered;
  return deriveRemoteName(rendered.text + suffix, '');
}

type NameFailure = Extract<RemoteNameResult, { ok: false }>;

/** The rendered text before any check, or why there is none (outside the prefix, no partition date). */
function renderRaw(
  template: FilenameTemplate,
  input: TemplateInput,
): { ok: true; text: string } | NameFailure {
  const relative = deriveRelativeKey(input.key, input.prefix);
  if (relative === undefined) {
    return {
      ok: false,
      rule: 'outside-prefix',
      reason: `key is not under the partner prefix ${JSON.stringify(input.prefix)}`,
    };
  }
  const base = relative.slice(relative.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const name = dot > 0 ? base.slice(0, dot) : base;
  const ext = dot > 0 ? base.slice(dot) : '';
  let out = '';
  for (const s of template.segments) {
    if (s.kind === 'text') out += s.text;
    else if (s.kind === 'name') out += name;
    else if (s.kind === 'ext') out += ext;
    else if (s.kind === 'key') out += relative.replaceAll('/', '_');
    else if (s.kind === 'partner') out += input.partnerId;
    else if (s.kind === 'date') out += renderDate(s, input.lastModified, input.timezone);
    else if (s.kind === 'partition') {
      const values = partitionValues(s.pattern, input.partition);
      if (!values.ok) return { ok: false, rule: 'no-partition-date', reason: values.reason };
      out += renderPattern(s.pattern, values.values);
    } else if (s.kind === 'seq') out += renderSeq(s.width, input.seq ?? 'hashes');
  }
  return { ok: true, text: out };
}

// The letters' values for one pattern, or why the partition has none (load refuses a prefix that
// cannot give them; a key in no partition or in a `2026-02-30/` reaches here only by hand).
function partitionValues(
  pattern: DatePattern,
  partition: PartitionDateResult | undefined,
): { ok: true; values: Record<DatePart, string> } | { ok: false; reason: string } {
  if (partition === undefined) {
    return { ok: false, reason: '{partition:…} needs a dated source.prefix; this partner has none' };
  }
  if (!partition.ok) return { ok: false, reason: `{partition:…} has no date: ${partition.reason}` };
  const { year, month, day } = partition.date;
  const yyyy = year === undefined ? undefined : String(year).padStart(4, '0');
  const MM = month === undefined ? undefined : String(month).padStart(2, '0');
  for (const p of pattern) {
    if ((p === 'yyyy' || p === 'yy') && yyyy === undefined) {
      return { ok: false, reason: '{partition:…} asks for a year the partition does not give' };
    }
    if (p === 'MM' && MM === undefined) {
      return { ok: false, reason: '{partition:…} asks for a month the partition does not give' };
    }
  }
  const values = {
    yyyy: yyyy ?? '',
    yy: (yyyy ?? '').slice(-2),
    MM: MM ?? '',
    dd: String(day).padStart(2, '0'),
  };
  return { ok: true, values: { ...values, HH: '', mm: '', ss: '' } };
}

function renderSeq(width: number, seq: number | 'mask' | 'hashes'): string {
  if (seq === 'mask') return SEQ_MASK;
  if (seq === 'hashes') return '#'.repeat(Math.max(width, 1));
  return String(seq).padStart(width, '0'); // a number wider than `width` just grows
}

function deriveRelativeKey(key: string, prefix: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

/** What the remote name of a partner's objects depends on. */
export interface NamingPartner {
  id: string;
  /** Names are relative to the prefix, or with a dated prefix to the key's partition. */
  source: { prefix: string; prefixTemplate?: PrefixTemplate | undefined };
  schedule: { timezone: string };
  naming?: { filename?: FilenameTemplate };
  transform?: TransformNaming;
}

/**
 * The final remote name of an object: the template's, when the partner has one, else the key's, with
 * the transform suffix (`.gz`, `.pgp`/`.asc`) appended before the safe-name rules (255 bytes, …) are
 * checked. `seq`: the delivery's `{seq}` number (src/ledger/name-sequence.ts); without it a `{seq}`
 * renders as `#` × width, the way `ferry plan` shows a number given only at delivery.
 */
export function remoteNameFor(
  partner: NamingPartner,
  object: { key: string; lastModified: Date; seq?: number },
): RemoteNameResult {
  const suffix = transformSuffix(partner.transform);
  if (!partner.naming?.filename) {
    return deriveRemoteName(object.key + suffix, keyPrefixFor(partner.source, object.key));
  }
  return renderFilename(partner.naming.filename, templateInput(partner, object), suffix);
}

/** True when the partner's names carry a `{seq}` number (given per delivery, from Redis). */
export function namesUseSequence(partner: NamingPartner): boolean {
  return partner.naming?.filename?.seq !== undefined;
}

/**
 * The `{seq}` counter an object's number is drawn from: its name with the number masked, so
 * `ACME_{date:yyyyMMdd}_{seq:3}.csv` counts per day, and two objects whose names differ only in the
 * number share a counter (their names can never collide). The name is checked first with a number
 * of the token's width (a name that fails the safe-name rules gets no number); `undefined` when the
 * partner's template has no `{seq}`.
 */
export function sequenceScopeFor(
  partner: NamingPartner,
  object: { key: string; lastModified: Date },
): { ok: true; scope: string } | Extract<RemoteNameResult, { ok: false }> | undefined {
  const template = partner.naming?.filename;
  if (template?.seq === undefined) return undefined;
  const probe = remoteNameFor(partner, { ...object, seq: 10 ** Math.max(template.seq.width - 1, 0) });
  if (!probe.ok) return probe;
  const masked = renderRaw(template, { ...templateInput(partner, object), seq: 'mask' });
  return { ok: true, scope: (masked.ok ? masked.text : '') + transformSuffix(partner.transform) };
}

function templateInput(
  partner: NamingPartner,
  object: { key: string; lastModified: Date; seq?: number },
): TemplateInput {
  const { prefixTemplate } = partner.source;
  const partition =
    prefixTemplate !== undefined && partner.naming?.filename?.segments.some((s) => s.kind === 'partition')
      ? partitionDateOfKey(prefixTemplate, object.key)
      : undefined;
  return {
    key: object.key,
    prefix: keyPrefixFor(partner.source, object.key),
    partnerId: partner.id,
    lastModified: object.lastModified,
    timezone: partner.schedule.timezone,
    ...(partition === undefined ? {} : { partition }),
    ...(object.seq === undefined ? {} : { seq: object.seq }),
  };
}
