// S3-side faults (reliability-anchors §5.2 table D) on real redis-server, sshd and s3rver. What s3rver
// cannot do (If-Match, 503s) comes from middleware on Ferry's own S3 client (test/support/s3-faults.ts);
// body faults come from a TCP fault proxy that only the faulted GetObject is routed through.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3-source.js';
import { computeDeliveryId, normalizeEtag, tempNameFor } from '../../src/core/delivery-id.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger, type Ledger } from '../../src/ledger/redis-ledger.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { JOB, QUEUE } from '../../src/queues/names.js';
import type { SweepResult } from '../../src/queues/payloads.js';
import { expectPartnerConverged } from '../support/convergence.js';
import { writeFerryConfig, type FerryFixture, type PartnerFixture } from '../support/ferry-fixture.js';
import { observePartnerDir, type PartnerEvent, type PartnerObserver } from '../support/partner-observer.js';
import {
  captureLogger,
  dumpRedisAsText,
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sha256,
  sweepAndWait,
  waitFor,
  waitForJobState,
} from '../support/pipeline.js';
import { installS3Faults, S3_ERRORS, type S3Call, type S3Faults } from '../support/s3-faults.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const PREFIX = '{ferry}';
const STALL_TIMEOUT_S = 2;
const PARTNERS: PartnerFixture[] = [
  { id: 'gone' },
  { id: 'changed' },
  { id: 'cut' },
  { id: 'stall' },
  { id: 'burst' },
  { id: 'outage', attempts: 8 },
  { id: 'settle', minAgeSeconds: 5 },
  { id: 'multipart' },
  { id: 'markers' },
  { id: 'many', include: ['*-keep.csv'] },
];

let services: Services;
let fixture: FerryFixture;
let seeder: S3Client;
let ferryS3: S3Client;
let faults: S3Faults;
let ferry: RunningFerry;
let redis: Redis;
let sweepQueue: Queue;
let deliverQueue: Queue;
let ledger: Ledger;
const proxies: TcpProxy[] = [];
const observers = new Map<string, PartnerObserver>();
const logs = captureLogger();

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  fixture = await writeFerryConfig(services, {
    partners: PARTNERS,
    adminUser: null,
    worker:
      'concurrency: 4, lockDurationSeconds: 3, stalledIntervalSeconds: 1, slotLeaseSeconds: 3, ' +
      `keepaliveIntervalSeconds: 1, stallTimeoutSeconds: ${STALL_TIMEOUT_S}`,
  });
  for (const p of PARTNERS) observers.set(p.id, await observePartnerDir(fixture.partnerDirs[p.id]!));
  seeder = s3ClientFor(services.s3);
  // Ferry's client is built by the production factory (SDK retries included); faults sit under it.
  ferryS3 = createS3Client({
    region: services.s3.region,
    endpoint: services.s3.endpoint,
    forcePathStyle: true,
  });
  faults = installS3Faults(ferryS3);
  redis = new Redis(services.redis.url);
  sweepQueue = new Queue(QUEUE.sweep, { connection: redis, prefix: PREFIX });
  deliverQueue = new Queue(QUEUE.deliver, { connection: redis, prefix: PREFIX });
  ledger = createRedisLedger(redis, createRedisKeys(PREFIX));
  ferry = await startFerry({
    config: await loadConfigOrThrow(fixture.dir),
    role: 'worker',
    env: process.env,
    logger: logs.logger,
    overrides: { s3Client: ferryS3 },
  });
});

afterAll(async () => {
  await ferry?.close();
  for (const o of observers.values()) await o.stop();
  for (const p of proxies) await p.close();
  await sweepQueue?.close();
  await deliverQueue?.close();
  redis?.disconnect();
  ferryS3?.destroy();
  seeder?.destroy();
  await services?.stop();
});

const sweep = (partnerId: string) => sweepAndWait(ferry.getConfig(), partnerId);

/** Runs one sweep of the partner and returns what it found (the figures `ferry sweep` prints). */
async function sweepResult(partnerId: string): Promise<SweepResult> {
  const job = await sweepQueue.add(
    JOB.sweep,
    { v: 1, partnerId, reason: 'manual' },
    { jobId: `sweep-test-${partnerId}-${randomBytes(4).toString('hex')}`, attempts: 1 },
  );
  const done = await waitForJobState(sweepQueue, job.id!, 'completed');
  return done.returnvalue as SweepResult;
}

