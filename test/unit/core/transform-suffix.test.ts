import { describe, expect, it } from 'vitest';
import { transformSuffix, transformsBytes } from '../../../src/core/transform-suffix.js';

describe('transformSuffix', () => {
  it.each([
    [undefined, ''],
    [{ compress: 'none' as const }, ''],
    [{ compress: 'gzip' as const }, '.gz'],
    [{ compress: 'none' as const, pgp: { armor: false } }, '.pgp'],
    [{ compress: 'none' as const, pgp: { armor: true } }, '.asc'],
    [{ compress: 'gzip' as const, pgp: { armor: false } }, '.gz.pgp'],
    [{ compress: 'gzip' as const, pgp: { armor: true } }, '.gz.asc'],
  ])('names %j with %j, in the order the transforms were applied', (transform, suffix) => {
    expect(transformSuffix(transform)).toBe(suffix);
    expect(transformsBytes(transform)).toBe(suffix !== '');
  });
});
