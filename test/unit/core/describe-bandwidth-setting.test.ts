// `ferry plan`'s bandwidth line: the partner's own cap and the cap on all partners together.
import { describe, expect, it } from 'vitest';
import { describeBandwidthSetting } from '../../../src/core/describe-bandwidth-setting.js';

describe('describeBandwidthSetting', () => {
  it("says the partner's own cap covers its deliveries together", () => {
    expect(describeBandwidthSetting(4_000_000, undefined)).toBe(
      "bandwidth: at most 4 MB/s for this partner's deliveries together",
    );
  });

  it('adds the cap on all partners together when it is set', () => {
    expect(describeBandwidthSetting(4_000_000, 12_500_000)).toBe(
      "bandwidth: at most 4 MB/s for this partner's deliveries together; all partners together at most 12.5 MB/s",
    );
  });

  it('names only the total cap for a partner without its own', () => {
    expect(describeBandwidthSetting(undefined, 524_288)).toBe(
      'bandwidth: all partners together at most 524.29 kB/s',
    );
  });

  it('says nothing for an uncapped partner', () => {
    expect(describeBandwidthSetting(undefined, undefined)).toBeUndefined();
  });
});
