// The partner's answers (`ack:`): which delivered files still wait for one, and what came. The answer
// itself is stored on the delivery's ledger record (ack, ackAt, ackFile, ackReason) by the same script
// that takes the delivery off the waiting list, so the two never disagree. Every key shares the
// prefix's hash tag: one slot, so the scripts work on Redis Cluster too.
import type { Cluster, Redis } from 'ioredis';
import type { AckStatus } from '../core/delivery-view.js';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';

export interface WaitingDelivery {
  deliveryId: string;
  /** The delivered file's name (the answer is named after it). */
  name: string;
  deliveredAtMs: number;
  /** Reported overdue already. */
  overdue: boolean;
}

export interface UnmatchedAnswer {
  name: string;
  size: number;
  firstSeenAt: string;
}

export interface AckAnswer {
  result: Extract<AckStatus, 'acknowledged' | 'rejected'>;
  at: Date;
  file: string;
  /** A reject's text (the caller bounds it). */
  reason?: string;
}

export interface AckIndex {
  /** A delivered file now waits for its answer (idempotent; a delivery answered already stays answered). */
  expect(partnerId: string, deliveryId: string, name: string, deliveredAtMs: number): Promise<void>;
  /** The partner's deliveries waiting for an answer, oldest first. */
  waiting(partnerId: string): Promise<WaitingDelivery[]>;
  /** Records the answer and ends the wait; false when the delivery was not waiting. */
  answer(partnerId: string, deliveryId: string, answer: AckAnswer): Promise<boolean>;
  /** Marks the deliveries waiting since before `cutoffMs` overdue; returns those marked now (once each). */
  markOverdue(partnerId: string, cutoffMs: number, at: Date): Promise<string[]>;
  /** Replaces the partner's answers that match nothing with what the last listing found. */
  setUnmatched(partnerId: string, files: readonly { name: string; size: number }[], at: Date): Promise<void>;
  unmatched(partnerId: string): Promise<UnmatchedAnswer[]>;
  /** When the oldest waiting delivery was delivered (ms), or undefined when none waits. */
  oldestWaitingMs(partnerId: string): Promise<number | undefined>;
}

// KEYS: delivery hash, pending zset, names hash. ARGV: deliveryId, name, deliveredAtMs.
// Only a delivered record waits, and only if no answer was recorded (a repeated call is a no-op).
const EXPECT_LUA = `
if redis.call('HGET', KEYS[1], 'status') ~= 'delivered' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'ack') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'ack', 'pending')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1
`;

// KEYS: delivery hash, pending zset, names hash, overdue set. ARGV: deliveryId, result, at, file, reason.
const ANSWER_LUA = `
local current = redis.call('HGET', KEYS[1], 'ack')
if current ~= 'pending' and current ~= 'overdue' then return 0 end
redis.call('HSET', KEYS[1], 'ack', ARGV[2], 'ackAt', ARGV[3], 'ackFile', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'ackReason', ARGV[5]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
return 1
`;

// KEYS: delivery hash, pending zset, overdue set. ARGV: deliveryId, at. Every key a script touches
// is declared (Redis Cluster requires it); one call per delivery found late.
const OVERDUE_LUA = `
if redis.call('ZSCORE', KEYS[2], ARGV[1]) == false then return 0 end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'ack') == 'pending' then
  redis.call('HSET', KEYS[1], 'ack', 'overdue', 'ackAt', ARGV[2])
end
return 1
`;

const expectScript = createLuaScript(EXPECT_LUA);
const answerScript = createLuaScript(ANSWER_LUA);
const overdueScript = createLuaScript(OVERDUE_LUA);

export function createAckIndex(redis: Redis | Cluster, keys: RedisKeys): AckIndex {
  return {
    async expect(partnerId, deliveryId, name, deliveredAtMs) {
      await expectScript.run(
        redis,
        [keys.delivery(deliveryId), keys.ackPending(partnerId), keys.ackNames(partnerId)],
        [deliveryId, name, String(deliveredAtMs)],
      );
    },

    async waiting(partnerId) {
      const [scored, names, overdue] = await Promise.all([
        redis.zrange(keys.ackPending(partnerId), '0', '-1', 'WITHSCORES'),
        redis.hgetall(keys.ackNames(partnerId)),
        redis.smembers(keys.ackOverdue(partnerId)),
      ]);
      const late = new Set(overdue);
      const out: WaitingDelivery[] = [];
      for (let i = 0; i + 1 < scored.length; i += 2) {
        const deliveryId = scored[i]!;
        const name = names[deliveryId];
        if (name === undefined) continue;
        out.push({ deliveryId, name, deliveredAtMs: Number(scored[i + 1]), overdue: late.has(deliveryId) });
      }
      return out;
    },

    async answer(partnerId, deliveryId, a) {
      const done = await answerScript.run(
        redis,
        [
          keys.delivery(deliveryId),
          keys.ackPending(partnerId),
          keys.ackNames(partnerId),
          keys.ackOverdue(partnerId),
        ],
        [deliveryId, a.result, a.at.toISOString(), a.file, a.reason ?? ''],
      );
      return done === 1;
    },

    async markOverdue(partnerId, cutoffMs, at) {
      const late = await redis.zrangebyscore(keys.ackPending(partnerId), '-inf', `(${cutoffMs}`);
      const marked: string[] = [];
      for (const deliveryId of late) {
        const done = await overdueScript.run(
          redis,
          [keys.delivery(deliveryId), keys.ackPending(partnerId), keys.ackOverdue(partnerId)],
          [deliveryId, at.toISOString()],
        );
        if (done === 1) marked.push(deliveryId);
      }
      return marked;
    },

    async setUnmatched(partnerId, files, at) {
      const key = keys.ackUnmatched(partnerId);
      const before = await redis.hgetall(key);
      const next: Record<string, string> = {};
      for (const f of files) {
        const seen = parseUnmatched(f.name, before[f.name]);
        next[f.name] = JSON.stringify({ size: f.size, firstSeenAt: seen?.firstSeenAt ?? at.toISOString() });
      }
      const multi = redis.multi().del(key);
      if (files.length > 0) multi.hset(key, next);
      await multi.exec();
    },

    async unmatched(partnerId) {
      const all = await redis.hgetall(keys.ackUnmatched(partnerId));
      return Object.entries(all)
        .map(([name, value]) => parseUnmatched(name, value))
        .filter((u): u is UnmatchedAnswer => u !== undefined)
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async oldestWaitingMs(partnerId) {
      const first = await redis.zrange(keys.ackPending(partnerId), '0', '0', 'WITHSCORES');
      return first.length === 2 ? Number(first[1]) : undefined;
    },
  };
}

function parseUnmatched(name: string, value: string | undefined): UnmatchedAnswer | undefined {
  if (value === undefined) return undefined;
  try {
    const v = JSON.parse(value) as { size?: unknown; firstSeenAt?: unknown };
    if (typeof v.size !== 'number' || typeof v.firstSeenAt !== 'string') return undefined;
    return { name, size: v.size, firstSeenAt: v.firstSeenAt };
  } catch {
    return undefined;
  }
}
