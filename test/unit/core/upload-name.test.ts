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
