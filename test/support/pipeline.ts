// Helpers for tests that run the whole pipeline against the harness services.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { DeliveryReceipt } from '../../src/adapters/receipt-store.js';
import { loadConfig, formatProblem, type FerryConfig } from '../../src/config/load-config.js';
import { computeDeliveryId, normalizeEtag } from '../../src/core/delivery-id.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface SeededObject {
  key: string;
  body: Buffer;
  sha256: string;
}

/** Puts objects with random (or given) bodies; returns what was written. */
export async function putObjects(
  client: S3Client,
  bucket: string,
  objects: { key: string; size?: number; body?: Buffer }[],
): Promise<SeededObject[]> {
  const out: SeededObject[] = [];
  for (const o of objects) {
    const body = o.body ?? randomBytes(o.size ?? 1024);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: body }));
    out.push({ key: o.key, body, sha256: sha256(body) });
  }
  return out;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The partner directory as a test sees it: final files with their sha256 and mode, and leftover temp files. */
export async function readPartnerDir(dir: string): Promise<{
  finals: Map<string, { sha256: string; mode: number; size: number; mtimeMs: number; ino: number }>;
  temps: string[];
}> {
  const finals = new Map<
    string,
    { sha256: string; mode: number; size: number; mtimeMs: number; ino: number }
  >();
  const temps: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith('.')) {
      temps.push(name);
      continue;
    }
    const path = join(dir, name);
    const st = await stat(path);
    finals.set(name, {
      sha256: sha256(await readFile(path)),
      mode: st.mode & 0o777,
      size: st.size,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
    });
  }
  return { finals, temps };
}

/** Awaits a condition that has no event to await (e.g. another process's effect), bounded in time. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A logger whose JSON lines are kept for assertions (and the canary-secret check). */
export function captureLogger(level = 'debug'): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const sink = new PassThrough();
  const chunks: string[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const logger = createLogger({ level, name: 'test' }, sink);
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Loads a config dir or throws with every problem listed. */
export async function loadConfigOrThrow(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<FerryConfig> {
  const result = await loadConfig(dir, env);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

/** Awaits a job reaching `state`, then returns it read afresh (a job object read earlier can be stale). */
export async function waitForJobState(
  queue: import('bullmq').Queue,
  jobId: string,
  state: 'completed' | 'failed',
  predicate: (job: import('bullmq').Job) => boolean = () => true,
): Promise<import('bullmq').Job> {
  return waitFor(async () => {
    const seen = await queue.getJob(jobId);
    if (!seen || (await seen.getState()) !== state) return undefined;
    const job = await queue.getJob(jobId);
    return job && predicate(job) ? job : undefined;
  }, `job ${jobId} to be ${state}`);
}

/** `ferry sweep <partner> --wait` in-process: the exit code and the summary line. */
export async function sweepAndWait(
  config: FerryConfig,
  partnerId: string,
  timeoutSeconds = 60,
  options: { sinceDays?: number } = {},
): Promise<{ code: number; summary: string }> {
  const { runSweepCommand } = await import('../../src/commands/sweep-command.js');
  const out: string[] = [];
  const code = await runSweepCommand({
    config,
    partnerId,
    wait: true,
    timeoutSeconds,
    ...options,
    out: (l) => out.push(l),
    err: () => undefined,
    pollMs: 50,
  });
  return { code, summary: out[out.length - 1] ?? '' };
}

/** Every value Ferry keeps in Redis, as text: for "no secret in Redis" checks. */
export async function dumpRedisAsText(redis: import('ioredis').Redis): Promise<string> {
  const dump: string[] = [];
  for (const key of await redis.keys('*')) {
    const type = await redis.type(key);
    if (type === 'hash') dump.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'string') dump.push((await redis.get(key)) ?? '');
    else if (type === 'list') dump.push(JSON.stringify(await redis.lrange(key, '0', '-1')));
    else if (type === 'zset') dump.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
    else if (type === 'set') dump.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'stream') dump.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return dump.join('\n');
}

/** The deliver jobs of one partner, in any state (job data holds the partner id). */
export async function jobsOfPartner(
  queue: import('bullmq').Queue,
  partnerId: string,
): Promise<import('bullmq').Job[]> {
  const jobs = await queue.getJobs(['failed', 'completed', 'delayed', 'waiting', 'active']);
  return jobs.filter((j) => (j.data as { partnerId?: unknown }).partnerId === partnerId);
}

/** The delivery id Ferry computes for the object as it is in S3 now (its current ETag). */
export async function deliveryIdOf(
  s3: S3Client,
  bucket: string,
  partnerId: string,
  key: string,
): Promise<string> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return computeDeliveryId({ partnerId, bucket, key, etag: normalizeEtag(head.ETag ?? '') });
}

/** One stored delivery receipt, parsed. */
export async function readReceipt(s3: S3Client, bucket: string, key: string): Promise<DeliveryReceipt> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await got.Body!.transformToString()) as DeliveryReceipt;
}

/** Ferry with every role in this process, plus the clients a test inspects it with. */
export interface TestFerry {
  ferry: import('../../src/main.js').RunningFerry;
  redis: import('ioredis').Redis;
  deliverQueue: import('bullmq').Queue;
  s3: import('@aws-sdk/client-s3').S3Client;
  close(): Promise<void>;
}

/** Starts Ferry (role all) on a fixture's config dir against the harness services. */
export async function startTestFerry(
  services: import('./services.js').Services,
  configDir: string,
  logger: Logger,
  overrides?: import('../../src/main.js').StartOptions['overrides'],
): Promise<TestFerry> {
  const [{ Redis }, { Queue }, { startFerry }, { s3ClientFor }] = await Promise.all([
    import('ioredis'),
    import('bullmq'),
    import('../../src/main.js'),
    import('./services.js'),
  ]);
  const s3 = s3ClientFor(services.s3);
  const redis = new Redis(services.redis.url);
  const deliverQueue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
  const ferry = await startFerry({
    config: await loadConfigOrThrow(configDir),
    role: 'all',
    env: process.env,
    logger,
    ...(overrides === undefined ? {} : { overrides }),
  });
  return {
    ferry,
    redis,
    deliverQueue,
    s3,
    async close() {
      await ferry.close();
      await deliverQueue.close();
      redis.disconnect();
      s3.destroy();
    },
  };
}
