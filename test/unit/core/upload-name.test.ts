import { describe, expect, it } from 'vitest';
import { uploadKeyFor } from '../../../src/core/upload-name.js';

const source = { prefix: 'acme/daily/', include: ['*.csv'] };

describe('uploadKeyFor', () => {
  it('puts a safe, included name under the partner prefix', () => {
    expect(uploadKeyFor('orders 2026-11-25.csv', source)).toEqual({
      ok: true,
      key: 'acme/daily/orders 2026-11-25.csv',
    });
    expect(uploadKeyFor('anything.bin', { prefix: 'p/', include: [] })).toEqual({
      ok: true,
      key: 'p/anything.bin',
    });
  });

  it.each([
    ['../other/x.csv', /dot-dot/],
    ['sub/x.csv', /separator/],
    ['.hidden.csv', /leading-dot/],
    ['-x.csv', /leading-dash/],
    ['notes.txt', /include globs/],
    ['', /empty/],
  ])('refuses %j', (name, message) => {
    const result = uploadKeyFor(name, source);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('uploadKeyFor with exclude and requireMarker', () => {
  const excluding = { prefix: 'acme/', include: ['*.csv'], exclude: ['*.tmp.csv', 'draft-*'] };

  it('refuses a name the partner excludes, naming the globs', () => {
    const result = uploadKeyFor('orders.tmp.csv', excluding);
    expect(result).toEqual({
      ok: false,
      message:
        "file name matches the partner's exclude globs (*.tmp.csv, draft-*): it would never be delivered",
    });
    expect(uploadKeyFor('draft-1.csv', excluding).ok).toBe(false);
  });

  it('accepts a name included and not excluded', () => {
    expect(uploadKeyFor('orders.csv', excluding)).toEqual({ ok: true, key: 'acme/orders.csv' });
    expect(uploadKeyFor('orders.csv', { ...excluding, exclude: [] })).toEqual({
      ok: true,
      key: 'acme/orders.csv',
    });
  });

  it('refuses every upload for a partner with requireMarker, saying why', () => {
    const result = uploadKeyFor('orders.csv', {
      prefix: 'acme/',
      include: ['*.csv'],
      requireMarker: '_SUCCESS',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(/marker _SUCCESS \(source\.requireMarker\)/);
      expect(result.message).toMatch(/release every other file waiting in acme\//);
    }
  });
});
