// Ferry on a real 3-master Redis Cluster (ferry.yaml `redis.cluster`): BullMQ, the ledger and the
// connection slots all go through ioredis Cluster, and every key lives in the prefix's hash-tag slot.
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createAckIndex } from '../../src/ledger/ack-index.js';
import { createManifestBatches } from '../../src/ledger/manifest-batches.js';
import { createRedisLedger } from '../../src/ledger/redis-ledger.js';
import { expectPartnerConverged } from '../support/convergence.js';
import { getFreePort } from '../support/free-port.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { observePartnerDir } from '../support/partner-observer.js';
import {
  captureLogger,
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sweepAndWait,
} from '../support/pipeline.js';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const PREFIX = '{ferry}';

let services: Services;
let cluster: RedisClusterHandle;
let proxy: TcpProxy;
let fixture: FerryFixture;
let s3: S3Client;
/** A test-side client of the cluster, for reading what Ferry wrote. */
let inspect: Cluster;

async function start(role: 'all' | 'worker', logger = captureLogger().logger): Promise<RunningFerry> {
  return startFerry({ config: await loadConfigOrThrow(fixture.dir), role, env: process.env, logger });
}

/**
 * Every Ferry key (BullMQ's included) hashes to the slot of the prefix's tag, so one master holds
 * them all and the others hold none. Returns how many keys the owner holds.
 */
async function expectKeysInTagSlot(): Promise<number> {
  const slot = Number(await inspect.cluster('KEYSLOT', PREFIX));
  const ranges = await inspect.cluster('SLOTS');
  const ownerPort = ranges.find(([from, to]) => from <= slot && slot <= to)?.[2]?.[1];
  expect(ownerPort).toBeDefined();
  const masters = inspect.nodes('master');
  expect(masters).toHaveLength(3);
  let held = 0;
  for (const node of masters) {
    const keys = await node.keys('*');
    if (node.options.port !== ownerPort) {
      expect(keys, `keys on 127.0.0.1:${node.options.port}, which does not own slot ${slot}`).toEqual([]);
      continue;
    }
    const slots = await Promise.all(keys.map(async (key) => Number(await node.cluster('KEYSLOT', key))));
    expect(new Set(slots)).toEqual(new Set([slot]));
    expect(keys.every((key) => key.startsWith(`${PREFIX}:`))).toBe(true);
    held = keys.length;
  }
  return held;
}

beforeAll(async () => {
  // The harness's own redis-server stays idle: it must hold nothing at the end.
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  cluster = await startRedisCluster();
  proxy = await startTcpProxy(services.sshd.port);
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'cluster-test-password';
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'acme', prefix: 'acme/' },
      { id: 'capped', prefix: 'capped/', maxConnections: 1, port: proxy.port },
    ],
    redisCluster: cluster.urls,
    worker: 'concurrency: 1, idleTimeoutSeconds: 1',
  });
  s3 = s3ClientFor(services.s3);
  inspect = new Cluster(cluster.urls);
  await inspect.ping(); // resolves once the slot map is loaded, so nodes() lists every master
});

afterAll(async () => {
  inspect?.disconnect();
  s3?.destroy();
  await proxy?.close();
  await cluster?.stop();
  await services?.stop();
});

