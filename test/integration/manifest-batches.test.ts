// The manifests' Redis side (src/ledger/manifest-batches.ts) on a real redis-server: a delivered file
// joins once, is listed by exactly one manifest however many takers race, and a taken manifest is
// the same record on every read (so its bytes, S3 object and delivery id never change).
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManifestBatches, type ManifestBatches } from '../../src/ledger/manifest-batches.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger, type Ledger } from '../../src/ledger/redis-ledger.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const keys = createRedisKeys('{ferry-test}');
let server: RedisServerHandle;
let redis: Redis;
let ledger: Ledger;
let batches: ManifestBatches;
let uniq = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
  ledger = createRedisLedger(redis, keys);
  batches = createManifestBatches(redis, keys);
});

afterAll(async () => {
  await redis?.quit();
  await server?.stop();
  if (server) await rm(server.dir, { recursive: true, force: true });
});

/** A new partner with `count` data files recorded delivered, at 1000, 2000, … ms. */
async function partnerWithDelivered(count: number, status: 'delivered' | 'publishing' = 'delivered') {
  uniq += 1;
  const partnerId = `p${uniq}`;
  const ids: string[] = [];
  for (let i = 1; i <= count; i += 1) {
    const deliveryId = `dlv-${partnerId}-${i}`;
    await ledger.record({
      deliveryId,
      partnerId,
      bucket: 'b',
      key: `k/${i}.csv`,
      etag: `e${i}`,
      status,
      remotePath: `/in/f${i}.csv`,
      size: 10 * i,
      sha256: `${i}`.repeat(64).slice(0, 64),
      ...(i % 2 === 0 ? { rows: i } : {}),
      deliveredAt: new Date(i * 1000).toISOString(),
    });
    ids.push(deliveryId);
  }
  return { partnerId, ids };
}

const describeAt = (ms: number) => ({
  name: `M-${ms}.csv`,
  format: 'csv' as const,
  createdAt: new Date(ms).toISOString(),
});

describe('manifest batches', () => {
  it('joins only a delivered file, once; takes the files delivered before the cutoff with their facts', async () => {
    const { partnerId, ids } = await partnerWithDelivered(3);
    const pending = await partnerWithDelivered(1, 'publishing');
    await batches.join(pending.partnerId, pending.ids[0]!, 1000);
    expect(await batches.oldestOpenMs(pending.partnerId)).toBeUndefined();
    for (const [i, id] of ids.entries()) await batches.join(partnerId, id, (i + 1) * 1000);
    await batches.join(partnerId, ids[0]!, 9999); // again: keeps its first time
    expect(await batches.oldestOpenMs(partnerId)).toBe(1000);

    const taken = await batches.take(partnerId, 's-2500', 2500, describeAt(2500));
    expect(taken).toMatchObject({ partnerId, scope: 's-2500', name: 'M-2500.csv' });
    expect(taken?.lines).toEqual([
      {
        deliveryId: ids[0],
        name: 'f1.csv',
        bytes: 10,
        sha256: '1'.repeat(64),
        deliveredAt: new Date(1000).toISOString(),
      },
      {
        deliveryId: ids[1],
        name: 'f2.csv',
        bytes: 20,
        sha256: '2'.repeat(64),
        rows: 2,
        deliveredAt: new Date(2000).toISOString(),
      },
    ]);
    expect(await batches.oldestOpenMs(partnerId)).toBe(3000);
    // Taken again (a retry after a crash): the stored record, whatever is open now.
    expect(await batches.take(partnerId, 's-2500', 9000, describeAt(9000))).toEqual(taken);
    // A listed file never joins again.
    await batches.join(partnerId, ids[0]!, 1000);
    expect(await batches.oldestOpenMs(partnerId)).toBe(3000);
    expect(await batches.take(partnerId, 's-9000', 2500, describeAt(9000))).toBeUndefined();
    expect((await batches.unsent(partnerId)).map((m) => m.scope)).toEqual(['s-2500']);
    await batches.settled(partnerId, 's-2500');
    expect(await batches.unsent(partnerId)).toEqual([]);
    await batches.noteDelivery(partnerId, 's-2500', 'dlv-m');
    expect(await batches.recent(partnerId)).toEqual([{ record: taken, deliveryId: 'dlv-m' }]);
  });

  it('lists each file in exactly one manifest when many takers race for the same files', async () => {
    const { partnerId, ids } = await partnerWithDelivered(40);
    for (const [i, id] of ids.entries()) await batches.join(partnerId, id, (i + 1) * 1000);
    // Ten takers, each its own scope (as two checks deciding at different times would be).
    const clients = Array.from({ length: 10 }, () => new Redis(server.url));
    try {
      const records = await Promise.all(
        clients.map((c, i) => createManifestBatches(c, keys).take(partnerId, `s-${i}`, 1e9, describeAt(i))),
      );
      const listed = records.flatMap((r) => r?.lines.map((l) => l.deliveryId) ?? []);
      expect(listed.sort()).toEqual([...ids].sort());
      expect(await batches.oldestOpenMs(partnerId)).toBeUndefined();
      for (const r of records.filter((x) => x !== undefined)) {
        for (const l of r.lines) expect((await ledger.get(l.deliveryId))?.manifest).toBe(r.scope);
      }
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('waits for what the sweeps enqueued until each is let go', async () => {
    const { partnerId } = await partnerWithDelivered(0);
    await batches.waitFor(partnerId, ['a', 'b']);
    expect((await batches.waitingFor(partnerId)).sort()).toEqual(['a', 'b']);
    expect(await batches.stopWaiting(partnerId, ['a'])).toBe(1);
    expect(await batches.stopWaiting(partnerId, ['b', 'c'])).toBe(0);
  });
});
