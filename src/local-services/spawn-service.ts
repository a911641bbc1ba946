import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
// Timers come from node:timers, not globals, so a test that installs fake timers cannot stall the harness.
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as delay } from 'node:timers/promises';
import { getFreePort } from './free-port.js';

const STOP_GRACE_MS = 5_000;
const DEFAULT_READY_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 50;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A service child process the harness started and will always reap. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the child has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  isRunning(): boolean;
  /**
   * Sends `signal` (default SIGTERM) to the child and to the processes it forked (e.g. sshd's
   * per-connection children, which live in their own session), waits for them to go, and SIGKILLs
   * whatever is left after 5 s. Idempotent.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnServiceOptions {
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Thrown when a service fails to start; `exitedEarly` means it died (e.g. its port was taken). */
export class ServiceStartError extends Error {
  readonly exitedEarly: boolean;

  constructor(message: string, exitedEarly: boolean) {
    super(message);
    this.name = 'ServiceStartError';
    this.exitedEarly = exitedEarly;
  }
}

export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

export interface Descendant extends ProcessIdentity {
  /** 1 = child of the service, 2 = grandchild, … */
  depth: number;
}

const liveChildren = new Set<ProcessIdentity>();

// One hook per process: whatever the tests or the demo forgot to stop dies with us.
process.on('exit', () => {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (const child of liveChildren) {
    // Same bottom-up order as stop(), with short synchronous waits (exit hooks cannot await).
    for (const level of byDepthDeepestFirst(listDescendants(child.pid))) {
      for (const descendant of level) signalIfSame(descendant, 'SIGKILL');
      for (let waited = 0; waited < 200 && level.some(exists); waited += 10) Atomics.wait(sleeper, 0, 0, 10);
    }
    signalIfSame(child, 'SIGKILL');
  }
});

/**
 * Starts a long-running service as a direct child (never daemonised, so we own its pid), with output
 * appended to `logFile`. The child does not keep the parent alive; the exit hook kills it if needed.
 */
export async function spawnService(options: SpawnServiceOptions): Promise<ServiceProcess> {
  const log = await open(options.logFile, 'a');
  let child: ChildProcess;
  try {
    const spawned = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', log.fd, log.fd],
    });
    await new Promise<void>((resolve, reject) => {
      spawned.once('spawn', resolve);
      spawned.once('error', reject);
    });
    child = spawned;
  } catch (error) {
    throw new ServiceStartError(
      `${options.name}: cannot run ${options.command}: ${(error as Error).message}`,
      false,
    );
  } finally {
    await log.close();
  }
  const pid = child.pid!;
  const identity: ProcessIdentity = { pid, startTime: readStartTime(pid) ?? '' };
  liveChildren.add(identity);
  let running = true;
  // A failed kill() emits 'error'; the exit status is what we act on.
  child.on('error', () => {});
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      liveChildren.delete(identity);
      resolve({ code, signal });
    });
  });
  child.unref();

  async function stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!running) return;
    child.ref(); // keep the event loop alive until the exit is observed
    try {
      // Forked processes first, deepest first, each level reaped by its still-living parent before
      // the parent goes; otherwise they linger as zombies under a container's pid 1.
      for (const level of byDepthDeepestFirst(listDescendants(pid))) {
        for (const descendant of level) signalIfSame(descendant, signal);
        await waitUntilGone(level);
      }
      child.kill(signal);
      const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killTimer);
    } finally {
      child.unref();
    }
  }

  return {
    name: options.name,
    pid,
    logFile: options.logFile,
    exited,
    isRunning: () => running,
    stop,
  };
}

export interface WaitForReadyOptions {
  /** Resolves true once the service answers; false or a throw means "not yet". */
  probe: () => Promise<boolean>;
  timeoutMs?: number;
}

/**
 * Polls `probe` until the service answers. Fails fast if the process exits and stops it on timeout;
 * either error carries the tail of the service's log.
 */
