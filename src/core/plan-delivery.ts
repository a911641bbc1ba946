// `ferry plan`: what the next sweep and its deliveries would do with each listed object, decided
// without side effects. Mirrors jobs/sweep.ts (selection, ledger) and jobs/deliver.ts (names, holds).
import { printable } from './format-deliveries.js';
import type { RemoteNameResult } from './remote-name.js';
import type { SkipReason } from './select-objects.js';

export type PlanSkipReason =
  | SkipReason
  | 'already-delivered'
  | 'quarantined'
  | 'skipped'
  | 'superseded'
  | 'failed'
  | 'in-progress'
  | 'hostile-key'
  | 'name-collision';

export type PlanOutcome =
  | { action: 'deliver'; remotePath: string; numberAtDelivery?: true; clash?: string }
  | {
      action: 'hold';
      why: 'paused' | 'window-closed';
      remotePath: string;
      detail?: string;
      numberAtDelivery?: true;
      clash?: string;
    }
  | { action: 'skip'; why: PlanSkipReason; detail?: string };

export interface PlanFacts {
  /** Why selectObjects left the object out, if it did. */
  selectionSkip?: SkipReason;
  /** The ledger's record, if any; `settled` as src/ledger/delivery-record.ts isSettled says. */
  ledger?: { status: string; settled: boolean; reason?: string; lastErrorCode?: string };
  /** The remote name's verdict: remoteNameFor (naming.filename template, else the key). */
  name: RemoteNameResult;
  /** The name has a `{seq}` number, shown as `#`s: the number is given only when it is delivered. */
  numberAtDelivery?: boolean;
  directory: string;
  /** The partner is paused (config or operator): deliveries wait. */
  paused?: { detail: string };
  /** Outside the delivery window: deliveries wait until it opens. */
  windowClosed?: { detail: string };
  /**
   * An object listed before this one has (or will have) the same remote name: `as` is its key, `then`
   * what happens to this one — a naming.filename name is left out by the sweep (`name-collision`), a
   * key-derived one goes and meets target.onExisting. `fix`: how to tell the names apart.
   */
  sameName?: { as: string; then: 'name-collision' | 'fail' | 'overwrite' | 'skip'; fix?: string };
}

const ON_SAME_NAME: Record<'fail' | 'overwrite' | 'skip', string> = {
  fail: 'the later one fails with ERR_REMOTE_EXISTS (target.onExisting: fail)',
  overwrite: 'the later one replaces it on the server (target.onExisting: overwrite)',
  skip: 'the later one is not sent (target.onExisting: skip)',
};

/** The first rule that applies wins, in the order the sweep and the deliver job check them. */
export function planObject(f: PlanFacts): PlanOutcome {
  if (f.selectionSkip) return { action: 'skip', why: f.selectionSkip };
  const record = f.ledger;
  if (record?.status === 'delivered') return { action: 'skip', why: 'already-delivered' };
  if (record?.status === 'quarantined') {
    return { action: 'skip', why: 'quarantined', ...(record.reason ? { detail: record.reason } : {}) };
  }
  if (record?.status === 'superseded') {
    return { action: 'skip', why: 'superseded', ...(record.reason ? { detail: record.reason } : {}) };
  }
  if (record?.status === 'skipped' && record.settled) {
    return { action: 'skip', why: 'skipped', ...(record.reason ? { detail: record.reason } : {}) };
  }
  if (record?.status === 'failed') {
    return {
      action: 'skip',
      why: 'failed',
      detail: `${record.lastErrorCode ?? 'failed'}: waits for ferry retry (sweeps do not send it again)`,
    };
  }
  if (record?.status === 'publishing') return { action: 'skip', why: 'in-progress' };
  if (!f.name.ok) return { action: 'skip', why: 'hostile-key', detail: f.name.reason };
  const same = f.sameName;
  const fix = same?.fix === undefined ? '' : `; ${same.fix}`;
  if (same?.then === 'name-collision') {
    return { action: 'skip', why: 'name-collision', detail: `same remote name as ${same.as}${fix}` };
  }
  const remotePath = joinRemote(f.directory, f.name.name);
  const extra = {
    ...(f.numberAtDelivery ? { numberAtDelivery: true as const } : {}),
    ...(same === undefined
      ? {}
      : { clash: `same remote name as ${same.as}: ${ON_SAME_NAME[same.then]}${fix}` }),
  };
  if (f.paused) return { action: 'hold', why: 'paused', remotePath, detail: f.paused.detail, ...extra };
  if (f.windowClosed) {
    return { action: 'hold', why: 'window-closed', remotePath, detail: f.windowClosed.detail, ...extra };
  }
  return { action: 'deliver', remotePath, ...extra };
}

