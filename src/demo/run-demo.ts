// `ferry demo`: the whole pipeline on private local services (redis-server, OpenSSH sshd, s3rver),
// started by the same harness the integration tests use.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { QueueEvents } from 'bullmq';
import { writeFerryConfig } from '../../test/support/ferry-fixture.js';
import { s3ClientFor, startServices, type Services } from '../../test/support/services.js';
import { loadConfig, formatProblem } from '../config/load-config.js';
import { startFerry, type RunningFerry } from '../main.js';
import { createLogger } from '../observability/logger.js';
import { QUEUE, JOB } from '../queues/names.js';
import type { DeliverResult } from '../queues/payloads.js';
import { createQueues } from '../queues/queues.js';
import { createRedisConnection } from '../queues/redis-connection.js';

export interface DemoOptions {
  filesPerPartner: number;
  fileSize: number;
  /** Exit after every seeded file is delivered (used by CI's smoke test). */
  once: boolean;
  /** Keep the temp dir (config, partner files, logs) after exit. */
  keep: boolean;
  out(line: string): void;
  env: NodeJS.ProcessEnv;
}

const BUCKET = 'warehouse-exports';
const PARTNERS = [
  { id: 'acme', prefix: 'acme/daily/', timezone: 'America/New_York' },
  { id: 'globex', prefix: 'globex/exports/', timezone: 'Europe/Berlin' },
] as const;

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function csv(partner: string, index: number, size: number): Buffer {
  const header = 'order_id,sku,qty,amount\n';
  const rows: string[] = [header];
  let length = header.length;
  for (let i = 0; length < size; i += 1) {
    const row = `${partner}-${index}-${i},SKU-${(i * 7919) % 10_000},${(i % 9) + 1},${((i * 37) % 10_000) / 100}\n`;
    rows.push(row);
    length += row.length;
  }
  return Buffer.from(rows.join('')).subarray(0, Math.max(size, header.length));
}

/** Runs the demo until Ctrl-C (or, with `once`, until every seeded file is delivered). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const started = Date.now();
  o.out('ferry demo: starting redis-server, OpenSSH sshd and s3rver on free loopback ports…');
  process.env['FERRY_KEEP_TEMP'] = o.keep ? '1' : (process.env['FERRY_KEEP_TEMP'] ?? '0');
  const services: Services = await startServices({ buckets: [BUCKET, 'ferry-audit'] });
  let ferry: RunningFerry | undefined;
  let events: QueueEvents | undefined;
  try {
    const { redis, sshd, s3 } = services;
    const httpPort = (await portIsFree(3000)) ? 3000 : 0;
    const password = randomBytes(12).toString('base64url');
    const fixture = await writeFerryConfig(services, {
      bucket: BUCKET,
      httpPort,
      logLevel: 'warn',
      worker: 'concurrency: 8, idleTimeoutSeconds: 10',
      partners: PARTNERS.map((p) => ({
        id: p.id,
        prefix: p.prefix,
        include: ['*.csv'],
        cron: '*/1 * * * *',
        timezone: p.timezone,
        attempts: 5,
        backoffSeconds: 2,
      })),
    });
    const configDir = fixture.dir;
    const env: NodeJS.ProcessEnv = {
      ...o.env,
      FERRY_ADMIN_PASSWORD: password,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    // The AWS SDK's default credential chain reads process.env.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    const loaded = await loadConfig(configDir, { ...env, FERRY_HTTP_PORT: undefined, REDIS_URL: undefined });
    if (!loaded.ok) {
      for (const p of loaded.problems) o.out(formatProblem(p));
      return 1;
    }

    const client = s3ClientFor(s3);
    const total = o.filesPerPartner * PARTNERS.length;
    o.out(`seeding ${total} CSV exports (${o.fileSize} bytes each) into s3://${BUCKET}/`);
    for (const p of PARTNERS) {
      for (let i = 1; i <= o.filesPerPartner; i += 1) {
        const name = `orders_${String(i).padStart(4, '0')}.csv`;
        await client.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: `${p.prefix}${name}`, Body: csv(p.id, i, o.fileSize) }),
        );
      }
    }
    client.destroy();

    const logger = createLogger({ level: loaded.config.service.log.level, name: 'demo' });
    ferry = await startFerry({ config: loaded.config, role: 'all', env, logger });
    const url = `http://127.0.0.1:${ferry.httpPort ?? httpPort}/admin`;
    o.out('');
    o.out(`Bull Board: ${url}   user: admin   password: ${password}`);
    o.out(
      `config:     ${configDir}   (partners sweep every minute; try: REDIS_URL=${redis.url} npx ferry sweep acme --wait --config ${configDir})`,
    );
    o.out(
      `partners:   ${PARTNERS.map((p) => `${p.id} → sftp://${sshd.username}@127.0.0.1:${sshd.port}${fixture.partnerDirs[p.id] ?? ''}`).join('\n            ')}`,
    );
    o.out(`services:   redis-server pid ${redis.pid}, sshd pid ${sshd.pid}, s3rver pid ${s3.pid}`);
    o.out(o.once ? 'delivering…' : 'delivering… (Ctrl-C stops everything the demo started)');
    o.out('');

    const svc = loaded.config.service;
    events = new QueueEvents(QUEUE.deliver, { connection: { url: redis.url }, prefix: svc.redis.prefix });
    await events.waitUntilReady();
    let delivered = 0;
    let finish: (() => void) | undefined;
    const allDelivered = new Promise<void>((resolve) => {
      finish = resolve;
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      const r = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as DeliverResult;
      if (r.outcome === 'delivered') delivered += 1;
      o.out(
        `${new Date().toISOString()}  ${r.outcome.padEnd(17)} ${r.remotePath ?? jobId}  ${r.bytes} bytes  sha256 ${(r.sha256 ?? '').slice(0, 12)}  (${delivered}/${total})`,
      );
      if (delivered >= total) finish?.();
    });
    events.on('failed', ({ jobId, failedReason }) => {
      o.out(`${new Date().toISOString()}  failed            ${jobId}: ${failedReason}`);
    });

    // Sweep right away instead of waiting for the first cron tick.
    const redisConn = createRedisConnection({ url: redis.url }, 'producer');
    await redisConn.connect();
    const queues = createQueues(redisConn, svc.redis.prefix);
    for (const p of PARTNERS) {
      await queues.sweep.add(
        JOB.sweep,
        { v: 1, partnerId: p.id, reason: 'manual' },
        { jobId: `sweep-demo-${p.id}-${Date.now()}` },
      );
    }
    await queues.close();
    await redisConn.quit();

    if (o.once) {
      await allDelivered;
      const onDisk = (
        await Promise.all(PARTNERS.map((p) => readdir(fixture.partnerDirs[p.id] ?? '')))
      ).flat();
      const finals = onDisk.filter((n) => !n.startsWith('.'));
      o.out(
        `demo: ${finals.length} files on the partner servers, ${onDisk.length - finals.length} temp files, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      return finals.length === total && onDisk.length === finals.length ? 0 : 1;
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    o.out('\nstopping: finishing in-flight deliveries, then the demo services…');
    return 0;
  } finally {
    await events?.close();
    await ferry?.close();
    await services.stop();
  }
}
