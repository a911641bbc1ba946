import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, parseTimeBound } from '../../../src/core/delivery-cursor.js';

describe('listing cursors', () => {
  it('round-trip as opaque URL-safe strings', () => {
    const ledger = { kind: 'ledger', s: 1_764_000_000_123, k: { acme: 3, globex: 1 } } as const;
    const text = encodeCursor(ledger);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text)).toEqual(ledger);
    expect(decodeCursor(encodeCursor({ kind: 'queued', offset: 50 }))).toEqual({
      kind: 'queued',
      offset: 50,
    });
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'ab+/='],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['negative count', Buffer.from('{"s":1,"k":{"a":-1}}').toString('base64url')],
    ['no score', Buffer.from('{"k":{}}').toString('base64url')],
    ['fractional offset', Buffer.from('{"o":1.5}').toString('base64url')],
  ])('rejects %s', (_what, text) => {
    expect(decodeCursor(text)).toBeUndefined();
  });
});

describe('parseTimeBound', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  it.each([
    ['24h', '2026-11-24T12:00:00.000Z'],
    ['7d', '2026-11-18T12:00:00.000Z'],
    ['30m', '2026-11-25T11:30:00.000Z'],
    ['2026-11-20', '2026-11-20T00:00:00.000Z'],
    ['2026-11-20T08:15:00Z', '2026-11-20T08:15:00.000Z'],
    ['2026-11-20T08:15:00+01:00', '2026-11-20T07:15:00.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(new Date(parseTimeBound(text, now)!).toISOString()).toBe(iso);
  });

  it.each(['yesterday', '24', 'h24', '2026-13-45', '1 Nov 2026'])('rejects %s', (text) => {
    expect(parseTimeBound(text, now)).toBeUndefined();
  });
});
