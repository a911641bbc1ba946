// Issue 11, case 6: the partner's sftp-server process stops answering (stuck on a dead NFS mount) while
// sshd still answers SSH keepalives. Simulated with SIGSTOP on the external sftp-server of a real sshd:
// every SFTP request must still end, by its deadline (stallTimeoutSeconds), with the whole connection
// destroyed, the partner's connection slot released, and the delivery retried exactly once.
// The last case spawns the compiled CLI: run `npm run build` first.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SftpConnection } from '../../src/adapters/sftp-connection.js';
import { runSweepCommand } from '../../src/commands/sweep-command.js';
import { FerryError } from '../../src/errors.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { expectPartnerConverged } from '../support/convergence.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { observePartnerDir, type PartnerObserver } from '../support/partner-observer.js';
import {
  captureLogger,
  deliveryIdOf,
  putObjects,
  readReceipt,
  startTestFerry,
  sweepAndWait,
  waitFor,
  waitForJobState,
  type TestFerry,
} from '../support/pipeline.js';
import { spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { startServices, type Services } from '../support/services.js';
import { connectToSshd } from '../support/sftp-client.js';

/** The request deadline in this file (stallTimeoutSeconds). */
const DEADLINE_SECONDS = 2;
const KEYS = createRedisKeys('{ferry}');
const MiB = 1024 * 1024;

let services: Services;
let fixture: FerryFixture;
let testFerry: TestFerry;
let s3: S3Client;
let redis: Redis;
let deliverQueue: Queue;
const logs = captureLogger();
const observers: PartnerObserver[] = [];
/** Every sftp-server this file stopped: continued after each test, so none outlives it. */
const stopped = new Set<number>();
const connections = new Set<SftpConnection>();
const spawned: FerryProcess[] = [];

function stopSftpServers(pids: number[]): void {
  for (const pid of pids) {
    process.kill(pid, 'SIGSTOP');
    stopped.add(pid);
  }
}

/** SIGCONT: a continued sftp-server whose session is gone reads EOF and exits. */
function continueSftpServers(): void {
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  stopped.clear();
}

async function connect(): Promise<SftpConnection> {
  const { sshd } = services;
  const connection = await connectToSshd(sshd, {
    keepaliveIntervalMs: 500,
    requestTimeoutMs: DEADLINE_SECONDS * 1000,
  });
  connections.add(connection);
  return connection;
}

/** The sftp-server pids that appeared since `before` (the one serving a connection just opened). */
function newSftpServers(before: readonly number[]): number[] {
  return services.sshd.sftpServerPids().filter((pid) => !before.includes(pid));
}

const closed = (connection: SftpConnection): Promise<void> =>
  new Promise((resolve) => connection.onClose(resolve));

/** `ferry sweep <partner>` without --wait: the deliveries run in the test's Ferry. */
async function requestSweep(partnerId: string): Promise<void> {
  const code = await runSweepCommand({
    config: testFerry.ferry.getConfig(),
    partnerId,
    wait: false,
    timeoutSeconds: 10,
    out: () => undefined,
    err: () => undefined,
  });
  expect(code).toBe(0);
}

/** The log line of the delivery's failed attempt (a delivery that failed before its upload has no ledger record yet). */
function attemptFailure(partnerId: string, deliveryId: string): Record<string, unknown> | undefined {
  return logs
    .lines()
    .find(
      (l) =>
        l.partnerId === partnerId &&
        l.trackingId === deliveryId &&
        l.msg === 'delivery attempt failed; will retry',
    );
}

/** Live leases of the partner's connection semaphore (src/ledger/redis-semaphore.ts). */
const slotsHeld = (partnerId: string): Promise<number> => redis.zcard(KEYS.slots(partnerId));

async function observe(partnerId: string): Promise<PartnerObserver> {
  const observer = await observePartnerDir(fixture.partnerDirs[partnerId]!);
  observers.push(observer);
  return observer;
}

beforeAll(async () => {
  services = await startServices({
    buckets: ['warehouse-exports', 'ferry-audit'],
    sshd: { sftpServer: 'external' },
  });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'hung-test-admin';
  fixture = await writeFerryConfig(services, {
    partners: [
      // One connection at most: the retry can only connect once the hung connection's slot is back.
      // The retry waits 60-120 s (promoted by the test), so the state between attempts can be read.
      { id: 'hung', maxConnections: 1, attempts: 3, backoffSeconds: 120, maxBackoffSeconds: 120 },
      { id: 'stuck', maxConnections: 1, attempts: 3, backoffSeconds: 120, maxBackoffSeconds: 120 },
      { id: 'sigterm', maxConnections: 1, attempts: 3, backoffSeconds: 120, maxBackoffSeconds: 120 },
    ],
    // Keepalive every second keeps passing (sshd answers it); idle connections stay pooled.
    worker: `concurrency: 2, stallTimeoutSeconds: ${DEADLINE_SECONDS}, keepaliveIntervalSeconds: 1, keepaliveCountMax: 2, idleTimeoutSeconds: 300, connectTimeoutSeconds: 5`,
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  ({ s3, redis, deliverQueue } = testFerry);
});

afterEach(() => {
  continueSftpServers();
});

afterAll(async () => {
  continueSftpServers();
  for (const p of spawned) p.kill('SIGKILL');
  await Promise.all(spawned.map((p) => p.exited));
  await Promise.all(observers.map((o) => o.stop()));
  await Promise.all([...connections].map((c) => c.close()));
  await testFerry?.close();
  await services?.stop();
});

describe('an SFTP connection whose sftp-server hangs', () => {
  it('fails a request at its deadline with ERR_SFTP_TIMEOUT naming it, and destroys the whole connection', async () => {
    const before = services.sshd.sftpServerPids();
    const connection = await connect();
    const [server] = newSftpServers(before);
    expect(server).toBeDefined();
    expect(await connection.stat(services.sshd.inbound)).toBeDefined(); // answering so far

    stopSftpServers([server!]);
    const path = join(services.sshd.inbound, 'orders.csv');
    const isClosed = closed(connection);
    const [stat, remove] = await Promise.allSettled([connection.stat(path), connection.remove(path)]);

    for (const outcome of [stat, remove]) {
      expect(outcome.status).toBe('rejected');
      const err = (outcome as PromiseRejectedResult).reason as FerryError;
      expect(err).toBeInstanceOf(FerryError);
      expect(err.code).toBe('ERR_SFTP_TIMEOUT');
      expect(err.intent).toBe('transient');
      // The oldest request names the failure for everything pending.
      expect(err.message).toContain(`stat ${path}`);
      expect(err.message).toContain(`${DEADLINE_SECONDS} s request deadline`);
      expect(err.details).toMatchObject({ request: 'stat', path, deadlineMs: DEADLINE_SECONDS * 1000 });
    }
    await isClosed;
    expect(connection.alive).toBe(false);
    // The SSH connection itself went: sshd ended that session, though its sftp-server is still stopped.
    await waitFor(
      () => !services.sshd.sftpServerPids().includes(server!),
      'the stopped sftp-server to leave the sshd',
    );
    await expect(connection.stat(path)).rejects.toMatchObject({ code: 'ERR_SFTP_CONNECTION_LOST' });
  });

  it('fails an upload whose writes get no reply, and the close of its handle, with ERR_SFTP_TIMEOUT', async () => {
    const before = services.sshd.sftpServerPids();
    const connection = await connect();
    const [server] = newSftpServers(before);
    const path = join(services.sshd.inbound, '.upload.part');
    const source = new PassThrough();
    let acked = 0;
    let onFirstAck: () => void = () => undefined;
    const firstAck = new Promise<void>((resolve) => (onFirstAck = resolve));
    const uploaded = connection.upload(path, source, {
      mode: 0o640,
      onProgress: (bytes) => {
        acked = bytes;
        onFirstAck();
      },
    });
    const upload = uploaded.catch((e: unknown) => e);
    // More than one WRITE's worth, so writes go out before the source ends.
    source.write(Buffer.alloc(MiB, 1));
    await firstAck;

    stopSftpServers([server!]);
    source.end(Buffer.alloc(MiB, 2));
    const err = (await upload) as FerryError;
    expect(err).toBeInstanceOf(FerryError);
    expect(err.code).toBe('ERR_SFTP_TIMEOUT');
    expect(err.message).toMatch(new RegExp(`^SFTP (write|close) ${path} got no reply`));
    expect(acked).toBeLessThan(2 * MiB);
    expect(connection.alive).toBe(false);
  });
});

describe('a delivery to a partner whose sftp-server hangs', () => {
  it('fails the attempt with ERR_SFTP_TIMEOUT, drops the connection, frees the slot, then delivers once on retry', async () => {
    const observer = await observe('hung');
    await putObjects(s3, fixture.bucket, [{ key: 'hung/first.csv', size: 4096 }]);
    const before = services.sshd.sftpServerPids();
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'hung', 30)).summary).toMatch(/^delivered 1,/);
    const pooled = newSftpServers(before);
    expect(pooled).toHaveLength(1); // the idle pooled connection's sftp-server
    expect(await slotsHeld('hung')).toBe(1);

    stopSftpServers(pooled);
    const [second] = await putObjects(s3, fixture.bucket, [{ key: 'hung/second.csv', size: 300_000 }]);
    const id = await deliveryIdOf(s3, fixture.bucket, 'hung', 'hung/second.csv');
    await requestSweep('hung');

    // The first attempt ends (the job waits for its retry) although the server never answered.
    const waiting = await waitFor(async () => {
      const job = await deliverQueue.getJob(id);
      return job !== undefined && job.attemptsMade >= 1 && (await job.getState()) === 'delayed'
        ? job
        : undefined;
    }, `delivery ${id} to wait for its retry`);
    expect(waiting.attemptsMade).toBe(1);
    // The first request of the attempt (the final name's stat) hung: the failure names it.
    expect(waiting.failedReason).toMatch(/^ERR_SFTP_TIMEOUT: SFTP stat /);
    const failure = attemptFailure('hung', id);
    expect(failure).toMatchObject({ errCode: 'ERR_SFTP_TIMEOUT', willRetry: true });
    expect(failure?.err).toContain(fixture.partnerDirs.hung!);
    expect(failure?.err).toContain(`${DEADLINE_SECONDS} s request deadline`);
    // The connection is gone (sshd ended its session) and its slot given back.
    await waitFor(
      () => !services.sshd.sftpServerPids().includes(pooled[0]!),
      'the hung connection to be destroyed',
    );
    await waitFor(async () => (await slotsHeld('hung')) === 0, 'the partner slot to be released');

    continueSftpServers();
    await waiting.promote();
    const done = await waitForJobState(deliverQueue, id, 'completed');
    expect(done.attemptsMade).toBe(2);
    expect(done.returnvalue).toMatchObject({ outcome: 'delivered' });
    const receipt = await readReceipt(s3, fixture.receiptsBucket, `ferry/receipts/hung/${id}.json`);
    expect(receipt).toMatchObject({ deliveryId: id, sha256: second!.sha256, bytes: 300_000 });
    await observer.stop();
    await expectPartnerConverged({
      s3,
      fixture,
      partnerId: 'hung',
      keys: ['hung/first.csv', 'hung/second.csv'],
      events: observer.events(),
    });
  });

  it('lets a worker whose delivery hangs on the stopped subsystem shut down', async () => {
    const before = services.sshd.sftpServerPids();
    await putObjects(s3, fixture.bucket, [{ key: 'stuck/first.csv', size: 2048 }]);
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'stuck', 30)).summary).toMatch(/^delivered 1,/);
    const pooled = newSftpServers(before);
    expect(pooled).toHaveLength(1);

    stopSftpServers(pooled);
    await putObjects(s3, fixture.bucket, [{ key: 'stuck/second.csv', size: 2048 }]);
    const id = await deliveryIdOf(s3, fixture.bucket, 'stuck', 'stuck/second.csv');
    const reused = logs.lines().length;
    await requestSweep('stuck');
    // The delivery has checked out the pooled connection to the stopped server: its requests hang.
    await waitFor(
      () =>
        logs
          .lines()
          .slice(reused)
          .some((l) => l.msg === 'sftp connection reused' && String(l.partnerKey).startsWith('stuck#')),
      'the delivery to take the hung connection',
    );

    await testFerry.ferry.close(); // waits for the active delivery, which only its deadline can end

    expect(attemptFailure('stuck', id)).toMatchObject({ errCode: 'ERR_SFTP_TIMEOUT', willRetry: true });
    expect(await slotsHeld('stuck')).toBe(0);
    expect(await slotsHeld('hung')).toBe(0);
  });

  it('lets a `ferry start --role worker` process whose delivery hangs on the stopped subsystem exit on SIGTERM', async () => {
    await testFerry.ferry.close(); // the spawned worker alone takes the jobs from here on
    const { FERRY_FAILPOINTS: _inherited, ...env } = process.env;
    const worker = spawnFerry(['start', '--role', 'worker', '--config', fixture.dir], env);
    spawned.push(worker);
    await worker.waitForLine(/ferry started/);
    const before = services.sshd.sftpServerPids();
    await putObjects(s3, fixture.bucket, [{ key: 'sigterm/first.csv', size: 2048 }]);
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'sigterm', 30)).summary).toMatch(/^delivered 1,/);
    const pooled = newSftpServers(before);
    expect(pooled).toHaveLength(1); // the worker's idle pooled connection

    stopSftpServers(pooled);
    await putObjects(s3, fixture.bucket, [{ key: 'sigterm/second.csv', size: 2048 }]);
    const id = await deliveryIdOf(s3, fixture.bucket, 'sigterm', 'sigterm/second.csv');
    await requestSweep('sigterm');
    // Active on a worker whose only connection to the partner (maxConnections 1) is the hung one.
    await waitFor(
      async () => (await (await deliverQueue.getJob(id))?.getState()) === 'active',
      `delivery ${id} to start`,
    );

    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);

    expect(worker.output()).toMatch(/"errCode":"ERR_SFTP_TIMEOUT"/);
    expect(worker.output()).not.toMatch(/unhandled rejection/);
    expect((await deliverQueue.getJob(id))?.failedReason).toMatch(/^ERR_SFTP_TIMEOUT: SFTP stat /);
    expect(await slotsHeld('sigterm')).toBe(0);
  });
});
