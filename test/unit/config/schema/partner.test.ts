import { describe, expect, it } from 'vitest';
import { partnerSchema } from '../../../../src/config/schema.js';
import { computeDeliveryId, isPartnerId, parseDeliveryId } from '../../../../src/core/delivery-id.js';
import { DeliverJobData, SweepJobData } from '../../../../src/queues/payloads.js';

// One partner-id rule (src/core/delivery-id.ts): whatever config accepts must make a delivery id that
// parses back, job payloads carry and receipt paths hold, and nothing else may pass config.
const IDS: [id: string, legal: boolean][] = [
  ['acme', true],
  ['a', true],
  ['0', true],
  ['123', true],
  ['acme-eu', true],
  ['acme_eu', true],
  ['acme--2', true],
  ['x-r1', true],
  ['a'.repeat(63), true],
  ['', false],
  ['a'.repeat(64), false],
  ['-acme', false],
  ['_acme', false],
  ['Acme', false], // two partners must not share a directory on a case-insensitive file system
  ['a.b', false], // '.' marks files beside receipts (`<id>.superseded.json`)
  ['.acme', false],
  ['a:b', false], // BullMQ job ids
  ['a/b', false], // receipt paths
  ['a b', false],
  ['a\\b', false],
  ['acme\n', false],
  ['äcme', false],
];

describe('the partner-id rule', () => {
  it.each(IDS)('config accepts %j exactly when delivery-id does (%s)', (id, legal) => {
    expect(isPartnerId(id)).toBe(legal);
    expect(partnerSchema.shape.id.safeParse(id).success).toBe(legal);
  });

  it.each(IDS.filter(([, legal]) => legal))(
    'makes a delivery id for %j that parses back and passes payloads',
    (id) => {
      const deliveryId = computeDeliveryId({ partnerId: id, bucket: 'b', key: 'k', etag: 'e' });
      expect(parseDeliveryId(deliveryId)?.partnerId).toBe(id);
      const job = { v: 1, deliveryId, partnerId: id, bucket: 'b', key: 'k', etag: 'e', size: 1 };
      expect(DeliverJobData.safeParse(job).success).toBe(true);
      expect(SweepJobData.safeParse({ partnerId: id }).success).toBe(true);
    },
  );

  it.each(IDS.filter(([, legal]) => !legal))('keeps %j out of job payloads too', (id) => {
    expect(SweepJobData.safeParse({ partnerId: id }).success).toBe(false);
  });

  it('says the rule in the config error', () => {
    const result = partnerSchema.shape.id.safeParse('Acme.EU');
    expect(result.error?.issues.map((i) => i.message)).toEqual([
      'must be 1-63 characters: lowercase letters, digits, "_" and "-", starting with a letter or digit (it is part of job ids, Redis keys and receipt paths)',
    ]);
  });
});
