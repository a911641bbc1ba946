// ferry.yaml `redis.cluster` and FERRY_REDIS_CLUSTER: validation, the environment override, and the
// ioredis Cluster options Ferry builds from them (no connection is made here).
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ConfigResult } from '../../../../src/config/load-config.js';
import { serviceSchema } from '../../../../src/config/schema.js';
import { createRedisConnection, describeRedisTarget } from '../../../../src/queues/redis-connection.js';
import { useConfigDirs } from '../../../support/config-dir.js';

const PASSWORD_CANARY = 'cluster-pw-canary-91c2';
const SEEDS = ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000', 'redis://10.0.0.3:7000'];

/** `path: message` of every issue when ferry.yaml's `redis` section is `redis`. */
function redisProblems(redis: unknown): string[] {
  const result = serviceSchema.safeParse({ redis, receipts: { bucket: 'ferry-audit' } });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const configs = useConfigDirs('redis-cluster-config');

/** Loads a config dir holding only `ferryYaml`; returns the problems as `ferry validate` prints them. */
async function load(
  ferryYaml: string,
  env: NodeJS.ProcessEnv,
): Promise<ConfigResult & { printed: string[] }> {
  const { result, problems } = await configs.load({ ferryYaml }, env);
  return { ...result, printed: problems };
}

describe('redis.cluster in ferry.yaml', () => {
  it('takes seed node URLs instead of url, keeping the default prefix', () => {
    const service = serviceSchema.parse({ redis: { cluster: SEEDS }, receipts: { bucket: 'ferry-audit' } });
    expect(service.redis).toEqual({ cluster: SEEDS, prefix: '{ferry}' });
    expect(service.redis.url).toBeUndefined();
  });

  it('keeps the single-server default when neither url nor cluster is set', () => {
    const service = serviceSchema.parse({ receipts: { bucket: 'ferry-audit' } });
    expect(service.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: '{ferry}' });
  });

  it('refuses url and cluster together, even when url is the default address', () => {
    expect(redisProblems({ url: 'redis://127.0.0.1:6379', cluster: SEEDS })).toEqual([
      'redis.cluster: set url (one Redis server, env REDIS_URL) or cluster (Redis Cluster seed nodes, env FERRY_REDIS_CLUSTER), not both',
    ]);
  });

  it('refuses an empty list and names each unusable seed without echoing it', () => {
    expect(redisProblems({ cluster: [] })).toEqual([
      'redis.cluster: must list at least one seed node URL (leave the field out for a single Redis server)',
    ]);
    const problems = redisProblems({
      cluster: [
        `http://:${PASSWORD_CANARY}@10.0.0.1:7000`,
        'redis://10.0.0.2:7000/3',
        'redis://10.0.0.3:7000?tls=true',
        'redis://',
        'redis://10.0.0.4:7000',
      ],
    });
    expect(problems).toEqual([
      'redis.cluster.0: must be a redis:// or rediss:// URL',
      'redis.cluster.1: must not select a database: Redis Cluster has only database 0',
      'redis.cluster.2: must not have ?options: set them on the cluster, not per node',
      'redis.cluster.3: must be a redis:// or rediss:// URL',
    ]);
    expect(problems.join('\n')).not.toContain(PASSWORD_CANARY);
  });

  it('needs the same scheme and credentials on every seed (they apply to every node)', () => {
    const problems = redisProblems({
      cluster: [
        `redis://:${PASSWORD_CANARY}@10.0.0.1:7000`,
        `redis://:${PASSWORD_CANARY}@10.0.0.2:7000`,
        'redis://:other-password@10.0.0.3:7000',
        `rediss://:${PASSWORD_CANARY}@10.0.0.4:7000`,
      ],
    });
    expect(problems).toEqual([
      'redis.cluster.2: must use the same scheme, user and password as cluster[0]: every node the cluster reports is reached with them',
      'redis.cluster.3: must use the same scheme, user and password as cluster[0]: every node the cluster reports is reached with them',
    ]);
    expect(problems.join('\n')).not.toContain(PASSWORD_CANARY);
  });

  it('still refuses a prefix without a hash tag', () => {
    expect(redisProblems({ cluster: SEEDS, prefix: 'ferry' })).toEqual([
      'redis.prefix: must contain a {hash tag} so every key lands in one Redis Cluster slot, e.g. "{ferry}"',
    ]);
  });
});

