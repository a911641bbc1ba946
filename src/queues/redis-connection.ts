import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/schema.js';
import { FerryError } from '../errors.js';

/** One Redis server or a Redis Cluster: BullMQ, the ledger and the semaphore work with either. */
export type RedisClient = Redis | Cluster;

/** The longest pause between two attempts to reach Redis. */
export const REDIS_RETRY_MAX_MS = 2000;

const retryDelayMs = (times: number): number => Math.min(times * 200, REDIS_RETRY_MAX_MS);

/**
 * Workers wait for Redis (maxRetriesPerRequest: null, as BullMQ requires); producers such as the CLI
 * fail fast instead of queueing commands while Redis is down. With `cluster`, the seed nodes are asked
 * for the slot map and every node is reached with the first seed's scheme and credentials.
 */
export function createRedisConnection(target: RedisTarget, role: 'worker' | 'producer'): RedisClient {
  const options: RedisOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    connectionName: `ferry-${role}`,
  };
  if (target.cluster === undefined) {
    return new Redis(target.url, {
      ...options,
      enableOfflineQueue: role === 'worker',
      lazyConnect: role === 'producer',
      retryStrategy: retryDelayMs,
    });
  }
  const seeds = target.cluster.map((url) => new URL(url));
  const first = seeds[0];
  if (first === undefined) throw new FerryError('ERR_CONFIG_INVALID', 'redis.cluster lists no seed node');
  return new Cluster(
    seeds.map((u): ClusterNode => ({ host: hostOf(u), port: Number(u.port || 6379) })),
    {
      // Nodes learnt from CLUSTER SLOTS carry no credentials of their own: these options apply to all.
      redisOptions: { ...options, ...accessOptions(first) },
      enableOfflineQueue: role === 'worker',
      lazyConnect: role === 'producer',
      clusterRetryStrategy: retryDelayMs,
    },
  );
}

/** Where Redis is, for messages ("Redis at host:port", "Redis Cluster at a:p, b:p"); never a password. */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.cluster !== undefined) {
    return `Redis Cluster at ${target.cluster.map(hostPortOf).join(', ')}`;
  }
  return `Redis at ${hostPortOf(target.url)}`;
}

/** BullMQ is only correct with noeviction: an evicting Redis silently drops jobs and ledger keys. */
export async function assertRedisPolicy(redis: RedisClient): Promise<void> {
  if (redis instanceof Cluster) {
    // Every node, replicas included: a replica becomes the master of its slots on failover.
    if (redis.status !== 'ready') await redis.ping(); // queued until the slot map is known
    for (const node of redis.nodes('all')) {
      await assertNodePolicy(node, ` (cluster node ${node.options.host ?? '?'}:${node.options.port ?? '?'})`);
    }
    return;
  }
  await assertNodePolicy(redis, '');
}

async function assertNodePolicy(redis: Redis, where: string): Promise<void> {
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
      `Redis maxmemory-policy is "${policy}"${where}; Ferry needs "noeviction" (an evicting Redis loses jobs and ledger entries)`,
    );
  }
}

function accessOptions(url: URL): RedisOptions {
  const out: RedisOptions = {};
  if (url.username !== '') out.username = decodeURIComponent(url.username);
  if (url.password !== '') out.password = decodeURIComponent(url.password);
  if (url.protocol === 'rediss:') out.tls = {};
  return out;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, ''); // "[::1]" → "::1"
}

function hostPortOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'the configured address';
  }
}
