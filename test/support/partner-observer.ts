// The partner-side observer: records every create / close-after-write / rename / delete in a partner
// directory with inotify, so a test can assert "final names only ever appear by rename" and count
// publishes per delivery (reliability-anchors §5.1 "Partner-side observer").
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface PartnerEvent {
  /** When the event reached the test process (Date.now()). */
  atMs: number;
  event: 'CREATE' | 'CLOSE_WRITE' | 'MOVED_FROM' | 'MOVED_TO' | 'DELETE';
  name: string;
}

export interface PartnerObserver {
  /** Every event seen so far, in order (the observer's own probe files never appear). */
  events(): PartnerEvent[];
  /**
   * Waits until every event that happened in the directory before this call has been read: a probe
   * file is created and removed, and inotify reports events in order.
   */
  sync(): Promise<void>;
  /** Syncs (when the directory still exists), then kills inotifywait. Idempotent. */
  stop(): Promise<void>;
}

const WATCHED: readonly PartnerEvent['event'][] = [
  'CREATE',
  'CLOSE_WRITE',
  'MOVED_FROM',
  'MOVED_TO',
  'DELETE',
];
const PROBE_PREFIX = '.ferry-observer-probe-';
const SYNC_TIMEOUT_MS = 10_000;

// Observers still running; killed if the test process exits without stopping them.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Starts `inotifywait -m` on `dir` (not recursive) and resolves once its watch is established,
 * proven by the events of a probe file created and removed after the spawn.
 */
export async function observePartnerDir(
  dir: string,
  options: {
    /** Called for each event as it is read (e.g. a partner that picks files up at once). */
    onEvent?: (event: PartnerEvent) => void;
  } = {},
): Promise<PartnerObserver> {
  const child = spawn(
    'inotifywait',
    ['-m', '-q', '-e', 'create,close_write,moved_to,moved_from,delete', '--format', '%e %f', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  installExitHook();

  const seen: PartnerEvent[] = [];
  // Probe name → resolver, called when the probe's DELETE arrives.
  const probes = new Map<string, () => void>();
  let stderr = '';
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    });
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.once('error', (err) => {
    stderr += `\n${err.message}`;
  });

  createInterface({ input: child.stdout }).on('line', (line) => {
    const atMs = Date.now();
    const space = line.indexOf(' ');
    if (space < 0) return;
    // e.g. "CLOSE_WRITE,CLOSE name" or "CREATE,ISDIR name"
    const flags = line.slice(0, space).split(',');
    const name = line.slice(space + 1);
    if (name.startsWith(PROBE_PREFIX)) {
      if (flags.includes('DELETE')) probes.get(name)?.();
      return;
    }
    const event = WATCHED.find((candidate) => flags.includes(candidate));
    if (!event) return;
    const seenEvent = { atMs, event, name };
    seen.push(seenEvent);
    options.onEvent?.(seenEvent);
  });

  const sync = async (): Promise<void> => {
    const name = `${PROBE_PREFIX}${randomBytes(6).toString('hex')}`;
    const delivered = new Promise<void>((resolve) => probes.set(name, resolve));
    let timer: NodeJS.Timeout | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`partner observer: no inotify events for ${dir} after ${SYNC_TIMEOUT_MS} ms`)),
        SYNC_TIMEOUT_MS,
      );
      void exitedPromise.then(() =>
        reject(new Error(`partner observer: inotifywait exited: ${stderr.trim() || 'no message'}`)),
      );
    });
    try {
      // inotifywait may not have added its watch yet: repeat the probe until its events come through.
      for (let round = 0; ; round++) {
        const path = join(dir, name);
        await writeFile(path, '');
        await rm(path, { force: true });
        const outcome = await Promise.race([
          delivered.then(() => 'seen' as const),
          failed,
          new Promise<'again'>((resolve) => setTimeout(() => resolve('again'), 50 * (round + 1))),
        ]);
        if (outcome === 'seen') return;
      }
    } finally {
      clearTimeout(timer);
      probes.delete(name);
    }
  };

  try {
    await sync();
  } catch (err) {
    child.kill('SIGKILL');
    await exitedPromise;
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    events: () => [...seen],
    sync,
    stop() {
      stopping ??= (async () => {
        if (
          !exited &&
          (await stat(dir).then(
            () => true,
            () => false,
          ))
        ) {
          await sync().catch(() => undefined);
        }
        if (!exited) child.kill('SIGTERM');
        await exitedPromise;
      })();
      return stopping;
    },
  };
}
