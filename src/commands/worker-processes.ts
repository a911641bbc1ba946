// `ferry start --role worker --processes N|auto`: several worker processes on one machine, for when the
// CPU is the limit (a process runs its JavaScript on one core). Each child is a plain `ferry start
// --role worker`: the partner caps, slots and ledger are in Redis, so N processes behave as N machines.
// The supervisor restarts a child that exits on its own (backing off), passes SIGTERM/SIGINT on, and
// exits once every child has stopped; a child stops by itself when its supervisor goes away.
import { fork, type ChildProcess } from 'node:child_process';
import { restartDelayMs, STABLE_RUN_MS } from '../core/worker-supervision.js';
import type { Logger } from '../observability/logger.js';

export interface SuperviseOptions {
  count: number;
  /** Each child's arguments: `start --role worker --config <dir>`. */
  args: string[];
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** The CLI script the children run (default: the one this process runs). */
  script?: string;
}

/** Set in a supervised worker's environment; with it the worker stops when its IPC channel closes. */
export const SUPERVISED_ENV = 'FERRY_SUPERVISED';

/** Runs the children until SIGTERM/SIGINT; 0 when every child then stopped cleanly. */
export async function superviseWorkers(options: SuperviseOptions): Promise<number> {
  const { count, args, env, logger } = options;
  const script = options.script ?? process.argv[1]!;
  const children = new Map<number, ChildProcess>();
  const crashesInARow = Array.from({ length: count }, () => 0);
  const restarts = new Set<NodeJS.Timeout>();
  let stopping = false;
  let unclean = false;
  let allStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (allStopped = resolve));

  const start = (index: number): void => {
    const startedAt = Date.now();
    const child = fork(script, args, {
      env: { ...env, [SUPERVISED_ENV]: '1', FERRY_WORKER_INDEX: String(index) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which passes it on
      // once (a worker takes a second signal as "stop at once").
      detached: true,
    });
    children.set(index, child);
    logger.info({ workerIndex: index, pid: child.pid }, 'worker process started');
    child.once('exit', (code, signal) => {
      children.delete(index);
      if (stopping) {
        if (code !== 0) unclean = true;
        logger.info({ workerIndex: index, pid: child.pid, code, signal }, 'worker process stopped');
        if (children.size === 0) allStopped();
        return;
      }
      crashesInARow[index] = Date.now() - startedAt >= STABLE_RUN_MS ? 1 : crashesInARow[index]! + 1;
      const delayMs = restartDelayMs(crashesInARow[index]);
      logger.error(
        { workerIndex: index, pid: child.pid, code, signal, restartInMs: delayMs },
        'worker process exited on its own: restarting it (its deliveries are retried by the others)',
      );
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (!stopping) start(index);
      }, delayMs);
      restarts.add(timer);
    });
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stopping) {
      stopping = true;
      for (const timer of restarts) clearTimeout(timer);
      restarts.clear();
      logger.info(
        { signal, workers: children.size },
        'shutting down: each worker process finishes its in-flight deliveries (signal again to stop at once)',
      );
      if (children.size === 0) allStopped();
    } else {
      logger.warn({ signal }, 'stopping at once: in-flight deliveries will be retried');
    }
    for (const child of children.values()) child.kill('SIGTERM');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    for (let index = 0; index < count; index++) start(index);
    logger.info({ processes: count }, 'ferry started: supervising worker processes');
    await stopped;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  logger.info({ clean: !unclean }, 'ferry stopped');
  return unclean ? 1 : 0;
}
