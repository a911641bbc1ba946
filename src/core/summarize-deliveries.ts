// The result line and exit code of `ferry sweep --wait`.

/** How one delivery of a sweep ended. */
export type DeliveryOutcome =
  'delivered' | 'already-delivered' | 'skipped' | 'superseded' | 'quarantined' | 'failed';

export interface SweepWaitSummary {
  delivered: number;
  alreadyDelivered: number;
  skipped: number;
  /** An older version a newer one replaced before it was published (never published after it). */
  superseded: number;
  quarantined: number;
  failed: number;
  /** Deliveries still queued or running when the wait ended. */
  pending: number;
}

const FIELD: Readonly<Record<DeliveryOutcome | 'pending', keyof SweepWaitSummary>> = {
  delivered: 'delivered',
  'already-delivered': 'alreadyDelivered',
  skipped: 'skipped',
  superseded: 'superseded',
  quarantined: 'quarantined',
  failed: 'failed',
  pending: 'pending',
};

/** Counts outcomes per kind; every count is present, zero when nothing had that outcome. */
export function summarizeOutcomes(outcomes: Iterable<DeliveryOutcome | 'pending'>): SweepWaitSummary {
  const summary: SweepWaitSummary = {
    delivered: 0,
    alreadyDelivered: 0,
    skipped: 0,
    superseded: 0,
    quarantined: 0,
    failed: 0,
    pending: 0,
  };
  for (const outcome of outcomes) summary[FIELD[outcome]] += 1;
  return summary;
}

/**
 * One line for humans and logs: "delivered 3, already delivered 1, skipped 0, quarantined 0, failed 0".
 * ", pending N" is appended only when something was still pending.
 */
export function formatSummary(s: SweepWaitSummary): string {
  const parts = [
    `delivered ${s.delivered}`,
    `already delivered ${s.alreadyDelivered}`,
    `skipped ${s.skipped}`,
    `quarantined ${s.quarantined}`,
    `failed ${s.failed}`,
  ];
  if (s.superseded > 0) parts.push(`superseded ${s.superseded}`);
  if (s.pending > 0) parts.push(`pending ${s.pending}`);
  return parts.join(', ');
}

/** Exit code of `ferry sweep --wait`: 0 when everything settled without failures, else 1. */
export function summaryExitCode(s: SweepWaitSummary, timedOut: boolean): number {
  return timedOut || s.failed > 0 || s.pending > 0 ? 1 : 0;
}
