// after.source on the real pipeline (redis-server, sshd, s3rver): `tag` adds ferry-delivered-<id> and
// keeps the object's other tags; `move` moves an object fed to two partners only once both have it,
// and the moved object is not delivered again. A tag or move that fails (S3 faults injected on Ferry's
// own client) is recorded as pending in Redis, alerted to a webhook, and retried by the next sweep:
// least recently tried first, within a count and a time bound, and cleared once the config no longer
// asks for the step.
import {
  DeleteObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectTaggingCommand,
} from '@aws-sdk/client-s3';
import { appendFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { retryPendingHousekeeping } from '../../jobs/source-housekeeping.js';
import { createS3Source } from '../../src/adapters/s3-source.js';
import { computeDeliveryId } from '../../src/core/delivery-id.js';
import {
  createHousekeepingPending,
  type HousekeepingFailure,
} from '../../src/ledger/housekeeping-pending.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { jobsOfPartner, sweepAndWait, waitFor } from '../support/pipeline.js';
import { installS3Faults, type S3Faults } from '../support/s3-faults.js';
import { s3ClientFor } from '../support/services.js';

let faults: S3Faults;
let ferryS3: ReturnType<typeof s3ClientFor>;
let receiver: { alerts: AlertBody[]; server: Server };
const keys = createRedisKeys('{ferry}');
const ACCESS_DENIED = { status: 403, code: 'AccessDenied', message: 'Access Denied' };

interface AlertBody {
  kind: string;
  partnerId: string | null;
  errCode: string | null;
  deliveryId: string | null;
  s3Key: string | null;
  attempts: number | null;
}

const pipeline = usePartnerPipeline({
  partners: [
    { id: 'tagger', extraYaml: 'after: { source: tag }' },
    { id: 'mover', prefix: 'shared/', extraYaml: "after: { source: { move: 'archive/{key}' } }" },
    { id: 'peer', prefix: 'shared/' },
    { id: 'flaky', extraYaml: 'after: { source: tag }' },
    { id: 'blocked', extraYaml: "after: { source: { move: 'done/{key}' } }" },
    // No after.source (any more): what it has pending has nothing left to redo.
    { id: 'plain' },
    { id: 'rr', extraYaml: 'after: { source: tag }' },
  ],
  beforeStart: async ({ services, fixture }) => {
    receiver = await startReceiver();
    process.env.HK_ALERT_WEBHOOK = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hook`;
    await appendFile(
      join(fixture.dir, 'ferry.yaml'),
      'alerts: { webhookEnv: HK_ALERT_WEBHOOK, dedupMinutes: 0 }\n',
    );
    ferryS3 = s3ClientFor(services.s3);
    faults = installS3Faults(ferryS3);
    return { s3Client: ferryS3 };
  },
  afterStop: async () => {
    receiver?.server.closeAllConnections();
    await new Promise<void>((resolve) => (receiver ? receiver.server.close(() => resolve()) : resolve()));
  },
});
// Final names only: these tests check the source side, not the partner's temp files.
const finals = (partnerId: string) => pipeline.finals(partnerId, { allowTemps: true });

/** A webhook receiver on loopback that keeps every alert body. */
async function startReceiver(): Promise<{ alerts: AlertBody[]; server: Server }> {
  const alerts: AlertBody[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      alerts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AlertBody);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { alerts, server };
}

/** The partner's pending housekeeping entries, as Redis holds them. */
async function pendingOf(partnerId: string): Promise<Record<string, string>[]> {
  const { redis } = pipeline.testFerry;
  const ids = await redis.zrange(keys.housekeepingPending(partnerId), '0', '-1');
  return Promise.all(ids.map((id) => redis.hgetall(keys.housekeepingEntry(id))));
}

/** A failure as the deliver path records it, for `partnerId`'s `key`. */
function failureOf(partnerId: string, key: string, etag = 'e'): HousekeepingFailure {
  const bucket = pipeline.fixture.bucket;
  return {
    deliveryId: computeDeliveryId({ partnerId, bucket, key, etag }),
    partnerId,
    bucket,
    key,
    etag,
    size: 1,
    mark: `mark-of-${key}`,
    lastErrCode: 'ERR_S3_ACCESS_DENIED',
    step: 'tag',
  };
}

/** The S3 calls Ferry's client made on `key` since call number `from`. */
const callsOn = (key: string, from: number) =>
  faults
    .calls()
    .slice(from)
    .filter((c) => c.key === key)
    .map((c) => c.command);

/** Fails the first call of `command` on `key` with AccessDenied. */
function failOnce(command: string, key: string) {
  return faults.add({
    match: (c) => c.command === command && c.key === key,
    act: () => ACCESS_DENIED,
    times: 1,
  });
}

async function tagsOf(key: string): Promise<Record<string, string | undefined>> {
  const { TagSet } = await pipeline.testFerry.s3.send(
    new GetObjectTaggingCommand({ Bucket: pipeline.fixture.bucket, Key: key }),
  );
  const tags: Record<string, string | undefined> = {};
  for (const t of TagSet ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value;
  return tags;
}

async function exists(key: string): Promise<boolean> {
  try {
    await pipeline.testFerry.s3.send(new HeadObjectCommand({ Bucket: pipeline.fixture.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

describe('after.source', () => {
  it('tag: adds ferry-delivered-<partner> after the delivery and keeps the existing tags', async () => {
    await pipeline.put([{ key: 'tagger/a.csv', size: 100 }]);
    await pipeline.testFerry.s3.send(
      new PutObjectTaggingCommand({
        Bucket: pipeline.fixture.bucket,
        Key: 'tagger/a.csv',
        Tagging: { TagSet: [{ Key: 'owner', Value: 'warehouse' }] },
      }),
    );
    expect((await pipeline.sweep('tagger')).code).toBe(0);
    expect(await finals('tagger')).toEqual(['a.csv']);
    const { TagSet } = await pipeline.testFerry.s3.send(
      new GetObjectTaggingCommand({ Bucket: pipeline.fixture.bucket, Key: 'tagger/a.csv' }),
    );
    const tags = Object.fromEntries((TagSet ?? []).map((t) => [t.Key, t.Value]));
    expect(tags.owner).toBe('warehouse');
    expect(tags['ferry-delivered-tagger']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(pipeline.logs.lines().filter((l) => l.errCode === 'ERR_SOURCE_HOUSEKEEPING')).toEqual([]);
  });

  it('move: moves an object fed to two partners only after both delivered it, and never resends it', async () => {
    const config = pipeline.config();
    await pipeline.put([{ key: 'shared/x.csv', size: 200 }]);

    expect((await sweepAndWait(config, 'mover')).code).toBe(0);
    expect(await finals('mover')).toEqual(['x.csv']);
    // peer has not received it yet: the object stays.
    expect(await exists('shared/x.csv')).toBe(true);
    expect(await exists('archive/shared/x.csv')).toBe(false);

    expect((await sweepAndWait(config, 'peer')).code).toBe(0);
    expect(await finals('peer')).toEqual(['x.csv']);
    // peer finished last, so its run moved it.
    expect(await exists('shared/x.csv')).toBe(false);
    expect(await exists('archive/shared/x.csv')).toBe(true);
    expect(
      pipeline.logs.lines().some((l) => l.partnerId === 'peer' && l.movedTo === 'archive/shared/x.csv'),
    ).toBe(true);

    const jobsBefore = (await jobsOfPartner(pipeline.testFerry.deliverQueue, 'mover')).length;
    for (const id of ['mover', 'peer']) expect((await sweepAndWait(config, id)).code).toBe(0);
    expect((await jobsOfPartner(pipeline.testFerry.deliverQueue, 'mover')).length).toBe(jobsBefore);
    expect(await finals('mover')).toEqual(['x.csv']);
    expect(await finals('peer')).toEqual(['x.csv']);
    expect(pipeline.logs.lines().filter((l) => l.errCode === 'ERR_SOURCE_HOUSEKEEPING')).toEqual([]);
  });
});

describe('after.source failures', () => {
  it('a failed tag is recorded as pending and alerted; the next sweep tags the object and clears it', async () => {
    const config = pipeline.config();
    await pipeline.put([{ key: 'flaky/a.csv', size: 100 }]);
    const fault = failOnce('PutObjectTaggingCommand', 'flaky/a.csv');

    expect((await sweepAndWait(config, 'flaky')).code).toBe(0);
    expect(fault.hits).toBe(1);
    expect(await finals('flaky')).toEqual(['a.csv']); // the delivery stands
    expect((await tagsOf('flaky/a.csv'))['ferry-delivered-flaky']).toBeUndefined();
    const [entry, ...more] = await pendingOf('flaky');
    expect(more).toEqual([]);
    expect(entry).toMatchObject({
      partnerId: 'flaky',
      bucket: pipeline.fixture.bucket,
      key: 'flaky/a.csv',
      size: '100',
      step: 'tag',
      attempts: '1',
      lastErrCode: 'ERR_S3_ACCESS_DENIED',
    });
    expect(entry!.mark).toMatch(/^\d{4}-\d\d-\d\dT/);

    const alert = await waitFor(
      () => receiver.alerts.find((a) => a.kind === 'source-housekeeping-failed' && a.partnerId === 'flaky'),
      'the source-housekeeping-failed alert',
    );
    expect(alert).toMatchObject({
      errCode: 'ERR_S3_ACCESS_DENIED',
      deliveryId: entry!.deliveryId,
      s3Key: 'flaky/a.csv',
      attempts: 1,
    });

    expect((await sweepAndWait(config, 'flaky')).code).toBe(0);
    expect(await pendingOf('flaky')).toEqual([]);
    expect(await pipeline.testFerry.redis.exists(keys.housekeepingEntry(entry!.deliveryId!))).toBe(0);
    // The tag carries the delivery time recorded at the first run, not the retry's.
    expect((await tagsOf('flaky/a.csv'))['ferry-delivered-flaky']).toBe(entry!.mark);
    expect(
      pipeline.logs
        .lines()
        .some((l) => l.partnerId === 'flaky' && l.msg === 'pending source housekeeping completed'),
    ).toBe(true);
  });

  it('a blocked move is retried by the next sweep, and the object is not delivered again', async () => {
    const config = pipeline.config();
    await pipeline.put([{ key: 'blocked/x.csv', size: 300 }]);
    const fault = failOnce('CopyObjectCommand', 'done/blocked/x.csv');

    expect((await sweepAndWait(config, 'blocked')).code).toBe(0);
    expect(fault.hits).toBe(1);
    expect(await finals('blocked')).toEqual(['x.csv']);
    expect(await exists('blocked/x.csv')).toBe(true);
    expect(await pendingOf('blocked')).toEqual([
      expect.objectContaining({ step: 'move', lastErrCode: 'ERR_S3_ACCESS_DENIED', attempts: '1' }),
    ]);

    const jobsBefore = (await jobsOfPartner(pipeline.testFerry.deliverQueue, 'blocked')).length;
    expect((await sweepAndWait(config, 'blocked')).code).toBe(0);
    expect(await exists('blocked/x.csv')).toBe(false);
    expect(await exists('done/blocked/x.csv')).toBe(true);
    expect(await pendingOf('blocked')).toEqual([]);
    expect((await jobsOfPartner(pipeline.testFerry.deliverQueue, 'blocked')).length).toBe(jobsBefore);
    expect(await finals('blocked')).toEqual(['x.csv']);
  });

  it('drops a pending entry whose object is gone, with an info log', async () => {
    const config = pipeline.config();
    await pipeline.put([{ key: 'flaky/gone.csv', size: 120 }]);
    failOnce('PutObjectTaggingCommand', 'flaky/gone.csv');
    expect((await sweepAndWait(config, 'flaky')).code).toBe(0);
    const [entry] = await pendingOf('flaky');
    expect(entry?.key).toBe('flaky/gone.csv');

    await pipeline.testFerry.s3.send(
      new DeleteObjectCommand({ Bucket: pipeline.fixture.bucket, Key: 'flaky/gone.csv' }),
    );
    expect((await sweepAndWait(config, 'flaky')).code).toBe(0);
    expect(await pendingOf('flaky')).toEqual([]);
    const dropped = pipeline.logs
      .lines()
      .find((l) => l.deliveryId === entry!.deliveryId && l.reason === 'ERR_SOURCE_GONE');
    expect(dropped).toMatchObject({ msg: 'source object gone or replaced: pending housekeeping dropped' });
  });
});

describe('the sweep retry pass', () => {
  it('retries at most 100 entries per sweep, oldest first', async () => {
    const store = createHousekeepingPending(pipeline.testFerry.redis, keys);
    // 101 entries whose objects never existed: each retry drops its entry (ERR_SOURCE_GONE).
    for (let n = 0; n < 101; n++) {
      await store.recordFailure(
        {
          deliveryId: `dlv-flaky-${n.toString(16).padStart(32, '0')}`,
          partnerId: 'flaky',
          bucket: pipeline.fixture.bucket,
          key: `flaky/never-${n}.csv`,
          etag: 'e',
          size: 1,
          mark: 'm',
          lastErrCode: 'ERR_S3_ACCESS_DENIED',
          step: 'tag',
        },
        new Date(Date.UTC(2026, 0, 1, 0, 0, n)),
      );
    }
    const config = pipeline.config();
    expect((await sweepAndWait(config, 'flaky')).code).toBe(0);
    expect((await pendingOf('flaky')).map((e) => e.key)).toEqual(['flaky/never-100.csv']);
    expect((await sweepAndWait(config, 'flaky')).code).toBe(0);
    expect(await pendingOf('flaky')).toEqual([]);
  });

  it('clears an entry once after.source no longer asks for the step, without reading the object', async () => {
    const config = pipeline.config();
    await pipeline.put([{ key: 'plain/old.csv', size: 10 }]);
    expect((await sweepAndWait(config, 'plain')).code).toBe(0);
    expect(await finals('plain')).toEqual(['old.csv']);
    // Left from when `plain` still tagged: its object is there, unchanged.
    const head = await createS3Source(ferryS3).head(pipeline.fixture.bucket, 'plain/old.csv');
    const entry = failureOf('plain', 'plain/old.csv', head!.etag);
    expect(entry.deliveryId).toBe(await pipeline.deliveryIdOf('plain', 'plain/old.csv'));
    const store = createHousekeepingPending(pipeline.testFerry.redis, keys);
    await store.recordFailure(entry, new Date(Date.UTC(2026, 0, 1)));

    const from = faults.calls().length;
    expect((await sweepAndWait(config, 'plain')).code).toBe(0);
    expect(await pendingOf('plain')).toEqual([]);
    expect(callsOn('plain/old.csv', from)).toEqual([]);
    const cleared = pipeline.logs.lines().filter((l) => l.deliveryId === entry.deliveryId);
    expect(cleared.map((l) => l.msg)).toContain(
      'after.source no longer asks for this step: pending housekeeping cleared',
    );

    // Nothing is left to retry: the next sweep has no retry pass to log.
    expect((await sweepAndWait(config, 'plain')).code).toBe(0);
    const passes = pipeline.logs
      .lines()
      .filter((l) => l.partnerId === 'plain' && l.msg === 'pending source housekeeping retried');
    expect(passes).toEqual([expect.objectContaining({ retried: 1, done: 1, remaining: 0 })]);
  });

  it('sends an entry that failed again to the back, so a failure that never heals starves no other', async () => {
    await pipeline.put([
      { key: 'rr/stuck.csv', size: 10 },
      { key: 'rr/next.csv', size: 10 },
    ]);
    const source = createS3Source(ferryS3);
    const store = createHousekeepingPending(pipeline.testFerry.redis, keys);
    for (const [n, key] of ['rr/stuck.csv', 'rr/next.csv'].entries()) {
      const head = await source.head(pipeline.fixture.bucket, key);
      await store.recordFailure(failureOf('rr', key, head!.etag), new Date(Date.UTC(2026, 0, 1 + n)));
    }
    const denied = faults.add({
      match: (c) => c.command === 'PutObjectTaggingCommand' && c.key === 'rr/stuck.csv',
      act: () => ACCESS_DENIED,
    });
    const deps = {
      getConfig: pipeline.config,
      source,
      ledger: pipeline.ledger,
      housekeepingPending: store,
    };
    const rr = pipeline.config().partners.get('rr')!;
    const log = pipeline.logs.logger.child({ partnerId: 'rr' });
    const from = faults.calls().length;
    try {
      // One entry per pass: the oldest fails again and goes to the back, so the next pass takes the other.
      expect(await retryPendingHousekeeping(deps, rr, log, { limit: 1 })).toMatchObject({
        retried: 1,
        stillPending: 1,
      });
      expect(await retryPendingHousekeeping(deps, rr, log, { limit: 1 })).toMatchObject({
        retried: 1,
        done: 1,
      });
    } finally {
      denied.remove();
    }
    expect((await tagsOf('rr/next.csv'))['ferry-delivered-rr']).toBe('mark-of-rr/next.csv');
    expect(await pendingOf('rr')).toEqual([
      expect.objectContaining({ key: 'rr/stuck.csv', attempts: '2', lastErrCode: 'ERR_S3_ACCESS_DENIED' }),
    ]);
    // The version check is a HeadObject: no object body is opened for it.
    expect(callsOn('rr/stuck.csv', from)).toEqual([
      'HeadObjectCommand',
      'GetObjectTaggingCommand',
      'PutObjectTaggingCommand',
    ]);
    expect(callsOn('rr/next.csv', from)).not.toContain('GetObjectCommand');
    expect(callsOn('rr/next.csv', from)[0]).toBe('HeadObjectCommand');
  });

  it('starts no retry once the time budget is spent, and logs what remains', async () => {
    const store = createHousekeepingPending(pipeline.testFerry.redis, keys);
    for (const n of [0, 1, 2]) {
      await store.recordFailure(
        failureOf('plain', `plain/spent-${n}.csv`),
        new Date(Date.UTC(2026, 0, 1 + n)),
      );
    }
    const deps = {
      getConfig: pipeline.config,
      source: createS3Source(ferryS3),
      ledger: pipeline.ledger,
      housekeepingPending: store,
    };
    const plain = pipeline.config().partners.get('plain')!;
    const log = pipeline.logs.logger.child({ partnerId: 'plain', pass: 'budget' });
    // A spent budget still lets the first entry through (every pass makes progress), and no other.
    expect(await retryPendingHousekeeping(deps, plain, log, { budgetMs: 0 })).toEqual({
      retried: 1,
      done: 1,
      dropped: 0,
      stillPending: 0,
      deferred: 2,
    });
    expect((await pendingOf('plain')).map((e) => e.key)).toEqual(['plain/spent-1.csv', 'plain/spent-2.csv']);
    expect(pipeline.logs.lines().find((l) => l.pass === 'budget' && l.remaining !== undefined)).toMatchObject(
      {
        msg: 'pending source housekeeping retried until the time budget was spent',
        retried: 1,
        deferred: 2,
        remaining: 2,
        budgetMs: 0,
      },
    );
    expect(await retryPendingHousekeeping(deps, plain, log)).toMatchObject({
      retried: 2,
      done: 2,
      deferred: 0,
    });
    expect(await pendingOf('plain')).toEqual([]);
  });
});

describe('the pending store', () => {
  it('keeps one entry per delivery, counts attempts, and hands out the least recently failed first, bounded', async () => {
    const store = createHousekeepingPending(pipeline.testFerry.redis, keys);
    const failure = (n: number) => ({
      deliveryId: `dlv-store-${String(n).padStart(32, '0')}`,
      partnerId: 'store',
      bucket: pipeline.fixture.bucket,
      key: `store/${n}.csv`,
      etag: `etag${n}`,
      size: n,
      mark: `mark${n}`,
      lastErrCode: 'ERR_S3_ACCESS_DENIED',
      step: 'tag',
    });
    await store.recordFailure(failure(2), new Date('2026-01-02T00:00:00Z'));
    await store.recordFailure(failure(1), new Date('2026-01-01T00:00:00Z'));
    await store.recordFailure(failure(3), new Date('2026-01-03T00:00:00Z'));
    expect((await store.oldest('store', 2)).map((e) => e.key)).toEqual(['store/1.csv', 'store/2.csv']);
    // A repeat counts the attempt, keeps its first failure time, and goes to the back of the list.
    expect(await store.recordFailure(failure(1), new Date('2026-01-05T00:00:00Z'))).toBe(2);

    expect(await store.count('store')).toBe(3);
    expect((await store.oldest('store', 2)).map((e) => e.key)).toEqual(['store/2.csv', 'store/3.csv']);
    const all = await store.oldest('store', 10);
    expect(all.map((e) => e.key)).toEqual(['store/2.csv', 'store/3.csv', 'store/1.csv']);
    expect(all[2]).toMatchObject({
      attempts: 2,
      size: 1,
      firstFailedAt: '2026-01-01T00:00:00.000Z',
      lastFailedAt: '2026-01-05T00:00:00.000Z',
    });

    expect(await store.resolve('store', failure(1).deliveryId)).toBe(true);
    expect(await store.resolve('store', failure(1).deliveryId)).toBe(false);
    expect((await store.oldest('store', 10)).map((e) => e.key)).toEqual(['store/2.csv', 'store/3.csv']);
  });
});