export async function waitForReady(service: ServiceProcess, options: WaitForReadyOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!service.isRunning()) {
      const status = await service.exited;
      throw new ServiceStartError(
        `${service.name} (pid ${service.pid}) exited with ${describeExit(status)} before it was ready\n` +
          (await formatLogTail(service.logFile)),
        true,
      );
    }
    if (await options.probe().catch(() => false)) return;
    if (Date.now() >= deadline) {
      await service.stop('SIGKILL');
      throw new ServiceStartError(
        `${service.name} (pid ${service.pid}) was not ready after ${timeoutMs} ms\n` +
          (await formatLogTail(service.logFile)),
        false,
      );
    }
    await delay(READY_POLL_MS);
  }
}

/**
 * Runs `start` on `port`, or on a fresh free port when none was requested, retrying with another port
 * when the service died at start (another process may have grabbed the port in between).
 */
export async function startOnPort<T>(
  port: number | undefined,
  start: (port: number) => Promise<T>,
): Promise<T> {
  if (port !== undefined) return start(port);
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await getFreePort());
    } catch (error) {
      if (!(error instanceof ServiceStartError && error.exitedEarly) || attempt >= attempts) throw error;
    }
  }
}

/** The last `lines` lines of a log file, or '' when it does not exist yet. */
export async function readLogTail(logFile: string, lines = 40): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function formatLogTail(logFile: string): Promise<string> {
  const tail = await readLogTail(logFile);
  return `--- tail of ${logFile} ---\n${tail || '(empty)'}`;
}

function describeExit(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}

/** Waits for `family` to exit, SIGKILLing stragglers after the grace period. */
async function waitUntilGone(family: readonly ProcessIdentity[]): Promise<void> {
  let alive = await waitWhileAlive(family, STOP_GRACE_MS);
  for (const descendant of alive) signalIfSame(descendant, 'SIGKILL');
  alive = await waitWhileAlive(alive, STOP_GRACE_MS);
  if (alive.length > 0) throw new Error(`processes ${alive.map((p) => p.pid).join(', ')} survived SIGKILL`);
}

async function waitWhileAlive(
  family: readonly ProcessIdentity[],
  timeoutMs: number,
): Promise<ProcessIdentity[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = family.filter(exists);
  while (alive.length > 0 && Date.now() < deadline) {
    await delay(25);
    alive = alive.filter(exists);
  }
  return alive;
}

// Processes are identified by pid + start time so a recycled pid is never signalled.
function readStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; starttime is field 22 overall.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True until the process has been reaped (a zombie still exists). */
function exists(target: ProcessIdentity): boolean {
  const startTime = readStartTime(target.pid);
  return startTime !== undefined && startTime === target.startTime;
}

function signalIfSame(target: ProcessIdentity, signal: NodeJS.Signals): void {
  // Without /proc (non-Linux) startTime is '' and we can only trust the pid.
  if (target.startTime !== '' && readStartTime(target.pid) !== target.startTime) return;
  try {
    process.kill(target.pid, signal);
  } catch {
    // already gone
  }
}

function byDepthDeepestFirst(family: readonly Descendant[]): Descendant[][] {
  const levels: Descendant[][] = [];
  for (const descendant of family) (levels[descendant.depth - 1] ??= []).push(descendant);
  return levels.reverse();
}

/** Every process below `rootPid` (Linux /proc; empty elsewhere). */
export function listDescendants(rootPid: number): Descendant[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
  const childrenOf = new Map<number, ProcessIdentity[]>();
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      const siblings = childrenOf.get(ppid) ?? [];
      siblings.push({ pid: Number(entry), startTime: fields[19] ?? '' });
      childrenOf.set(ppid, siblings);
    } catch {
      // exited while we looked
    }
  }
  const found: Descendant[] = [];
  const queue = [{ pid: rootPid, depth: 0 }];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const child of childrenOf.get(parent.pid) ?? []) {
      found.push({ ...child, depth: parent.depth + 1 });
      queue.push({ pid: child.pid, depth: parent.depth + 1 });
    }
  }
  return found;
}