async function etagOf(key: string): Promise<string> {
  const head = await seeder.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
  return normalizeEtag(head.ETag ?? '');
}

function idOf(partnerId: string, key: string, etag: string): string {
  return computeDeliveryId({ partnerId, bucket: fixture.bucket, key, etag });
}

const isGetOf = (key: string) => (c: S3Call) =>
  c.command === 'GetObjectCommand' && c.bucket === fixture.bucket && c.key === key;

function getCalls(key: string): S3Call[] {
  return faults.calls().filter(isGetOf(key));
}

/** Log lines of one delivery (its trackingId is the delivery id). */
function linesOf(deliveryId: string): Record<string, unknown>[] {
  return logs.lines().filter((l) => l.deliveryId === deliveryId);
}

/** Asserts lost = duplicates = partial-visible = orphan temps = 0 for the partner's directory. */
async function expectConverged(
  partnerId: string,
  keys: string[],
  settled?: Record<string, 'quarantined' | 'skipped' | 'failed'>,
): Promise<void> {
  const observer = observers.get(partnerId)!;
  await observer.sync();
  await expectPartnerConverged({ s3: seeder, fixture, partnerId, keys, events: observer.events(), settled });
}

/** A final name appears by rename: OpenSSH's plain SFTP rename is link + unlink (CREATE), posix-rename is MOVED_TO. */
const isPublish = (event: PartnerEvent['event']) => event === 'CREATE' || event === 'MOVED_TO';

async function eventsOf(partnerId: string) {
  const observer = observers.get(partnerId)!;
  await observer.sync();
  return observer.events();
}

describe('S3 faults between the listing and the read', () => {
  it('skips an object deleted between the sweep and its read, once, and later sweeps leave it alone', async () => {
    const key = 'gone/orders.csv';
    await putObjects(seeder, fixture.bucket, [{ key, size: 2048 }]);
    const id = idOf('gone', key, await etagOf(key));
    const deleteFirst = faults.add({
      match: isGetOf(key),
      act: async () => {
        await seeder.send(new DeleteObjectCommand({ Bucket: fixture.bucket, Key: key }));
        return 'pass' as const;
      },
      times: 1,
    });

    const first = await sweep('gone');

    expect(first).toEqual({
      code: 0,
      summary: 'delivered 0, already delivered 0, skipped 1, quarantined 0, failed 0',
    });
    expect(deleteFirst.hits).toBe(1);
    const job = await deliverQueue.getJob(id);
    expect(job?.returnvalue).toMatchObject({ outcome: 'skipped', reason: 'ERR_SOURCE_GONE', bytes: 0 });
    expect(job?.attemptsMade).toBe(1);
    expect(await ledger.get(id)).toMatchObject({ status: 'skipped', reason: 'ERR_SOURCE_GONE' });
    expect(linesOf(id).filter((l) => l.errCode === 'ERR_SOURCE_GONE')).toHaveLength(1);

    const later = await sweepResult('gone');
    expect(later).toMatchObject({ listed: 0, enqueued: 0, pending: [] });
    expect((await deliverQueue.getJob(id))?.attemptsStarted).toBe(job?.attemptsStarted);
    expect(getCalls(key)).toHaveLength(1);
    expect(await eventsOf('gone')).toEqual([]);
    await expectConverged('gone', [key], { [key]: 'skipped' });
  });

  it('delivers an object re-exported with the same bytes after its read found it gone', async () => {
    const key = 'gone/reexported.csv';
    const [seeded] = await putObjects(seeder, fixture.bucket, [{ key, size: 2048 }]);
    const id = idOf('gone', key, await etagOf(key));
    faults.add({
      match: isGetOf(key),
      act: async () => {
        await seeder.send(new DeleteObjectCommand({ Bucket: fixture.bucket, Key: key }));
        return 'pass' as const;
      },
      times: 1,
    });
    const first = await sweep('gone');
    expect(first.summary).toBe('delivered 0, already delivered 0, skipped 1, quarantined 0, failed 0');

    // The warehouse deletes and re-exports the same bytes: same key, same ETag, same delivery id.
    await putObjects(seeder, fixture.bucket, [{ key, body: seeded!.body }]);
    expect(idOf('gone', key, await etagOf(key))).toBe(id);
    const second = await sweep('gone');

    expect(second.summary).toBe('delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0');
    expect(await ledger.get(id)).toMatchObject({ status: 'delivered' });
    await expectConverged('gone', [key]);
  });

  it('never delivers the old version of an object overwritten between the sweep and its read, and delivers the new one once', async () => {
    const key = 'changed/orders.csv';
    const [v1] = await putObjects(seeder, fixture.bucket, [{ key, size: 4096 }]);
    const etag1 = await etagOf(key);
    const id1 = idOf('changed', key, etag1);
    const v2 = randomBytes(5000);
    // s3rver ignores If-Match: answer the pinned read the way S3 does once the object has changed.
    const overwriteFirst = faults.add({
      match: (c) => isGetOf(key)(c) && c.ifMatch === `"${etag1}"`,
      act: async () => {
        await seeder.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: key, Body: v2 }));
        return S3_ERRORS.preconditionFailed;
      },
    });

    const first = await sweep('changed');

    expect(first.summary).toBe('delivered 0, already delivered 0, skipped 1, quarantined 0, failed 0');
    expect(overwriteFirst.hits).toBe(1);
    expect((await deliverQueue.getJob(id1))?.returnvalue).toMatchObject({
      outcome: 'skipped',
      reason: 'ERR_SOURCE_CHANGED',
      bytes: 0,
    });
    expect(await ledger.get(id1)).toMatchObject({ status: 'skipped', reason: 'ERR_SOURCE_CHANGED' });
    // Nothing of the old version was written, not even a temp file.
    expect(await eventsOf('changed')).toEqual([]);

    const second = await sweep('changed');
    expect(second.summary).toBe('delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0');
    const third = await sweep('changed');
    expect(third.summary).toBe('delivered 0, already delivered 1, skipped 0, quarantined 0, failed 0');

    const etag2 = await etagOf(key);
    expect(await ledger.get(idOf('changed', key, etag2))).toMatchObject({ status: 'delivered' });
    expect(getCalls(key).map((c) => c.ifMatch)).toEqual([`"${etag1}"`, `"${etag2}"`]);
    const final = (await readPartnerDir(fixture.partnerDirs.changed!)).finals.get('orders.csv');
    expect(final?.sha256).toBe(sha256(v2));
    expect(final?.sha256).not.toBe(v1!.sha256);
    const events = await eventsOf('changed');
    expect(events.filter((e) => e.name === tempNameFor('orders.csv', id1))).toEqual([]);
    expect(events.filter((e) => e.name === 'orders.csv' && isPublish(e.event))).toHaveLength(1);
    await expectConverged('changed', [key]);
  });
});

