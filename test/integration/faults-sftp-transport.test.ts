// Reliability matrix §5.2 C, transport faults: a reset or blackholed link mid-transfer, an
// acknowledgement lost after the rename, the per-partner connection cap under load, and the file mode.
// Every row ends with the universal figures (nothing lost, duplicated, partial or orphaned).
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSftp } from '../../src/adapters/sftp-connection.js';
import { configureFailpoints } from '../../src/failpoints.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger } from '../../src/ledger/redis-ledger.js';
import { type RunningFerry } from '../../src/main.js';
import { expectPartnerConverged } from '../support/convergence.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { observePartnerDir, type PartnerEvent, type PartnerObserver } from '../support/partner-observer.js';
import {
  captureLogger,
  dumpRedisAsText,
  jobsOfPartner,
  putObjects,
  readPartnerDir,
  startTestFerry,
  sweepAndWait,
  type TestFerry,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const run = promisify(execFile);

/** ssh2 keepalive in this file: 1 s × (2 + 1) unanswered probes ≈ 3 s to notice a dead link. */
const KEEPALIVE_BOUND_MS = 1_000 * (2 + 1);
/** The pass figures are bounds; asserted with 3× headroom for a loaded 2-core machine. */
const RESET_BOUND_MS = 3 * 2_000;
const BLACKHOLE_BOUND_MS = 3 * KEEPALIVE_BOUND_MS;

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let ferry: RunningFerry;
let redis: Redis;
let deliverQueue: Queue;
let testFerry: TestFerry | undefined;
const proxies: Record<string, TcpProxy> = {};
const observers: PartnerObserver[] = [];
const logs = captureLogger();
const ADMIN_CANARY = `canary-admin-${randomBytes(12).toString('hex')}`;

const jobsOf = (partnerId: string): Promise<Job[]> => jobsOfPartner(deliverQueue, partnerId);

async function onlyJobOf(partnerId: string): Promise<Job> {
  const mine = await jobsOf(partnerId);
  expect(mine).toHaveLength(1);
  return mine[0]!;
}

async function observe(partnerId: string): Promise<PartnerObserver> {
  const observer = await observePartnerDir(fixture.partnerDirs[partnerId]!);
  observers.push(observer);
  return observer;
}

/** Stops the observer (after a sync) and asserts the universal figures for the partner's keys. */
async function expectConverged(
  partnerId: string,
  observer: PartnerObserver,
  keys: string[],
): Promise<PartnerEvent[]> {
  await observer.stop();
  const events = observer.events();
  await expectPartnerConverged({ s3, fixture, partnerId, keys, events });
  return events;
}

/** The first failed attempt's log line for a partner, and how long after the temp file appeared it came. */
function firstFailure(
  partnerId: string,
  events: PartnerEvent[],
): { line: Record<string, unknown>; afterUploadStartMs: number } {
  const line = logs
    .lines()
    .find((l) => l.partnerId === partnerId && l.msg === 'delivery attempt failed; will retry');
  expect(line).toBeDefined();
  const created = events.find((e) => e.event === 'CREATE' && e.name.endsWith('.part'));
  expect(created).toBeDefined();
  return { line: line!, afterUploadStartMs: Date.parse(String(line!.time)) - created!.atMs };
}

const sweep = (partnerId: string) => sweepAndWait(ferry.getConfig(), partnerId, 50);

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  for (const name of ['reset', 'blackhole', 'control', 'capped', 'shared']) {
    proxies[name] = await startTcpProxy(services.sshd.port);
  }
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = ADMIN_CANARY;
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'reset', port: proxies.reset!.port, attempts: 3, backoffSeconds: 1 },
      { id: 'blackhole', port: proxies.blackhole!.port, attempts: 3, backoffSeconds: 1 },
      { id: 'control' },
      { id: 'lostack', attempts: 3, backoffSeconds: 1 },
      { id: 'capped', port: proxies.capped!.port, maxConnections: 2 },
      // One connection carrying up to 4 deliveries (maxFilesInFlight), and a bystander on its own.
      {
        id: 'shared',
        port: proxies.shared!.port,
        maxConnections: 1,
        maxFilesInFlight: 4,
        attempts: 3,
        backoffSeconds: 1,
      },
      { id: 'bystander', maxConnections: 1, maxFilesInFlight: 4 },
      { id: 'mode640', fileMode: '0640' },
      { id: 'mode600', fileMode: '0600' },
    ],
    // The stall watchdog is set well above the keepalive bound, so the blackhole row proves keepalive.
    worker:
      'concurrency: 8, lockDurationSeconds: 10, stalledIntervalSeconds: 5, keepaliveIntervalSeconds: 1, keepaliveCountMax: 2, stallTimeoutSeconds: 30, connectTimeoutSeconds: 5',
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  ({ s3, redis, deliverQueue, ferry } = testFerry);
});

