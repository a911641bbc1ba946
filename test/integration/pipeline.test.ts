// The whole pipeline on real redis-server, OpenSSH sshd and s3rver: sweep → deliver → publish → receipt.
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeDeliveryId } from '../../src/core/delivery-id.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  dumpRedisAsText,
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sweepAndWait,
  waitFor,
  waitForJobState,
} from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';

const ADMIN_PASSWORD = 'test-admin-password-7f3a';

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let ferry: RunningFerry;
let redis: Redis;
const logs = captureLogger();

const sweep = (partnerId: string) => sweepAndWait(ferry.getConfig(), partnerId);

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = ADMIN_PASSWORD;
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'acme', prefix: 'acme/daily/', include: ['*.csv'] },
      { id: 'hostile', prefix: 'hostile/' },
      { id: 'ticking', prefix: 'ticking/', cron: '*/1 * * * * *', timezone: 'Asia/Tokyo' },
    ],
    worker: 'concurrency: 4, stallTimeoutSeconds: 10',
  });
  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
  ferry = await startFerry({
    config: await loadConfigOrThrow(fixture.dir),
    role: 'all',
    env: process.env,
    logger: logs.logger,
  });
});

afterAll(async () => {
  await ferry?.close();
  redis?.disconnect();
  s3?.destroy();
  await services?.stop();
});

