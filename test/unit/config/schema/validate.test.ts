import { describe, expect, it } from 'vitest';
import { useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';

// Lines 1-6; the validate block under test starts on line 7, its csv block on line 8.
const PARTNER = `${partnerYamlHead()}validate:\n`;

const configs = useConfigDirs('csv-config');

const loadValidate = (lines: string) => configs.loadPartner('acme', PARTNER + lines);

describe('validate.csv', () => {
  it('reads the rules with their defaults', async () => {
    const { partner, problems } = await loadValidate(
      '  csv:\n    header: [order_id, sku, qty, amount]\n    maxBytes: 5368709120\n    allowEmpty: false\n',
    );
    expect(problems).toEqual([]);
    expect(partner?.validate).toEqual({
      csv: {
        delimiter: ',',
        header: ['order_id', 'sku', 'qty', 'amount'],
        maxBytes: 5368709120,
        encoding: 'utf-8',
        allowEmpty: false,
      },
      prevalidateMaxBytes: 268435456,
    });
  });

  it('leaves validation off when the block is absent', async () => {
    const { partner } = await loadValidate('  prevalidateMaxBytes: 0\n');
    expect(partner?.validate).toEqual({ prevalidateMaxBytes: 0 });
  });

  it.each([
    ['  csv:\n    delimiter: ";;"\n', 'partners/acme.yaml:9:16', 'must be one character'],
    ['  csv:\n    encoding: latin1\n', 'partners/acme.yaml:9:15', 'utf-8'],
    ['  csv:\n    minColumns: 0\n', 'partners/acme.yaml:9:17', ''],
    ['  csv:\n    neutralizeFormulas: yes\n', 'partners/acme.yaml:9:25', 'false, true, quarantine or escape'],
    ['  csv:\n    headers: [a]\n', 'partners/acme.yaml:9:5', 'unknown'],
    ['  prevalidateMaxBytes: -1\n', 'partners/acme.yaml:8:24', ''],
  ])('reports %j at its file:line:col', async (lines, at, message) => {
    const { problems } = await loadValidate(lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(at);
    expect(problems[0]).toContain(message);
  });
});

describe('validate.csv.neutralizeFormulas', () => {
  it.each([
    ['false', false],
    ['true', 'quarantine'],
    ['quarantine', 'quarantine'],
    ['escape', 'escape'],
  ])('reads %s as %j', async (value, expected) => {
    const { partner, problems } = await loadValidate(`  csv:\n    neutralizeFormulas: ${value}\n`);
    expect(problems).toEqual([]);
    expect(partner?.validate?.csv?.neutralizeFormulas).toBe(expected);
  });

  it('is off when left out', async () => {
    const { partner, problems } = await loadValidate('  csv:\n    delimiter: ","\n');
    expect(problems).toEqual([]);
    expect(partner?.validate?.csv?.neutralizeFormulas ?? false).toBe(false);
  });

  it.each(['strip', '"yes"', '1', '[escape]', 'Escape'])('rejects %s at its file:line:col', async (value) => {
    const { problems } = await loadValidate(`  csv:\n    neutralizeFormulas: ${value}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('partners/acme.yaml:9:25');
    expect(problems[0]).toContain('must be false, true, quarantine or escape');
  });
});
