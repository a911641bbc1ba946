// Runs the CLI entry point in the test's own process (no build needed), capturing what it writes.
import { vi } from 'vitest';
import { main } from '../../src/cli.js';

export interface CliRun {
  code: number;
  /** stdout split into lines (without the empty string after the last newline). */
  out: string[];
  err: string;
}

/** Runs `ferry <args>` through `main()`, with stdout and stderr captured for the call's duration. */
export async function runFerryInProcess(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const keep = (into: string[]) => (chunk: string | Uint8Array) => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(keep(out));
  vi.spyOn(process.stderr, 'write').mockImplementation(keep(err));
  try {
    const code = await main(args, env);
    return { code, out: out.join('').split('\n').slice(0, -1), err: err.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}
