// A delivery's manifest as `ferry deliveries show` and the web UI show it (one implementation).
import { describe, expect, it } from 'vitest';
import { deliveryFacts } from '../../support/delivery-facts.js';
import { toDeliveryView, type DeliveryFacts } from '../../../src/core/delivery-view.js';
import {
  describeManifest,
  formatDeliveryDetail,
  type DeliveryDetailFacts,
} from '../../../src/core/format-deliveries.js';

const detail = (
  facts: Partial<DeliveryFacts> = {},
  overrides: Partial<DeliveryDetailFacts> = {},
): DeliveryDetailFacts => ({
  ...toDeliveryView(deliveryFacts({ deliveredAt: '2026-12-08T02:00:01.500Z', ...facts })),
  receipt: null,
  audit: [],
  ...overrides,
});

describe('describeManifest', () => {
  it('says nothing for a file no manifest lists (no manifest: configured, or not taken yet)', () => {
    expect(describeManifest({})).toEqual([]);
  });

  it('names the manifest that lists a delivered data file', () => {
    expect(describeManifest({ manifest: 'w-2026-12-07' })).toEqual(['listed in w-2026-12-07']);
  });

  it("says a manifest's own delivery is that manifest", () => {
    expect(describeManifest({ sendsManifest: 's-1796616000000' })).toEqual([
      'this file is the manifest s-1796616000000',
    ]);
  });
});

describe('ferry deliveries show', () => {
  it('prints the manifest line after the delivery time', () => {
    const lines = formatDeliveryDetail(detail({ manifest: 'w-2026-12-07' }));
    const at = lines.findIndex((l) => l.startsWith('delivered at'));
    expect(lines[at + 1]).toBe('manifest         listed in w-2026-12-07');
  });

  it("prints which manifest a manifest's delivery sends", () => {
    const lines = formatDeliveryDetail(
      detail(
        { bucket: 'ferry-audit', key: 'ferry/receipts/_manifests/acme/w-2026-12-07/ACME_20261207.csv' },
        { sendsManifest: 'w-2026-12-07' },
      ),
    );
    expect(lines).toContain('manifest         this file is the manifest w-2026-12-07');
  });

  it('prints no manifest line, and nothing else changes, for a file no manifest lists', () => {
    const without = formatDeliveryDetail(detail());
    expect(without.some((l) => l.startsWith('manifest'))).toBe(false);
    const listed = formatDeliveryDetail(detail({ manifest: 'w-2026-12-07' }));
    expect(listed.filter((l) => !l.startsWith('manifest'))).toEqual(without);
  });
});