afterAll(async () => {
  configureFailpoints(undefined);
  await Promise.all(observers.map((o) => o.stop()));
  await testFerry?.close();
  await Promise.all(Object.values(proxies).map((p) => p.close()));
  await services?.stop();
});

describe('SFTP transport faults', () => {
  it('fails fast when the link is reset mid-transfer, then delivers once on retry', async () => {
    const observer = await observe('reset');
    proxies.reset!.setFault({ kind: 'reset', afterBytes: 1_000_000, direction: 'up' }, { connections: 1 });
    await putObjects(s3, fixture.bucket, [{ key: 'reset/orders.csv', size: 4 * 1024 * 1024 }]);
    expect((await sweep('reset')).summary).toMatch(/^delivered 1,/);
    expect((await onlyJobOf('reset')).attemptsMade).toBe(2);

    const events = await expectConverged('reset', observer, ['reset/orders.csv']);
    const failure = firstFailure('reset', events);
    expect(failure.line.errCode).toBe('ERR_SFTP_CONNECTION_LOST');
    expect(failure.afterUploadStartMs).toBeLessThanOrEqual(RESET_BOUND_MS);
  });

  it('fails within the keepalive bound on a blackholed link, then delivers once; without keepalive it would hang', async () => {
    const observer = await observe('blackhole');
    proxies.blackhole!.setFault({ kind: 'blackhole', afterBytes: 300_000 }, { connections: 1 });
    proxies.control!.setFault({ kind: 'blackhole', afterBytes: 300_000 }, { connections: 1 });
    await putObjects(s3, fixture.bucket, [{ key: 'blackhole/orders.csv', size: 4 * 1024 * 1024 }]);

    // Negative control, run alongside: the same blackhole with keepalive off and no watchdog.
    const control = (async () => {
      const session = await connectSftp({
        host: '127.0.0.1',
        port: proxies.control!.port,
        username: services.sshd.username,
        hostKeys: [services.sshd.hostKeyFingerprint],
        auth: { privateKey: await readFile(services.sshd.privateKeyPath, 'utf8') },
        readyTimeoutMs: 10_000,
        keepaliveIntervalMs: 0,
        keepaliveCountMax: 0,
      });
      const abort = new AbortController();
      const upload = session
        .upload(
          join(fixture.partnerDirs.control!, 'hang.bin'),
          Readable.from([randomBytes(4 * 1024 * 1024)]),
          {
            mode: 0o640,
            signal: abort.signal,
          },
        )
        .then(
          () => 'settled' as const,
          () => 'settled' as const,
        );
      const outcome = await Promise.race([
        upload,
        new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), BLACKHOLE_BOUND_MS)),
      ]);
      abort.abort(new Error('negative control over'));
      await upload;
      await session.close();
      return outcome;
    })();

    const [delivered, controlOutcome] = await Promise.all([sweep('blackhole'), control]);
    expect(controlOutcome).toBe('pending');
    expect(delivered.summary).toMatch(/^delivered 1,/);
    expect((await onlyJobOf('blackhole')).attemptsMade).toBe(2);

    const events = await expectConverged('blackhole', observer, ['blackhole/orders.csv']);
    const failure = firstFailure('blackhole', events);
    // Keepalive noticed it, not the (30 s) stall watchdog.
    expect(['ERR_SFTP_CONNECTION_LOST', 'ERR_SFTP_TIMEOUT']).toContain(failure.line.errCode);
    expect(failure.afterUploadStartMs).toBeLessThanOrEqual(BLACKHOLE_BOUND_MS);
  });

  it('does not upload again when the acknowledgement of the rename is lost, and records the delivery', async () => {
    const observer = await observe('lostack');
    const [object] = await putObjects(s3, fixture.bucket, [
      { key: 'lostack/orders.csv', size: 2 * 1024 * 1024 },
    ]);
    configureFailpoints('after_rename=throw');
    try {
      expect((await sweep('lostack')).summary).toMatch(/^delivered 1,/);
    } finally {
      configureFailpoints(undefined);
    }
    const job = await onlyJobOf('lostack');
    expect(job.attemptsMade).toBe(2);
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', bytes: 0 });
    expect(logs.lines().some((l) => l.partnerId === 'lostack' && l.recovered === true)).toBe(true);
    const record = await createRedisLedger(redis, createRedisKeys('{ferry}')).get(job.id!);
    expect(record).toMatchObject({ status: 'delivered', sha256: object!.sha256 });

    const events = await expectConverged('lostack', observer, ['lostack/orders.csv']);
    // One upload (one temp CREATE, one CLOSE_WRITE), one publish.
    expect(events.filter((e) => e.name.endsWith('.part') && e.event === 'CREATE')).toHaveLength(1);
    expect(events.filter((e) => e.name.endsWith('.part') && e.event === 'CLOSE_WRITE')).toHaveLength(1);
    expect(events.filter((e) => e.name === 'orders.csv').map((e) => e.event)).toHaveLength(1);
  });

  it('never holds more than maxConnections connections to a partner under load', async () => {
    const observer = await observe('capped');
    const keys = Array.from({ length: 30 }, (_, i) => `capped/part-${String(i).padStart(2, '0')}.csv`);
    await putObjects(
      s3,
      fixture.bucket,
      keys.map((key) => ({ key, size: 200_000 })),
    );
    const port = proxies.capped!.port;
    let sampling = true;
    let maxSeen = 0;
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        const { stdout } = await run('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`]);
        maxSeen = Math.max(maxSeen, stdout.split('\n').filter((l) => l.trim() !== '').length);
        samples += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    let summary: string;
    try {
      ({ summary } = await sweep('capped'));
    } finally {
      sampling = false;
      await sampler;
    }
    expect(summary).toMatch(/^delivered 30, already delivered 0, skipped 0, quarantined 0, failed 0/);
    expect(samples).toBeGreaterThan(0);
    expect(maxSeen).toBeLessThanOrEqual(2);
    // Exact count at the proxy: the cap was reached (the run was under load) and never exceeded.
    expect(proxies.capped!.maxOpen).toBe(2);
    expect((await jobsOf('capped')).every((j) => j.attemptsMade === 1)).toBe(true);
    await expectConverged('capped', observer, keys);
  });

  it('fails exactly the deliveries on a shared connection that is reset, then delivers each once', async () => {
    const observer = await observe('shared');
    // Reset after 4 MB sent: no 8 MiB file can have finished, every one on the connection is hit.
    proxies.shared!.setFault({ kind: 'reset', afterBytes: 4_000_000, direction: 'up' }, { connections: 1 });
    const sharedKeys = [0, 1, 2, 3].map((i) => `shared/part-${i}.csv`);
    const bystanderKeys = [0, 1].map((i) => `bystander/part-${i}.csv`);
    await putObjects(s3, fixture.bucket, [
      ...sharedKeys.map((key) => ({ key, size: 8 * 1024 * 1024 })),
      ...bystanderKeys.map((key) => ({ key, size: 8 * 1024 * 1024 })),
    ]);

    const [shared, bystander] = await Promise.all([sweep('shared'), sweep('bystander')]);
    expect(shared.summary).toMatch(/^delivered 4,/);
    expect(bystander.summary).toMatch(/^delivered 2,/);
    await expectConverged('shared', observer, sharedKeys);

    // Several deliveries were on the reset connection and each took a second attempt; the
    // bystander's deliveries, on a connection of their own, never failed.
    const retried = (await jobsOf('shared')).filter((job) => job.attemptsMade === 2);
    expect(retried.length).toBeGreaterThanOrEqual(2);
    expect((await jobsOf('bystander')).map((job) => job.attemptsMade)).toEqual([1, 1]);
  });

  it('creates files with the configured mode (0640, 0600), never the 0666 default', async () => {
    const observers640 = await observe('mode640');
    const observers600 = await observe('mode600');
    const [a, b] = await putObjects(s3, fixture.bucket, [
      { key: 'mode640/orders.csv', size: 10_000 },
      { key: 'mode600/orders.csv', size: 10_000 },
    ]);
    expect((await sweep('mode640')).summary).toMatch(/^delivered 1,/);
    expect((await sweep('mode600')).summary).toMatch(/^delivered 1,/);
    await expectConverged('mode640', observers640, ['mode640/orders.csv']);
    await expectConverged('mode600', observers600, ['mode600/orders.csv']);
    const got640 = (await readPartnerDir(fixture.partnerDirs.mode640!)).finals.get('orders.csv');
    const got600 = (await readPartnerDir(fixture.partnerDirs.mode600!)).finals.get('orders.csv');
    expect(got640).toMatchObject({ sha256: a!.sha256, mode: 0o640 });
    expect(got600).toMatchObject({ sha256: b!.sha256, mode: 0o600 });
    const capped = await readPartnerDir(fixture.partnerDirs.capped!);
    expect([...capped.finals.values()].every((f) => f.mode === 0o640)).toBe(true);
  });
  it('keeps secrets out of the logs and Redis through every fault above', async () => {
    const keyBody = (await readFile(services.sshd.privateKeyPath, 'utf8'))
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('-----'));
    const everything = logs.text() + (await dumpRedisAsText(redis));
    expect(everything.length).toBeGreaterThan(0);
    for (const secret of [ADMIN_CANARY, 'PRIVATE KEY', ...keyBody]) {
      expect(everything).not.toContain(secret);
    }
  });
});
