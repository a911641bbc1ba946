// Paging through the ledger's per-partner indexes (newest first) with an opaque cursor, and the time
// bounds the listings accept. Pure: the clock comes in.

/**
 * Where a listing stopped: every entry with a score (updatedAt ms) above `s` was seen, and at `s`
 * itself the first `k[partner]` entries of each partner (Redis orders equal scores by id, descending).
 * Exact even when thousands of entries share one millisecond.
 */
export interface LedgerCursor {
  kind: 'ledger';
  s: number;
  k: Record<string, number>;
}

/** Where a listing of queued jobs stopped: an offset into the waiting + delayed jobs. */
export interface QueuedCursor {
  kind: 'queued';
  offset: number;
}

export type ListCursor = LedgerCursor | QueuedCursor;

/** The cursor as an opaque URL-safe string. */
export function encodeCursor(cursor: ListCursor): string {
  const body = cursor.kind === 'ledger' ? { s: cursor.s, k: cursor.k } : { o: cursor.offset };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** The cursor encodeCursor wrote, or undefined for anything else (cursors come from clients). */
export function decodeCursor(text: string): ListCursor | undefined {
  if (text.length === 0 || text.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { s, k, o } = body as { s?: unknown; k?: unknown; o?: unknown };
  if (typeof o === 'number') {
    return Number.isSafeInteger(o) && o >= 0 ? { kind: 'queued', offset: o } : undefined;
  }
  if (typeof s !== 'number' || !Number.isFinite(s) || typeof k !== 'object' || k === null) return undefined;
  const counts: Record<string, number> = {};
  for (const [partner, n] of Object.entries(k)) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return undefined;
    counts[partner] = n;
  }
  return { kind: 'ledger', s, k: counts };
}

/** `90s`, `30m`, `24h`, `7d`, `2w` in ms; undefined for anything else. */
export function parseDurationMs(text: string): number | undefined {
  const relative = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (!relative) return undefined;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
    relative[2] as 's' | 'm' | 'h' | 'd' | 'w'
  ];
  return Number(relative[1]) * unit;
}

/**
 * A listing's time bound: an ISO date-time, or a duration back from `now` (`90s`, `30m`, `24h`,
 * `7d`, `2w`). Returns epoch ms, or undefined when the text is neither.
 */
export function parseTimeBound(text: string, now: Date): number | undefined {
  const back = parseDurationMs(text);
  if (back !== undefined) return now.getTime() - back;
  // Only full dates or date-times: Date.parse accepts far more than anyone means.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    return undefined;
  }
  const ms = Date.parse(text.trim());
  return Number.isFinite(ms) ? ms : undefined;
}
