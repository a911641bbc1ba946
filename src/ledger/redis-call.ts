// Every Redis call of the ledger modules fails the same way: as a FerryError of the redis kind
// (classifyError), so callers tell "Redis away, retry" from a bug without knowing ioredis's errors.
import { classifyError } from '../core/classify-error.js';

/** Runs a Redis call; its error comes out classified (ERR_REDIS_*, with its retry intent). */
export async function redisCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyError(err, 'redis');
  }
}
