// A private Redis Cluster on loopback: N redis-server processes with --cluster-enabled, joined by
// `redis-cli --cluster create`, stopped by pid.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { getFreePort } from './free-port.js';
import { waitFor } from './pipeline.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';
import { startOnPort } from './spawn-service.js';
import { makeTempDir } from './temp-dir.js';

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** One redis:// URL per master: the seed nodes for ferry.yaml `redis.cluster`. */
  urls: string[];
  nodes: RedisServerHandle[];
  /** Stops every node (by pid) and removes the cluster's temp dir (kept when FERRY_KEEP_TEMP=1). */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Number of masters (default 3, the minimum redis-cli accepts); no replicas. */
  masters?: number;
  maxmemoryPolicy?: string;
}

/**
 * Starts `masters` cluster-enabled redis-servers on free loopback ports, creates the cluster (slots
 * spread evenly, no replicas) and resolves once every node reports `cluster_state:ok` and knows all
 * the others. If any step fails, the nodes already started are stopped before rethrowing.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const dir = await makeTempDir('redis-cluster');
  const count = options.masters ?? 3;
  const nodes: RedisServerHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    if (process.env['FERRY_KEEP_TEMP'] !== '1') await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) nodes.push(await startClusterNode(join(dir, `node-${i}`), options));
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 },
    );
    await Promise.all(nodes.map((node) => waitUntilClusterOk(node, count)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls: nodes.map((node) => node.url), nodes, stop };
}

// The cluster bus listens on its own port: port + 10000 may exceed 65535 or be taken, so pick a free one.
// A node that dies at start (either port taken meanwhile) is retried on fresh ports.
function startClusterNode(dir: string, options: RedisClusterOptions): Promise<RedisServerHandle> {
  return startOnPort(undefined, async (port) => {
    let busPort = await getFreePort();
    while (busPort === port) busPort = await getFreePort();
    return startRedisServer({
      dir,
      port,
      persistence: 'none',
      ...(options.maxmemoryPolicy === undefined ? {} : { maxmemoryPolicy: options.maxmemoryPolicy }),
      extraArgs: [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
        '--cluster-port',
        String(busPort),
        '--cluster-node-timeout',
        '5000',
      ],
    });
  });
}

async function waitUntilClusterOk(node: RedisServerHandle, count: number): Promise<void> {
  const client = new Redis(node.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    await waitFor(
      async () => {
        const info = String(await client.cluster('INFO'));
        return (
          /^cluster_state:ok\r?$/m.test(info) &&
          new RegExp(`^cluster_known_nodes:${count}\\r?$`, 'm').test(info)
        );
      },
      `cluster_state:ok on 127.0.0.1:${node.port}`,
      30_000,
      50,
    );
  } finally {
    client.disconnect();
  }
}
