import { describe, expect, it } from 'vitest';
import { useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';

// Lines 1-6; the block under test starts on line 7.
const PARTNER = partnerYamlHead();
const WINDOW = 'window: { start: "01:00", end: "05:00" }\n';

const configs = useConfigDirs('manifest-config');
const load = (lines: string) => configs.loadPartner('acme', PARTNER + lines);

describe('manifest', () => {
  it('reads a filename with the defaults: csv, beside the data files, checked every 5 minutes', async () => {
    const { partner, problems } = await load('manifest:\n  filename: "ACME_{date:yyyyMMdd-HHmmss}.csv"\n');
    expect(problems).toEqual([]);
    expect(partner?.manifest).toMatchObject({
      filename: { source: 'ACME_{date:yyyyMMdd-HHmmss}.csv', hasSeconds: true },
      format: 'csv',
      checkEveryMinutes: 5,
    });
    expect(partner?.manifest?.per).toBeUndefined();
    expect(partner?.manifest?.directory).toBeUndefined();
  });

  it('reads every option; a daily name is enough per window', async () => {
    const { partner, problems } = await load(
      `${WINDOW}manifest:\n  filename: "{partner}_{date:yyyyMMdd}_manifest.json"\n  per: window\n  format: json\n  directory: /inbound/control/\n  checkEveryMinutes: 1\n`,
    );
    expect(problems).toEqual([]);
    expect(partner?.manifest).toMatchObject({
      per: 'window',
      format: 'json',
      directory: '/inbound/control',
      checkEveryMinutes: 1,
    });
  });

  it.each([
    ['manifest: {}\n', 'partners/acme.yaml:7:11', 'filename'],
    ['manifest:\n  filename: "M_{name}.csv"\n', 'partners/acme.yaml:8:13', 'unknown token {name}'],
    [
      'manifest:\n  filename: "M_{date:yyyyQQ}.csv"\n',
      'partners/acme.yaml:8:13',
      'unknown date pattern letter',
    ],
    [
      'manifest:\n  filename: "a/{date:yyyyMMdd-HHmmss}"\n',
      'partners/acme.yaml:8:13',
      'renders unsafe names',
    ],
    [
      'manifest:\n  filename: "M_{date:yyyyMMdd}.csv"\n',
      'partners/acme.yaml:8:13',
      'needs a {date:…} with seconds',
    ],
    [
      'manifest:\n  filename: "M_{date:yyyyMMdd}.csv"\n  per: window\n',
      'partners/acme.yaml:9:8',
      'is window but the partner has no window',
    ],
    [
      `${WINDOW}manifest:\n  filename: "M_{date:yyyyMMdd}.csv"\n  per: hourly\n`,
      'partners/acme.yaml:10:8',
      'must be window or sweep',
    ],
    [
      `${WINDOW}manifest:\n  filename: "M.csv"\n  format: xml\n`,
      'partners/acme.yaml:10:11',
      'must be csv or json',
    ],
    [
      `${WINDOW}manifest:\n  filename: "M.csv"\n  directory: control\n`,
      'partners/acme.yaml:10:14',
      'must be an absolute path',
    ],
    [`${WINDOW}manifest:\n  filename: "M.csv"\n  checkEveryMinutes: 0\n`, 'partners/acme.yaml:10:22', ''],
  ])('reports %j at its file:line:col', async (lines, at, message) => {
    const { problems } = await load(lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(at);
    expect(problems[0]).toContain(message);
  });
});
