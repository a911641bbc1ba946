// `ferry start --role worker --processes N|auto`: how many worker processes, and how long to wait
// before restarting one that exited on its own. Pure; src/commands/worker-processes.ts does the rest.

/** Most worker processes one supervisor starts. */
export const MAX_WORKER_PROCESSES = 64;

/**
 * The number of worker processes `--processes` asks for: `auto` = the cores Node may use
 * (`os.availableParallelism()`), else a whole number from 1 to 64. A string = what is wrong with it.
 */
export function workerProcessCount(text: string, cores: number): number | string {
  if (text === 'auto') return Math.max(1, Math.min(MAX_WORKER_PROCESSES, cores));
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_WORKER_PROCESSES) {
    return `--processes must be auto or a whole number from 1 to ${MAX_WORKER_PROCESSES}, got "${text}"`;
  }
  return Number(text);
}

/** A process that ran this long before it exited starts its crash count over. */
export const STABLE_RUN_MS = 60_000;

/**
 * Wait before restarting a worker process after its `crashesInARow`-th exit in a row (1 = the first):
 * 1 s, doubling, at most 30 s. A worker that cannot start (Redis away, a bad key) does not spin.
 */
export function restartDelayMs(crashesInARow: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, crashesInARow - 1));
}