describe('Ferry on a Redis Cluster', () => {
  it('delivers each object once, records it in the ledger, and a second sweep enqueues nothing', async () => {
    const observer = await observePartnerDir(fixture.partnerDirs.acme!);
    const seeded = await putObjects(
      s3,
      fixture.bucket,
      Array.from({ length: 6 }, (_, i) => ({ key: `acme/orders_${i}.csv`, size: 2_000 + i })),
    );
    const ferry = await start('all');
    const deliverQueue = new Queue('deliver', { connection: inspect, prefix: PREFIX });
    try {
      const config = ferry.getConfig();
      expect(config.service.redis.cluster).toEqual(cluster.urls);
      expect(await sweepAndWait(config, 'acme')).toEqual({
        code: 0,
        summary: 'delivered 6, already delivered 0, skipped 0, quarantined 0, failed 0',
      });
      const countsAfterFirst = await deliverQueue.getJobCounts();
      expect(countsAfterFirst.completed).toBe(6);

      expect(await sweepAndWait(config, 'acme')).toEqual({
        code: 0,
        summary: 'delivered 0, already delivered 6, skipped 0, quarantined 0, failed 0',
      });
      expect(await deliverQueue.getJobCounts()).toEqual(countsAfterFirst);

      const dir = await readPartnerDir(fixture.partnerDirs.acme!);
      expect(dir.temps).toEqual([]);
      expect(new Map([...dir.finals].map(([name, f]) => [name, f.sha256]))).toEqual(
        new Map(seeded.map((o) => [o.key.slice('acme/'.length), o.sha256])),
      );
      await observer.sync();
      await expectPartnerConverged({
        s3,
        fixture,
        partnerId: 'acme',
        keys: seeded.map((o) => o.key),
        events: observer.events(),
      });

      const keys = createRedisKeys(PREFIX);
      const ledger = createRedisLedger(inspect, keys);
      const ids = await inspect.zrange(keys.partnerDeliveries('acme'), '0', '-1');
      const records = await Promise.all(ids.map((id) => ledger.get(id)));
      expect(records.map((r) => [r?.key, r?.status, r?.sha256]).sort()).toEqual(
        seeded.map((o) => [o.key, 'delivered', o.sha256]).sort(),
      );
      expect(await ledger.getStatuses(ids)).toEqual(new Map(ids.map((id) => [id, 'delivered'])));

      // The partner answers (ack:) keep their state in one-slot scripts too.
      const acks = createAckIndex(inspect, keys);
      const [first, second] = ids as [string, string];
      await acks.expect('acme', first, 'a.csv', 1000);
      await acks.expect('acme', second, 'b.csv', 2000);
      expect(await acks.markOverdue('acme', 1500, new Date(3000))).toEqual([first]);
      expect(
        await acks.answer('acme', second, {
          result: 'rejected',
          at: new Date(4000),
          file: 'b.csv.nack',
          reason: 'no',
        }),
      ).toBe(true);
      expect(await ledger.get(first)).toMatchObject({ ack: 'overdue' });
      expect(await ledger.get(second)).toMatchObject({ ack: 'rejected', ackReason: 'no' });
      expect(await acks.waiting('acme')).toEqual([
        { deliveryId: first, name: 'a.csv', deliveredAtMs: 1000, overdue: true },
      ]);

      // So do the manifests (manifest:): joining, waiting and taking, all or nothing.
      const manifests = createManifestBatches(inspect, keys);
      const [, , third, fourth] = ids as [string, string, string, string];
      await manifests.join('acme', third, 1000);
      await manifests.join('acme', fourth, 2000);
      await manifests.join('acme', third, 1000);
      await manifests.waitFor('acme', [third, fourth]);
      expect(await manifests.stopWaiting('acme', [third, fourth])).toBe(0);
      const taken = await manifests.take('acme', 's-3000', 3000, {
        name: 'M.csv',
        format: 'csv',
        createdAt: new Date(3000).toISOString(),
      });
      expect(taken?.lines.map((l) => l.deliveryId)).toEqual([third, fourth]);
      expect(await manifests.oldestOpenMs('acme')).toBeUndefined();
      expect(await ledger.get(third)).toMatchObject({ manifest: 's-3000' });
      await manifests.join('acme', third, 1000); // listed already: never again
      expect(await manifests.oldestOpenMs('acme')).toBeUndefined();
      expect((await manifests.unsent('acme')).map((m) => m.scope)).toEqual(['s-3000']);

      expect(await expectKeysInTagSlot()).toBeGreaterThan(0);
      const standalone = new Redis(services.redis.url);
      expect(await standalone.dbsize()).toBe(0);
      standalone.disconnect();
    } finally {
      await deliverQueue.close();
      await ferry.close();
      await observer.stop();
    }
  });

  it('shares the queue and the connection cap between two Ferry workers on the cluster', async () => {
    const seeded = await putObjects(
      s3,
      fixture.bucket,
      Array.from({ length: 8 }, (_, i) => ({ key: `capped/part_${i}.bin`, size: 100_000 })),
    );
    const logs = [captureLogger(), captureLogger()];
    const workers = await Promise.all(logs.map((log) => start('worker', log.logger)));
    try {
      const { code, summary } = await sweepAndWait(workers[0]!.getConfig(), 'capped');
      expect(summary).toBe('delivered 8, already delivered 0, skipped 0, quarantined 0, failed 0');
      expect(code).toBe(0);
      // maxConnections: 1 holds across both workers: the slot semaphore's Lua runs on the cluster.
      expect(proxy.maxOpen).toBe(1);
      const completed = logs.map((log) => log.lines().filter((l) => l.msg === 'delivery completed').length);
      expect(completed[0]! + completed[1]!).toBe(8);
      // Each worker (concurrency 1) took jobs from the shared cluster queue.
      expect(completed.every((n) => n > 0)).toBe(true);
      const dir = await readPartnerDir(fixture.partnerDirs.capped!);
      expect(dir.temps).toEqual([]);
      expect([...dir.finals.keys()].sort()).toEqual(seeded.map((o) => o.key.slice('capped/'.length)).sort());
      await expectKeysInTagSlot();
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('fails `ferry sweep` fast, naming the seed nodes, when none of them answers', async () => {
    const config = await loadConfigOrThrow(fixture.dir);
    const dead = `redis://127.0.0.1:${await getFreePort()}`;
    const elsewhere = {
      ...config,
      service: { ...config.service, redis: { cluster: [dead], prefix: PREFIX } },
    };
    await expect(sweepAndWait(elsewhere, 'acme')).rejects.toMatchObject({
      code: 'ERR_REDIS_UNAVAILABLE',
      // The reason in brackets is ioredis's own wording.
      message: expect.stringMatching(
        new RegExp(`^cannot reach Redis Cluster at 127\\.0\\.0\\.1:${new URL(dead).port} \\(`),
      ) as unknown,
    });
  });

  it('refuses to start when any cluster node may evict keys, naming that node', async () => {
    const victim = inspect.nodes('master')[1]!;
    await victim.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      await expect(start('worker')).rejects.toMatchObject({
        code: 'ERR_REDIS_POLICY',
        message: expect.stringContaining(
          `"allkeys-lru" (cluster node 127.0.0.1:${victim.options.port}); Ferry needs "noeviction"`,
        ) as unknown,
      });
    } finally {
      await victim.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });
});
