import { describe, expect, it } from 'vitest';
import {
  acquiredSlotLease,
  nextSlotLeaseState,
  slotLeaseValidUntil,
  type SlotLeaseEvent,
  type SlotLeaseState,
} from '../../../src/core/slot-lease-state.js';

const LEASE_MS = 1000;

function run(events: readonly SlotLeaseEvent[], start: SlotLeaseState = acquiredSlotLease(0, LEASE_MS)) {
  return events.reduce((state, event) => nextSlotLeaseState(state, event, LEASE_MS), start);
}

describe('slotLeaseValidUntil', () => {
  it('ends before Redis could expire the lease: one lease after the request was sent, less a margin', () => {
    // Redis runs the request no earlier than it was sent, so its expiry is at least sent + lease.
    expect(slotLeaseValidUntil(500, 1000)).toBe(1400);
    expect(slotLeaseValidUntil(500, 1000)).toBeLessThan(500 + 1000);
  });

  it('keeps the margin to at most a second for long leases', () => {
    expect(slotLeaseValidUntil(0, 30_000)).toBe(29_000);
    expect(slotLeaseValidUntil(0, 5_000)).toBe(4_500);
  });
});

describe('nextSlotLeaseState', () => {
  it('holds a lease until its local deadline', () => {
    expect(run([{ kind: 'tick', nowMs: 899 }])).toEqual({ kind: 'held', validUntilMs: 900 });
  });

  it('counts a lease as lost when no renewal was confirmed for a lease period by the local clock', () => {
    expect(run([{ kind: 'tick', nowMs: 900 }])).toEqual({ kind: 'lost', reason: 'unconfirmed' });
  });

  it('counts a lease as lost as soon as a renewal is answered "not held"', () => {
    expect(run([{ kind: 'not-held' }])).toEqual({ kind: 'lost', reason: 'not-held' });
  });

  it('moves the deadline to a lease after each confirmed renewal was sent', () => {
    const state = run([
      { kind: 'confirmed', sentAtMs: 333 },
      { kind: 'tick', nowMs: 1000 },
      { kind: 'confirmed', sentAtMs: 666 },
      { kind: 'tick', nowMs: 1500 },
    ]);
    expect(state).toEqual({ kind: 'held', validUntilMs: 1566 });
  });

  it('never shortens the deadline for the answer to an older request', () => {
    const state = run([
      { kind: 'confirmed', sentAtMs: 666 },
      { kind: 'confirmed', sentAtMs: 333 },
    ]);
    expect(state).toEqual({ kind: 'held', validUntilMs: 1566 });
  });

  it('keeps a lost lease lost, whatever is answered later', () => {
    const lost = run([{ kind: 'tick', nowMs: 950 }]);
    expect(
      run(
        [
          { kind: 'confirmed', sentAtMs: 940 },
          { kind: 'tick', nowMs: 960 },
        ],
        lost,
      ),
    ).toEqual({ kind: 'lost', reason: 'unconfirmed' });
    expect(run([{ kind: 'not-held' }, { kind: 'confirmed', sentAtMs: 10 }])).toEqual({
      kind: 'lost',
      reason: 'not-held',
    });
  });
});
