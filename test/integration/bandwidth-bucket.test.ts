// The shared bandwidth bucket (src/ledger/bandwidth-bucket.ts) on a real redis-server: a new bucket
// holds half a second of its rate, takes never exceed what it holds, an empty one says how long to
// wait, a lowered rate lowers what it holds at once, and two clients draw from the one bucket.
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUCKET_DEPTH_MS, createBandwidthBucket } from '../../src/ledger/bandwidth-bucket.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

let server: RedisServerHandle;
let a: Redis;
let b: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  a = new Redis(server.url);
  b = new Redis(server.url);
});

afterAll(async () => {
  await Promise.all([a?.quit(), b?.quit()]);
  await server?.stop();
  if (server) await rm(server.dir, { recursive: true, force: true });
});

describe('bandwidth bucket', () => {
  it('grants what a new bucket holds, then at most what refilled since, then says how long to wait', async () => {
    // 1 KiB/s: refilling one byte takes about a millisecond, so the test's own pace barely shows.
    const rate = 1024;
    const depth = (rate * BUCKET_DEPTH_MS) / 1000;
    const bucket = createBandwidthBucket(a);
    const started = Date.now();
    expect(await bucket.take('{ferry-test}:bw:one', rate, 100)).toEqual({ granted: 100, waitMs: 0 });
    const rest = await bucket.take('{ferry-test}:bw:one', rate, 10_000);
    // Never more than the bucket held plus what refilled meanwhile (bounded by the time it took here).
    const refilled = Math.ceil(((Date.now() - started + 1) * rate) / 1000);
    expect(rest.granted).toBeGreaterThanOrEqual(depth - 100);
    expect(rest.granted).toBeLessThanOrEqual(depth - 100 + refilled);
    const empty = await bucket.take('{ferry-test}:bw:one', rate, 400);
    if (empty.granted === 0) {
      expect(empty.waitMs).toBeGreaterThan(0);
      expect(empty.waitMs).toBeLessThanOrEqual(Math.ceil((400 * 1000) / rate));
    } else {
      expect(empty.granted).toBeLessThanOrEqual(Math.ceil(((Date.now() - started + 1) * rate) / 1000));
    }
  });

  it("holds no more than a lowered rate's depth, even before Redis's clock moves past the last take", async () => {
    const key = '{ferry-test}:bw:lowered';
    const bucket = createBandwidthBucket(a);
    // A full bucket at 1 MB/s (half a second: 500,000 bytes), less one byte.
    expect((await bucket.take(key, 1_000_000, 1)).granted).toBe(1);
    // The next take lands in the same millisecond or after Redis's clock stepped back: no time passed.
    await a.hset(key, 'at', String(Date.now() + 60_000));
    const rate = 1024;
    const lowered = await bucket.take(key, rate, 100_000);
    expect(lowered.granted).toBeLessThanOrEqual((rate * BUCKET_DEPTH_MS) / 1000);
  });

  it('is one bucket for every client', async () => {
    const rate = 1024;
    const depth = (rate * BUCKET_DEPTH_MS) / 1000;
    const started = Date.now();
    const first = await createBandwidthBucket(a).take('{ferry-test}:bw:shared', rate, depth);
    const second = await createBandwidthBucket(b).take('{ferry-test}:bw:shared', rate, depth);
    expect(first.granted).toBe(depth);
    // The second client finds it emptied by the first: only what refilled meanwhile.
    expect(second.granted).toBeLessThanOrEqual(Math.ceil(((Date.now() - started + 1) * rate) / 1000));
    expect(await a.pttl('{ferry-test}:bw:shared')).toBeGreaterThan(0);
  });
});
