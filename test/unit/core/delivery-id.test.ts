import { describe, expect, it } from 'vitest';
import {
  computeDeliveryId,
  deliveryHash,
  deliveryIdFor,
  formatDeliveryId,
  isDeliveryId,
  isPartnerId,
  normalizeEtag,
  parseDeliveryId,
  partnerOfDeliveryId,
  tempNameFor,
  type DeliveryIdentity,
} from '../../../src/core/delivery-id.js';
import { FerryError } from '../../../src/errors.js';

function identity(overrides: Partial<DeliveryIdentity> = {}): DeliveryIdentity {
  return { partnerId: 'acme', bucket: 'exports', key: 'acme/orders.csv', etag: 'abc123', ...overrides };
}

describe('computeDeliveryId', () => {
  it('keeps the persisted format: dlv-<partner>-<32 hex of sha256(partner\\0bucket\\0key\\0etag)>', () => {
    expect(computeDeliveryId(identity())).toBe('dlv-acme-30daa40bddbe09035a9be36c0dae6f39');
  });

  it('is deterministic for the same identity', () => {
    expect(computeDeliveryId(identity())).toBe(computeDeliveryId(identity()));
  });

  it.each([
    ['a quoted ETag', '"abc123"'],
    ['an ETag with surrounding spaces', '  abc123 '],
  ])('treats %s like the bare ETag', (_label, etag) => {
    expect(computeDeliveryId(identity({ etag }))).toBe(computeDeliveryId(identity()));
  });

  it.each<[string, Partial<DeliveryIdentity>]>([
    ['another partner', { partnerId: 'globex' }],
    ['another bucket', { bucket: 'other' }],
    ['another key', { key: 'acme/orders2.csv' }],
    ['a new ETag (re-exported object)', { etag: 'def456' }],
  ])('changes for %s', (_label, overrides) => {
    expect(computeDeliveryId(identity(overrides))).not.toBe(computeDeliveryId(identity()));
  });

  it('does not let field boundaries shift into each other', () => {
    const a = computeDeliveryId(identity({ bucket: 'ab', key: 'c' }));
    const b = computeDeliveryId(identity({ bucket: 'a', key: 'bc' }));
    expect(a).not.toBe(b);
  });

  it.each(['acme', 'acme-eu', 'acme_2', '123', '0-r1'])(
    'produces a valid BullMQ job id for partner %j (no ":", not all digits)',
    (partnerId) => {
      const id = computeDeliveryId(identity({ partnerId }));
      expect(id).not.toContain(':');
      expect(id).not.toMatch(/^\d+$/);
      expect(isDeliveryId(id)).toBe(true);
    },
  );

  it.each(['', 'a:b', 'a/b', 'a.b', 'Acme', '-acme', '.acme', 'ac me', 'acme\n', 'a'.repeat(64)])(
    'refuses partner id %j that would break job ids or paths',
    (partnerId) => {
      expect(() => computeDeliveryId(identity({ partnerId }))).toThrow(FerryError);
    },
  );
});

describe('normalizeEtag', () => {
  it.each([
    ['"abc"', 'abc'],
    ['abc', 'abc'],
    ['"abc-3"', 'abc-3'],
    ['"', '"'],
    ['""', ''],
  ])('normalises %j to %j', (input, expected) => {
    expect(normalizeEtag(input)).toBe(expected);
  });
});

describe('deliveryHash', () => {
  it('returns the 32-hex part of a delivery id', () => {
    expect(deliveryHash('dlv-acme-eu-30daa40bddbe09035a9be36c0dae6f39')).toBe(
      '30daa40bddbe09035a9be36c0dae6f39',
    );
  });

  it.each(['', 'acme', 'dlv-acme', 'dlv-acme-XYZ', 'dlv--30daa40bddbe09035a9be36c0dae6f39', '1234'])(
    'rejects %j as not a delivery id',
    (value) => {
      expect(isDeliveryId(value)).toBe(false);
      expect(() => deliveryHash(value)).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD_INVALID' }));
    },
  );
});

