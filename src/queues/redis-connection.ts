import { Redis } from 'ioredis';
import { FerryError } from '../errors.js';

/**
 * Workers wait for Redis (maxRetriesPerRequest: null, as BullMQ requires); producers such as the CLI
 * fail fast instead of queueing commands while Redis is down.
 */
export function createRedisConnection(url: string, role: 'worker' | 'producer'): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    lazyConnect: role === 'producer',
    connectionName: `ferry-${role}`,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

/** BullMQ is only correct with noeviction: an evicting Redis silently drops jobs and ledger keys. */
export async function assertRedisPolicy(redis: Redis): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = await redis.config('GET', 'maxmemory-policy');
    policy = reply[1];
  } catch {
    return; // CONFIG is disabled on some managed Redis; they document their policy elsewhere.
  }
  if (policy && policy !== 'noeviction') {
    throw new FerryError(
      'ERR_REDIS_POLICY',
      `Redis maxmemory-policy is "${policy}"; Ferry needs "noeviction" (an evicting Redis loses jobs and ledger entries)`,
    );
  }
}
