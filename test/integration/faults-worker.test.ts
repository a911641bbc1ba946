// Worker and queue faults (reliability-anchors §5.2 table A) against `ferry start` processes, the
// compiled CLI as production runs it (`npm run build` first). Every row ends with the universal figures.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { computeDeliveryId, normalizeEtag } from '../../src/core/delivery-id.js';
import type { FailpointName } from '../../src/failpoints.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger, type Ledger } from '../../src/ledger/redis-ledger.js';
import type { DeliverJobData, DeliverResult } from '../../src/queues/payloads.js';
import {
  expectPartnerConverged,
  expectUniversalFigures,
  measureUniversalFigures,
} from '../support/convergence.js';
import {
  writeFerryConfig,
  writePartnerFile,
  type FerryFixture,
  type PartnerFixture,
} from '../support/ferry-fixture.js';
import { spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { observePartnerDir, type PartnerEvent, type PartnerObserver } from '../support/partner-observer.js';
import {
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sweepAndWait,
  waitFor,
  waitForJobState,
} from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const MB = 1024 * 1024;
const CANARY = `canary-admin-${randomBytes(12).toString('hex')}`;
// Short locks so a dead worker's job is taken over within seconds (production keeps 60 s / 30 s).
const WORKER_SETTINGS =
  'concurrency: 4, idleTimeoutSeconds: 1, lockDurationSeconds: 2, stalledIntervalSeconds: 1, stallTimeoutSeconds: 20, slotLeaseSeconds: 3, keepaliveIntervalSeconds: 1';
const LOCK_MS = 2000;
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Every failpoint, with the uploads the delivery takes in all when a worker dies there: 2 when it died
 * before recording its intent, else 1 (the next attempt recovers from what is on the server).
 */
const FAILPOINT_ROWS: { fp: FailpointName; uploads: 1 | 2 }[] = [
  { fp: 'after_temp_upload', uploads: 2 },
  { fp: 'after_verify', uploads: 2 },
  { fp: 'after_intent', uploads: 1 },
  { fp: 'after_rename', uploads: 1 },
  { fp: 'after_receipt', uploads: 1 },
  { fp: 'after_ledger', uploads: 1 },
  { fp: 'before_complete', uploads: 1 },
];
const fpPartner = (fp: FailpointName) => `fp-${fp}`;

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let redis: Redis;
let proxy: TcpProxy;
let deliverQueue: Queue;
let ledger: Ledger;
let env: NodeJS.ProcessEnv;
const running: FerryProcess[] = [];
const observers: PartnerObserver[] = [];

function startWorker(extraEnv: NodeJS.ProcessEnv = {}, configDir = fixture.dir): FerryProcess {
  const p = spawnFerry(['start', '--role', 'worker', '--config', configDir], { ...env, ...extraEnv });
  running.push(p);
  return p;
}

async function observe(partnerId: string): Promise<PartnerObserver> {
  const observer = await observePartnerDir(fixture.partnerDirs[partnerId]!);
  observers.push(observer);
  return observer;
}

const sweepAndWaitFor = async (partnerId: string, configDir = fixture.dir) =>
  sweepAndWait(await loadConfigOrThrow(configDir, env), partnerId, 90);

/** The delivery id Ferry computes for the object as it is in S3 now. */
async function deliveryIdOf(partnerId: string, key: string): Promise<string> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
  return computeDeliveryId({ partnerId, bucket: fixture.bucket, key, etag: normalizeEtag(head.ETag ?? '') });
}

/** Converged: every key delivered once, byte-identical, published only by rename, no temp left. */
async function expectConverged(partnerId: string, keys: string[], events: PartnerEvent[]): Promise<void> {
  await expectPartnerConverged({ s3, fixture, partnerId, keys, events });
}

/** No secret and no unhandled rejection in what a process printed. */
function expectCleanOutput(...processes: FerryProcess[]): void {
  for (const p of processes) {
    expect(p.output()).not.toContain(CANARY);
    expect(p.output()).not.toMatch(/unhandled rejection/);
  }
}