describe('S3 body faults mid-read', () => {
  /** A fault proxy in front of s3rver that only GetObject of `key` goes through (a fresh port: no pooled socket). */
  async function routeThroughProxy(key: string): Promise<TcpProxy> {
    const proxy = await startTcpProxy(services.s3.port);
    proxies.push(proxy);
    faults.add({ match: isGetOf(key), act: () => ({ routeToPort: proxy.port }) });
    return proxy;
  }

  /** The first failed attempt of a delivery: its log line and how long after its GetObject it came. */
  function firstFailure(deliveryId: string, key: string) {
    const failed = linesOf(deliveryId).find((l) => l.msg === 'delivery attempt failed; will retry');
    const started = getCalls(key)[0]?.atMs ?? Number.NaN;
    return { line: failed, afterMs: Date.parse(String(failed?.time)) - started };
  }

  it('fails fast when the body connection is reset mid-read, publishes no short file, and delivers once on retry', async () => {
    const key = 'cut/orders.csv';
    await putObjects(seeder, fixture.bucket, [{ key, size: 1024 * 1024 }]);
    const id = idOf('cut', key, await etagOf(key));
    const proxy = await routeThroughProxy(key);
    proxy.setFault({ kind: 'reset', afterBytes: 300_000, direction: 'down' }, { connections: 1 });

    const { code, summary } = await sweep('cut');

    expect(code).toBe(0);
    expect(summary).toBe('delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0');
    expect(proxy.accepted).toBe(2);
    const { line, afterMs } = firstFailure(id, key);
    // The S3 side broke, and the log says so (not the SFTP link the body was piped into).
    expect(line).toMatchObject({ errCode: 'ERR_S3_UNAVAILABLE', source: 's3', willRetry: true, attempt: 1 });
    // Pass figure: fails ≤ 2 s; asserted with a 3× margin for a loaded CI machine.
    expect(afterMs).toBeLessThanOrEqual(6_000);
    expect(linesOf(id).find((l) => l.msg === 'delivery completed')).toMatchObject({ attempt: 2 });
    const events = await eventsOf('cut');
    const temp = tempNameFor('orders.csv', id);
    // Attempt 1 wrote part of the temp file and removed it; only attempt 2's verified file was published.
    const tempCreates = events.flatMap((e, i) => (e.name === temp && e.event === 'CREATE' ? [i] : []));
    const publishes = events.flatMap((e, i) => (e.name === 'orders.csv' && isPublish(e.event) ? [i] : []));
    expect(tempCreates).toHaveLength(2);
    expect(publishes).toHaveLength(1);
    expect(publishes[0]).toBeGreaterThan(tempCreates[1]!);
    await expectConverged('cut', [key]);
  });

  it('fails a stalled body within the stall watchdog, never hangs, and delivers once on retry', async () => {
    const key = 'stall/orders.csv';
    await putObjects(seeder, fixture.bucket, [{ key, size: 1024 * 1024 }]);
    const id = idOf('stall', key, await etagOf(key));
    const proxy = await routeThroughProxy(key);
    proxy.setFault({ kind: 'blackhole', afterBytes: 300_000, direction: 'down' }, { connections: 1 });

    const { code, summary } = await sweep('stall');

    expect(code).toBe(0);
    expect(summary).toBe('delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0');
    const { line, afterMs } = firstFailure(id, key);
    expect(line).toMatchObject({ errCode: 'ERR_TRANSFER_STALLED', willRetry: true, attempt: 1 });
    // Pass figure: fails within the stall watchdog; asserted with a 3× margin.
    expect(afterMs).toBeLessThanOrEqual(3 * STALL_TIMEOUT_S * 1000);
    expect(linesOf(id).find((l) => l.msg === 'delivery completed')).toMatchObject({ attempt: 2 });
    const events = await eventsOf('stall');
    expect(events.filter((e) => e.name === 'orders.csv' && isPublish(e.event))).toHaveLength(1);
    await expectConverged('stall', [key]);
  });
});

