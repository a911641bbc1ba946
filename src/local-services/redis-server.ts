import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { makeTempDir } from './temp-dir.js';
import { spawnService, startOnPort, waitForReady, type ServiceProcess } from './spawn-service.js';

export interface RedisServerOptions {
  dir?: string;
  /** 'aof' (default): appendonly with fsync every second, as BullMQ recommends in production. */
  persistence?: 'aof' | 'none';
  maxmemoryPolicy?: string;
  port?: number;
  /** More redis-server options, e.g. ['--cluster-enabled', 'yes'] (see redis-cluster.ts). */
  extraArgs?: readonly string[];
}

export interface RedisServerHandle {
  url: string;
  port: number;
  pid: number;
  dir: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** (Re)starts on the same port and dir, so AOF data survives a stop/start. */
  start(): Promise<void>;
}

/** Starts a private redis-server on 127.0.0.1 (a free port unless given); ready once PING answers PONG. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const dir = options.dir ?? (await makeTempDir('redis'));
  await mkdir(dir, { recursive: true });
  let current: ServiceProcess | undefined;

  const launch = async (port: number): Promise<ServiceProcess> => {
    const service = await spawnService({
      name: 'redis-server',
      command: 'redis-server',
      args: redisArgs(dir, port, options),
      logFile: join(dir, 'redis.log'),
      cwd: dir,
    });
    await waitForReady(service, { probe: () => answersPongAs(port, service.pid) });
    return service;
  };

  const port = await startOnPort(options.port, async (candidate) => {
    current = await launch(candidate);
    return candidate;
  });

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return current!.pid;
    },
    dir,
    stop: (signal) => current!.stop(signal),
    async start() {
      if (current?.isRunning()) await current.stop();
      current = await launch(port);
    },
  };
}

function redisArgs(dir: string, port: number, options: RedisServerOptions): string[] {
  const persistence =
    (options.persistence ?? 'aof') === 'aof'
      ? ['--appendonly', 'yes', '--appendfsync', 'everysec']
      : ['--appendonly', 'no'];
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--daemonize',
    'no',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis.log'),
    '--save',
    '',
    '--maxmemory-policy',
    options.maxmemoryPolicy ?? 'noeviction',
    ...persistence,
    ...(options.extraArgs ?? []),
  ];
}

// A raw RESP PING + INFO: no client library, no reconnect logic hiding the answer. The pid check makes
// sure the answer comes from our child, not from another server that already holds the port.
function answersPongAs(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.startsWith('-')) return finish(false); // e.g. -LOADING while the AOF is replayed
      const processId = /\r\nprocess_id:(\d+)\r\n/.exec(reply);
      if (processId) finish(reply.startsWith('+PONG') && Number(processId[1]) === pid);
    });
    socket.once('close', () => finish(false));
  });
}
