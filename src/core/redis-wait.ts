// What a long-running process says while Redis is unreachable: one line when the wait starts, a
// reminder with the elapsed time at a slow pace, one line when Redis answers again. ioredis retries
// every ≤ 2 s and reports each failed attempt; repeating each of them would bury everything else.

export interface RedisWaitState {
  /** Redis answered (the connection is ready). */
  readonly up: boolean;
  /** When the current wait started (ms since the epoch); undefined while up. */
  readonly downSince?: number;
  /** The last reason Redis could not be reached, e.g. "connect ECONNREFUSED 127.0.0.1:6399". */
  readonly reason?: string;
  /** When the wait was last reported (start line or reminder); undefined: not yet reported. */
  readonly reportedAt?: number;
  /** The process has been up with Redis once (a later wait is an outage, not a start). */
  readonly wasUp: boolean;
}

export type RedisWaitEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'error'; readonly reason: string }
  | { readonly type: 'closed' }
  | { readonly type: 'tick' };

export interface RedisWaitLine {
  readonly level: 'warn' | 'info';
  readonly msg: string;
  readonly waitedSeconds: number;
}

export interface RedisWaitSettings {
  /** "Redis at host:port" (describeRedisTarget). */
  readonly where: string;
  /** How often the client tries again, for the message. */
  readonly retryEverySeconds: number;
  /** How often a reminder is said while the wait goes on. */
  readonly remindEveryMs: number;
}

export const INITIAL_REDIS_WAIT: RedisWaitState = { up: false, wasUp: false };

/** The next state, and the line to log if any. Pure: the caller passes the clock and logs the line. */
export function stepRedisWait(
  state: RedisWaitState,
  event: RedisWaitEvent,
  now: number,
  settings: RedisWaitSettings,
): { state: RedisWaitState; line?: RedisWaitLine } {
  const waited = (since: number | undefined) => Math.max(0, Math.round((now - (since ?? now)) / 1000));
  switch (event.type) {
    case 'ready': {
      const next: RedisWaitState = { up: true, wasUp: true };
      if (state.up || state.reportedAt === undefined) return { state: next };
      const seconds = waited(state.downSince);
      return {
        state: next,
        line: {
          level: 'info',
          msg: `${settings.where} answers again after ${formatDuration(seconds)}`,
          waitedSeconds: seconds,
        },
      };
    }
    case 'closed':
    case 'error': {
      // A close says less than the error that usually comes with it: keep the error's reason.
      const reason = event.type === 'error' ? event.reason : 'the connection closed';
      if (!state.up && state.reportedAt !== undefined) {
        return { state: event.type === 'error' ? { ...state, reason } : state };
      }
      const downSince = state.up ? now : (state.downSince ?? now);
      const msg = state.wasUp
        ? `lost ${settings.where}: ${reason} — waiting for it, retrying every ${settings.retryEverySeconds} s`
        : `waiting for ${settings.where}: ${reason} — retrying every ${settings.retryEverySeconds} s`;
      return {
        state: { up: false, wasUp: state.wasUp, downSince, reason, reportedAt: now },
        line: { level: 'warn', msg, waitedSeconds: waited(downSince) },
      };
    }
    case 'tick': {
      if (state.up || state.reportedAt === undefined || now - state.reportedAt < settings.remindEveryMs) {
        return { state };
      }
      const seconds = waited(state.downSince);
      return {
        state: { ...state, reportedAt: now },
        line: {
          level: 'warn',
          msg: `still waiting for ${settings.where} (${formatDuration(seconds)} so far): ${state.reason ?? 'no answer'} — retrying every ${settings.retryEverySeconds} s`,
          waitedSeconds: seconds,
        },
      };
    }
  }
}

/** Why Redis cannot be used right now, for /readyz and 503 answers; undefined while it answers. */
export function redisWaitReason(state: RedisWaitState, settings: RedisWaitSettings): string | undefined {
  if (state.up) return undefined;
  return `waiting for ${settings.where}${state.reason === undefined ? '' : `: ${state.reason}`}`;
}

/** "45 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) {
    const s = seconds % 60;
    return `${Math.floor(seconds / 60)} min${s === 0 ? '' : ` ${s} s`}`;
  }
  const m = Math.floor((seconds % 3600) / 60);
  return `${Math.floor(seconds / 3600)} h${m === 0 ? '' : ` ${m} min`}`;
}

/**
 * Errors that only say Redis cannot be reached (the wait reports those once); anything else (a
 * script error, a wrong password, OOM) is still logged where it happens.
 */
export function isRedisConnectionError(message: string): boolean {
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Connection is closed|Stream isn't writeable|connect ETIMEDOUT/i.test(
    message,
  );
}