describe('tempNameFor', () => {
  const deliveryId = 'dlv-acme-30daa40bddbe09035a9be36c0dae6f39';

  it('hides the temp file and tags it with the first 12 hash characters', () => {
    expect(tempNameFor('orders.csv', deliveryId)).toBe('.orders.csv.30daa40bddbe.part');
  });

  it('is the same for every attempt of a delivery, so a retry overwrites its own temp file', () => {
    expect(tempNameFor('orders.csv', deliveryId)).toBe(tempNameFor('orders.csv', deliveryId));
  });

  it('differs between deliveries of the same name', () => {
    const other = computeDeliveryId(identity({ etag: 'new' }));
    expect(tempNameFor('orders.csv', other)).not.toBe(tempNameFor('orders.csv', deliveryId));
  });

  it.each([
    ['a 255-byte ASCII name', 'a'.repeat(251) + '.csv'],
    ['a name of 2-byte characters', 'ä'.repeat(127)],
    ['a name of 4-byte characters', '𝔸'.repeat(63)],
  ])('keeps the temp name within 255 UTF-8 bytes for %s', (_label, name) => {
    const temp = tempNameFor(name, deliveryId);
    expect(Buffer.byteLength(temp, 'utf8')).toBeLessThanOrEqual(255);
    expect(temp.startsWith('.')).toBe(true);
    expect(temp.endsWith('.30daa40bddbe.part')).toBe(true);
    // Truncation never splits a character into invalid UTF-8.
    expect(Buffer.from(temp, 'utf8').toString('utf8')).toBe(temp);
    expect(temp).not.toContain('\ufffd');
  });

  it('keeps short names whole', () => {
    const name = 'x'.repeat(236);
    expect(tempNameFor(name, deliveryId)).toBe(`.${name}.30daa40bddbe.part`);
    expect(tempNameFor(name + 'y', deliveryId)).toBe(`.${name}.30daa40bddbe.part`);
  });
});

describe('deliveryIdFor', () => {
  const object = { bucket: 'exports', key: 'acme/orders.csv', etag: 'abc123' };
  const monday = '2026-11-23T06:00:00.123Z';
  const tuesday = '2026-11-24T06:00:00.456Z';
  const content = { id: 'acme', source: {} };
  const version = { id: 'acme', source: { identity: 'version' as const } };

  it('gives identity content (and no identity set) the ids it always had, whatever LastModified says', () => {
    expect(deliveryIdFor(content, { ...object, lastModified: monday })).toBe(
      'dlv-acme-30daa40bddbe09035a9be36c0dae6f39',
    );
    expect(deliveryIdFor({ id: 'acme', source: { identity: 'content' } }, object)).toBe(
      'dlv-acme-30daa40bddbe09035a9be36c0dae6f39',
    );
    expect(deliveryIdFor(content, { ...object, lastModified: tuesday })).toBe(
      deliveryIdFor(content, { ...object, lastModified: monday }),
    );
  });

  it('gives identity version a new id for each LastModified of the same bytes', () => {
    const first = deliveryIdFor(version, { ...object, lastModified: monday });
    expect(first).toMatch(/^dlv-acme-[0-9a-f]{32}$/);
    expect(first).not.toBe('dlv-acme-30daa40bddbe09035a9be36c0dae6f39');
    expect(deliveryIdFor(version, { ...object, lastModified: tuesday })).not.toBe(first);
    // A listed Date and the ISO string a job or the ledger carries name the same version.
    expect(deliveryIdFor(version, { ...object, lastModified: new Date(monday) })).toBe(first);
  });

  it('refuses identity version without a LastModified (ERR_PAYLOAD_INVALID)', () => {
    expect(() => deliveryIdFor(version, object)).toThrow(
      expect.objectContaining({ code: 'ERR_PAYLOAD_INVALID' }) as Error,
    );
    expect(() => deliveryIdFor(version, { ...object, lastModified: 'not a time' })).toThrow(FerryError);
  });
});

