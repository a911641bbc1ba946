// How deliveries fail, retry and recover, on real redis-server, sshd and s3rver.
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { execFile } from 'node:child_process';
import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFerry } from '../../src/main.js';
import {
  writeFerryConfig,
  writePartnerFile,
  type FerryFixture,
  type PartnerFixture,
} from '../support/ferry-fixture.js';
import { getFreePort } from '../support/free-port.js';
import {
  captureLogger,
  dumpRedisAsText,
  jobsOfPartner,
  putObjects,
  readPartnerDir,
  startTestFerry,
  sweepAndWait,
  type TestFerry,
  waitFor,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const run = promisify(execFile);
const CANARY = `canary-${Date.now().toString(36)}-passphrase-3b9f1c`;
const WRONG_CANARY = `canary-wrong-${Date.now().toString(36)}-7d2e`;
const WRONG_PIN = `SHA256:${'A'.repeat(43)}`;

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let ferry: RunningFerry;
let redis: Redis;
let deliverQueue: Queue;
let testFerry: TestFerry | undefined;
let proxy: TcpProxy;
let closedPort: number;
let partners: Record<string, PartnerFixture>;
const logs = captureLogger();

const sweep = (partnerId: string) => sweepAndWait(ferry.getConfig(), partnerId);

async function onlyJobOf(partnerId: string): Promise<Job> {
  const mine = await jobsOfPartner(deliverQueue, partnerId);
  expect(mine).toHaveLength(1);
  return mine[0]!;
}

beforeAll(async () => {
  services = await startServices({
    buckets: ['warehouse-exports', 'ferry-audit'],
    redis: { persistence: 'none' },
  });
  proxy = await startTcpProxy(services.sshd.port);
  closedPort = await getFreePort();

  // A passphrase-protected client key whose passphrase is the canary secret.
  const keyPath = join(services.sshd.dir, 'canary_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', CANARY, '-C', 'canary', '-f', keyPath]);
  await appendFile(
    join(services.sshd.dir, 'authorized_keys', services.sshd.username),
    await readFile(`${keyPath}.pub`),
  );
  const strangerKey = join(services.sshd.dir, 'stranger_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', strangerKey]);

  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'failures-admin';
  process.env.CANARY_PASSPHRASE = CANARY;
  process.env.WRONG_PASSPHRASE = WRONG_CANARY;
  partners = {
    down: { id: 'down', port: closedPort, attempts: 2, backoffSeconds: 1 },
    mitm: { id: 'mitm', hostKeys: [WRONG_PIN], attempts: 5 },
    stranger: { id: 'stranger', auth: `{ privateKeyFile: ${strangerKey} }`, attempts: 5 },
    canary: { id: 'canary', auth: `{ privateKeyFile: ${keyPath}, passphraseEnv: CANARY_PASSPHRASE }` },
    wrongpass: {
      id: 'wrongpass',
      auth: `{ privateKeyFile: ${keyPath}, passphraseEnv: WRONG_PASSPHRASE }`,
      attempts: 5,
    },
    failing: { id: 'failing', onExisting: 'fail' },
    skipping: { id: 'skipping', onExisting: 'skip' },
    replacing: { id: 'replacing', onExisting: 'overwrite' },
    direct: { id: 'direct', publish: 'direct', fileMode: '0600' },
    flaky: { id: 'flaky', port: proxy.port, attempts: 3, backoffSeconds: 1 },
    readonly: { id: 'readonly', attempts: 5 },
  };
  fixture = await writeFerryConfig(services, {
    partners: Object.values(partners),
    worker:
      'concurrency: 4, keepaliveIntervalSeconds: 1, keepaliveCountMax: 2, stallTimeoutSeconds: 4, connectTimeoutSeconds: 5',
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  ({ s3, redis, deliverQueue, ferry } = testFerry);
});

afterAll(async () => {
  await testFerry?.close();
  await proxy?.close();
  await services?.stop();
});

describe('delivery failures', () => {
  it('retries a transient failure with backoff, fails for good after the last attempt, and delivers once retried after the fix', async () => {
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'down/orders.csv', size: 5000 }]);
    const first = await sweep('down');
    expect(first.summary).toMatch(/failed 1/);
    expect(first.code).toBe(1);
    const job = await onlyJobOf('down');
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toMatch(/ERR_SFTP_UNREACHABLE/);
    const attempts = logs
      .lines()
      .filter((l) => l.partnerId === 'down' && l.errCode === 'ERR_SFTP_UNREACHABLE');
    expect(attempts.map((l) => l.msg)).toEqual([
      'delivery attempt failed; will retry',
      'delivery failed for good',
    ]);
    expect(attempts[1]).toMatchObject({ alert: true, willRetry: false });

    // The operator fixes the port; hot reload picks it up; "retry" in Bull Board does job.retry('failed').
    await writePartnerFile(
      fixture.dir,
      services,
      { ...partners.down!, port: services.sshd.port },
      fixture.partnerDirs.down!,
    );
    await waitFor(
      () => ferry.getConfig().partners.get('down')?.target.port === services.sshd.port,
      'the config reload',
    );
    await job.retry('failed');
    await waitFor(
      async () => ((await deliverQueue.getJob(job.id!))?.returnvalue as { outcome?: string } | null)?.outcome,
      'the retried job',
    );
    const dir = await readPartnerDir(fixture.partnerDirs.down!);
    expect(dir.finals.get('orders.csv')?.sha256).toBe(object!.sha256);
  });

  it('fails at once, without retrying, when the host key does not match the pin, naming both fingerprints', async () => {
    await putObjects(s3, fixture.bucket, [{ key: 'mitm/orders.csv', size: 100 }]);
    const { code, summary } = await sweep('mitm');
    expect(code).toBe(1);
    expect(summary).toMatch(/failed 1/);
    const job = await onlyJobOf('mitm');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/ERR_HOST_KEY_MISMATCH/);
    const alert = logs.lines().find((l) => l.partnerId === 'mitm' && l.errCode === 'ERR_HOST_KEY_MISMATCH');
    expect(alert).toMatchObject({
      alert: true,
      presented: services.sshd.hostKeyFingerprint,
      pinned: [WRONG_PIN],
    });
    expect((await readPartnerDir(fixture.partnerDirs.mitm!)).finals.size).toBe(0);
  });

  it('fails at once, without retrying, when authentication is refused', async () => {
    await putObjects(s3, fixture.bucket, [{ key: 'stranger/orders.csv', size: 100 }]);
    expect((await sweep('stranger')).code).toBe(1);
    const job = await onlyJobOf('stranger');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/ERR_SFTP_AUTH/);
  });

  it('applies onExisting: fail keeps, skip keeps, overwrite replaces the partner file only with a verified one', async () => {
    for (const id of ['failing', 'skipping', 'replacing']) {
      await writeFile(join(fixture.partnerDirs[id]!, 'orders.csv'), 'the partner already has this\n');
    }
    const [failSrc, , overwriteSrc] = await putObjects(s3, fixture.bucket, [
      { key: 'failing/orders.csv', size: 300 },
      { key: 'skipping/orders.csv', size: 300 },
      { key: 'replacing/orders.csv', size: 300 },
    ]);
    const failed = await sweep('failing');
    expect(failed.summary).toMatch(/failed 1/);
    expect((await onlyJobOf('failing')).failedReason).toMatch(/ERR_REMOTE_EXISTS/);
    const skipped = await sweep('skipping');
    expect(skipped.summary).toMatch(/^delivered 0, already delivered 0, skipped 1/);
    const replaced = await sweep('replacing');
    expect(replaced.summary).toMatch(/^delivered 1,/);

    const kept = 'the partner already has this\n';
    expect(await readFile(join(fixture.partnerDirs.failing!, 'orders.csv'), 'utf8')).toBe(kept);
    expect(await readFile(join(fixture.partnerDirs.skipping!, 'orders.csv'), 'utf8')).toBe(kept);
    const after = await readPartnerDir(fixture.partnerDirs.replacing!);
    expect(after.finals.get('orders.csv')?.sha256).toBe(overwriteSrc!.sha256);
    expect(after.temps).toEqual([]);
    expect(failSrc).toBeDefined();
  });

  it('publishes in place with publish: direct, with the configured mode and verified size', async () => {
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'direct/orders.csv', size: 70_000 }]);
    expect((await sweep('direct')).summary).toMatch(/^delivered 1,/);
    const dir = await readPartnerDir(fixture.partnerDirs.direct!);
    expect(dir.temps).toEqual([]);
    expect(dir.finals.get('orders.csv')).toMatchObject({ sha256: object!.sha256, mode: 0o600 });
  });

  it('fails an attempt on a blackholed link within the keepalive bound, then delivers once on retry', async () => {
    proxy.blackhole({ afterBytes: 200_000, connections: 1 });
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'flaky/big.bin', size: 4 * 1024 * 1024 }]);
    const { summary } = await sweep('flaky');
    expect(summary).toMatch(/^delivered 1,/);
    const job = await onlyJobOf('flaky');
    expect(job.attemptsMade).toBe(2);
    const failure = logs
      .lines()
      .find((l) => l.partnerId === 'flaky' && l.msg === 'delivery attempt failed; will retry');
    expect(['ERR_SFTP_CONNECTION_LOST', 'ERR_SFTP_TIMEOUT', 'ERR_TRANSFER_STALLED']).toContain(
      failure?.errCode,
    );
    const dir = await readPartnerDir(fixture.partnerDirs.flaky!);
    expect(dir.temps).toEqual([]);
    expect(dir.finals.get('big.bin')?.sha256).toBe(object!.sha256);
  });

  it('fails at once, without retrying, when the partner directory is not writable', async () => {
    await chmod(fixture.partnerDirs.readonly!, 0o555);
    await putObjects(s3, fixture.bucket, [{ key: 'readonly/orders.csv', size: 100 }]);
    expect((await sweep('readonly')).code).toBe(1);
    const job = await onlyJobOf('readonly');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/ERR_SFTP_PERMISSION/);
    expect((await readPartnerDir(fixture.partnerDirs.readonly!)).temps).toEqual([]);
  });

  it('uses a passphrase-protected key and keeps its passphrase out of logs, job data and Redis', async () => {
    const [object] = await putObjects(s3, fixture.bucket, [
      { key: 'canary/orders.csv', size: 100 },
      { key: 'wrongpass/orders.csv', size: 100 },
    ]);
    expect((await sweep('canary')).summary).toMatch(/^delivered 1,/);
    expect((await readPartnerDir(fixture.partnerDirs.canary!)).finals.get('orders.csv')?.sha256).toBe(
      object!.sha256,
    );
    expect((await sweep('wrongpass')).code).toBe(1);
    expect((await onlyJobOf('wrongpass')).failedReason).toMatch(/ERR_SFTP_AUTH/);

    const everything = logs.text() + (await dumpRedisAsText(redis));
    expect(everything).not.toContain(CANARY);
    expect(everything).not.toContain(WRONG_CANARY);
    expect(everything).not.toContain('PRIVATE KEY');
  });

  it('sends nothing twice after redis-server is killed and restarts empty (receipts are the witness)', async () => {
    const before = await readPartnerDir(fixture.partnerDirs.canary!);
    const runIdOf = async () => /run_id:(\w+)/.exec(await redis.info('server'))?.[1];
    const runBefore = await runIdOf();
    await services.redis.stop('SIGKILL');
    await services.redis.start();
    // A new server, started empty (Ferry may already be restoring its ledger from the receipts into it).
    expect(await runIdOf()).not.toBe(runBefore);
    const { code, summary } = await sweep('canary');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 0, already delivered 1, skipped 0, quarantined 0, failed 0/);
    expect(await readPartnerDir(fixture.partnerDirs.canary!)).toEqual(before);
  });
});
