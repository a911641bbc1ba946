// The compiled `ferry` CLI: exit codes and output that scripts rely on.
import { describe, expect, it } from 'vitest';
import { spawnFerry } from '../support/ferry-process.js';

const env = { ...process.env, FERRY_ADMIN_PASSWORD: 'cli-test', FERRY_CONFIG: '' };

describe('ferry validate', () => {
  it('exits 0 and names the partners of a valid config', async () => {
    const run = spawnFerry(['validate', '--config', 'test/unit/config/fixtures/valid'], env);
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/^config OK: \d+ partners? \(.+\) in test\/unit\/config\/fixtures\/valid$/m);
  });

  it('exits non-zero with one file:line:col: field: message line per problem', async () => {
    const run = spawnFerry(['validate', '--config', 'test/unit/config/fixtures/broken'], env);
    expect(await run.exited).toBe(1);
    const lines = run.output().trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      expect(line).toMatch(/^test\/unit\/config\/fixtures\/broken\/\S+\.ya?ml:\d+:\d+: \S.*: .+$/);
    }
  });

  it('accepts the shipped config directory', async () => {
    const run = spawnFerry(['validate'], { ...env, FERRY_CONFIG: 'config' });
    expect(await run.exited).toBe(0);
  });
});

describe('ferry', () => {
  it('prints usage and exits 2 for an unknown command', async () => {
    const run = spawnFerry(['frobnicate'], env);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/unknown command "frobnicate"[\s\S]*ferry validate/);
  });

  it('refuses to start with an invalid config, listing the problems', async () => {
    const run = spawnFerry(['start', '--config', 'test/unit/config/fixtures/broken'], env);
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/\.yaml:\d+:\d+: /);
  });
});

describe('ferry usage errors', () => {
  // The full table is test/unit/commands/usage-error.test.ts; this is the compiled CLI's stderr and exit code.
  it('name the missing argument or the bad value, then give the usage line, and exit 2', async () => {
    for (const [args, line] of [
      [
        ['redeliver'],
        'ferry redeliver: missing <partner> (usage: ferry redeliver <partner> <s3-key> --reason TEXT',
      ],
      [
        ['deliveries', '--limit', 'x'],
        'ferry deliveries: --limit must be a whole number from 1 to 100000, got "x" (usage: ferry deliveries [',
      ],
    ] as const) {
      const run = spawnFerry([...args, '--config', 'test/unit/config/fixtures/broken'], env);
      expect(await run.exited).toBe(2);
      expect(run.output().startsWith(line)).toBe(true);
    }
  });
});

describe('ferry retry', () => {
  it('exits 2 naming the missing or too short reason, then its usage, before reading any config', async () => {
    for (const [args, problem] of [
      [['retry', 'dlv-acme-00000000000000000000000000000000'], 'missing --reason TEXT (3-500 characters'],
      [['retry', 'x', '--reason', 'no'], '--reason must be 3-500 characters, got 2'],
    ] as const) {
      const run = spawnFerry([...args, '--config', 'test/unit/config/fixtures/broken'], env);
      expect(await run.exited).toBe(2);
      expect(run.output().startsWith(`ferry retry: ${problem}`)).toBe(true);
      expect(run.output()).toMatch(/ \(usage: ferry retry <deliveryId> --reason TEXT .*\)\n$/);
    }
  });

  it('is listed in the usage with its exit codes', async () => {
    const run = spawnFerry(['frobnicate'], env);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/ferry retry <deliveryId> --reason TEXT .*--wait[\s\S]*exit 0 queued/);
  });
});