describe('S3 throttling', () => {
  it('absorbs a burst of 503 SlowDown in the SDK retries: delivered on the first job attempt', async () => {
    const key = 'burst/orders.csv';
    await putObjects(seeder, fixture.bucket, [{ key, size: 4096 }]);
    const id = idOf('burst', key, await etagOf(key));
    const slowDown = faults.add({ match: isGetOf(key), act: () => S3_ERRORS.slowDown, times: 2 });

    const { summary } = await sweep('burst');

    expect(summary).toBe('delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0');
    expect(slowDown.hits).toBe(2);
    expect(getCalls(key)).toHaveLength(3);
    expect((await deliverQueue.getJob(id))?.attemptsMade).toBe(1);
    expect(linesOf(id).filter((l) => l.msg === 'delivery attempt failed; will retry')).toEqual([]);
    await expectConverged('burst', [key]);
  });

  it('backs off at job level through a persistent 503, then delivers once it ends', async () => {
    const key = 'outage/orders.csv';
    await putObjects(seeder, fixture.bucket, [{ key, size: 4096 }]);
    const id = idOf('outage', key, await etagOf(key));
    const outage = faults.add({ match: isGetOf(key), act: () => S3_ERRORS.slowDown });

    const swept = sweep('outage');
    await waitFor(
      async () => ((await deliverQueue.getJob(id))?.attemptsMade ?? 0) >= 2,
      'two failed job attempts',
    );
    outage.remove();
    const { summary } = await swept;

    expect(summary).toBe('delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0');
    const failures = linesOf(id).filter((l) => l.msg === 'delivery attempt failed; will retry');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const f of failures) expect(f.errCode).toBe('ERR_S3_UNAVAILABLE');
    // Each failed job attempt spent the SDK's own retries first (maxAttempts 3).
    expect(outage.hits).toBeGreaterThanOrEqual(failures.length * 2);
    expect(linesOf(id).find((l) => l.msg === 'delivery completed')?.attempt).toBeGreaterThanOrEqual(3);
    await expectConverged('outage', [key]);
  });
});