const LABELS: Record<PlanSkipReason | 'paused' | 'window-closed', string> = {
  'outside-prefix': 'outside the prefix',
  'directory-marker': 'directory marker',
  'zero-byte': 'zero-byte',
  marker: 'marker object (requireMarker)',
  'not-included': 'filter (no include glob matches)',
  excluded: 'filter (an exclude glob matches)',
  settling: 'too young (minAgeSeconds)',
  stale: 'too old (maxAgeDays): sent only by ferry redeliver',
  'no-marker': 'waiting for its directory marker (requireMarker)',
  'already-delivered': 'already delivered',
  quarantined: 'quarantined',
  skipped: 'skipped earlier',
  superseded: 'superseded by a newer version',
  failed: 'failed earlier',
  'in-progress': 'being delivered now',
  'hostile-key': 'hostile key',
  'name-collision': 'name collision',
  paused: 'held: partner paused',
  'window-closed': 'held: window closed',
};

/**
 * One line per object: `deliver  <key> → <remote path>` or `skip     <key>  (<why>)`; a `{seq}` name
 * shows its number as `#`s: `deliver  a.csv → /in/ACME_20261126_###.csv  (number given at delivery)`.
 */
export function formatPlanLine(key: string, outcome: PlanOutcome): string {
  const shown = printable(key);
  const notes =
    outcome.action === 'skip'
      ? []
      : [
          ...(outcome.numberAtDelivery ? ['number given at delivery'] : []),
          ...(outcome.clash === undefined ? [] : [printable(outcome.clash)]),
        ];
  if (outcome.action === 'deliver') {
    return `deliver  ${shown} → ${printable(outcome.remotePath)}${notes.length > 0 ? `  (${notes.join('; ')})` : ''}`;
  }
  const label = LABELS[outcome.why];
  const detail = outcome.detail ? `: ${printable(outcome.detail)}` : '';
  if (outcome.action === 'hold') {
    return `hold     ${shown} → ${printable(outcome.remotePath)}  (${[`${label}${detail}`, ...notes].join('; ')})`;
  }
  return `skip     ${shown}  (${label}${detail})`;
}

export type PlanCounts = Record<string, number>;

/** Adds one outcome to the per-label counts of a summary. */
export function countPlan(counts: PlanCounts, outcome: PlanOutcome): void {
  const label = outcome.action === 'deliver' ? 'would deliver' : LABELS[outcome.why];
  counts[label] = (counts[label] ?? 0) + 1;
}

/** `acme: 12 listed · would deliver 3 · already delivered 8 · zero-byte 1` ("would deliver" first). */
export function formatPlanSummary(partnerId: string, listed: number, counts: PlanCounts): string {
  const parts = Object.entries({ 'would deliver': 0, ...counts }).sort(
    ([a, x], [b, y]) =>
      Number(b === 'would deliver') - Number(a === 'would deliver') || y - x || a.localeCompare(b),
  );
  return [`${partnerId}: ${listed} listed`, ...parts.map(([label, n]) => `${label} ${n}`)].join(' · ');
}

function joinRemote(directory: string, name: string): string {
  return directory.endsWith('/') ? `${directory}${name}` : `${directory}/${name}`;
}
