// `manifest:` (control files): which delivered files one manifest lists, its name and its bytes. Pure:
// the clock, the window and the members are parameters; the Redis side is src/ledger/manifest-batches.ts
// and the job that publishes is jobs/manifest-publish.ts.
import { openingOn, type DeliveryWindow } from './delivery-window.js';
import { deriveRemoteName } from './remote-name.js';
import {
  parseDateToken,
  renderDate,
  scanTemplate,
  templateFailure,
  type DateSegment,
  type TemplateFailure,
  type TextSegment,
} from './template-text.js';
import { addDays, zonedParts } from './zoned-time.js';

/** `manifest.per`: one manifest for each window opening, or after every sweep that delivered something. */
export type ManifestPer = 'window' | 'sweep';
export type ManifestFormat = 'csv' | 'json';

/** A parsed `manifest.filename`: text, `{partner}` and `{date:…}` (the window's date, or the cutoff's time). */
export interface ManifestNameTemplate {
  source: string;
  segments: readonly (TextSegment | { kind: 'partner' } | DateSegment)[];
  /** A `{date:…}` shows seconds: two sweeps' manifests never share a name. */
  hasSeconds: boolean;
}

export function parseManifestName(
  source: string,
): { ok: true; template: ManifestNameTemplate } | TemplateFailure {
  const scanned = scanTemplate(source, (token, at) => {
    if (token === 'partner') return { kind: 'partner' as const };
    if (token.startsWith('date:')) return parseDateToken(token, at);
    return templateFailure(`unknown token {${token}} (tokens: partner, date:<pattern>)`, at);
  });
  if (!scanned.ok) return scanned;
  const template: ManifestNameTemplate = {
    source,
    segments: scanned.segments,
    hasSeconds: scanned.segments.some((s) => s.kind === 'date' && s.pattern.includes('ss')),
  };
  const sample = renderManifestName(template, 'partner', new Date(Date.UTC(2026, 0, 31, 23, 59, 58)), 'UTC');
  const checked = deriveRemoteName(sample, '');
  if (!checked.ok) return templateFailure(`renders unsafe names (${checked.reason})`, 0);
  return { ok: true, template };
}

export function renderManifestName(
  template: ManifestNameTemplate,
  partnerId: string,
  at: Date,
  timeZone: string,
): string {
  let out = '';
  for (const s of template.segments) {
    if (s.kind === 'text') out += s.text;
    else if (s.kind === 'partner') out += partnerId;
    else out += renderDate(s, at, timeZone);
  }
  return out;
}

/** One delivered data file as a manifest lists it (its record's facts when it was taken). */
export interface ManifestLine {
  deliveryId: string;
  /** The file's name on the partner's server (basename of its remote path). */
  name: string;
  bytes: number;
  sha256: string;
  /** Data rows, when the partner's `shape` or `validate.csv` counted them. */
  rows?: number;
  deliveredAt: string;
}

/** What one manifest is once taken (src/ledger/manifest-batches.ts): fixed, so every retry sends the same bytes. */
export interface ManifestRecord {
  partnerId: string;
  scope: string;
  name: string;
  format: ManifestFormat;
  createdAt: string;
  lines: readonly ManifestLine[];
}

export type ManifestDecision =
  | { ready: false; why: string }
  /**
   * Take the members delivered before `cutoffMs` into the manifest `scope`, dated `date`; `openedMs`:
   * the window opening it lists (per window), kept so a straggler goes into the next one.
   */
  | { ready: true; scope: string; cutoffMs: number; date: Date; openedMs?: number };

/**
 * Which manifest the oldest member not yet listed belongs to, and whether it can be taken now.
 * per sweep: every member delivered so far, now (the caller checks that no delivery it waits for is
 * still queued or running). per window: the members delivered from the opening the oldest one falls
 * in (the latest opening at or before its delivery; one still running at the close stays with it) up
 * to the next opening, once that opening has closed. A member delivered after its opening's manifest
 * was taken (`lastOpenedMs`: the opening of the newest one) goes into the next opening's manifest.
 */
