import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createTempRegistry, type RemovalClaim, type TempRegistry } from '../../src/ledger/temp-registry.js';
import { waitFor } from '../support/pipeline.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const keys = createRedisKeys('{ferry-test}');
const MINUTE = 60_000;
let server: RedisServerHandle;
let redisA: Redis;
let redisB: Redis;
// Two registries on two connections: a delivery worker and a janitor in different processes.
let delivery: TempRegistry;
let janitor: TempRegistry;
let uniq = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redisA = new Redis(server.url);
  redisB = new Redis(server.url);
  delivery = createTempRegistry(redisA, keys);
  janitor = createTempRegistry(redisB, keys);
});

afterAll(async () => {
  await Promise.all([redisA?.quit(), redisB?.quit()]);
  await server?.stop();
  if (server) await rm(server.dir, { recursive: true, force: true });
});

/** A fresh partner and temp path per call, so tests never share keys. */
function fresh(): { partnerId: string; path: string; deliveryId: string } {
  uniq += 1;
  return {
    partnerId: `partner-${uniq}`,
    path: `/inbound/.orders-${uniq}.csv.30daa40bddbe.part`,
    deliveryId: `dlv-partner-${uniq}-30daa40bddbe09035a9be36c0dae6f39`,
  };
}

async function claimOk(partnerId: string, path: string, ttlMs = MINUTE): Promise<RemovalClaim> {
  const result = await janitor.claimForRemoval(partnerId, path, ttlMs);
  if (!result.ok) throw new Error(`claim refused: ${result.reason}`);
  return result.claim;
}

