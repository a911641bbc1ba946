// Runs the compiled `ferry` CLI as a child process (as production does), for multi-process and kill tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// From test/support/ (vitest) or dist/test/support/ (compiled): the launcher lives in <repo>/bin.
const BIN = fileURLToPath(new URL('../../bin/ferry.js', import.meta.url)).replace(
  /\/dist\/bin\/ferry\.js$/,
  '/bin/ferry.js',
);

export interface FerryProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far (stdout + stderr). */
  output(): string;
  /** Resolves when a stdout/stderr line matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) once it exits. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Spawns `node bin/ferry.js <args>`; killed with SIGKILL when the test process exits. */
export function spawnFerry(args: string[], env: NodeJS.ProcessEnv = process.env): FerryProcess {
  // Benches profile the child with e.g. FERRY_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (env.FERRY_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  return {
    child,
    pid: child.pid ?? -1,
    output: () => text,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
    waitForLine(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            cleanup();
            resolve(line);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${text.slice(-4000)}`),
          );
        }, timeoutMs);
        const onExit = () => {
          check();
          cleanup();
          reject(new Error(`ferry exited before printing ${pattern}; output:\n${text.slice(-4000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.removeListener('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}
