// `ferry plan`'s manifest line: what the partner's `manifest:` publishes, when and where.
import { describe, expect, it } from 'vitest';
import {
  describeManifestSetting,
  type ManifestSettingFacts,
} from '../../../src/core/describe-manifest-setting.js';

const partner = (
  manifest: Partial<ManifestSettingFacts['manifest']> = {},
  window?: object,
): ManifestSettingFacts => ({
  ...(window === undefined ? {} : { window }),
  target: { directory: '/inbound' },
  manifest: { filename: { source: 'NIGHTLY_{date:yyyyMMdd}_manifest.csv' }, format: 'csv', ...manifest },
});

describe('describeManifestSetting', () => {
  it('says per window for a partner with a window when per is left out, into the target directory', () => {
    expect(describeManifestSetting(partner({}, { start: '22:00', end: '04:00' }))).toBe(
      'manifest: NIGHTLY_{date:yyyyMMdd}_manifest.csv per window (after each opening closes), csv, into /inbound',
    );
  });

  it('says per sweep for a partner without a window when per is left out', () => {
    expect(describeManifestSetting(partner())).toBe(
      'manifest: NIGHTLY_{date:yyyyMMdd}_manifest.csv per sweep (after each sweep that delivered something), csv, into /inbound',
    );
  });

  it('follows an explicit per, the format and manifest.directory', () => {
    const line = describeManifestSetting(
      partner(
        {
          filename: { source: 'EACH_{partner}_{date:yyyyMMdd-HHmmss}.json' },
          per: 'sweep',
          format: 'json',
          directory: '/inbound/ctl',
        },
        { start: '22:00', end: '04:00' },
      ),
    );
    expect(line).toBe(
      'manifest: EACH_{partner}_{date:yyyyMMdd-HHmmss}.json per sweep (after each sweep that delivered something), json, into /inbound/ctl',
    );
  });
});
