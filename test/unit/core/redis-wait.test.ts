import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  INITIAL_REDIS_WAIT,
  isRedisConnectionError,
  redisWaitReason,
  stepRedisWait,
  type RedisWaitEvent,
  type RedisWaitState,
} from '../../../src/core/redis-wait.js';

const settings = { where: 'Redis at 127.0.0.1:6399', retryEverySeconds: 2, remindEveryMs: 30_000 };
const REFUSED = 'connect ECONNREFUSED 127.0.0.1:6399';

/** Feeds events at the given times (ms); returns the lines said and the last state. */
function run(events: [number, RedisWaitEvent][], from: RedisWaitState = INITIAL_REDIS_WAIT) {
  let state = from;
  const lines: string[] = [];
  for (const [at, event] of events) {
    const step = stepRedisWait(state, event, at, settings);
    state = step.state;
    if (step.line) lines.push(`${step.line.level} ${step.line.msg}`);
  }
  return { state, lines };
}

describe('what a process says while Redis is unreachable', () => {
  it('says once at start what it waits for, not once per failed attempt', () => {
    const attempts: [number, RedisWaitEvent][] = [];
    for (let t = 0; t < 20_000; t += 2000) {
      attempts.push(
        [t, { type: 'error', reason: REFUSED }],
        [t + 1, { type: 'closed' }],
        [t + 2, { type: 'tick' }],
      );
    }
    expect(run(attempts).lines).toEqual([
      `warn waiting for Redis at 127.0.0.1:6399: ${REFUSED} — retrying every 2 s`,
    ]);
  });

  it('reminds with the time waited every 30 s, and says when Redis answers again', () => {
    const { lines, state } = run([
      [1000, { type: 'error', reason: REFUSED }],
      [30_000, { type: 'tick' }],
      [31_000, { type: 'tick' }],
      [36_000, { type: 'error', reason: 'connect ETIMEDOUT' }],
      [61_000, { type: 'tick' }],
      [95_000, { type: 'tick' }],
      [96_500, { type: 'ready' }],
    ]);
    expect(lines).toEqual([
      `warn waiting for Redis at 127.0.0.1:6399: ${REFUSED} — retrying every 2 s`,
      `warn still waiting for Redis at 127.0.0.1:6399 (30 s so far): ${REFUSED} — retrying every 2 s`,
      'warn still waiting for Redis at 127.0.0.1:6399 (1 min so far): connect ETIMEDOUT — retrying every 2 s',
      'warn still waiting for Redis at 127.0.0.1:6399 (1 min 34 s so far): connect ETIMEDOUT — retrying every 2 s',
      'info Redis at 127.0.0.1:6399 answers again after 1 min 36 s',
    ]);
    expect(state).toEqual({ up: true, wasUp: true });
  });

  it('says nothing when Redis answers at once', () => {
    expect(
      run([
        [0, { type: 'ready' }],
        [60_000, { type: 'tick' }],
      ]).lines,
    ).toEqual([]);
  });

  it('calls a later loss an outage, once, with the reason of the first failure', () => {
    const { lines } = run([
      [0, { type: 'ready' }],
      [5000, { type: 'closed' }],
      [5200, { type: 'error', reason: REFUSED }],
      [7000, { type: 'error', reason: REFUSED }],
      [9000, { type: 'ready' }],
    ]);
    expect(lines).toEqual([
      'warn lost Redis at 127.0.0.1:6399: the connection closed — waiting for it, retrying every 2 s',
      'info Redis at 127.0.0.1:6399 answers again after 4 s',
    ]);
  });

  it('gives the reason for /readyz while down, none while up; an error replaces "the connection closed"', () => {
    expect(redisWaitReason(INITIAL_REDIS_WAIT, settings)).toBe('waiting for Redis at 127.0.0.1:6399');
    const down = run([
      [0, { type: 'ready' }],
      [1, { type: 'closed' }],
      [2, { type: 'error', reason: REFUSED }],
    ]);
    expect(redisWaitReason(down.state, settings)).toBe(`waiting for Redis at 127.0.0.1:6399: ${REFUSED}`);
    expect(redisWaitReason(run([[0, { type: 'ready' }]]).state, settings)).toBeUndefined();
  });

  it('formats waits in s, min and h', () => {
    expect([0, 59, 60, 125, 3600, 7440].map(formatDuration)).toEqual([
      '0 s',
      '59 s',
      '1 min',
      '2 min 5 s',
      '1 h',
      '2 h 4 min',
    ]);
  });

  it('tells "cannot reach Redis" errors from others', () => {
    for (const m of [REFUSED, 'read ECONNRESET', 'Connection is closed.', 'getaddrinfo ENOTFOUND redis']) {
      expect(isRedisConnectionError(m), m).toBe(true);
    }
    for (const m of [
      'NOSCRIPT No matching script',
      'WRONGPASS invalid username-password pair',
      'OOM command not allowed',
    ]) {
      expect(isRedisConnectionError(m), m).toBe(false);
    }
  });
});
