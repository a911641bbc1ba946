// Reliability matrix §5.2 C10: the partner's disk fills up mid-transfer. The partner directory is a
// 5 MiB tmpfs and the object is 8 MiB: the attempt must fail (never publish a short file), remove its
// temp file, and deliver once the disk has room again. A negative control shows that a plain ssh2
// write stream reports success on the same full disk, so the size check is what catches it.
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFerry } from '../../src/main.js';
import { expectUniversalFigures, measureUniversalFigures } from '../support/convergence.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { observePartnerDir, type PartnerObserver } from '../support/partner-observer.js';
import {
  captureLogger,
  dumpRedisAsText,
  putObjects,
  startTestFerry,
  sweepAndWait,
  type TestFerry,
  waitFor,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';

const run = promisify(execFile);
const OBJECT_SIZE = 8 * 1024 * 1024;

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let ferry: RunningFerry;
let redis: Redis;
let deliverQueue: Queue;
let testFerry: TestFerry | undefined;
let partnerDir: string;
let observer: PartnerObserver | undefined;
/** Why the tmpfs could not be mounted (only a permission refusal is tolerated), or undefined when mounted. */
let mountRefused: string | undefined;
let mounted = false;
const logs = captureLogger();
const ADMIN_CANARY = `canary-admin-${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = ADMIN_CANARY;
  fixture = await writeFerryConfig(services, {
    partners: [{ id: 'full', attempts: 8, backoffSeconds: 2 }],
    worker:
      'concurrency: 2, lockDurationSeconds: 10, stalledIntervalSeconds: 5, keepaliveIntervalSeconds: 1, keepaliveCountMax: 2, stallTimeoutSeconds: 10, connectTimeoutSeconds: 5',
  });
  partnerDir = fixture.partnerDirs.full!;
  const owner = await stat(partnerDir);
  try {
    await run('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=5m,mode=0755,uid=${owner.uid},gid=${owner.gid}`,
      'tmpfs',
      partnerDir,
    ]);
    mounted = true;
  } catch (err) {
    const text = `${(err as { stderr?: string }).stderr ?? ''} ${(err as Error).message}`;
    // mount(8) reports EPERM as text only; anything else is a harness bug and must fail loudly.
    if (!/permission denied|must be superuser|not permitted|only root/i.test(text)) throw err;
    mountRefused = text.trim();
  }
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  ({ s3, redis, deliverQueue, ferry } = testFerry);
});

afterAll(async () => {
  await observer?.stop();
  await testFerry?.close();
  // A lazy unmount if a session still holds a file open, so the run dir can always be removed.
  if (mounted) await run('umount', [partnerDir]).catch(() => run('umount', ['-l', partnerDir]));
  await services?.stop();
});

describe('partner disk full', () => {
  it('fails the attempt, removes the temp file, publishes nothing short, and delivers once the disk has room', async () => {
    if (mountRefused !== undefined) {
      // Visible, not skipped: this machine does not allow the tmpfs the row needs.
      console.warn(`tmpfs not permitted: the disk-full row was not exercised (${mountRefused})`);
      expect(mountRefused).toMatch(/permission denied|must be superuser|not permitted|only root/i);
      return;
    }

    // Negative control: ssh2's write stream on the same full disk ends with 'close' and no 'error'.
    const naive = await writeWithSsh2Stream(join(partnerDir, 'naive.bin'), randomBytes(OBJECT_SIZE));
    expect(naive).toMatchObject({ closed: true, error: undefined });
    expect(naive.remoteSize).toBeLessThan(OBJECT_SIZE);
    await rm(join(partnerDir, 'naive.bin'));

    observer = await observePartnerDir(partnerDir);
    await putObjects(s3, fixture.bucket, [{ key: 'full/orders.csv', size: OBJECT_SIZE }]);
    const swept = sweepAndWait(ferry.getConfig(), 'full', 50);
    const failure = await waitFor(
      () =>
        logs.lines().find((l) => l.partnerId === 'full' && l.msg === 'delivery attempt failed; will retry'),
      'the first attempt to fail on the full disk',
      40_000,
    );
    expect(['ERR_SFTP_FAILURE', 'ERR_SIZE_MISMATCH']).toContain(failure.errCode);

    // Room again (the partner cleaned up): later attempts succeed.
    await run('mount', ['-o', 'remount,size=20m', partnerDir]);
    const { summary } = await swept;
    expect(summary).toMatch(/^delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0/);
    const jobs = await deliverQueue.getJobs(['completed', 'failed']);
    const job = jobs.find((j: Job) => (j.data as { partnerId: string }).partnerId === 'full');
    expect(job?.attemptsMade).toBeGreaterThanOrEqual(2);

    await observer.stop();
    const events = observer.events();
    // The failed attempt: temp created, then removed, and the final name untouched until then.
    const firstDelete = events.findIndex((e) => e.event === 'DELETE' && e.name.endsWith('.part'));
    expect(firstDelete).toBeGreaterThan(0);
    expect(events[0]).toMatchObject({ event: 'CREATE', name: events[firstDelete]!.name });
    expect(events.slice(0, firstDelete).filter((e) => e.name === 'orders.csv')).toEqual([]);
    expectUniversalFigures(
      await measureUniversalFigures({
        s3,
        bucket: fixture.bucket,
        keys: ['full/orders.csv'],
        partnerDir,
        events,
        publish: 'rename',
        prefix: 'full/',
      }),
    );
  });

  it('keeps secrets out of the logs and Redis', async () => {
    const keyBody = (await readFile(services.sshd.privateKeyPath, 'utf8'))
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('-----'));
    const everything = logs.text() + (await dumpRedisAsText(redis));
    for (const secret of [ADMIN_CANARY, 'PRIVATE KEY', ...keyBody]) {
      expect(everything).not.toContain(secret);
    }
  });
});

/** Pipes `data` into a plain ssh2 SFTP write stream, as a naive client would, and reports what it saw. */
async function writeWithSsh2Stream(
  path: string,
  data: Buffer,
): Promise<{ closed: boolean; error: Error | undefined; remoteSize: number }> {
  const { sshd } = services;
  const privateKey = await readFile(sshd.privateKeyPath);
  const client = new Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey });
    });
    const result = await new Promise<{ closed: boolean; error: Error | undefined }>((resolve, reject) => {
      client.sftp((err, sftp) => {
        if (err) {
          reject(err);
          return;
        }
        let error: Error | undefined;
        const stream = sftp.createWriteStream(path, { mode: 0o640 });
        stream.on('error', (e: Error) => {
          error = e;
        });
        stream.on('close', () => resolve({ closed: true, error }));
        Readable.from([data]).pipe(stream);
      });
    });
    return { ...result, remoteSize: (await stat(path)).size };
  } finally {
    client.end();
  }
}
