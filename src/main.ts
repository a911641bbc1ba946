// Composition root: the only place that builds real adapters and hands them to the processors.
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { isIP } from 'node:net';
import { Worker, type MinimalJob } from 'bullmq';
import { createDeliverProcessor } from '../jobs/deliver.js';
import { createSweepProcessor } from '../jobs/sweep.js';
import { createReceiptStore } from './adapters/receipt-store.js';
import { createS3Client, createS3Source } from './adapters/s3-source.js';
import { connectSftp } from './adapters/sftp-connection.js';
import { createSftpPool, type SftpPool } from './adapters/sftp-pool.js';
import type { ConfigResult, FerryConfig } from './config/load-config.js';
import { formatProblem } from './config/load-config.js';
import type { PartnerConfig } from './config/schema.js';
import { resolvePartnerAuth, resolveSecret } from './config/secrets.js';
import { watchConfig } from './config/watch-config.js';
import { computeBackoffMs } from './core/backoff.js';
import { FerryError } from './errors.js';
import type { AdminCredentials } from './http/basic-auth.js';
import { createHttpApp } from './http/create-app.js';
import { createRedisKeys } from './ledger/redis-keys.js';
import { createRedisLedger } from './ledger/redis-ledger.js';
import { createRedisSemaphore } from './ledger/redis-semaphore.js';
import type { Logger } from './observability/logger.js';
import { QUEUE } from './queues/names.js';
import { createQueues, enqueueDeliveries } from './queues/queues.js';
import { assertRedisPolicy, createRedisConnection } from './queues/redis-connection.js';
import { syncSchedulers } from './scheduler/sync-schedulers.js';
import { FERRY_VERSION } from './version.js';

export type Role = 'all' | 'scheduler' | 'worker' | 'web';

export interface StartOptions {
  config: FerryConfig;
  role: Role;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Serve Bull Board without credentials (only on a loopback address). */
  insecureAdmin?: boolean;
  /** Watch config/partners for changes (default true). */
  watch?: boolean;
  /** Test seams: replace a real client (e.g. an S3 client with fault-injecting middleware). */
  overrides?: { s3Client?: S3Client };
}

export interface RunningFerry {
  /** The bound HTTP port when the web role runs. */
  httpPort?: number;
  getConfig(): FerryConfig;
  /** Stops taking jobs, lets in-flight deliveries finish, closes connections. */
  close(): Promise<void>;
}

/** A key for "same partner, same connection settings": pooled connections never outlive a config change. */
export function connectionKeyFor(partner: PartnerConfig): string {
  const t = partner.target;
  const h = createHash('sha256')
    .update(JSON.stringify([t.host, t.port, t.username, t.hostKeys, t.auth]))
    .digest('hex')
    .slice(0, 12);
  return `${partner.id}#${h}`;
}