describe('the delivery pipeline', () => {
  it('delivers every new eligible object once, byte-identical, with the configured mode and a receipt', async () => {
    const seeded = await putObjects(s3, fixture.bucket, [
      { key: 'acme/daily/orders_1.csv', size: 10_000 },
      { key: 'acme/daily/orders_2.csv', size: 3 * 1024 * 1024 + 17 },
      { key: 'acme/daily/orders_3.csv', size: 1 },
    ]);
    await putObjects(s3, fixture.bucket, [
      { key: 'acme/daily/empty.csv', body: Buffer.alloc(0) },
      { key: 'acme/daily/notes.txt', size: 10 },
      { key: 'acme/daily/nested/orders_9.csv', size: 10 },
    ]);

    const { code, summary } = await sweep('acme');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 3, already delivered 0, skipped 0, quarantined 0, failed 0/);

    const dir = await readPartnerDir(fixture.partnerDirs.acme!);
    expect(dir.temps).toEqual([]);
    expect([...dir.finals.keys()].sort()).toEqual(['orders_1.csv', 'orders_2.csv', 'orders_3.csv']);
    for (const o of seeded) {
      const name = o.key.split('/').pop()!;
      expect(dir.finals.get(name)?.sha256).toBe(o.sha256);
      expect(dir.finals.get(name)?.mode).toBe(0o640);
    }

    const etag = (await s3.send(new GetObjectCommand({ Bucket: fixture.bucket, Key: seeded[0]!.key }))).ETag!;
    const id = computeDeliveryId({ partnerId: 'acme', bucket: fixture.bucket, key: seeded[0]!.key, etag });
    const receipt = await s3.send(
      new GetObjectCommand({ Bucket: fixture.receiptsBucket, Key: `ferry/receipts/acme/${id}.json` }),
    );
    const parsed = JSON.parse(await receipt.Body!.transformToString()) as Record<string, unknown>;
    expect(parsed).toMatchObject({ deliveryId: id, sha256: seeded[0]!.sha256, bytes: 10_000 });

    const deliveryLines = logs
      .lines()
      .filter((l) => l.msg === 'delivery completed' && l.partnerId === 'acme');
    expect(deliveryLines).toHaveLength(3);
    for (const l of deliveryLines) {
      expect(l).toMatchObject({ partnerId: 'acme', trackingId: expect.stringMatching(/^dlv-acme-/) });
      expect(l).toHaveProperty('remotePath');
      expect(l).toHaveProperty('bytes');
      expect(l).toHaveProperty('durationMs');
    }
  });

  it('delivers nothing again when the same objects are swept again', async () => {
    const before = await readPartnerDir(fixture.partnerDirs.acme!);
    const { code, summary } = await sweep('acme');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 0, already delivered 3,/);
    const after = await readPartnerDir(fixture.partnerDirs.acme!);
    expect(after).toEqual(before);
  });

  it('enqueues each object once when two sweeps run at the same time', async () => {
    await putObjects(s3, fixture.bucket, [
      { key: 'acme/daily/concurrent_1.csv', size: 100 },
      { key: 'acme/daily/concurrent_2.csv', size: 100 },
    ]);
    const [a, b] = await Promise.all([sweep('acme'), sweep('acme')]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const completions = logs
      .lines()
      .filter((l) => l.msg === 'delivery completed' && String(l.s3Key).includes('concurrent_'));
    expect(completions).toHaveLength(2);
    const dir = await readPartnerDir(fixture.partnerDirs.acme!);
    expect(dir.finals.has('concurrent_1.csv') && dir.finals.has('concurrent_2.csv')).toBe(true);
  });

  it('uploads nothing when a completed job is retried from Bull Board', async () => {
    const etag = (
      await s3.send(new GetObjectCommand({ Bucket: fixture.bucket, Key: 'acme/daily/orders_1.csv' }))
    ).ETag!;
    const id = computeDeliveryId({
      partnerId: 'acme',
      bucket: fixture.bucket,
      key: 'acme/daily/orders_1.csv',
      etag,
    });
    const before = await readPartnerDir(fixture.partnerDirs.acme!);
    const auth = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
    const base = `http://127.0.0.1:${ferry.httpPort}/admin/api/queues/deliver/${id}`;
    const unauthorised = await fetch(`${base}/retry`, { method: 'PUT' });
    expect(unauthorised.status).toBe(401);
    const res = await fetch(`${base}/retry`, { method: 'PUT', headers: { authorization: auth } });
    expect(res.status).toBe(204);
    const queue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
    const job = await waitForJobState(queue, id, 'completed', (j) => j.attemptsStarted > 1);
    expect(job.returnvalue).toMatchObject({ outcome: 'already-delivered', bytes: 0 });
    await queue.close();
    expect(await readPartnerDir(fixture.partnerDirs.acme!)).toEqual(before);
  });

  it('quarantines hostile keys: nothing reaches the partner, the job fails visibly, sweeps do not retry it', async () => {
    await putObjects(s3, fixture.bucket, [
      { key: 'hostile/-rf.csv', size: 10 },
      { key: 'hostile/evil\u202Ecsv.exe', size: 10 },
      { key: 'hostile/fine.csv', size: 10 },
    ]);
    const first = await sweep('hostile');
    expect(first.summary).toMatch(/delivered 1, already delivered 0, skipped 0, quarantined 2, failed 0/);
    const dir = await readPartnerDir(fixture.partnerDirs.hostile!);
    expect([...dir.finals.keys()]).toEqual(['fine.csv']);
    expect(dir.temps).toEqual([]);
    const alerts = logs.lines().filter((l) => l.errCode === 'ERR_KEY_HOSTILE' && l.alert === true);
    expect(alerts).toHaveLength(2);
    const second = await sweep('hostile');
    expect(second.summary).toMatch(/^delivered 0, already delivered 1, skipped 0, quarantined 2, failed 0/);
  });

  it('skips an object deleted between the sweep and the delivery', async () => {
    const key = 'acme/daily/gone.csv';
    await putObjects(s3, fixture.bucket, [{ key, size: 10 }]);
    const etag = (await s3.send(new GetObjectCommand({ Bucket: fixture.bucket, Key: key }))).ETag!;
    await s3.send(new DeleteObjectCommand({ Bucket: fixture.bucket, Key: key }));
    const queue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
    const id = computeDeliveryId({ partnerId: 'acme', bucket: fixture.bucket, key, etag });
    await queue.add(
      'deliver',
      {
        v: 1,
        deliveryId: id,
        partnerId: 'acme',
        bucket: fixture.bucket,
        key,
        etag: etag.replace(/"/g, ''),
        size: 10,
      },
      { jobId: id },
    );
    const job = await waitForJobState(queue, id, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'skipped', reason: 'ERR_SOURCE_GONE' });
    await queue.close();
    expect((await readPartnerDir(fixture.partnerDirs.acme!)).finals.has('gone.csv')).toBe(false);
  });

  it("sweeps on the partner's cron schedule and delivers new objects without anyone asking", async () => {
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'ticking/scheduled.csv', size: 2048 }]);
    const delivered = await waitFor(async () => {
      const dir = await readPartnerDir(fixture.partnerDirs.ticking!);
      return dir.finals.get('scheduled.csv');
    }, 'the scheduled sweep to deliver');
    expect(delivered.sha256).toBe(object!.sha256);
    const queue = new Queue('sweep', { connection: redis, prefix: '{ferry}' });
    const scheduler = (await queue.getJobSchedulers(0, -1)).find((s) => s.key === 'sweep-ticking');
    expect(scheduler).toMatchObject({ pattern: '*/1 * * * * *', tz: 'Asia/Tokyo' });
    await queue.close();
  });

  it('answers /healthz and /readyz without credentials', async () => {
    const base = `http://127.0.0.1:${ferry.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('refuses a job for a key outside the partner prefix even when its id is consistent', async () => {
    const queue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
    const identity = { partnerId: 'acme', bucket: fixture.bucket, key: 'hostile/fine.csv', etag: 'abc' };
    const id = computeDeliveryId(identity);
    await queue.add('deliver', { v: 1, deliveryId: id, ...identity, size: 10 }, { jobId: id, attempts: 3 });
    const job = await waitForJobState(queue, id, 'failed');
    expect(job.failedReason).toMatch(/ERR_KEY_OUTSIDE_PREFIX/);
    expect(job.attemptsMade).toBe(1);
    await queue.close();
  });

  it('rejects forged job data whose id does not match the object', async () => {
    const queue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
    const forged = computeDeliveryId({
      partnerId: 'acme',
      bucket: fixture.bucket,
      key: 'acme/daily/x.csv',
      etag: 'abc',
    });
    await queue.add(
      'deliver',
      {
        v: 1,
        deliveryId: forged,
        partnerId: 'acme',
        bucket: fixture.bucket,
        key: 'hostile/fine.csv',
        etag: 'abc',
        size: 1,
      },
      { jobId: forged, attempts: 3 },
    );
    const job = await waitForJobState(queue, forged, 'failed');
    expect(job.failedReason).toMatch(/ERR_PAYLOAD_INVALID/);
    expect(job.attemptsMade).toBe(1);
    await queue.close();
  });

  it('restores "delivered" from the S3 receipts when Redis loses every key, sending nothing twice', async () => {
    const before = await readPartnerDir(fixture.partnerDirs.acme!);
    await redis.flushall();
    const { code, summary } = await sweep('acme');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 0, already delivered 5, skipped 0, quarantined 0, failed 0/);
    expect(await readPartnerDir(fixture.partnerDirs.acme!)).toEqual(before);
  });

  it('keeps secrets out of logs and Redis', async () => {
    const everything = logs.text() + (await dumpRedisAsText(redis));
    expect(everything).not.toContain(ADMIN_PASSWORD);
    expect(everything).not.toContain('PRIVATE KEY');
    await writeFile(join(services.sshd.dir, 'logs-for-debugging.ndjson'), logs.text());
  });
});