describe('temp registry', () => {
  it('refuses the removal claim on a path a delivery registered first', async () => {
    const { partnerId, path, deliveryId } = fresh();
    await delivery.register(partnerId, path, deliveryId);

    expect(await janitor.claimForRemoval(partnerId, path, MINUTE)).toEqual({
      ok: false,
      reason: 'registered',
    });
    expect(await janitor.listRegistered(partnerId)).toEqual(new Map([[path, deliveryId]]));
  });

  it('refuses registration with ERR_TEMP_BUSY while the janitor holds a claim, and allows it once released', async () => {
    const { partnerId, path, deliveryId } = fresh();
    const claim = await claimOk(partnerId, path);

    const refused = await delivery.register(partnerId, path, deliveryId).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(FerryError);
    expect((refused as FerryError).code).toBe('ERR_TEMP_BUSY');
    expect((refused as FerryError).intent).toBe('transient');
    expect(await janitor.listRegistered(partnerId)).toEqual(new Map());

    await janitor.releaseClaim(claim);
    await delivery.register(partnerId, path, deliveryId);
    expect(await janitor.listRegistered(partnerId)).toEqual(new Map([[path, deliveryId]]));
  });

  it('lets exactly one side win when register and claim race on the same path', async () => {
    const outcomes = { registered: 0, claimed: 0 };
    for (let i = 0; i < 200; i++) {
      const { partnerId, path, deliveryId } = fresh();
      const [registered, claimed] = await Promise.all([
        delivery.register(partnerId, path, deliveryId).then(
          () => true,
          (err: unknown) => {
            if ((err as FerryError).code !== 'ERR_TEMP_BUSY') throw err;
            return false;
          },
        ),
        janitor.claimForRemoval(partnerId, path, MINUTE).then((r) => r.ok),
      ]);
      expect(registered !== claimed).toBe(true);
      outcomes[registered ? 'registered' : 'claimed'] += 1;
    }
    expect(outcomes.registered + outcomes.claimed).toBe(200);
  });

  it('makes the path claimable again once the delivery releases it', async () => {
    const { partnerId, path, deliveryId } = fresh();
    await delivery.register(partnerId, path, deliveryId);
    expect(await delivery.release(partnerId, path, deliveryId)).toBe(true);

    expect((await janitor.claimForRemoval(partnerId, path, MINUTE)).ok).toBe(true);
  });

  it("does not release another delivery's registration", async () => {
    const { partnerId, path, deliveryId } = fresh();
    await delivery.register(partnerId, path, deliveryId);

    expect(await delivery.release(partnerId, path, `${deliveryId}-r1`)).toBe(false);
    expect(await janitor.claimForRemoval(partnerId, path, MINUTE)).toEqual({
      ok: false,
      reason: 'registered',
    });
  });

  it('registers idempotently (a retry of the same delivery registers again)', async () => {
    const { partnerId, path, deliveryId } = fresh();
    await delivery.register(partnerId, path, deliveryId);
    await delivery.register(partnerId, path, deliveryId);
    expect(await delivery.release(partnerId, path, deliveryId)).toBe(true);
    expect(await janitor.listRegistered(partnerId)).toEqual(new Map());
  });

  it('refuses a second claim on a claimed path', async () => {
    const { partnerId, path } = fresh();
    await claimOk(partnerId, path);
    expect(await janitor.claimForRemoval(partnerId, path, MINUTE)).toEqual({ ok: false, reason: 'claimed' });
  });

  it('keeps claims of one partner apart from the same path of another', async () => {
    const a = fresh();
    const b = fresh();
    await claimOk(a.partnerId, a.path);
    await delivery.register(b.partnerId, a.path, b.deliveryId);
    expect((await janitor.claimForRemoval(a.partnerId, b.path, MINUTE)).ok).toBe(true);
  });

  it("frees the path when a crashed janitor's claim expires, and the stale claim can no longer be confirmed", async () => {
    const { partnerId, path, deliveryId } = fresh();
    const stale = await claimOk(partnerId, path, 50);
    await waitFor(
      async () => (await redisA.exists(keys.tempRemovalClaim(partnerId, path))) === 0,
      'the claim to expire',
    );

    await delivery.register(partnerId, path, deliveryId);
    expect(await janitor.confirmClaim(stale, MINUTE)).toBe(false);
  });

  it('confirms a live claim and extends it; an old token neither confirms nor releases a newer claim', async () => {
    const { partnerId, path } = fresh();
    const first = await claimOk(partnerId, path, 50);
    await waitFor(
      async () => (await redisA.exists(keys.tempRemovalClaim(partnerId, path))) === 0,
      'the claim to expire',
    );
    const second = await claimOk(partnerId, path, 1000);

    expect(await janitor.confirmClaim(first, MINUTE)).toBe(false);
    await janitor.releaseClaim(first);
    expect(await janitor.confirmClaim(second, MINUTE)).toBe(true);
    expect(await redisA.pttl(keys.tempRemovalClaim(partnerId, path))).toBeGreaterThan(1000);
    await janitor.releaseClaim(second);
    expect(await redisA.exists(keys.tempRemovalClaim(partnerId, path))).toBe(0);
  });

  it('lets one janitor run start per partner and interval', async () => {
    const { partnerId } = fresh();
    const starts = await Promise.all([
      janitor.startJanitorRun(partnerId, MINUTE),
      delivery.startJanitorRun(partnerId, MINUTE),
    ]);
    expect(starts.filter(Boolean)).toHaveLength(1);
    expect(await redisA.pttl(keys.janitorRan(partnerId))).toBeGreaterThan(MINUTE - 10_000);
  });

  it('puts its keys under the prefix hash tag so the scripts work in Redis Cluster', () => {
    for (const key of [
      keys.tempRegistry('p'),
      keys.tempRemovalClaim('p', '/in/.a.csv.30daa40bddbe.part'),
      keys.janitorRan('p'),
    ]) {
      expect(key.startsWith('{ferry-test}:')).toBe(true);
    }
  });

  it('throws a transient error (not ERR_TEMP_BUSY, never success) when Redis cannot be asked', async () => {
    const closed = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    const registry = createTempRegistry(closed, keys);
    const { partnerId, path, deliveryId } = fresh();
    const err = await registry.register(partnerId, path, deliveryId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).not.toBe('ERR_TEMP_BUSY');
    expect((err as FerryError).intent).toBe('transient');
    closed.disconnect();
  });
});
