import { describe, expect, it } from 'vitest';
import { useConfigDirs } from '../../../support/config-dir.js';

// Lines 1-6; the fields under test start on line 7.
const PARTNER_HEAD = `id: nightly
schedule: { cron: '0 * * * *', timezone: Europe/Berlin }
source: { bucket: warehouse-exports, prefix: nightly/ }
target: { host: sftp.nightly.example, username: ferry, directory: /in,
  hostKeys: ['SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4'],
  auth: { privateKeyFile: /run/secrets/nightly } }
`;

const configs = useConfigDirs('partner-controls-config');

const load = (controls: string) => configs.loadPartner('nightly', PARTNER_HEAD + controls);

describe('partner window, expect and paused', () => {
  it('accepts the full form and fills the defaults', async () => {
    const { result } = await load(
      [
        'window:',
        "  start: '22:00'",
        "  end: '04:00'",
        '  days: [mon, fri]',
        "  blackoutDates: ['2026-12-25']",
        "expect: { by: '06:00', atLeast: 2 }",
        'paused: true',
        '',
      ].join('\n'),
    );
    expect(result.ok).toBe(true);
    const partner = result.ok ? result.config.partners.get('nightly') : undefined;
    expect(partner?.window).toEqual({
      start: '22:00',
      end: '04:00',
      days: ['mon', 'fri'],
      blackoutDates: ['2026-12-25'],
    });
    expect(partner?.expect).toEqual({ by: '06:00', atLeast: 2, warnBeforeMinutes: 30 });
    expect(partner?.paused).toBe(true);
  });

  it('defaults: no window, no SLA, not paused; a window without days means every day', async () => {
    const { result } = await load("window: { start: '01:00', end: '05:00' }\n");
    const partner = result.ok ? result.config.partners.get('nightly') : undefined;
    expect(partner?.window?.days).toEqual(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
    expect(partner?.window?.blackoutDates).toEqual([]);
    expect(partner?.expect).toBeUndefined();
    expect(partner?.paused ?? false).toBe(false);
  });

  it('reports each problem at its file:line:col', async () => {
    const { problems } = await load(
      [
        'window:',
        '  start: 1:00',
        "  end: '25:00'",
        '  days: [mon, funday]',
        "  blackoutDates: ['2026-02-30', 'Dec 25']",
        'expect:',
        "  by: '6am'",
        '  atLeast: -1',
        '  warnBeforeMinutes: 1440',
        '  within: 3',
        'paused: "yes"',
        '',
      ].join('\n'),
    );
    expect(problems).toEqual([
      'partners/nightly.yaml:8:10: window.start: must be a quoted 24-hour time "HH:MM", like "01:00"',
      'partners/nightly.yaml:9:8: window.end: must be a quoted 24-hour time "HH:MM", like "01:00"',
      'partners/nightly.yaml:10:15: window.days[1]: must be one of mon, tue, wed, thu, fri, sat, sun',
      'partners/nightly.yaml:11:19: window.blackoutDates[0]: must be a quoted calendar date "YYYY-MM-DD", like "2026-12-25"',
      'partners/nightly.yaml:11:33: window.blackoutDates[1]: must be a quoted calendar date "YYYY-MM-DD", like "2026-12-25"',
      'partners/nightly.yaml:13:7: expect.by: must be a quoted 24-hour time "HH:MM", like "01:00"',
      'partners/nightly.yaml:14:12: expect.atLeast: must be at least 0',
      'partners/nightly.yaml:15:22: expect.warnBeforeMinutes: must be at most 1439',
      'partners/nightly.yaml:16:3: expect.within: unknown field',
      'partners/nightly.yaml:17:9: paused: must be true or false',
    ]);
  });

  it('rejects an empty window and an empty days list', async () => {
    const { problems } = await load("window: { start: '01:00', end: '01:00', days: [] }\n");
    expect(problems).toEqual([
      'partners/nightly.yaml:7:32: window.end: must differ from start (the window would be empty)',
      'partners/nightly.yaml:7:47: window.days: must list at least one day (leave the field out for every day)',
    ]);
  });
});