describe('parseDeliveryId', () => {
  const hash = '30daa40bddbe09035a9be36c0dae6f39';

  it.each([
    [`dlv-acme-${hash}`, { partnerId: 'acme', hash, baseId: `dlv-acme-${hash}` }],
    [`dlv-acme-eu-${hash}`, { partnerId: 'acme-eu', hash, baseId: `dlv-acme-eu-${hash}` }],
    [`dlv-a_1-${hash}-r1`, { partnerId: 'a_1', hash, redelivery: 1, baseId: `dlv-a_1-${hash}` }],
    [
      `dlv-acme-${hash}-r999999`,
      { partnerId: 'acme', hash, redelivery: 999_999, baseId: `dlv-acme-${hash}` },
    ],
    // A partner id may itself end in "-r<n>" or hex: the hash is the last 32-hex part.
    [`dlv-x-r2-${hash}`, { partnerId: 'x-r2', hash, baseId: `dlv-x-r2-${hash}` }],
    [
      `dlv-p-${hash}-${hash}-r3`,
      { partnerId: `p-${hash}`, hash, redelivery: 3, baseId: `dlv-p-${hash}-${hash}` },
    ],
  ])('splits %j into partner, hash and redelivery, and formats it back', (id, parts) => {
    expect(parseDeliveryId(id)).toEqual(parts);
    expect(formatDeliveryId(parts)).toBe(id);
  });

  it('round-trips every id computeDeliveryId makes', () => {
    for (const partnerId of ['acme', 'a', '0', 'acme_eu-2', 'z'.repeat(63)]) {
      const id = computeDeliveryId(identity({ partnerId }));
      const parsed = parseDeliveryId(id);
      expect(parsed).toEqual({ partnerId, hash: deliveryHash(id), baseId: id });
      expect(formatDeliveryId({ ...parsed!, redelivery: 7 })).toBe(`${id}-r7`);
      expect(parseDeliveryId(`${id}-r7`)).toEqual({ ...parsed, redelivery: 7 });
    }
  });

  it.each([
    ['empty', ''],
    ['no prefix', `acme-${hash}`],
    ['no partner', `dlv--${hash}`],
    ['an uppercase partner', `dlv-Acme-${hash}`],
    ['a dotted partner', `dlv-a.b-${hash}`],
    ['a partner with ":"', `dlv-a:b-${hash}`],
    ['a partner with "/"', `dlv-a/b-${hash}`],
    ['a 64-character partner', `dlv-${'a'.repeat(64)}-${hash}`],
    ['a short hash', `dlv-acme-${hash.slice(1)}`],
    ['an uppercase hash', `dlv-acme-${hash.toUpperCase()}`],
    ['redelivery 0', `dlv-acme-${hash}-r0`],
    ['a redelivery with a leading zero', `dlv-acme-${hash}-r01`],
    ['a seven-digit redelivery', `dlv-acme-${hash}-r1000000`],
    ['a trailing newline', `dlv-acme-${hash}\n`],
    ['a suffix', `dlv-acme-${hash}.json`],
    ['a sweep job id', 'sweep-manual-acme-1764097187000'],
  ])('rejects %s', (_label, id) => {
    expect(parseDeliveryId(id)).toBeUndefined();
    expect(isDeliveryId(id)).toBe(false);
    expect(partnerOfDeliveryId(id)).toBeUndefined();
  });

  it('rejects what is not a string', () => {
    for (const value of [undefined, null, 42, { id: `dlv-acme-${hash}` }]) {
      expect(parseDeliveryId(value)).toBeUndefined();
    }
  });

  it('refuses to format parts that would not parse back', () => {
    expect(() => formatDeliveryId({ partnerId: 'a.b', hash })).toThrow(RangeError);
    expect(() => formatDeliveryId({ partnerId: 'acme', hash: 'xyz' })).toThrow(RangeError);
    expect(() => formatDeliveryId({ partnerId: 'acme', hash, redelivery: 0 })).toThrow(RangeError);
  });
});

describe('partnerOfDeliveryId', () => {
  it('reads the partner from a delivery id and nothing from other job ids', () => {
    expect(partnerOfDeliveryId(`dlv-acme-eu-${'a'.repeat(32)}`)).toBe('acme-eu');
    expect(partnerOfDeliveryId(`dlv-acme-eu-${'a'.repeat(32)}-r2`)).toBe('acme-eu');
    expect(partnerOfDeliveryId('sweep-manual-acme-1764097187000')).toBeUndefined();
    expect(partnerOfDeliveryId(undefined)).toBeUndefined();
  });
});

describe('isPartnerId', () => {
  it.each(['a', '0', 'acme', 'acme-eu', 'acme_eu', 'a'.repeat(63)])('accepts %j', (id) => {
    expect(isPartnerId(id)).toBe(true);
  });

  it.each(['', '-a', '_a', 'Acme', 'a.b', 'a:b', 'a/b', 'a b', 'a\n', 'ä', 'a'.repeat(64), 7])(
    'refuses %j',
    (id) => {
      expect(isPartnerId(id)).toBe(false);
    },
  );
});