function logLines(p: FerryProcess): Record<string, unknown>[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const isTemp = (name: string) => name.startsWith('.') && name.endsWith('.part');

/** Resolves with the temp file's path once the partner directory holds one (another process writes it). */
function tempAppears(partnerId: string): Promise<string> {
  return waitFor(
    async () => {
      const { temps } = await readPartnerDir(fixture.partnerDirs[partnerId]!);
      const temp = temps.find(isTemp);
      return temp === undefined ? undefined : join(fixture.partnerDirs[partnerId]!, temp);
    },
    `a temp file for ${partnerId}`,
    30_000,
    5,
  );
}

/** Resolves once `path` holds at least `bytes` bytes (polled: the writer is sshd, for another process). */
function fileReaches(path: string, bytes: number): Promise<number> {
  return waitFor(
    async () => {
      const st = await stat(path).catch(() => undefined);
      return st && st.size >= bytes ? st.size : undefined;
    },
    `${path} to reach ${bytes} bytes`,
    30_000,
    5,
  );
}

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  proxy = await startTcpProxy(services.sshd.port);
  const { FERRY_FAILPOINTS: _inherited, ...base } = process.env;
  env = {
    ...base,
    AWS_ACCESS_KEY_ID: services.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
    FERRY_ADMIN_PASSWORD: CANARY,
    LOG_LEVEL: 'info',
  };
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'rk', port: proxy.port },
      { id: 'term', port: proxy.port },
      { id: 'busy' },
      ...FAILPOINT_ROWS.map(({ fp }) => ({ id: fpPartner(fp) })),
    ],
    worker: WORKER_SETTINGS,
  });
  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
  deliverQueue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
  ledger = createRedisLedger(redis, createRedisKeys('{ferry}'));
});

afterEach(async () => {
  proxy.clearFault();
  for (const o of observers.splice(0)) await o.stop();
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
});

afterAll(async () => {
  await deliverQueue?.close();
  redis?.disconnect();
  s3?.destroy();
  await proxy?.close();
  await services?.stop();
});

describe('worker faults', () => {
  it('delivers a 10 MB object once across three workers SIGKILLed at growing offsets (maxStalledCount 3)', async () => {
    const key = 'rk/big.bin';
    const observer = await observe('rk');
    await putObjects(s3, fixture.bucket, [{ key, size: 10 * MB }]);
    const id = await deliveryIdOf('rk', key);
    // Slow enough to kill at a chosen offset, fast enough to finish in a few seconds.
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 4 * MB });

    const first = startWorker();
    await first.waitForLine(/ferry started/);
    const sweeping = sweepAndWaitFor('rk');
    const temp = await tempAppears('rk');
    const killed: FerryProcess[] = [first];
    // Each takeover rewrites the deterministic temp name from byte 0; kill it further along each time.
    for (const offset of [1 * MB, 2.5 * MB, 4 * MB]) {
      await fileReaches(temp, offset);
      const victim = killed[killed.length - 1]!;
      victim.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      killed.push(startWorker());
    }
    const { code, summary } = await sweeping;
    expect(summary).toMatch(/^delivered 1, /);
    expect(code).toBe(0);
    const job = await waitForJobState(deliverQueue, id, 'completed');
    expect((job.returnvalue as DeliverResult).outcome).toBe('delivered');
    expect((await ledger.get(id))?.status).toBe('delivered');
    const rescuer = killed[killed.length - 1]!;
    expect(logLines(rescuer).filter((l) => l.jobId === id && l.alert === true).length).toBeGreaterThan(0);
    await observer.stop();
    await expectConverged('rk', [key], observer.events());
    expectCleanOutput(...killed);
  });

  it.each(FAILPOINT_ROWS)(
    'converges when a worker is killed at $fp and another takes the job over ($uploads upload(s) in total)',
    async ({ fp, uploads }) => {
      const partnerId = fpPartner(fp);
      const key = `${partnerId}/data.bin`;
      const observer = await observe(partnerId);
      const [object] = await putObjects(s3, fixture.bucket, [{ key, size: 1 * MB }]);
      const id = await deliveryIdOf(partnerId, key);

      const victim = startWorker({ FERRY_FAILPOINTS: `${fp}=kill` });
      await victim.waitForLine(/ferry started/);
      const sweeping = sweepAndWaitFor(partnerId);
      expect(await victim.exited).toBe('SIGKILL');
      const rescuer = startWorker();
      const { code, summary } = await sweeping;
      expect(summary).toMatch(/, failed 0/);
      expect(code).toBe(0);

      const job = await waitForJobState(deliverQueue, id, 'completed');
      const result = job.returnvalue as DeliverResult;
      // The rescuer sends the bytes again only when the victim died before recording its intent.
      expect(result.bytes).toBe(uploads === 2 ? object!.body.length : 0);
      expect((await ledger.get(id))?.status).toBe('delivered');
      await observer.stop();
      const events = observer.events();
      const onTemp = (event: PartnerEvent['event']) =>
        events.filter((e) => e.event === event && isTemp(e.name)).length;
      expect(onTemp('CREATE')).toBe(1);
      expect(onTemp('CLOSE_WRITE')).toBe(uploads);
      await expectConverged(partnerId, [key], events);
      expectCleanOutput(victim, rescuer);
    },
  );

  it('keeps a 10 MB delivery to one publish when SIGTERM lets it finish: exit 0, no stall', async () => {
    const key = 'term/graceful.bin';
    const observer = await observe('term');
    await putObjects(s3, fixture.bucket, [{ key, size: 10 * MB }]);
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 4 * MB });
    const worker = startWorker();
    await worker.waitForLine(/ferry started/);
    const sweeping = sweepAndWaitFor('term');
    await fileReaches(await tempAppears('term'), 1 * MB);
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const { code, summary } = await sweeping;
    expect(summary).toMatch(/^delivered 1, .*failed 0/);
    expect(code).toBe(0);
    expect(worker.output()).not.toMatch(/stalled/);
    await observer.stop();
    await expectConverged('term', [key], observer.events());
    expectCleanOutput(worker);
  });

  it('publishes once when the event loop is blocked past the lock: the stall is alerted, the job may run twice, the file lands once', async () => {
    const key = 'busy/blocked.bin';
    const observer = await observe('busy');
    await putObjects(s3, fixture.bucket, [{ key, size: 2 * MB }]);
    const id = await deliveryIdOf('busy', key);

    const blocked = startWorker({ FERRY_FAILPOINTS: `after_intent=busy:${3 * LOCK_MS}` });
    await blocked.waitForLine(/ferry started/);
    const sweeping = sweepAndWaitFor('busy');
    await tempAppears('busy');
    // The first worker has the job; the second one is there to take it over once the lock expires.
    const other = startWorker();
    const stalled = await other.waitForLine(/job stalled/);
    expect(JSON.parse(stalled)).toMatchObject({ jobId: id, alert: true });
    const { code, summary } = await sweeping;
    expect(summary).toMatch(/, failed 0/);
    expect(code).toBe(0);
    expect((await ledger.get(id))?.status).toBe('delivered');
    // The blocked attempt wakes up and carries on (or fails if the takeover published first): let it
    // finish before the directory is measured, so a second publish would be seen.
    await blocked.waitForLine(
      /"msg":"(delivery (completed|failed for good|attempt failed; will retry)|lost the job lock[^"]*)"/,
    );
    await observer.stop();
    await expectConverged('busy', [key], observer.events());
    await waitForJobState(deliverQueue, id, 'completed');
    expectCleanOutput(blocked, other);
  });
});