describe('S3 listings', () => {
  it('lists 2,500 keys across pages exactly once each', async () => {
    const keys = Array.from(
      { length: 2_500 },
      (_, i) => `many/${String(i).padStart(4, '0')}-${i % 100 === 0 ? 'keep' : 'skip'}.csv`,
    );
    const kept = keys.filter((k) => k.endsWith('-keep.csv'));
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let key = keys[next++]; key !== undefined; key = keys[next++]) {
          await seeder.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: key, Body: key }));
        }
      }),
    );
    const listCalls = () => faults.calls().filter((c) => c.command === 'ListObjectsV2Command').length;
    const before = listCalls();

    const first = await sweepResult('many');

    expect(listCalls() - before).toBe(3); // pages of 1,000
    expect(first).toMatchObject({ listed: 2_500, eligible: 25, enqueued: 25 });
    expect(first.skipped).toEqual({ 'not-included': 2_475 });
    expect(new Set(first.pending).size).toBe(25);
    expect(new Set(first.pending)).toEqual(
      new Set(await Promise.all(kept.map(async (k) => idOf('many', k, await etagOf(k))))),
    );
    await waitFor(async () => {
      const statuses = await ledger.getStatuses(first.pending);
      return first.pending.every((id) => statuses.get(id) === 'delivered');
    }, 'the 25 included keys to be delivered');

    const second = await sweepResult('many');
    expect(second).toMatchObject({ listed: 2_500, enqueued: 0, pending: [] });
    expect(second.settled.delivered).toBe(25);
    await expectConverged('many', kept);
  });

  it('leaves an object younger than minAgeSeconds for a later sweep, then delivers it once', async () => {
    const key = 'settle/orders.csv';
    await putObjects(seeder, fixture.bucket, [{ key, size: 2048 }]);

    const first = await sweepResult('settle');
    expect(first).toMatchObject({ listed: 1, eligible: 0, pending: [] });
    expect(first.skipped).toEqual({ settling: 1 });

    const later = await waitFor(
      async () => {
        const result = await sweepResult('settle');
        return result.pending.length > 0 ? result : undefined;
      },
      'a sweep after the settle window',
      30_000,
      500,
    );
    const id = idOf('settle', key, await etagOf(key));
    expect(later.pending).toEqual([id]);
    await waitForJobState(deliverQueue, id, 'completed');
    expect(await ledger.get(id)).toMatchObject({ status: 'delivered' });
    expect((await sweepResult('settle')).settled.delivered).toBe(1);
    await expectConverged('settle', [key]);
  });

  it('does not see a multipart export until it is completed, then delivers it once', async () => {
    const key = 'multipart/orders.csv';
    const body = randomBytes(10_000);
    const upload = await seeder.send(new CreateMultipartUploadCommand({ Bucket: fixture.bucket, Key: key }));
    const part = await seeder.send(
      new UploadPartCommand({
        Bucket: fixture.bucket,
        Key: key,
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: body,
      }),
    );

    const during = await sweepResult('multipart');
    expect(during).toMatchObject({ listed: 0, pending: [] });

    await seeder.send(
      new CompleteMultipartUploadCommand({
        Bucket: fixture.bucket,
        Key: key,
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    const { summary } = await sweep('multipart');
    expect(summary).toBe('delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0');
    expect((await readPartnerDir(fixture.partnerDirs.multipart!)).finals.get('orders.csv')?.sha256).toBe(
      sha256(body),
    );
    await expectConverged('multipart', [key]);
  });

  it('skips zero-byte objects and folder keys with a reason and never delivers them', async () => {
    await putObjects(seeder, fixture.bucket, [
      { key: 'markers/empty.csv', body: Buffer.alloc(0) },
      { key: 'markers/sub/', body: Buffer.alloc(0) },
      { key: 'markers/with-body/', body: Buffer.from('abc') },
    ]);

    for (let round = 0; round < 2; round += 1) {
      const result = await sweepResult('markers');
      expect(result).toMatchObject({ listed: 3, eligible: 0, enqueued: 0, pending: [] });
      expect(result.skipped).toEqual({ 'zero-byte': 1, 'directory-marker': 2 });
    }
    expect(await eventsOf('markers')).toEqual([]);
    expect(
      faults.calls().filter((c) => c.command === 'GetObjectCommand' && c.key?.startsWith('markers/')),
    ).toEqual([]);
  });
});

describe('after the S3 faults', () => {
  it('kept secrets out of the logs and Redis, and raised no alert', async () => {
    const everything = logs.text() + (await dumpRedisAsText(redis));
    expect(everything).not.toContain('PRIVATE KEY');
    expect(everything).not.toContain(services.s3.secretAccessKey);
    // Every fault above is transient or a skip: none may fail a delivery for good.
    expect(logs.lines().filter((l) => l.alert === true && l.errCode !== undefined)).toEqual([]);
  });
});
