// Bandwidth caps in the config: `target.maxBytesPerSecond` caps one partner's deliveries together;
// `defaults.target.maxBytesPerSecond` caps every partner's together and is never copied into a partner.
import { describe, expect, it } from 'vitest';
import { useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';

const configs = useConfigDirs('bandwidth-config');
// The field under test goes first in line 3's flow mapping: `target: { maxBytesPerSecond: …, host: …`.
const PARTNER = partnerYamlHead();
const withCap = (value: unknown) =>
  PARTNER.replace('target: { ', `target: { maxBytesPerSecond: ${JSON.stringify(value)}, `);

describe('maxBytesPerSecond', () => {
  it.each([
    ['4MB', 4_000_000],
    ['512KiB', 524_288],
    ['10Mbit', 1_250_000],
    [2048, 2048],
  ])('reads target.maxBytesPerSecond %j as %d bytes per second', async (value, bytes) => {
    const yaml = withCap(value);
    const { partner, problems } = await configs.loadPartner('acme', yaml);
    expect(problems).toEqual([]);
    expect(partner?.target.maxBytesPerSecond).toBe(bytes);
  });

  it.each([
    [
      '10Mb',
      'partners/acme.yaml:3:30: target.maxBytesPerSecond: "Mb" is ambiguous: write 10Mbit for bits or 10MB for bytes',
    ],
    ['fast', 'partners/acme.yaml:3:30: target.maxBytesPerSecond: must be a number of bytes per second'],
    [100, 'partners/acme.yaml:3:30: target.maxBytesPerSecond: must be at least 1024 bytes per second'],
  ])('reports target.maxBytesPerSecond %j at its file:line:col', async (value, message) => {
    const yaml = withCap(value);
    const { problems } = await configs.loadPartner('acme', yaml);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it("takes defaults.target.maxBytesPerSecond as one cap on all partners, not as each partner's", async () => {
    const loaded = await configs.load({
      ferryYaml: 'receipts: { bucket: ferry-audit }\ndefaults:\n  target:\n    maxBytesPerSecond: 100Mbit\n',
      partners: { 'acme.yaml': PARTNER },
    });
    expect(loaded.problems).toEqual([]);
    expect(loaded.config?.totalMaxBytesPerSecond).toBe(12_500_000);
    expect(loaded.partner('acme')?.target.maxBytesPerSecond).toBeUndefined();
  });

  it('reports defaults.target.maxBytesPerSecond at its file:line:col', async () => {
    const loaded = await configs.load({
      ferryYaml:
        'receipts: { bucket: ferry-audit }\ndefaults:\n  target:\n    maxBytesPerSecond: 4 elephants\n',
      partners: { 'acme.yaml': PARTNER },
    });
    expect(loaded.problems).toEqual([
      expect.stringContaining('ferry.yaml:4:24: defaults.target.maxBytesPerSecond: unknown unit "elephants"'),
    ]);
  });
});
