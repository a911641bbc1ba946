// A manifest goes out through the same delivery steps as a data file (ledger record, receipt, temp
// name, verify, rename, recovery): as a delivery of its S3 object (beside the receipts) for the partner
// seen without what shapes or follows a data file — no naming template, transform, CSV rules, sidecars,
// answers or source housekeeping — into manifest.directory.
import { posix } from 'node:path';
import type { PartnerConfig } from '../../src/config/schema.js';

export function manifestPartner(partner: PartnerConfig, bucket: string, key: string): PartnerConfig {
  const {
    naming: _naming,
    transform: _transform,
    validate: _validate,
    shape: _shape,
    ack: _ack,
    after: _after,
    manifest,
    expect: _expect,
    ...rest
  } = partner;
  return {
    ...rest,
    source: {
      bucket,
      prefix: `${posix.dirname(key)}/`,
      include: ['*'],
      minAgeSeconds: 0,
      identity: 'content',
    },
    target: { ...partner.target, directory: manifest?.directory ?? partner.target.directory },
  };
}
