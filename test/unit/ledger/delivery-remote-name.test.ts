import { describe, expect, it } from 'vitest';
import { parseFilenameTemplate } from '../../../src/core/filename-template.js';
import { FerryError } from '../../../src/errors.js';
import { deliveryRemoteName } from '../../../src/ledger/name-sequence.js';

describe('deliveryRemoteName', () => {
  it('refuses {seq} without a name sequence with a permanent FerryError (the job boundary makes it unrecoverable)', async () => {
    const parsed = parseFilenameTemplate('ACME_{seq:3}.csv');
    if (!parsed.ok) throw new Error(parsed.message);
    const partner = {
      id: 'acme',
      source: { prefix: 'acme/' },
      schedule: { timezone: 'UTC' },
      naming: { filename: parsed.template },
    };
    const object = {
      key: 'acme/orders.csv',
      lastModified: new Date('2026-03-01T03:30:15Z'),
      numberedAs: 'd1',
    };
    const err = await deliveryRemoteName(undefined, partner, object).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ name: 'FerryError', code: 'ERR_CONFIG_INVALID', intent: 'permanent' });
  });
});
