import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli.js';
import {
  expectPositionals,
  parseArgsProblem,
  positiveIntegerOption,
  positiveNumberOption,
  reasonOption,
  sinceDaysOption,
  usageError,
  usageLine,
} from '../../../src/commands/usage-error.js';

const HELP = `ferry 1.0 — something

Usage:
  ferry sweep    <partner> [--wait] [--timeout SECONDS]
  ferry iam-policy [--config DIR]   least-privilege policy
  ferry deliveries [--limit N] [--json]
                                    the ledger
  ferry deliveries show <deliveryId|jobId> [--json]
  ferry version
`;

describe('usageLine', () => {
  it.each([
    ['sweep', 'ferry sweep <partner> [--wait] [--timeout SECONDS]'],
    ['iam-policy', 'ferry iam-policy [--config DIR]'],
    ['deliveries', 'ferry deliveries [--limit N] [--json]'],
    ['deliveries show', 'ferry deliveries show <deliveryId|jobId> [--json]'],
    ['version', 'ferry version'],
  ])('finds the usage of %s without padding or description', (command, line) => {
    expect(usageLine(HELP, command)).toBe(line);
  });

  it('is undefined for a command the help does not list', () => {
    expect(usageLine(HELP, 'swe')).toBeUndefined();
  });
});

