// ferry.yaml `redis`: one Redis server or a Redis Cluster, and the hash-tagged key prefix.
import { z } from 'zod';
import { whenValid } from './fields.js';

/** Where Ferry's Redis is: one server (`url`) or a Redis Cluster (`cluster`: seed node URLs). */
export type RedisTarget =
  { url: string; cluster?: undefined } | { url?: undefined; cluster: readonly string[] };

/** ferry.yaml `redis`: where Redis is, and the hash-tagged prefix of every key. */
export type RedisSettings = RedisTarget & { prefix: string };

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_URL = /^rediss?:\/\/\S+$/;
const REDIS_URL_MESSAGE = 'must be a redis:// or rediss:// URL';

/** Why a Redis Cluster seed URL is unusable, or undefined. The message never echoes the URL (it may hold a password). */
function checkClusterNodeUrl(url: string): string | undefined {
  if (!REDIS_URL.test(url) || !URL.canParse(url)) return REDIS_URL_MESSAGE;
  const { hostname, pathname, search } = new URL(url);
  if (hostname === '') return 'must name a host, e.g. redis://10.0.0.5:6379';
  if (pathname !== '' && pathname !== '/' && pathname !== '/0') {
    return 'must not select a database: Redis Cluster has only database 0';
  }
  if (search !== '') return 'must not have ?options: set them on the cluster, not per node';
  return undefined;
}

// Ferry reaches every node the cluster reports with the first seed's scheme and credentials.
const clusterField = z
  .array(
    z.string().check((ctx) => {
      const problem = checkClusterNodeUrl(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    }),
  )
  .min(1, 'must list at least one seed node URL (leave the field out for a single Redis server)')
  .check((ctx) => {
    const valid = ctx.value.flatMap((url, i) => (checkClusterNodeUrl(url) === undefined ? [{ url, i }] : []));
    const access = ({ url }: { url: string }): string => {
      const u = new URL(url);
      return JSON.stringify([u.protocol, u.username, u.password]);
    };
    const first = valid[0];
    for (const node of valid.slice(1)) {
      if (first !== undefined && access(node) !== access(first)) {
        ctx.issues.push({
          code: 'custom',
          input: node.url,
          path: [node.i],
          message: `must use the same scheme, user and password as cluster[${first.i}]: every node the cluster reports is reached with them`,
        });
      }
    }
  });

export const redisSchema = z
  .strictObject({
    url: z
      .string()
      .refine((u) => REDIS_URL.test(u), REDIS_URL_MESSAGE)
      .optional(),
    cluster: clusterField.optional(),
    prefix: z
      .string()
      .refine(
        (p) => /^\S*\{[^{}\s]+\}\S*$/.test(p),
        'must contain a {hash tag} so every key lands in one Redis Cluster slot, e.g. "{ferry}"',
      )
      .default('{ferry}'),
  })
  .superRefine(
    (redis, ctx) => {
      if (redis.url !== undefined && redis.cluster !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message:
            'set url (one Redis server, env REDIS_URL) or cluster (Redis Cluster seed nodes, env FERRY_REDIS_CLUSTER), not both',
          path: ['cluster'],
        });
      }
    },
    whenValid('url', 'cluster'),
  )
  .transform(({ url, cluster, prefix }): RedisSettings =>
    cluster !== undefined ? { cluster, prefix } : { url: url ?? DEFAULT_REDIS_URL, prefix },
  );