export function decideManifest(
  per: ManifestPer,
  oldestMemberMs: number,
  now: Date,
  window?: { window: DeliveryWindow; timezone: string; lastOpenedMs?: number | undefined },
): ManifestDecision {
  if (per === 'sweep' || window === undefined) {
    return { ready: true, scope: `s-${now.getTime()}`, cutoffMs: now.getTime() + 1, date: now };
  }
  const last = window.lastOpenedMs;
  let opening = openingAtOrBefore(window.window, window.timezone, oldestMemberMs);
  if (opening !== undefined && last !== undefined && opening.open.getTime() <= last) {
    opening = openingAfter(window.window, window.timezone, last);
    if (opening === undefined) return { ready: false, why: 'the window never opens again' };
  }
  if (opening === undefined) {
    // Delivered before the window ever opened (e.g. the window was added since): its own manifest now.
    return { ready: true, scope: `s-${now.getTime()}`, cutoffMs: oldestMemberMs + 1, date: now };
  }
  if (now.getTime() < opening.close.getTime()) {
    return {
      ready: false,
      why: `the window opened ${opening.date} closes at ${opening.close.toISOString()}`,
    };
  }
  const next = openingAfter(window.window, window.timezone, opening.open.getTime());
  const cutoffMs = Math.min(next?.open.getTime() ?? Infinity, now.getTime() + 1);
  return {
    ready: true,
    scope: `w-${opening.date}`,
    cutoffMs,
    date: opening.open,
    openedMs: opening.open.getTime(),
  };
}

type Opening = { date: string; open: Date; close: Date };

/** How far back an opening is looked for (a window on one weekday a year, blackouts aside). */
const LOOKBACK_DAYS = 400;

function openingAtOrBefore(window: DeliveryWindow, timezone: string, ms: number): Opening | undefined {
  let date = zonedParts(new Date(ms), timezone).date;
  for (let i = 0; i < LOOKBACK_DAYS; i += 1, date = addDays(date, -1)) {
    const o = openingOn(window, timezone, date);
    if (o && o.open.getTime() <= ms) return { date, ...o };
  }
  return undefined;
}

function openingAfter(window: DeliveryWindow, timezone: string, afterMs: number): Opening | undefined {
  let date = zonedParts(new Date(afterMs), timezone).date;
  for (let i = 0; i < LOOKBACK_DAYS * 2; i += 1, date = addDays(date, 1)) {
    const o = openingOn(window, timezone, date);
    if (o && o.open.getTime() > afterMs) return { date, ...o };
  }
  return undefined;
}

/** The manifest's bytes: the same record always gives the same bytes (its S3 object and delivery id). */
export function renderManifest(record: ManifestRecord): string {
  if (record.format === 'json') {
    const rows = record.lines.every((l) => l.rows !== undefined)
      ? { rows: record.lines.reduce((n, l) => n + (l.rows ?? 0), 0) }
      : {};
    const doc = {
      partner: record.partnerId,
      manifest: record.scope,
      createdAt: record.createdAt,
      files: record.lines.map((l) => ({
        name: l.name,
        bytes: l.bytes,
        sha256: l.sha256,
        ...(l.rows === undefined ? {} : { rows: l.rows }),
      })),
      totals: { files: record.lines.length, bytes: record.lines.reduce((n, l) => n + l.bytes, 0), ...rows },
    };
    return `${JSON.stringify(doc, null, 2)}\n`;
  }
  const out = ['filename,bytes,sha256,rows'];
  for (const l of record.lines) {
    out.push(`${csvField(l.name)},${l.bytes},${l.sha256},${l.rows === undefined ? '' : l.rows}`);
  }
  return `${out.join('\n')}\n`;
}

/** RFC 4180: a name with a comma or quote is quoted (safe names hold no line breaks). */
function csvField(text: string): string {
  return /[",]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `manifest.per` as it applies: left out, per window when the partner has one. */
export function manifestPer(partner: {
  window?: unknown;
  manifest?: { per?: ManifestPer | undefined };
}): ManifestPer {
  return partner.manifest?.per ?? (partner.window === undefined ? 'sweep' : 'window');
}

/**
 * Where a manifest's S3 object is kept: beside the receipts, under `_manifests/` (no partner id starts
 * with "_", so it never mixes with a partner's receipts), one folder per manifest holding one file
 * named as the partner receives it (the delivery's remote name is the key's last part).
 */
export function manifestKeyPrefix(receiptsPrefix: string, partnerId: string): string {
  const prefix =
    receiptsPrefix === '' || receiptsPrefix.endsWith('/') ? receiptsPrefix : `${receiptsPrefix}/`;
  return `${prefix}_manifests/${partnerId}/`;
}

export function manifestObjectKey(
  receiptsPrefix: string,
  record: Pick<ManifestRecord, 'partnerId' | 'scope' | 'name'>,
): string {
  return `${manifestKeyPrefix(receiptsPrefix, record.partnerId)}${record.scope}/${record.name}`;
}

/** The manifest scope a manifest object's key names, when `key` is one of the partner's; else undefined. */
export function manifestScopeOfKey(
  receiptsPrefix: string,
  partnerId: string,
  key: string,
): string | undefined {
  const prefix = manifestKeyPrefix(receiptsPrefix, partnerId);
  if (!key.startsWith(prefix)) return undefined;
  const [scope, name, ...rest] = key.slice(prefix.length).split('/');
  return scope && name && rest.length === 0 && /^[sw]-[0-9-]+$/.test(scope) ? scope : undefined;
}