describe('FERRY_REDIS_CLUSTER', () => {
  const base = 'receipts: { bucket: ferry-audit }\n';

  it('sets redis.cluster from comma-separated URLs', async () => {
    const result = await load(base, { FERRY_REDIS_CLUSTER: ` ${SEEDS.join(' , ')},` });
    expect(result.printed).toEqual([]);
    expect(result.ok && result.config.service.redis).toEqual({ cluster: SEEDS, prefix: '{ferry}' });
  });

  it('blames the variable for an unusable entry', async () => {
    const result = await load(base, { FERRY_REDIS_CLUSTER: 'redis://10.0.0.1:7000,10.0.0.2:7000' });
    expect(result.printed).toEqual([
      'environment: FERRY_REDIS_CLUSTER: must be a redis:// or rediss:// URL (overrides redis.cluster[1])',
    ]);
  });

  it('refuses a value with no URL in it', async () => {
    const result = await load(base, { FERRY_REDIS_CLUSTER: ' , ' });
    expect(result.printed).toEqual(['environment: FERRY_REDIS_CLUSTER: must list URLs separated by commas']);
  });

  it('conflicts with a url, whichever side sets it', async () => {
    const fromEnv = await load(base, {
      FERRY_REDIS_CLUSTER: SEEDS.join(','),
      REDIS_URL: 'redis://10.0.0.9:6379',
    });
    expect(fromEnv.printed).toEqual([
      'environment: FERRY_REDIS_CLUSTER: set url (one Redis server, env REDIS_URL) or cluster (Redis Cluster seed nodes, env FERRY_REDIS_CLUSTER), not both (overrides redis.cluster)',
    ]);
    const fromYaml = await load(`redis:\n  cluster: ${JSON.stringify(SEEDS)}\n${base}`, {
      REDIS_URL: 'redis://10.0.0.9:6379',
    });
    expect(fromYaml.printed).toEqual([
      'ferry.yaml:2:12: redis.cluster: set url (one Redis server, env REDIS_URL) or cluster (Redis Cluster seed nodes, env FERRY_REDIS_CLUSTER), not both',
    ]);
  });
});

describe('createRedisConnection with a cluster', () => {
  it('builds an ioredis Cluster whose every node gets the first seed’s credentials and TLS', async () => {
    const seeds = [`rediss://ops:${PASSWORD_CANARY}@10.0.0.1:7000`, `rediss://ops:${PASSWORD_CANARY}@[::1]`];
    const producer = createRedisConnection({ cluster: seeds }, 'producer');
    try {
      expect(producer).toBeInstanceOf(Cluster);
      const cluster = producer as Cluster;
      expect(cluster.status).toBe('wait'); // producers connect when asked to
      expect(cluster.options.enableOfflineQueue).toBe(false);
      expect(cluster.options.redisOptions).toMatchObject({
        username: 'ops',
        password: PASSWORD_CANARY,
        tls: {},
        maxRetriesPerRequest: 1,
        connectionName: 'ferry-producer',
      });
    } finally {
      await producer.quit().catch(() => undefined);
    }
  });

  it('names where Redis is without the password', () => {
    const target = { cluster: [`redis://:${PASSWORD_CANARY}@10.0.0.1:7000`, 'redis://10.0.0.2'] };
    expect(describeRedisTarget(target)).toBe('Redis Cluster at 10.0.0.1:7000, 10.0.0.2:6379');
    expect(describeRedisTarget({ url: `redis://:${PASSWORD_CANARY}@cache.internal:6380/2` })).toBe(
      'Redis at cache.internal:6380',
    );
  });
});
