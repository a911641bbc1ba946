// Redis faults (reliability-anchors §5.2 table B) against `ferry start` worker processes and the `ferry`
// CLI, compiled (`npm run build` first). The restart without persistence is in delivery-failures.test.ts.
import type { S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runSweepCommand } from '../../src/commands/sweep-command.js';
import { expectPartnerConverged } from '../support/convergence.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { observePartnerDir, type PartnerObserver } from '../support/partner-observer.js';
import {
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sha256,
  sweepAndWait,
  waitFor,
} from '../support/pipeline.js';
import { startRedisServer } from '../support/redis-server.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const MB = 1024 * 1024;
const CANARY = `canary-admin-${randomBytes(12).toString('hex')}`;
const WORKER_SETTINGS =
  'concurrency: 4, idleTimeoutSeconds: 1, lockDurationSeconds: 3, stalledIntervalSeconds: 1, stallTimeoutSeconds: 20, slotLeaseSeconds: 3, keepaliveIntervalSeconds: 1';
const LOCK_MS = 3000;
/** The fast variant of "Redis down for 60 s". */
const OUTAGE_MS = 5000;

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let proxy: TcpProxy;
let env: NodeJS.ProcessEnv;
const running: FerryProcess[] = [];
const observers: PartnerObserver[] = [];

function startWorker(): FerryProcess {
  const p = spawnFerry(['start', '--role', 'worker', '--config', fixture.dir], env);
  running.push(p);
  return p;
}

async function observe(partnerId: string): Promise<PartnerObserver> {
  const observer = await observePartnerDir(fixture.partnerDirs[partnerId]!);
  observers.push(observer);
  return observer;
}

/** `ferry sweep <partner>` without --wait: queues the sweep for a running worker. */
async function queueSweep(partnerId: string): Promise<void> {
  const code = await runSweepCommand({
    config: await loadConfigOrThrow(fixture.dir, env),
    partnerId,
    wait: false,
    timeoutSeconds: 10,
    out: () => undefined,
    err: () => undefined,
  });
  expect(code).toBe(0);
}

const sweepAndWaitFor = async (partnerId: string) =>
  sweepAndWait(await loadConfigOrThrow(fixture.dir, env), partnerId, 90);

async function expectConverged(partnerId: string, keys: string[], observer: PartnerObserver) {
  await observer.stop();
  await expectPartnerConverged({ s3, fixture, partnerId, keys, events: observer.events() });
}

function expectCleanOutput(p: FerryProcess): void {
  expect(p.output()).not.toContain(CANARY);
  expect(p.output()).not.toMatch(/unhandled rejection/);
}

/** Resolves once at least `count` final files are in the partner directory (another process writes them). */
function finalsReach(partnerId: string, count: number): Promise<number> {
  return waitFor(
    async () => {
      const { finals } = await readPartnerDir(fixture.partnerDirs[partnerId]!);
      return finals.size >= count ? finals.size : undefined;
    },
    `${count} files delivered to ${partnerId}`,
    30_000,
    20,
  );
}

/** Resolves once `path` holds at least `bytes` bytes (polled: the writer is sshd). */
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

/** The bytes of `path` read as soon as it exists. */
function firstSight(path: string): Promise<Buffer> {
  return waitFor(() => readFile(path).catch(() => undefined), `${path} to appear`, 45_000, 2);
}

beforeAll(async () => {
  services = await startServices({
    buckets: ['warehouse-exports', 'ferry-audit'],
    redis: { persistence: 'aof' },
  });
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
      { id: 'aof', port: proxy.port },
      { id: 'outage', port: proxy.port },
      { id: 'longlock', port: proxy.port },
      { id: 'late' },
      { id: 'gone', port: proxy.port },
      { id: 'twice', port: proxy.port },
    ],
    worker: WORKER_SETTINGS,
  });
  s3 = s3ClientFor(services.s3);
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
  s3?.destroy();
  await proxy?.close();
  await services?.stop();
});

