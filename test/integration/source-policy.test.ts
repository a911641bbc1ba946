// What a sweep sends, on the real pipeline (redis-server, sshd, s3rver): `source.maxAgeDays` leaves old
// objects to `ferry redeliver`; `source.identity` decides whether identical bytes written again under
// the same key are a new delivery. s3rver stamps LastModified itself, so for maxAgeDays the sweeps'
// clock runs ahead instead (the `sweepNow` seam): an object written now is three days old to them.
import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSweepProcessor } from '../../jobs/sweep.js';
import { createS3Source } from '../../src/adapters/s3-source.js';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { runRedeliverCommand } from '../../src/commands/redeliver-command.js';
import { createAuditLog } from '../../src/ledger/audit-log.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createSweepSummaries } from '../../src/ledger/sweep-summary.js';
import { createLogger } from '../../src/observability/logger.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { captureLogger, waitFor, waitForJobState } from '../support/pipeline.js';

const DAY_MS = 86_400_000;
const OPERATOR = { user: 'admin', password: 'source-policy-operator-5c1d' };
let sweepClockAheadMs = 0;

const pipeline = usePartnerPipeline({
  adminPassword: OPERATOR.password,
  partners: [
    { id: 'aged', maxAgeDays: 2 },
    { id: 'aged-api', maxAgeDays: 2 },
    { id: 'same', onExisting: 'overwrite' },
    { id: 'daily', identity: 'version', onExisting: 'overwrite' },
  ],
  beforeStart: () => Promise.resolve({ sweepNow: () => new Date(Date.now() + sweepClockAheadMs) }),
});

afterEach(() => {
  sweepClockAheadMs = 0;
  vi.restoreAllMocks();
});

const silent = createLogger({ level: 'silent' });

async function redeliver(
  key: string,
  now: Date,
  partnerId = 'aged',
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRedeliverCommand({
    config: pipeline.config(),
    partnerId,
    key,
    reason: 'partner asked for the old export',
    by: 'ops-jane',
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    audit: silent,
    now,
  });
  return { code, out, err };
}

