import { describe, expect, it } from 'vitest';
import { computeDeliveryId, isDeliveryId, tempNameFor } from '../../../src/core/delivery-id.js';
import { checkReason, parseRedeliveryId, redeliveryIdFor } from '../../../src/core/redelivery.js';
import { DeliverJobData } from '../../../src/queues/payloads.js';

const base = computeDeliveryId({ partnerId: 'acme', bucket: 'exports', key: 'acme/a.csv', etag: 'e1' });

describe('redelivery ids', () => {
  it('appends -r<n> to the delivery id and splits it back', () => {
    expect(redeliveryIdFor(base, 1)).toBe(`${base}-r1`);
    expect(parseRedeliveryId(`${base}-r12`)).toEqual({ baseId: base, n: 12 });
    expect(parseRedeliveryId(base)).toEqual({ baseId: base });
    expect(() => redeliveryIdFor(base, 0)).toThrow(RangeError);
  });

  it("numbers only the object version's own delivery id, up to 999999", () => {
    expect(() => redeliveryIdFor(`${base}-r1`, 2)).toThrow(RangeError);
    expect(() => redeliveryIdFor('acme', 1)).toThrow(RangeError);
    expect(() => redeliveryIdFor(base, 1_000_000)).toThrow(RangeError);
    expect(parseRedeliveryId('not-an-id-r2')).toEqual({ baseId: 'not-an-id-r2' });
  });

  it('is a valid delivery id and job payload id, and never all digits or with ":"', () => {
    const id = redeliveryIdFor(base, 3);
    expect(isDeliveryId(id)).toBe(true);
    expect(isDeliveryId(`${base}-r0`)).toBe(false);
    expect(id).not.toMatch(/:|^\d+$/);
    const payload = {
      v: 1,
      deliveryId: id,
      partnerId: 'acme',
      bucket: 'exports',
      key: 'acme/a.csv',
      etag: 'e1',
      size: 1,
    };
    expect(DeliverJobData.safeParse({ ...payload, redelivery: 3 }).success).toBe(true);
    expect(DeliverJobData.safeParse({ ...payload, redelivery: 0 }).success).toBe(false);
  });

  it('takes replace: true on a redelivery only: a sweep job carrying it, or another value, is invalid', () => {
    const payload = {
      v: 1,
      deliveryId: base,
      partnerId: 'acme',
      bucket: 'exports',
      key: 'acme/a.csv',
      etag: 'e1',
      size: 1,
    };
    const redelivery = { ...payload, deliveryId: redeliveryIdFor(base, 2), redelivery: 2 };
    expect(DeliverJobData.safeParse({ ...redelivery, replace: true }).success).toBe(true);
    const sweep = DeliverJobData.safeParse({ ...payload, replace: true });
    expect(sweep.success).toBe(false);
    expect(sweep.error?.issues.map((i) => i.path.join('.'))).toEqual(['replace']);
    expect(DeliverJobData.safeParse({ ...redelivery, replace: false }).success).toBe(false);
    expect(DeliverJobData.safeParse({ ...redelivery, replace: 'true' }).success).toBe(false);
  });

  it('gives each redelivery a temp name of its own', () => {
    const original = tempNameFor('a.csv', base);
    const first = tempNameFor('a.csv', redeliveryIdFor(base, 1));
    expect(first).toMatch(/^\.a\.csv\.[0-9a-f]{12}-r1\.part$/);
    expect(new Set([original, first, tempNameFor('a.csv', redeliveryIdFor(base, 2))]).size).toBe(3);
    expect(
      Buffer.byteLength(tempNameFor('x'.repeat(300), redeliveryIdFor(base, 999_999))),
    ).toBeLessThanOrEqual(255);
  });
});

describe('checkReason', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['  ab ', false],
    ['x'.repeat(501), false],
    ['line\nbreak', false],
    ['bidi \u202e trick', false],
    ['  partner lost the file  ', true],
  ])('%j → ok %s', (value, ok) => {
    const result = checkReason(value);
    expect(result.ok).toBe(ok);
    if (result.ok) expect(result.reason).toBe('partner lost the file');
  });
});
