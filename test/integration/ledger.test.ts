import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import type { DeliveryStatus } from '../../src/ledger/delivery-record.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger, type LedgerUpdate } from '../../src/ledger/redis-ledger.js';
import { createRedisSemaphore, type SlotLease } from '../../src/ledger/redis-semaphore.js';
import { waitFor } from '../support/pipeline.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const keys = createRedisKeys('{ferry-test}');
let server: RedisServerHandle;
let redisA: Redis;
let redisB: Redis;
let uniq = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redisA = new Redis(server.url);
  redisB = new Redis(server.url);
});

afterAll(async () => {
  await Promise.all([redisA?.quit(), redisB?.quit()]);
  await server?.stop();
  if (server) await rm(server.dir, { recursive: true, force: true });
});

/** A fresh delivery (unique id and partner per call, so tests never share keys). */
function makeDelivery(overrides: Partial<LedgerUpdate> = {}): LedgerUpdate {
  uniq += 1;
  return {
    deliveryId: `d-test-${uniq}`,
    partnerId: `partner-${uniq}`,
    bucket: 'exports',
    key: `exports/p/file-${uniq}.csv`,
    etag: `etag${uniq}`,
    status: 'publishing',
    ...overrides,
  };
}

describe('redis keys', () => {
  it('puts every key under the prefix hash tag so Redis Cluster keeps them in one slot', () => {
    const all = [keys.delivery('d1'), keys.partnerDeliveries('p1'), keys.slots('p1')];
    for (const key of all) expect(key.startsWith('{ferry-test}:')).toBe(true);
  });
});

describe('redis ledger', () => {
  it('stores a record and reads it back with numbers parsed and timestamps set', async () => {
    const ledger = createRedisLedger(redisA, keys);
    const update = makeDelivery({ size: 1234, remotePath: '/inbox/a.csv' });
    const stored = await ledger.record(update);

    expect(stored).toMatchObject({ ...update, attempts: 0 });
    expect(new Date(stored.createdAt).toISOString()).toBe(stored.createdAt);
    expect(stored.updatedAt).toBe(stored.createdAt);
    expect(await ledger.get(update.deliveryId)).toEqual(stored);
    expect(await redisA.zscore(keys.partnerDeliveries(update.partnerId), update.deliveryId)).toBe(
      String(Date.parse(stored.updatedAt)),
    );
  });

  it('keeps createdAt and earlier fields when a later update changes the status', async () => {
    const ledger = createRedisLedger(redisA, keys);
    const update = makeDelivery({ size: 10 });
    const first = await ledger.record(update);
    const second = await ledger.record({
      ...update,
      status: 'delivered',
      sha256: 'abc',
      deliveredAt: first.createdAt,
    });

    expect(second).toMatchObject({
      status: 'delivered',
      size: 10,
      sha256: 'abc',
      createdAt: first.createdAt,
    });
    expect(Date.parse(second.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first.updatedAt));
  });

  it('returns undefined for a delivery it has never seen', async () => {
    const ledger = createRedisLedger(redisA, keys);
    expect(await ledger.get('d-never-recorded')).toBeUndefined();
  });

  it('looks up the statuses of 1,200 deliveries and leaves unknown ids out', async () => {
    const ledger = createRedisLedger(redisA, keys);
    const statuses: DeliveryStatus[] = ['publishing', 'delivered', 'quarantined', 'skipped', 'failed'];
    const updates = Array.from({ length: 1_200 }, (_, i) =>
      makeDelivery({ status: statuses[i % statuses.length]!, partnerId: 'partner-bulk' }),
    );
    for (let i = 0; i < updates.length; i += 100) {
      await Promise.all(updates.slice(i, i + 100).map((u) => ledger.record(u)));
    }
    const ids = [...updates.map((u) => u.deliveryId), 'd-unknown-1', 'd-unknown-2'];

    const found = await ledger.getStatuses(ids);

    expect(found.size).toBe(1_200);
    for (const u of updates) expect(found.get(u.deliveryId)).toBe(u.status);
    expect(found.has('d-unknown-1')).toBe(false);
  });

  it('never downgrades a delivered record, even when writers race from two connections', async () => {
    const ledgers = [createRedisLedger(redisA, keys), createRedisLedger(redisB, keys)];
    const others: DeliveryStatus[] = ['publishing', 'failed', 'quarantined', 'skipped'];
    const deliveries = Array.from({ length: 40 }, () => makeDelivery());

    await Promise.all(
      deliveries.flatMap((d, i) => {
        const writes = [
          { ...d, status: 'delivered' as const, sha256: 'winner', deliveredAt: '2030-01-01T00:00:00.000Z' },
          ...others.map((status) => ({ ...d, status, lastError: 'late writer' })),
        ];
        // Rotate so 'delivered' lands first, last and in between across deliveries.
        const rotated = [...writes.slice(i % writes.length), ...writes.slice(0, i % writes.length)];
        return rotated.map((w, j) => ledgers[j % 2]!.record(w));
      }),
    );

    for (const d of deliveries) {
      const stored = await ledgers[0]!.get(d.deliveryId);
      expect(stored).toMatchObject({ status: 'delivered', sha256: 'winner' });
    }
  });

  it('answers a late writer with the delivered record as stored', async () => {
    const ledger = createRedisLedger(redisA, keys);
    const d = makeDelivery();
    const delivered = await ledger.record({ ...d, status: 'delivered', remotePath: '/inbox/x.csv' });

    const answer = await ledger.record({ ...d, status: 'failed', lastError: 'too late' });

    expect(answer).toEqual(delivered);
  });

  it('counts attempts and keeps the last error', async () => {
    const ledger = createRedisLedger(redisA, keys);
    const d = makeDelivery();
    await ledger.record(d);

    await ledger.noteAttempt(d.deliveryId, { code: 'ERR_SFTP_TIMEOUT', message: 'timed out' });
    await ledger.noteAttempt(d.deliveryId, { code: 'ERR_SFTP_FAILURE', message: 'failure' });
    await ledger.noteAttempt(d.deliveryId);

    expect(await ledger.get(d.deliveryId)).toMatchObject({
      status: 'publishing',
      attempts: 3,
      lastErrorCode: 'ERR_SFTP_FAILURE',
      lastError: 'failure',
    });
  });

  it('keeps attempts noted before the first record', async () => {
    const ledger = createRedisLedger(redisA, keys);
    const d = makeDelivery();
    await ledger.noteAttempt(d.deliveryId, { code: 'ERR_SFTP_AUTH', message: 'denied' });
    expect(await ledger.get(d.deliveryId)).toBeUndefined();

    const stored = await ledger.record({ ...d, status: 'failed' });

    expect(stored).toMatchObject({ status: 'failed', attempts: 1, lastErrorCode: 'ERR_SFTP_AUTH' });
  });

  it('ignores attempts noted after delivery', async () => {
    const ledger = createRedisLedger(redisA, keys);
    const d = makeDelivery();
    const delivered = await ledger.record({ ...d, status: 'delivered' });

    await ledger.noteAttempt(d.deliveryId, { code: 'ERR_SFTP_FAILURE', message: 'duplicate run' });

    expect(await ledger.get(d.deliveryId)).toEqual(delivered);
  });
});