describe('source.maxAgeDays', () => {
  it('leaves an object older than maxAgeDays to a request: plan and sweep show it stale, redeliver sends it', async () => {
    await pipeline.put([{ key: 'aged/2026-01-01.csv', size: 700 }]);
    const id = await pipeline.deliveryIdOf('aged', 'aged/2026-01-01.csv');
    const threeDaysOn = new Date(Date.now() + 3 * DAY_MS);

    // Not stale (yet), never delivered: redeliver still refuses, a sweep would send it.
    const early = await redeliver('aged/2026-01-01.csv', new Date());
    expect(early.code).toBe(1);
    expect(early.err.join('\n')).toMatch(/was never delivered to aged/);

    sweepClockAheadMs = 3 * DAY_MS;
    const plan: string[] = [];
    const planned = await runPlanCommand({
      config: pipeline.config(),
      partnerId: 'aged',
      now: threeDaysOn,
      out: (l) => plan.push(l),
      err: () => undefined,
    });
    expect(planned).toBe(0);
    expect(plan).toContain(
      'skip     aged/2026-01-01.csv  (too old (maxAgeDays): sent only by ferry redeliver)',
    );
    expect(plan.at(-1)).toBe(
      'aged: 1 listed · would deliver 0 · too old (maxAgeDays): sent only by ferry redeliver 1',
    );

    const swept = await pipeline.sweep('aged');
    expect(swept).toEqual({
      code: 0,
      summary: 'delivered 0, already delivered 0, skipped 0, quarantined 0, failed 0',
    });
    expect(pipeline.lastSweepLog('aged')).toMatchObject({ eligible: 0, enqueued: 0, skipped: { stale: 1 } });
    expect(await pipeline.testFerry.deliverQueue.getJob(id)).toBeUndefined();
    expect(await pipeline.ledger.get(id)).toBeUndefined();
    expect(await pipeline.finals('aged')).toEqual([]);

    const asked = await redeliver('aged/2026-01-01.csv', threeDaysOn);
    expect(asked.err).toEqual([]);
    expect(asked.out).toEqual([
      `delivery ${id} queued for aged: aged/2026-01-01.csv (older than source.maxAgeDays: sent on request)`,
    ]);
    expect(asked.code).toBe(0);
    const job = await waitForJobState(pipeline.testFerry.deliverQueue, id, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', deliveryId: id });
    expect(await pipeline.finals('aged')).toEqual(['2026-01-01.csv']);
    const audit = createAuditLog(pipeline.testFerry.redis, createRedisKeys('{ferry}'));
    expect(await audit.forDelivery(id)).toEqual([
      expect.objectContaining({
        user: 'ops-jane',
        action: 'redeliver',
        reason: 'partner asked for the old export',
      }),
    ]);

    // The next sweep still leaves it out (stale) and sends nothing again.
    expect((await pipeline.sweep('aged')).summary).toBe(
      'delivered 0, already delivered 0, skipped 0, quarantined 0, failed 0',
    );
    expect(pipeline.lastSweepLog('aged')).toMatchObject({ skipped: { stale: 1 } });
  });
});

interface LastSweep {
  at: string;
  listed: number;
  skipped: Record<string, number>;
  stale: { key: string; size: number; etag: string; lastModified: string }[];
}

async function api(
  method: string,
  path: string,
  json?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function lastSweepOf(partnerId: string): Promise<LastSweep | null> {
  const { body } = await api('GET', '/api/partners');
  const partners = body.partners as { id: string; lastSweep: LastSweep | null }[];
  return partners.find((p) => p.id === partnerId)!.lastSweep;
}

describe('stale objects in the API', () => {
  it('GET /api/partners shows the last sweep’s stale objects; POST /api/partners/:id/redeliver sends one', async () => {
    expect(await lastSweepOf('aged-api')).toBeNull();
    const [seeded] = await pipeline.put([{ key: 'aged-api/2026-02-01.csv', size: 900 }]);
    const id = await pipeline.deliveryIdOf('aged-api', 'aged-api/2026-02-01.csv');

    sweepClockAheadMs = 3 * DAY_MS;
    expect((await pipeline.sweep('aged-api')).code).toBe(0);
    const last = await lastSweepOf('aged-api');
    expect(last).toMatchObject({ listed: 1, eligible: 0, enqueued: 0, skipped: { stale: 1 } });
    expect(last!.stale).toEqual([
      {
        key: 'aged-api/2026-02-01.csv',
        size: 900,
        // A single-part upload's ETag is its MD5.
        etag: createHash('md5').update(seeded!.body).digest('hex'),
        lastModified: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    expect(await pipeline.testFerry.deliverQueue.getJob(id)).toBeUndefined();

    // Not in S3: refused with the CLI's message, nothing queued.
    const missing = await api('POST', '/api/partners/aged-api/redeliver', {
      key: 'aged-api/none.csv',
      reason: 'partner asked for it',
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/^s3:\/\/warehouse-exports\/aged-api\/none\.csv does not exist now/);

    const sent = await api('POST', '/api/partners/aged-api/redeliver', {
      key: 'aged-api/2026-02-01.csv',
      reason: 'partner asked for the February export',
    });
    expect(sent).toEqual({ status: 202, body: { jobId: id, deliveryId: id, kind: 'stale' } });
    const job = await waitForJobState(pipeline.testFerry.deliverQueue, id, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', deliveryId: id });
    expect(await pipeline.finals('aged-api')).toEqual(['2026-02-01.csv']);
    const audit = createAuditLog(pipeline.testFerry.redis, createRedisKeys('{ferry}'));
    expect(await audit.forDelivery(id)).toEqual([
      expect.objectContaining({
        user: 'admin',
        action: 'redeliver',
        reason: 'partner asked for the February export',
        partnerId: 'aged-api',
      }),
    ]);
    expect(pipeline.logs.lines()).toContainEqual(
      expect.objectContaining({
        audit: true,
        action: 'redeliver',
        user: 'admin',
        trackingId: id,
        stale: true,
      }),
    );

    // Delivered now: the same request is a redelivery, as `ferry redeliver` makes it.
    const again = await api('POST', '/api/partners/aged-api/redeliver', {
      key: 'aged-api/2026-02-01.csv',
      reason: 'partner lost it',
    });
    expect(again).toEqual({
      status: 202,
      body: { jobId: `${id}-r1`, deliveryId: `${id}-r1`, kind: 'redelivery' },
    });
  });
});

describe('the last sweep summary', () => {
  it('a sweep whose summary cannot be written still finishes, and logs why', async () => {
    await pipeline.put([{ key: 'aged-api/2026-03-01.csv', size: 300 }]);
    // A real client that cannot send: every command fails at once.
    const offline = new Redis(pipeline.services.redis.url, { lazyConnect: true, enableOfflineQueue: false });
    const logs = captureLogger();
    const sweep = createSweepProcessor({
      getConfig: pipeline.config,
      source: createS3Source(pipeline.testFerry.s3),
      ledger: pipeline.ledger,
      enqueueDeliveries: () => Promise.resolve(),
      logger: logs.logger,
      now: () => new Date(),
      sweepSummaries: createSweepSummaries(offline, createRedisKeys('{ferry}')),
    });
    const job = {
      id: 'sweep-aged-api',
      data: { v: 1, partnerId: 'aged-api', reason: 'manual' },
    } as unknown as Job;

    const result = await sweep(job);
    expect(result).toMatchObject({ partnerId: 'aged-api', enqueued: 1 });
    expect(logs.lines()).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: 'could not record the sweep summary' }),
    );
    offline.disconnect();
  });
});

describe('source.identity', () => {
  const feed = Buffer.from('id,amount\n1,10\n2,20\n');

  it('content (the default): the same bytes written again under the same key are not delivered again', async () => {
    await pipeline.put([{ key: 'same/feed.csv', body: feed }]);
    expect((await pipeline.sweep('same')).summary).toBe(
      'delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0',
    );
    const first = await pipeline.deliveryIdOf('same', 'same/feed.csv');
    await pipeline.put([{ key: 'same/feed.csv', body: feed }]);
    expect((await pipeline.sweep('same')).summary).toBe(
      'delivered 0, already delivered 1, skipped 0, quarantined 0, failed 0',
    );
    expect(await pipeline.deliveryIdOf('same', 'same/feed.csv')).toBe(first);
    expect((await pipeline.receipts('same')).map((r) => r.deliveryId)).toEqual([first]);
  });

  it('version: each write of the same bytes is its own delivery, with its own record and receipt', async () => {
    await pipeline.put([{ key: 'daily/feed.csv', body: feed }]);
    expect((await pipeline.sweep('daily')).summary).toBe(
      'delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0',
    );
    const [monday] = await pipeline.receipts('daily');
    const mondayWrite = Date.parse(monday!.source.lastModified!);
    // LastModified has whole seconds (S3's and s3rver's alike): the next write must land in a later one.
    await waitFor(() => Date.now() >= mondayWrite + 1000, 'the clock to pass the first write’s second');

    await pipeline.put([{ key: 'daily/feed.csv', body: feed }]);
    expect((await pipeline.sweep('daily')).summary).toBe(
      'delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0',
    );
    const receipts = await pipeline.receipts('daily');
    expect(receipts).toHaveLength(2);
    const [a, b] = receipts.map((r) => r.deliveryId);
    expect(a).not.toBe(b);
    expect(new Set(receipts.map((r) => r.source.etag)).size).toBe(1);
    for (const id of [a!, b!]) {
      expect(await pipeline.ledger.get(id)).toMatchObject({ status: 'delivered', key: 'daily/feed.csv' });
    }
    expect(await pipeline.finals('daily')).toEqual(['feed.csv']);
    // The content id of these bytes was never used.
    const contentId = await pipeline.deliveryIdOf('daily', 'daily/feed.csv');
    expect([a, b]).not.toContain(contentId);
    expect(await pipeline.ledger.get(contentId)).toBeUndefined();

    // A redelivery of the newest write rebuilds its id from the recorded LastModified.
    const newest = receipts.find((r) => r.deliveryId !== monday?.deliveryId)!;
    const asked = await redeliver('daily/feed.csv', new Date(), 'daily');
    expect(asked.err).toEqual([]);
    expect(asked.code).toBe(0);
    const job = await waitForJobState(
      pipeline.testFerry.deliverQueue,
      `${newest.deliveryId}-r1`,
      'completed',
    );
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered' });
  });
});
