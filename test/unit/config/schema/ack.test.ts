import { describe, expect, it } from 'vitest';
import { useConfigDirs } from '../../../support/config-dir.js';
import { partnerYamlHead } from '../../../support/partner-input.js';

// Lines 1-6; the ack block under test starts on line 7.
const PARTNER = partnerYamlHead();

const configs = useConfigDirs('ack-config');
const load = (lines: string) => configs.loadPartner('acme', PARTNER + lines);

describe('ack', () => {
  it('reads the directory with the defaults: {filename}.ack / .nack, no overdue, answers removed', async () => {
    const { partner, problems } = await load('ack:\n  directory: /outbound/acks/\n');
    expect(problems).toEqual([]);
    expect(partner?.ack).toMatchObject({
      directory: '/outbound/acks',
      accept: { source: '{filename}.ack' },
      reject: { source: '{filename}.nack' },
      removeAfterReading: true,
    });
    expect(partner?.ack?.within).toBeUndefined();
    expect(partner?.ack?.archive).toBeUndefined();
  });

  it('reads every option as the issue writes it', async () => {
    const { partner, problems } = await load(`ack:
  directory: /outbound/acks
  accept: "{filename}.ok"
  reject: "ERR_{filename}.txt"
  within: 2h
  archive: processed/
`);
    expect(problems).toEqual([]);
    expect(partner?.ack).toMatchObject({
      accept: { source: '{filename}.ok' },
      reject: { source: 'ERR_{filename}.txt' },
      within: 7_200_000,
      archive: 'processed',
    });
  });

  it.each([
    ['ack: {}\n', 'partners/acme.yaml:7:6', 'directory'],
    ['ack:\n  directory: outbound\n', 'partners/acme.yaml:8:14', 'must be an absolute path'],
    ['ack:\n  directory: /a/../b\n', 'partners/acme.yaml:8:14', '".."'],
    ['ack:\n  directory: /a\n  accept: "{name}.ack"\n', 'partners/acme.yaml:9:11', 'unknown token {name}'],
    ['ack:\n  directory: /a\n  accept: "{filename}"\n', 'partners/acme.yaml:9:11', 'is only {filename}'],
    [
      'ack:\n  directory: /a\n  reject: "{filename}.ack"\n',
      'partners/acme.yaml:9:11',
      'must differ from ack.accept',
    ],
    [
      'ack:\n  directory: /a\n  within: soon\n',
      'partners/acme.yaml:9:11',
      'must be a duration like 90m, 2h or 1d',
    ],
    [
      'ack:\n  directory: /a\n  archive: /done\n',
      'partners/acme.yaml:9:12',
      'must be a folder under ack.directory',
    ],
    ['ack:\n  directory: /a\n  removeAfterReading: yes\n', 'partners/acme.yaml:9:23', ''],
    ['ack:\n  directory: /a\n  pollEveryMinutes: 0\n', 'partners/acme.yaml:9:21', ''],
  ])('reports %j at its file:line:col', async (lines, at, message) => {
    const { problems } = await load(lines);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(at);
    expect(problems[0]).toContain(message);
  });
});
