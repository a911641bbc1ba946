// The Redis connection of a CLI command: fails fast with a clear error instead of queueing commands.
import type { FerryConfig } from '../config/load-config.js';
import { FerryError } from '../errors.js';
import { createRedisConnection, describeRedisTarget, type RedisClient } from '../queues/redis-connection.js';

/** Connects as a producer; the error names where Redis was expected (never the URL's password). */
export async function connectProducer(config: FerryConfig): Promise<RedisClient> {
  const target = config.service.redis;
  const redis = createRedisConnection(target, 'producer');
  // Without a listener ioredis prints every connection error with a stack; it is reported once, below.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const cause = lastError ?? err;
    throw new FerryError(
      'ERR_REDIS_UNAVAILABLE',
      `cannot reach ${describeRedisTarget(target)} (${cause instanceof Error ? cause.message : String(cause)})`,
      { cause },
    );
  }
  return redis;
}