/** Starts the requested roles of Ferry in this process. */
export async function startFerry(options: StartOptions): Promise<RunningFerry> {
  const { env, logger, role } = options;
  let config = options.config;
  const getConfig = () => config;
  const runs = (r: Exclude<Role, 'all'>) => role === 'all' || role === r;
  const svc = config.service;
  // Refuse bad settings before opening any connection, so a refused start exits cleanly.
  const credentials = runs('web')
    ? await adminCredentials(config, env, options.insecureAdmin === true)
    : undefined;

  const redis = createRedisConnection(svc.redis.url, 'worker');
  redis.on('error', (err: Error) =>
    logger.warn({ errCode: 'ERR_REDIS_UNAVAILABLE', err: err.message }, 'redis error'),
  );
  try {
    await assertRedisPolicy(redis);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const queues = createQueues(redis, svc.redis.prefix);
  queues.sweep.on('error', (err) => logger.warn({ err: err.message }, 'sweep queue error'));
  queues.deliver.on('error', (err) => logger.warn({ err: err.message }, 'deliver queue error'));

  const keys = createRedisKeys(svc.redis.prefix);
  const ledger = createRedisLedger(redis, keys);
  // A crashed process's connection slots come back after this lease.
  const semaphore = createRedisSemaphore(redis, keys, { leaseMs: svc.worker.slotLeaseSeconds * 1000 });
  const source = createS3Source(options.overrides?.s3Client ?? createS3Client(svc.s3));
  const receipts = createReceiptStore(source, svc.receipts);

  const closers: (() => Promise<void>)[] = [];
  let pool: SftpPool | undefined;
  const workers: Worker[] = [];

  if (runs('worker')) {
    const partnersByKey = () =>
      new Map([...getConfig().partners.values()].map((p) => [connectionKeyFor(p), p]));
    const w = svc.worker;
    const sftpPool = createSftpPool({
      idleTimeoutMs: w.idleTimeoutSeconds * 1000,
      logger,
      acquireSlot: async (partnerKey, signal) => {
        const partner = partnersByKey().get(partnerKey);
        if (!partner) throw new FerryError('ERR_PARTNER_UNKNOWN', `no partner for connection ${partnerKey}`);
        return semaphore.acquire(partner.id, partner.target.maxConnections, {
          signal,
          timeoutMs: 10 * 60_000,
        });
      },
      connect: async (partnerKey) => {
        const partner = partnersByKey().get(partnerKey);
        if (!partner) throw new FerryError('ERR_PARTNER_UNKNOWN', `no partner for connection ${partnerKey}`);
        const auth = await resolvePartnerAuth(partner.target.auth, env);
        return connectSftp({
          host: partner.target.host,
          port: partner.target.port,
          username: partner.target.username,
          hostKeys: partner.target.hostKeys,
          auth,
          readyTimeoutMs: w.connectTimeoutSeconds * 1000,
          keepaliveIntervalMs: w.keepaliveIntervalSeconds * 1000,
          keepaliveCountMax: w.keepaliveCountMax,
        });
      },
    });
    pool = sftpPool;

    const sweepWorker = new Worker(
      QUEUE.sweep,
      createSweepProcessor({
        getConfig,
        source,
        ledger,
        enqueueDeliveries: (partner, jobs) => enqueueDeliveries(queues.deliver, partner, jobs),
        logger,
        now: () => new Date(),
      }),
      { connection: redis, prefix: svc.redis.prefix, concurrency: 2 },
    );
    const deliverWorker = new Worker(
      QUEUE.deliver,
      createDeliverProcessor({
        getConfig,
        source,
        ledger,
        receipts,
        withSession: (partner, fn) => sftpPool.withSession(connectionKeyFor(partner), fn),
        logger,
        now: () => new Date(),
        ferryVersion: FERRY_VERSION,
      }),
      {
        connection: redis,
        prefix: svc.redis.prefix,
        concurrency: w.concurrency,
        lockDuration: w.lockDurationSeconds * 1000,
        stalledInterval: w.stalledIntervalSeconds * 1000,
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: MinimalJob) => {
            const partnerId = (job?.data as { partnerId?: unknown } | undefined)?.partnerId;
            const partner = typeof partnerId === 'string' ? getConfig().partners.get(partnerId) : undefined;
            return computeBackoffMs(
              attemptsMade,
              partner?.retry ?? { backoffSeconds: 30, maxBackoffSeconds: 3600 },
            );
          },
        },
      },
    );
    for (const worker of [sweepWorker, deliverWorker]) {
      worker.on('error', (err) => logger.warn({ err: err.message }, 'worker error'));
      worker.on('stalled', (jobId) =>
        logger.warn({ jobId, alert: true }, 'job stalled: its worker stopped renewing the lock'),
      );
      workers.push(worker);
    }
  }

  if (runs('scheduler')) {
    await syncSchedulers(queues.sweep, config, logger);
    // Re-assert the schedulers now and then: a Redis that restarted without persistence has none.
    const resync = setInterval(() => {
      syncSchedulers(queues.sweep, getConfig(), logger).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'scheduler resync failed'),
      );
    }, 60_000);
    resync.unref();
    closers.push(() => Promise.resolve(clearInterval(resync)));
  }

  if (options.watch !== false) {
    const watcher = watchConfig(config.dir, env, (result: ConfigResult) => {
      if (!result.ok) {
        logger.error(
          { problems: result.problems.map(formatProblem), alert: true, errCode: 'ERR_CONFIG_INVALID' },
          'config reload rejected; the previous config keeps running',
        );
        return;
      }
      const previous = config;
      config = result.config;
      logger.info({ partners: [...config.partners.keys()] }, 'config reloaded');
      for (const [id, p] of previous.partners) {
        const next = config.partners.get(id);
        if (pool && (!next || connectionKeyFor(next) !== connectionKeyFor(p))) {
          void pool.evict(connectionKeyFor(p));
        }
      }
      if (runs('scheduler')) {
        syncSchedulers(queues.sweep, config, logger).catch((err: unknown) =>
          logger.error({ err: (err as Error).message }, 'scheduler sync failed'),
        );
      }
    });
    closers.push(() => Promise.resolve(watcher.close()));
  }

  let server: Server | undefined;
  let httpPort: number | undefined;
  if (runs('web')) {
    const app = createHttpApp({
      queues,
      credentials,
      ready: async () => (await redis.ping()) === 'PONG',
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(svc.http.port, svc.http.host, () => resolve(s));
      s.once('error', reject);
    });
    const address = server.address();
    httpPort = typeof address === 'object' && address ? address.port : svc.http.port;
    logger.info({ url: `http://${svc.http.host}:${httpPort}/admin` }, 'Bull Board listening');
  }

  let closing: Promise<void> | undefined;
  return {
    httpPort,
    getConfig,
    close() {
      closing ??= (async () => {
        if (server) {
          const s = server;
          await new Promise<void>((resolve) => s.close(() => resolve()));
          s.closeAllConnections();
        }
        // worker.close() waits for active jobs: in-flight deliveries finish (or are released on a hard kill).
        await Promise.all(workers.map((w) => w.close()));
        await pool?.close();
        for (const c of closers) await c();
        semaphore.close();
        await queues.close();
        await redis.quit().catch(() => undefined);
      })();
      return closing;
    },
  };
}

async function adminCredentials(
  config: FerryConfig,
  env: NodeJS.ProcessEnv,
  insecure: boolean,
): Promise<AdminCredentials | undefined> {
  const http = config.service.http;
  if (http.adminUser && http.adminPassword) {
    return { user: http.adminUser, password: await resolveSecret(http.adminPassword, env) };
  }
  const loopback =
    http.host === 'localhost' ||
    http.host === '::1' ||
    (isIP(http.host) === 4 && http.host.startsWith('127.'));
  if (insecure && loopback) return undefined;
  throw new FerryError(
    'ERR_CONFIG_INVALID',
    insecure
      ? `--insecure-admin is only allowed on a loopback address (http.host is ${http.host})`
      : 'the web role needs admin credentials: set FERRY_ADMIN_USER and FERRY_ADMIN_PASSWORD (or http.adminUser + adminPasswordEnv/File), or pass --insecure-admin on a loopback address',
  );
}
