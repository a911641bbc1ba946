import { describe, expect, it } from 'vitest';
import { createRequestDeadlines } from '../../../src/core/request-deadlines.js';

const DEADLINE = 2_000;

describe('createRequestDeadlines', () => {
  it('has nothing due while no request is outstanding', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    expect(deadlines.overdue(1_000_000)).toBeUndefined();
    expect(deadlines.msUntilDue(1_000_000)).toBeUndefined();
    const token = deadlines.begin('stat', '/in/a.csv', 0);
    deadlines.end(token, 10);
    expect(deadlines.outstanding).toBe(0);
    expect(deadlines.overdue(1_000_000)).toBeUndefined();
  });

  it('makes a lone request overdue exactly the deadline after it was sent, naming it', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    deadlines.begin('stat', '/in/a.csv', 100);
    expect(deadlines.overdue(100 + DEADLINE - 1)).toBeUndefined();
    expect(deadlines.msUntilDue(100 + 500)).toBe(DEADLINE - 500);
    expect(deadlines.overdue(100 + DEADLINE)).toEqual({
      request: { op: 'stat', path: '/in/a.csv', sentAt: 100 },
      waitedMs: DEADLINE,
    });
  });

  it('names the oldest outstanding request when several wait', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    const first = deadlines.begin('open', '/in/.a.part', 0);
    deadlines.begin('stat', '/in/b.csv', 10);
    deadlines.begin('rename', '/in/.c.part -> /in/c.csv', 20);
    deadlines.end(first, 30);
    // The open was answered at 30: the stat sent at 10 waits from then.
    expect(deadlines.overdue(30 + DEADLINE)?.request).toMatchObject({ op: 'stat', path: '/in/b.csv' });
    expect(deadlines.outstanding).toBe(2);
  });

  it('keeps a slow link alive: a write queued behind others waits past the deadline while replies keep coming', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    // Eight writes sent at once; one reply every 600 ms (each write waits up to 4.8 s).
    const tokens = Array.from({ length: 8 }, () => deadlines.begin('write', '/in/.big.part', 0));
    for (const [i, token] of tokens.entries()) {
      const now = (i + 1) * 600;
      expect(deadlines.overdue(now)).toBeUndefined();
      deadlines.end(token, now);
    }
    expect(deadlines.outstanding).toBe(0);
  });

  it('expires the oldest write once the server has answered nothing for the deadline', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    const a = deadlines.begin('write', '/in/.big.part', 0);
    deadlines.begin('write', '/in/.big.part', 0);
    deadlines.begin('write', '/in/.big.part', 0);
    deadlines.end(a, 500);
    expect(deadlines.overdue(500 + DEADLINE - 1)).toBeUndefined();
    expect(deadlines.msUntilDue(600)).toBe(DEADLINE - 100);
    expect(deadlines.overdue(500 + DEADLINE)).toEqual({
      request: { op: 'write', path: '/in/.big.part', sentAt: 0 },
      waitedMs: DEADLINE,
    });
  });

  it('does not count a request that failed before it was sent as a sign of life', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    deadlines.begin('stat', '/in/a.csv', 0);
    const refused = deadlines.begin('write', '/in/.a.part', 1_000);
    deadlines.end(refused, 1_500, false);
    expect(deadlines.overdue(DEADLINE)?.request.op).toBe('stat');
  });

  it('ignores the end of a request it never saw or already ended', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    const token = deadlines.begin('stat', '/in/a.csv', 0);
    deadlines.end(token, 100);
    deadlines.begin('stat', '/in/b.csv', 200);
    deadlines.end(token, 1_500);
    deadlines.end(12345, 1_500);
    expect(deadlines.overdue(200 + DEADLINE)?.request.path).toBe('/in/b.csv');
  });

  it('never asks for a negative wait, even when a check comes late', () => {
    const deadlines = createRequestDeadlines(DEADLINE);
    deadlines.begin('remove', '/in/.a.part', 0);
    expect(deadlines.msUntilDue(10 * DEADLINE)).toBe(0);
  });
});
