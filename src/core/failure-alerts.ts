// Alerts for failures outside a delivery: a sweep job that failed for good, and an error nothing in a
// Ferry process handled. Pure: the composition root (src/main.ts, src/cli.ts) hears of them and notifies.
import type { AlertEvent } from './alert-message.js';

/** What the sweep worker's `failed` event carries: the job's data (untrusted) and the error BullMQ holds. */
export interface FailedSweep {
  jobId: string | undefined;
  data: unknown;
  err: { name: string; message: string; code?: unknown };
}

const CODE_PREFIX = /^(ERR_[A-Z0-9_]+): /;

/**
 * The `sweep-failed` alert for a sweep that failed for good (permanent cause, or its last attempt).
 * Its dedup key is kind + partner + errCode, so a partner whose sweep fails every minute for the same
 * reason alerts once per dedup window, then once with the count. The code comes from the error's
 * `code` (PermanentError, classified FerryError) or its "ERR_…: " message prefix, else ERR_UNKNOWN.
 */
export function sweepFailedAlert(failed: FailedSweep): AlertEvent {
  const partnerId = (failed.data as { partnerId?: unknown } | null | undefined)?.partnerId;
  const prefixed = CODE_PREFIX.exec(failed.err.message);
  const errCode =
    typeof failed.err.code === 'string' && failed.err.code.startsWith('ERR_')
      ? failed.err.code
      : (prefixed?.[1] ?? 'ERR_UNKNOWN');
  const cause = prefixed ? failed.err.message.slice(prefixed[0].length) : failed.err.message;
  return {
    kind: 'sweep-failed',
    errCode,
    ...(typeof partnerId === 'string' ? { partnerId } : {}),
    message: `sweep job ${failed.jobId ?? '?'} failed: ${cause}; nothing new is delivered until a sweep succeeds`,
  };
}

/**
 * The `worker-error` alert for an error no code path handled (an unhandled promise rejection): a bug
 * or an unexpected library failure. One dedup key per code, so a burst is one alert plus a count.
 */
export function workerErrorAlert(reason: unknown, what: string): AlertEvent {
  const code = typeof reason === 'object' && reason !== null && 'code' in reason ? reason.code : undefined;
  const message = reason instanceof Error ? reason.message : String(reason);
  return {
    kind: 'worker-error',
    errCode: typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_UNKNOWN',
    message: `${what}: ${message}`,
  };
}
