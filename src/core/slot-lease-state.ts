// What the holder of a connection-slot lease may believe about it. Redis decides who holds a slot;
// the holder only knows what Redis last confirmed, and when it asked. These rules turn that into
// "still mine" or "lost", so a worker never keeps a partner connection whose slot may be someone else's.

/** Why a lease counts as lost. */
export type SlotLossReason =
  /** A renewal was answered "not held": the lease had expired in Redis and may have been taken. */
  | 'not-held'
  /** No renewal was confirmed for a lease period by the local clock (Redis unreachable or slow). */
  | 'unconfirmed';

export type SlotLeaseState =
  | {
      readonly kind: 'held';
      /** Local monotonic ms after which the lease may have expired in Redis. */ readonly validUntilMs: number;
    }
  | { readonly kind: 'lost'; readonly reason: SlotLossReason };

export type SlotLeaseEvent =
  /** An acquire or renewal answered "held"; `sentAtMs` is the local time the request was sent. */
  | { readonly kind: 'confirmed'; readonly sentAtMs: number }
  /** A renewal answered "not held". */
  | { readonly kind: 'not-held' }
  /** The local clock reads `nowMs`. */
  | { readonly kind: 'tick'; readonly nowMs: number };

/** The margin is at most this: a long lease needs no more than a second of slack. */
const MAX_MARGIN_MS = 1000;

/**
 * Until when (local monotonic ms) a lease confirmed by a request sent at `sentAtMs` is surely still
 * held. Redis ran the request no earlier than it was sent and set the expiry to its own now +
 * leaseMs, so sentAt + leaseMs is never later than that expiry. A tenth of the lease (at most 1 s)
 * is taken off for the local timer firing late and for clocks that tick at slightly different rates.
 */
export function slotLeaseValidUntil(sentAtMs: number, leaseMs: number): number {
  return sentAtMs + leaseMs - Math.min(MAX_MARGIN_MS, Math.floor(leaseMs / 10));
}

/** A freshly acquired lease: the acquire request sent at `sentAtMs` was answered "taken". */
export function acquiredSlotLease(sentAtMs: number, leaseMs: number): SlotLeaseState {
  return { kind: 'held', validUntilMs: slotLeaseValidUntil(sentAtMs, leaseMs) };
}

/**
 * The lease's next state. Lost is final: a late "held" answer cannot bring a lease back, because the
 * pool has already let its connection go on the strength of the loss.
 */
export function nextSlotLeaseState(
  state: SlotLeaseState,
  event: SlotLeaseEvent,
  leaseMs: number,
): SlotLeaseState {
  if (state.kind === 'lost') return state;
  switch (event.kind) {
    case 'not-held':
      return { kind: 'lost', reason: 'not-held' };
    case 'tick':
      return event.nowMs >= state.validUntilMs ? { kind: 'lost', reason: 'unconfirmed' } : state;
    case 'confirmed': {
      // An answer to an older request never shortens what a newer one confirmed.
      const validUntilMs = Math.max(state.validUntilMs, slotLeaseValidUntil(event.sentAtMs, leaseMs));
      return validUntilMs === state.validUntilMs ? state : { kind: 'held', validUntilMs };
    }
  }
}
