// The answer filters of `ferry deliveries --status` and `GET /api/deliveries?status=`: they select on
// the partner's answer (the record's `ack`), not on the ledger status, which stays `delivered`.
import type { AckStatus } from './delivery-view.js';

/** Filter name → the `ack` value it selects. `unanswered`: still waiting, `ack.within` not yet passed. */
export const ACK_FILTERS = {
  acknowledged: 'acknowledged',
  rejected: 'rejected',
  overdue: 'overdue',
  unanswered: 'pending',
} as const satisfies Record<string, AckStatus>;

export type AckFilter = keyof typeof ACK_FILTERS;
export const ACK_FILTER_NAMES = Object.keys(ACK_FILTERS) as AckFilter[];

/** The `ack` value a filter name selects; undefined when the name is not an answer filter. */
export function ackFilterOf(name: string): AckStatus | undefined {
  return Object.hasOwn(ACK_FILTERS, name) ? ACK_FILTERS[name as AckFilter] : undefined;
}
