// Follows the connection of a long-running process to Redis: whether it answers, why not, and what
// the log says about it (src/core/redis-wait.ts decides the lines).
import { EventEmitter } from 'node:events';
import {
  INITIAL_REDIS_WAIT,
  redisWaitReason,
  stepRedisWait,
  type RedisWaitEvent,
  type RedisWaitSettings,
} from '../core/redis-wait.js';
import { untilAborted } from '../core/until-aborted.js';
import type { Logger } from '../observability/logger.js';
import { REDIS_RETRY_MAX_MS, type RedisClient } from './redis-connection.js';

export interface RedisAvailability {
  /** Why Redis cannot be used now ("waiting for Redis at …: connect ECONNREFUSED …"); undefined while it answers. */
  reason(): string | undefined;
  /** Resolves once Redis answers; rejects with `signal.reason` when the signal aborts first. */
  whenReady(signal?: AbortSignal): Promise<void>;
  /** Calls `listener` each time Redis stops answering; returns the unsubscribe. */
  onDown(listener: () => void): () => void;
  close(): void;
}

export interface RedisAvailabilityOptions {
  /** "Redis at host:port" (describeRedisTarget). */
  where: string;
  logger: Logger;
  /** Reminder pace while the wait goes on (default 30 s). */
  remindEveryMs?: number;
  now?: () => number;
}

export function watchRedisAvailability(
  redis: RedisClient,
  options: RedisAvailabilityOptions,
): RedisAvailability {
  const now = options.now ?? Date.now;
  const settings: RedisWaitSettings = {
    where: options.where,
    retryEverySeconds: REDIS_RETRY_MAX_MS / 1000,
    remindEveryMs: options.remindEveryMs ?? 30_000,
  };
  const changes = new EventEmitter();
  let state =
    redis.status === 'ready' ? { ...INITIAL_REDIS_WAIT, up: true, wasUp: true } : INITIAL_REDIS_WAIT;

  let closed = false;
  const step = (event: RedisWaitEvent) => {
    if (closed) return; // a stopping process's own quit is no outage
    const wasUp = state.up;
    const { state: next, line } = stepRedisWait(state, event, now(), settings);
    state = next;
    if (line) {
      const fields = { waitedSeconds: line.waitedSeconds };
      if (line.level === 'warn') {
        options.logger.warn({ errCode: 'ERR_REDIS_UNAVAILABLE', ...fields }, line.msg);
      } else options.logger.info(fields, line.msg);
    }
    if (wasUp && !state.up) changes.emit('down');
    if (!wasUp && state.up) changes.emit('up');
  };
  const onReady = () => step({ type: 'ready' });
  const onError = (err: Error) => step({ type: 'error', reason: err.message });
  const onClose = () => step({ type: 'closed' });
  redis.on('ready', onReady);
  redis.on('error', onError);
  redis.on('close', onClose);
  const ticker = setInterval(() => step({ type: 'tick' }), Math.min(5000, settings.remindEveryMs / 6));
  ticker.unref();

  return {
    reason: () => redisWaitReason(state, settings),
    whenReady(signal) {
      if (state.up) return Promise.resolve();
      return untilAborted(new Promise<void>((resolve) => changes.once('up', resolve)), signal);
    },
    onDown(listener) {
      changes.on('down', listener);
      return () => changes.off('down', listener);
    },
    close() {
      closed = true;
      clearInterval(ticker);
      redis.off('ready', onReady);
      redis.off('close', onClose);
      // The error listener stays: an ioredis client without one prints every error to stderr.
      changes.removeAllListeners();
    },
  };
}