describe('redis faults', () => {
  it('resumes after redis-server is SIGKILLed mid-run and restarted from its AOF: 30 files, each delivered once', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `aof/export_${String(i).padStart(2, '0')}.csv`);
    const observer = await observe('aof');
    await putObjects(
      s3,
      fixture.bucket,
      keys.map((key) => ({ key, size: 128 * 1024 })),
    );
    // ~0.25 s per file on each of the partner's 2 connections: the run takes seconds, Redis dies inside it.
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 512 * 1024 });
    const worker = startWorker();
    await worker.waitForLine(/ferry started/);
    await queueSweep('aof');
    await finalsReach('aof', 4);

    await services.redis.stop('SIGKILL');
    await worker.waitForLine(/"msg":"lost Redis at /);
    await services.redis.start();

    // The worker carries on by itself; a sweep after the restart re-enqueues anything the AOF's last
    // second lost and follows every delivery to the end.
    const { code, summary } = await sweepAndWaitFor('aof');
    expect(summary).toMatch(/, failed 0/);
    expect(code).toBe(0);
    // The same worker process did deliveries after Redis came back.
    expect(worker.child.exitCode).toBeNull();
    const afterRestart = worker.output().slice(worker.output().indexOf('"msg":"lost Redis at '));
    expect(afterRestart).toMatch(/"msg":"delivery (completed|recovered after a lost acknowledgement)"/);
    await expectConverged('aof', keys, observer);
    expectCleanOutput(worker);
  });

  it(`fails a producer fast while redis-server is down (${OUTAGE_MS / 1000} s, fast variant of 60 s); workers stay up and drain the backlog once it is back`, async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `outage/export_${String(i).padStart(2, '0')}.csv`);
    const observer = await observe('outage');
    await putObjects(
      s3,
      fixture.bucket,
      keys.map((key) => ({ key, size: 128 * 1024 })),
    );
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 256 * 1024 });
    const worker = startWorker();
    await worker.waitForLine(/ferry started/);
    await queueSweep('outage');
    await finalsReach('outage', 1);

    // Jobs are queued and in flight when Redis goes away.
    await services.redis.stop();
    const downAt = Date.now();
    const cli = spawnFerry(['sweep', 'outage', '--wait', '--config', fixture.dir], env);
    expect(await cli.exited).toBe(1);
    // A bound, not a timing measurement: it must not wait for Redis (the outage is longer than this).
    expect(Date.now() - downAt).toBeLessThan(OUTAGE_MS);
    expect(cli.output()).toMatch(/^ferry sweep: ERR_REDIS_UNAVAILABLE: .*Redis/m);
    expect(cli.output()).not.toMatch(/^\s+at /m); // a message, not a stack trace

    // The outage is the injected fault: keep Redis down for its full length.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    expect(worker.child.exitCode).toBeNull();
    await services.redis.start();

    const { code, summary } = await sweepAndWaitFor('outage');
    expect(summary).toMatch(/, failed 0/);
    expect(code).toBe(0);
    expect(worker.child.exitCode).toBeNull();
    await expectConverged('outage', keys, observer);
    expectCleanOutput(worker);
  });

  it('publishes only complete bytes when Redis is down longer than the job lock while a transfer is in flight', async () => {
    const key = 'longlock/big.bin';
    const observer = await observe('longlock');
    const [object] = await putObjects(s3, fixture.bucket, [{ key, size: 8 * MB }]);
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 1 * MB });
    const worker = startWorker();
    await worker.waitForLine(/ferry started/);
    await queueSweep('longlock');
    const { temps } = await waitFor(async () => {
      const dir = await readPartnerDir(fixture.partnerDirs.longlock!);
      return dir.temps.length > 0 ? dir : undefined;
    }, 'the upload to start');
    await fileReaches(join(fixture.partnerDirs.longlock!, temps[0]!), 1 * MB);

    // The job's lock (3 s) expires while Redis is away; the upload itself goes on.
    await services.redis.stop();
    await new Promise((resolve) => setTimeout(resolve, LOCK_MS + 1000));
    await services.redis.start();

    // What a partner polling the directory would pick up the moment the name appears.
    const first = await firstSight(join(fixture.partnerDirs.longlock!, 'big.bin'));
    expect(first.length).toBe(object!.body.length);
    expect(sha256(first)).toBe(object!.sha256);
    const { code, summary } = await sweepAndWaitFor('longlock');
    expect(summary).toMatch(/, failed 0/);
    expect(code).toBe(0);
    await expectConverged('longlock', [key], observer);
    expectCleanOutput(worker);
  });

  it('refuses to start against a Redis whose maxmemory-policy is allkeys-lru, naming the policy, and starts nothing', async () => {
    const lru = await startRedisServer({
      dir: join(services.redis.dir, '..', 'redis-lru'),
      persistence: 'none',
      maxmemoryPolicy: 'allkeys-lru',
    });
    const client = new Redis(lru.url);
    try {
      const ferry = spawnFerry(['start', '--config', fixture.dir], { ...env, REDIS_URL: lru.url });
      running.push(ferry);
      expect(await ferry.exited).toBe(1);
      expect(ferry.output()).toMatch(/^ferry start: ERR_REDIS_POLICY: .*"allkeys-lru".*noeviction/m);
      // The web listener (it answers probes while Redis is checked) closed again; no role started.
      expect(ferry.output()).not.toMatch(/ferry started/);
      // Nothing started: no queue, scheduler or ledger key was written.
      expect(await client.dbsize()).toBe(0);
    } finally {
      client.disconnect();
      await lru.stop();
    }
  });

  it(`starts while Redis is down (${OUTAGE_MS / 1000} s): says once what it waits for, answers probes, the API and Bull Board with 503 and the reason, then comes up and delivers`, async () => {
    const keys = ['late/export_a.csv', 'late/export_b.csv'];
    const observer = await observe('late');
    await putObjects(
      s3,
      fixture.bucket,
      keys.map((key) => ({ key, size: 4096 })),
    );
    await services.redis.stop();
    const downAt = Date.now();
    const ferry = spawnFerry(['start', '--config', fixture.dir], env);
    running.push(ferry);
    const where = `Redis at 127.0.0.1:${services.redis.port}`;
    const waiting = await ferry.waitForLine(/waiting for Redis/);
    expect(JSON.parse(waiting)).toMatchObject({
      level: 'warn',
      errCode: 'ERR_REDIS_UNAVAILABLE',
      msg: `waiting for ${where}: connect ECONNREFUSED 127.0.0.1:${services.redis.port} — retrying every 2 s`,
    });
    const base = await webBase(ferry);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'not ready',
      reason: `waiting for ${where}: connect ECONNREFUSED 127.0.0.1:${services.redis.port}`,
    });
    const auth = { authorization: `Basic ${Buffer.from(`admin:${CANARY}`).toString('base64')}` };
    for (const path of ['/api/deliveries', '/admin/']) {
      const res = await fetch(`${base}${path}`, { headers: auth });
      expect(res.status, path).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /^ERR_REDIS_UNAVAILABLE: waiting for Redis at /,
      );
    }

    // The outage is the injected fault: the client retries every ≤ 2 s through all of it.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    await services.redis.start();
    await ferry.waitForLine(/ferry started/);
    expect(ferry.output()).toMatch(/"msg":"Redis at 127\.0\.0\.1:\d+ answers again after \d+ s"/);
    // One line for the whole wait (a reminder only comes after 30 s), not one per attempt.
    expect(ferry.output().match(/Redis at 127\.0\.0\.1/g)).toHaveLength(2);
    expect(ferry.output()).not.toMatch(/"level":"warn".*(queue error|worker error)/);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const { code, summary } = await sweepAndWaitFor('late');
    expect(summary).toMatch(/, failed 0/);
    expect(code).toBe(0);
    await expectConverged('late', keys, observer);
    expectCleanOutput(ferry);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'stops on %s while it waits for Redis: exit 0 within 5 s, nothing started',
    async (signal) => {
      await services.redis.stop();
      try {
        const ferry = spawnFerry(['start', '--config', fixture.dir], env);
        running.push(ferry);
        await ferry.waitForLine(/waiting for Redis/);
        const sentAt = Date.now();
        ferry.kill(signal);
        expect(await ferry.exited).toBe(0);
        // A bound the issue sets, not a speed measurement: waiting for Redis must not hold a stop.
        expect(Date.now() - sentAt).toBeLessThan(5000);
        expect(ferry.output()).toMatch(
          /stopped before Redis answered: nothing was started, nothing is in flight/,
        );
        expect(ferry.output()).not.toMatch(/ferry started/);
      } finally {
        await services.redis.start();
      }
    },
  );

  it('stops within 5 s on SIGTERM after Redis went away under a delivery in flight, names the delivery it left, and that delivery is published once after Redis is back', async () => {
    const key = 'gone/big.bin';
    const observer = await observe('gone');
    const [object] = await putObjects(s3, fixture.bucket, [{ key, size: 8 * MB }]);
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 1 * MB });
    const ferry = spawnFerry(['start', '--config', fixture.dir], env);
    running.push(ferry);
    await ferry.waitForLine(/ferry started/);
    const base = await webBase(ferry);
    await queueSweep('gone');
    const { temps } = await waitFor(async () => {
      const dir = await readPartnerDir(fixture.partnerDirs.gone!);
      return dir.temps.length > 0 ? dir : undefined;
    }, 'the upload to start');
    await fileReaches(join(fixture.partnerDirs.gone!, temps[0]!), 1 * MB);

    await services.redis.stop();
    await ferry.waitForLine(
      /"msg":"lost Redis at 127\.0\.0\.1:\d+: .* — waiting for it, retrying every 2 s"/,
    );
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/^waiting for Redis at /);
    const sentAt = Date.now();
    ferry.kill('SIGTERM');
    expect(await ferry.exited).toBe(1);
    expect(Date.now() - sentAt).toBeLessThan(5000);
    const left = JSON.parse(
      await ferry.waitForLine(/stopped without waiting for 1 in-flight deliveries/),
    ) as {
      abandoned: string[];
    };
    expect(left.abandoned).toEqual([expect.stringMatching(/^dlv-gone-/)]);

    // Redis back, the partner's link fast again, a new worker: the job's lock has expired, the stalled
    // job is taken over, and the object is published once, whole.
    proxy.clearFault();
    await services.redis.start();
    const next = startWorker();
    await next.waitForLine(/ferry started/);
    const first = await firstSight(join(fixture.partnerDirs.gone!, 'big.bin'));
    expect(first.length).toBe(object!.body.length);
    expect(sha256(first)).toBe(object!.sha256);
    const { code, summary } = await sweepAndWaitFor('gone');
    expect(summary).toMatch(/, failed 0/);
    expect(code).toBe(0);
    await expectConverged('gone', [key], observer);
    expectCleanOutput(next);
  });

  it('ends a graceful stop at once on a second SIGTERM (exit 1); the delivery it left is published once by the next worker', async () => {
    const key = 'twice/big.bin';
    const observer = await observe('twice');
    const [object] = await putObjects(s3, fixture.bucket, [{ key, size: 8 * MB }]);
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 1 * MB });
    const worker = startWorker();
    await worker.waitForLine(/ferry started/);
    await queueSweep('twice');
    const { temps } = await waitFor(async () => {
      const dir = await readPartnerDir(fixture.partnerDirs.twice!);
      return dir.temps.length > 0 ? dir : undefined;
    }, 'the upload to start');
    await fileReaches(join(fixture.partnerDirs.twice!, temps[0]!), 1 * MB);

    worker.kill('SIGTERM');
    await worker.waitForLine(/shutting down: finishing in-flight deliveries/);
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(
      /stopping at once: in-flight deliveries will be retried by another worker/,
    );

    proxy.clearFault();
    const next = startWorker();
    await next.waitForLine(/ferry started/);
    const first = await firstSight(join(fixture.partnerDirs.twice!, 'big.bin'));
    expect(first.length).toBe(object!.body.length);
    expect(sha256(first)).toBe(object!.sha256);
    const { code, summary } = await sweepAndWaitFor('twice');
    expect(summary).toMatch(/, failed 0/);
    expect(code).toBe(0);
    await expectConverged('twice', [key], observer);
    expectCleanOutput(next);
  });
});

/** The web role's base URL, from its listening line (the fixture binds port 0). */
async function webBase(ferry: FerryProcess): Promise<string> {
  const line = JSON.parse(await ferry.waitForLine(/Bull Board listening/)) as { url: string };
  return new URL(line.url).origin;
}