describe('enqueue and scheduler races', () => {
  it('keeps one job and one delivery when two processes enqueue the same object 100 times at once', async () => {
    const configDir = join(fixture.dir, '..', 'config-enqueue');
    const enq = await writeFerryConfig(
      services,
      { partners: [{ id: 'enq' }], redisPrefix: '{enq}', worker: WORKER_SETTINGS },
      configDir,
    );
    const key = 'enq/orders.csv';
    const observer = await observePartnerDir(enq.partnerDirs.enq!);
    observers.push(observer);
    const [object] = await putObjects(s3, fixture.bucket, [{ key, size: 64 * 1024 }]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
    const etag = normalizeEtag(head.ETag ?? '');
    const data: DeliverJobData = {
      v: 1,
      deliveryId: computeDeliveryId({ partnerId: 'enq', bucket: fixture.bucket, key, etag }),
      partnerId: 'enq',
      bucket: fixture.bucket,
      key,
      etag,
      size: object!.body.length,
    };

    // Each child enqueues through Ferry's own code (enqueueDeliveries, as a sweep does), 50 times in parallel.
    const producers = [0, 1].map(() => spawnEnqueuer(configDir, data, 50));
    await Promise.all(producers.map((p) => p.ready));
    for (const p of producers) p.go();
    expect(await Promise.all(producers.map((p) => p.exited))).toEqual([0, 0]);

    const queue = new Queue('deliver', { connection: redis, prefix: '{enq}' });
    try {
      const counts = await queue.getJobCounts();
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
      const worker = startWorker({}, configDir);
      const job = await waitFor(async () => {
        const j = await queue.getJob(data.deliveryId);
        return j && (await j.getState()) === 'completed' ? j : undefined;
      }, 'the delivery');
      expect((job.returnvalue as DeliverResult).outcome).toBe('delivered');
      const after = await queue.getJobCounts();
      expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(1);
      await observer.stop();
      expectUniversalFigures(
        await measureUniversalFigures({
          s3,
          bucket: fixture.bucket,
          keys: [key],
          partnerDir: enq.partnerDirs.enq!,
          events: observer.events(),
          publish: 'rename',
          prefix: 'enq/',
        }),
      );
      expectCleanOutput(worker);
    } finally {
      await queue.close();
    }
  });

  it('keeps one job scheduler and one delayed sweep per partner when 3 scheduler processes restart together, 5 times', async () => {
    const configDir = join(fixture.dir, '..', 'config-schedulers');
    const partners: PartnerFixture[] = ['s1', 's2', 's3', 's4', 's5'].map((id) => ({ id }));
    const sched = await writeFerryConfig(
      services,
      { partners, redisPrefix: '{sched}', worker: WORKER_SETTINGS },
      configDir,
    );
    const queue = new Queue('sweep', { connection: redis, prefix: '{sched}' });
    try {
      for (let round = 1; round <= 5; round++) {
        // A deploy that changes every schedule: all three processes see a stale scheduler and upsert at once.
        const cron = `${round} 3 * * *`;
        for (const p of partners) {
          await writePartnerFile(configDir, services, { ...p, cron }, sched.partnerDirs[p.id]!);
        }
        const schedulers = [0, 1, 2].map(() => {
          const p = spawnFerry(['start', '--role', 'scheduler', '--config', configDir], env);
          running.push(p);
          return p;
        });
        await Promise.all(schedulers.map((s) => s.waitForLine(/ferry started/)));

        const list = await queue.getJobSchedulers(0, -1);
        expect(list.map((s) => s.key).sort()).toEqual(partners.map((p) => `sweep-${p.id}`));
        expect(list.map((s) => s.pattern)).toEqual(partners.map(() => cron));
        const delayed = await queue.getDelayed(0, -1);
        for (const s of list) {
          const mine = delayed.filter((j) => j.repeatJobKey === s.key);
          expect(mine, `delayed sweeps of ${s.key} in round ${round}`).toHaveLength(1);
          expect(mine[0]!.timestamp + mine[0]!.delay).toBe(s.next);
        }
        expect(delayed).toHaveLength(partners.length);

        // Odd rounds stop gracefully, even rounds crash: either way the next round starts from here.
        const signal = round % 2 === 1 ? 'SIGTERM' : 'SIGKILL';
        for (const s of schedulers) s.kill(signal);
        expect(await Promise.all(schedulers.map((s) => s.exited))).toEqual(
          schedulers.map(() => (signal === 'SIGTERM' ? 0 : 'SIGKILL')),
        );
        expectCleanOutput(...schedulers);
      }
    } finally {
      await queue.close();
    }
  });
});

interface Enqueuer {
  ready: Promise<void>;
  go(): void;
  exited: Promise<number | string>;
}

/**
 * A separate node process that loads the config and enqueues `data` `times` times in parallel through
 * Ferry's compiled enqueueDeliveries, once told to go (so two of them race).
 */
function spawnEnqueuer(configDir: string, data: DeliverJobData, times: number): Enqueuer {
  const script = `
    import { createInterface } from 'node:readline';
    const [dist, configDir, json, times] = process.argv.slice(1);
    const { loadConfig } = await import(dist + '/src/config/load-config.js');
    const { createQueues, enqueueDeliveries } = await import(dist + '/src/queues/queues.js');
    const { createRedisConnection } = await import(dist + '/src/queues/redis-connection.js');
    const loaded = await loadConfig(configDir, process.env);
    if (!loaded.ok) throw new Error('invalid config');
    const data = JSON.parse(json);
    const partner = loaded.config.partners.get(data.partnerId);
    const redis = createRedisConnection(loaded.config.service.redis, 'producer');
    await redis.connect();
    const queues = createQueues(redis, loaded.config.service.redis.prefix);
    process.stdout.write('ready\\n');
    await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
    await Promise.all(Array.from({ length: Number(times) }, () => enqueueDeliveries(queues.deliver, partner, [data])));
    await queues.close();
    await redis.quit();
  `;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, join(REPO, 'dist'), configDir, JSON.stringify(data), String(times)],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) =>
      line === 'ready' ? resolve() : reject(new Error(line)),
    );
    void exited.then(() => reject(new Error(`enqueuer exited before it was ready: ${stderr}`)));
  });
  return { ready, go: () => child.stdin.end('go\n'), exited };
}