describe('argument checks', () => {
  const problemOf = (check: () => unknown) => {
    try {
      check();
    } catch (e) {
      return (e as { problem: string }).problem;
    }
    return undefined;
  };

  it('names the first missing positional, or the first one too many', () => {
    expect(problemOf(() => expectPositionals('redeliver', [], ['<partner>', '<s3-key>']))).toBe(
      'missing <partner>',
    );
    expect(problemOf(() => expectPositionals('redeliver', ['acme'], ['<partner>', '<s3-key>']))).toBe(
      'missing <s3-key>',
    );
    expect(problemOf(() => expectPositionals('plan', ['a', 'b'], [], 1))).toBe('unexpected argument "b"');
    expect(expectPositionals('plan', [], [], 1)).toEqual([]);
    expect(expectPositionals('sweep', ['acme'], ['<partner>'])).toEqual(['acme']);
  });

  it('accepts positive numbers and whole numbers in range, and names the option and the value otherwise', () => {
    expect(positiveNumberOption('sweep', 'timeout', '2.5')).toBe(2.5);
    expect(positiveIntegerOption('deliveries', 'limit', '50', 100)).toBe(50);
    for (const text of ['', '0', '-1', 'x', 'Infinity']) {
      expect(problemOf(() => positiveNumberOption('sweep', 'timeout', text))).toBe(
        `--timeout must be a positive number, got "${text}"`,
      );
    }
    for (const text of ['0', '1.5', '101', 'x', '1e2']) {
      expect(problemOf(() => positiveIntegerOption('deliveries', 'limit', text, 100))).toBe(
        `--limit must be a whole number from 1 to 100, got "${text}"`,
      );
    }
  });

  it('reads ferry sweep --since as whole days, rounded up', () => {
    expect(sinceDaysOption('sweep', '30d')).toBe(30);
    expect(sinceDaysOption('sweep', '2w')).toBe(14);
    expect(sinceDaysOption('sweep', '36h')).toBe(2);
    for (const text of ['30', 'x', '-1d', '3661d']) {
      expect(problemOf(() => sinceDaysOption('sweep', text))).toMatch(/^--since must be a duration/);
    }
  });

  it('escapes hostile characters in the value it echoes', () => {
    expect(problemOf(() => positiveNumberOption('sweep', 'timeout', '\u001b[2J'))).toBe(
      '--timeout must be a positive number, got "\\x1b[2J"',
    );
  });

  it('says why a reason is refused', () => {
    expect(reasonOption('pause', '  disk full  ')).toBe('disk full');
    expect(problemOf(() => reasonOption('pause', undefined))).toMatch(/^missing --reason TEXT \(3-500/);
    expect(problemOf(() => reasonOption('pause', ' no '))).toBe('--reason must be 3-500 characters, got 2');
    expect(problemOf(() => reasonOption('pause', 'a\tb c'))).toBe(
      '--reason must be one line without control characters',
    );
  });

  it("keeps parseArgs' message on one line without its advice on positional arguments", () => {
    expect(
      parseArgsProblem(
        `Unknown option '--x'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- "--x"`,
      ),
    ).toBe("Unknown option '--x'");
    expect(parseArgsProblem("Option '--t' argument is ambiguous.\nDid you forget?")).toBe(
      "Option '--t' argument is ambiguous. Did you forget?",
    );
    expect(usageError('sweep', 'x').message).toBe('ferry sweep: x');
  });
});

// Every command's missing argument and one bad value: exit 2, before any config is read or any
// connection made, and one stderr line that names the argument, says why, then gives the usage.
describe('ferry usage errors', () => {
  const env = { FERRY_CONFIG: 'test/unit/config/fixtures/broken', USER: 'carol' };
  afterEach(() => vi.restoreAllMocks());

  async function run(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
    let stderr = '';
    let stdout = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    const code = await main(args, env);
    vi.restoreAllMocks();
    return { code, stderr, stdout };
  }

  it.each<[string, string[], string]>([
    ['validate', ['validate', 'extra'], `Unexpected argument 'extra'`],
    ['validate', ['validate', '--strict'], `Unknown option '--strict'`],
    ['start', ['start', '--role', 'boss'], '--role must be one of all, scheduler, worker, web, got "boss"'],
    ['start', ['start', '--role'], `Option '--role <value>' argument missing`],
    ['sweep', ['sweep'], 'missing <partner>'],
    ['sweep', ['sweep', 'acme', '--timeout', 'soon'], '--timeout must be a positive number, got "soon"'],
    ['sweep', ['sweep', 'acme', 'globex'], 'unexpected argument "globex"'],
    ['demo', ['demo', '--files', 'x'], '--files must be a whole number from 1 to 10000, got "x"'],
    ['demo', ['demo', '--size', '0'], '--size must be a whole number from 1 to 100000000, got "0"'],
    ['iam-policy', ['iam-policy', 'acme'], `Unexpected argument 'acme'`],
    ['host-key', ['host-key'], 'missing <host[:port]>'],
    [
      'host-key',
      ['host-key', 'sftp.example.com:99999'],
      '<host[:port]> must be a host name or IP address with an optional port 1-65535, got "sftp.example.com:99999"',
    ],
    ['host-key', ['host-key', 'h', '--timeout', '0'], '--timeout must be a positive number, got "0"'],
    ['host-key', ['host-key', 'h', '--proxy-password-env', 'PW'], '--proxy-password-env needs --proxy'],
    ['test-connection', ['test-connection'], 'missing <partner>'],
    [
      'test-connection',
      ['test-connection', 'acme', '--timeout=-1'],
      '--timeout must be a positive number, got "-1"',
    ],
    ['pause', ['pause'], 'missing <partner>'],
    ['pause', ['pause', 'acme'], 'missing --reason TEXT (3-500 characters; it goes to the audit trail)'],
    ['pause', ['pause', 'acme', '--reason', 'ok'], '--reason must be 3-500 characters, got 2'],
    ['pause', ['pause', 'acme', '--reason', 'disk full', '--by', ' '], '--by must name who asks, got ""'],
    ['resume', ['resume'], 'missing <partner>'],
    [
      'resume',
      ['resume', 'acme', '--reason', 'a\u0007bc'],
      '--reason must be one line without control characters',
    ],
    [
      'deliveries',
      ['deliveries', '--limit', 'x'],
      '--limit must be a whole number from 1 to 100000, got "x"',
    ],
    ['deliveries', ['deliveries', 'acme'], 'unexpected argument "acme"'],
    ['deliveries show', ['deliveries', 'show'], 'missing <deliveryId|jobId>'],
    ['deliveries show', ['deliveries', 'show', '--partner', 'acme'], `Unknown option '--partner'`],
    ['redeliver', ['redeliver'], 'missing <partner>'],
    ['redeliver', ['redeliver', 'acme'], 'missing <s3-key>'],
    ['redeliver', ['redeliver', 'acme', 'acme/a.csv'], 'missing --reason TEXT'],
    [
      'redeliver',
      ['redeliver', 'acme', 'acme/a.csv', '--reason', 'x'],
      '--reason must be 3-500 characters, got 1',
    ],
    ['retry', ['retry'], 'missing <deliveryId>'],
    [
      'retry',
      ['retry', 'dlv-acme-00000000000000000000000000000000', '--reason', 'fixed it', '--timeout', 'abc'],
      '--timeout must be a positive number, got "abc"',
    ],
    ['plan', ['plan', 'acme', 'globex'], 'unexpected argument "globex"'],
    ['janitor', ['janitor'], 'missing <partner>'],
    ['janitor', ['janitor', 'acme', '--dry-run=yes'], `Option '--dry-run' does not take an argument`],
  ])('ferry %s: %j', async (command, args, problem) => {
    const { code, stderr, stdout } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.startsWith(`ferry ${command}: ${problem}`)).toBe(true);
    expect(stderr).toMatch(new RegExp(` \\(usage: ferry ${command} [^\\n]*\\)\\n$`));
    expect(stderr.split('\n')).toHaveLength(2); // one line
  });
});
