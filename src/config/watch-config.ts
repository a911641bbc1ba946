// Hot reload: any change under <dir> or <dir>/partners reloads the whole config after a short quiet period.
// Whether to apply the result is the caller's decision (an invalid result must leave the old config running).
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ConfigResult } from './load-config.js';

/** Editors save in bursts (write, rename, chmod); wait this long after the last event. */
const DEBOUNCE_MS = 250;

/**
 * Watches the config directory and its partners/ folder and calls `onChange` with a fresh
 * `loadConfig` result after each burst of changes, valid or not. Loads never overlap; a change during a
 * load triggers one more. Throws if `dir` cannot be watched. `onChange` must not throw.
 */
export function watchConfig(
  dir: string,
  env: NodeJS.ProcessEnv,
  onChange: (result: ConfigResult) => void,
): { close(): void } {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let loading = false;
  let again = false;
  let partnersWatcher: FSWatcher | undefined;

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), DEBOUNCE_MS);
  };

  const reload = async (): Promise<void> => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    let result: ConfigResult;
    try {
      result = await loadConfig(dir, env);
    } catch (err) {
      const message = `reload failed: ${err instanceof Error ? err.message : String(err)}`;
      result = { ok: false, problems: [{ file: dir, line: 0, col: 0, path: '', message }] };
    } finally {
      loading = false;
    }
    if (!closed) onChange(result);
    if (again) {
      again = false;
      schedule();
    }
  };

  // partners/ may appear, vanish or be replaced (a new inode): watch whatever is there now.
  const watchPartners = (): void => {
    partnersWatcher?.close();
    partnersWatcher = undefined;
    try {
      partnersWatcher = watch(join(dir, 'partners'), schedule);
      partnersWatcher.on('error', schedule);
    } catch {
      // No partners/ folder (yet): the directory watcher sees it being created.
    }
  };

  const dirWatcher = watch(dir, (_event, filename) => {
    if (filename === 'partners') watchPartners();
    schedule();
  });
  dirWatcher.on('error', schedule);
  watchPartners();

  return {
    close(): void {
      closed = true;
      clearTimeout(timer);
      dirWatcher.close();
      partnersWatcher?.close();
    },
  };
}