describe('redis semaphore', () => {
  it('never lets more than max leases live across connections', async () => {
    const name = `slots-${++uniq}`;
    const semaphores = [createRedisSemaphore(redisA, keys), createRedisSemaphore(redisB, keys)];
    let holding = 0;
    let peak = 0;
    let peakLive = 0;

    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const semaphore = semaphores[i % 2]!;
        const lease = await semaphore.acquire(name, 2, { timeoutMs: 30_000 });
        holding += 1;
        peak = Math.max(peak, holding);
        try {
          // Hold the slot across a few round trips so holders overlap.
          for (let n = 0; n < 3; n += 1) peakLive = Math.max(peakLive, await semaphore.count(name));
        } finally {
          holding -= 1;
          await lease.release();
        }
      }),
    );
    semaphores.forEach((s) => s.close());

    expect(peak).toBe(2);
    expect(peakLive).toBeLessThanOrEqual(2);
    expect(await semaphores[0]!.count(name)).toBe(0);
  });

  it('frees a slot when its lease is released, and a second release is harmless', async () => {
    const name = `slots-${++uniq}`;
    const semaphore = createRedisSemaphore(redisA, keys);
    const lease = await semaphore.acquire(name, 1);
    expect(await semaphore.count(name)).toBe(1);

    await lease.release();
    await lease.release();

    expect(await semaphore.count(name)).toBe(0);
    semaphore.close();
  });

  it('tryAcquire takes a free slot at once, and gives none without waiting or marking it wanted when all are held', async () => {
    const name = `slots-${++uniq}`;
    const [a, b] = [createRedisSemaphore(redisA, keys), createRedisSemaphore(redisB, keys)];
    const first = await a.tryAcquire(name, 1);
    expect(first).toBeDefined();
    expect(await a.count(name)).toBe(1);

    await expect(b.tryAcquire(name, 1)).resolves.toBeUndefined();
    expect(await a.wantedElsewhere(name)).toBe(false);

    await first!.release();
    const second = await b.tryAcquire(name, 1);
    expect(second).toBeDefined();
    await second!.release();
    a.close();
    b.close();
  });

  it('tells the holding process, not the waiting one, that another process wants a slot', async () => {
    const name = `slots-${++uniq}`;
    const holder = createRedisSemaphore(redisA, keys);
    const waiter = createRedisSemaphore(redisB, keys);
    const lease = await holder.acquire(name, 1);
    expect(await holder.wantedElsewhere(name)).toBe(false);

    const waiting = waiter.acquire(name, 1);
    await waitFor(async () => (await holder.wantedElsewhere(name)) || undefined, 'the wanted signal');
    expect(await waiter.wantedElsewhere(name)).toBe(false);

    await lease.release();
    await (await waiting).release();
    holder.close();
    waiter.close();
  });

  it("hands a crashed holder's slot to a waiter once the lease expires", async () => {
    const name = `slots-${++uniq}`;
    const crashed = createRedisSemaphore(redisA, keys, { leaseMs: 600 });
    const survivor = createRedisSemaphore(redisB, keys, { leaseMs: 600 });
    const orphan: SlotLease = await crashed.acquire(name, 1);
    crashed.close(); // stops renewing without releasing, as a killed process would

    const lease = await survivor.acquire(name, 1, { timeoutMs: 20_000 });

    expect(lease.holder).not.toBe(orphan.holder);
    expect(await survivor.count(name)).toBe(1);
    await lease.release();
    survivor.close();
  });

  it('renews a held lease, so a waiter times out with ERR_SLOT_TIMEOUT', async () => {
    const name = `slots-${++uniq}`;
    const holder = createRedisSemaphore(redisA, keys, { leaseMs: 600 });
    const waiter = createRedisSemaphore(redisB, keys, { leaseMs: 600 });
    const lease = await holder.acquire(name, 1);

    // Waiting well past leaseMs: only renewal keeps the first lease alive that long.
    const attempt = waiter.acquire(name, 1, { timeoutMs: 2_000 });

    await expect(attempt).rejects.toBeInstanceOf(FerryError);
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_SLOT_TIMEOUT' });
    expect(await holder.count(name)).toBe(1);
    await lease.release();
    holder.close();
    waiter.close();
  });

  it('signals the lease lost when a renewal finds its slot gone, and release then leaves Redis alone', async () => {
    const name = `slots-${++uniq}`;
    const semaphore = createRedisSemaphore(redisA, keys, { leaseMs: 600 });
    const lease = await semaphore.acquire(name, 1);
    const lost = new Promise<unknown>((resolve) =>
      lease.lost.addEventListener('abort', () => resolve(lease.lost.reason)),
    );
    expect(lease.lost.aborted).toBe(false);

    await redisB.zrem(keys.slots(name), lease.holder); // reclaimed, as an expired lease is
    const other = await createRedisSemaphore(redisB, keys).acquire(name, 1);

    expect(await lost).toMatchObject({
      code: 'ERR_SLOT_LOST',
      details: { partnerId: name, reason: 'not-held' },
    });
    await lease.release();
    expect(await semaphore.count(name)).toBe(1); // the new holder's slot is untouched
    await other.release();
    semaphore.close();
  });

  it('stops waiting when the signal aborts, rejecting with its reason', async () => {
    const name = `slots-${++uniq}`;
    const semaphore = createRedisSemaphore(redisA, keys);
    const lease = await semaphore.acquire(name, 1);
    const controller = new AbortController();
    const reason = new FerryError('ERR_TRANSFER_STALLED', 'watchdog fired');

    const attempt = semaphore.acquire(name, 1, { signal: controller.signal });
    await semaphore.count(name); // let the first poll go out
    controller.abort(reason);

    await expect(attempt).rejects.toBe(reason);
    expect(await semaphore.count(name)).toBe(1);
    await lease.release();
    semaphore.close();
  });

  it('rejects with an AbortError when aborted without a reason', async () => {
    const name = `slots-${++uniq}`;
    const semaphore = createRedisSemaphore(redisA, keys);
    const lease = await semaphore.acquire(name, 1);
    const controller = new AbortController();

    const attempt = semaphore.acquire(name, 1, { signal: controller.signal });
    controller.abort();

    await expect(attempt).rejects.toMatchObject({ name: 'AbortError' });
    await lease.release();
    semaphore.close();
  });
});
