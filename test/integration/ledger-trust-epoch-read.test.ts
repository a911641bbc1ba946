// getWithTrustEpoch: the record and the trust epoch come back from one command (every delivery's first read).
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger } from '../../src/ledger/redis-ledger.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const keys = createRedisKeys('{ferry-epoch-test}');
let server: RedisServerHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});

afterAll(async () => {
  await redis?.quit();
  await server?.stop();
  if (server) await rm(server.dir, { recursive: true, force: true });
});

describe('ledger getWithTrustEpoch', () => {
  const delivery = {
    deliveryId: 'd-epoch-1',
    partnerId: 'p-epoch',
    bucket: 'exports',
    key: 'exports/p/a.csv',
    etag: 'e1',
  };

  it('returns neither a record nor an epoch when Redis holds none', async () => {
    const ledger = createRedisLedger(redis, keys);
    expect(await ledger.getWithTrustEpoch('d-absent')).toEqual({});
  });

  it('returns the epoch without a record, then both once the record is written', async () => {
    const ledger = createRedisLedger(redis, keys);
    await redis.hset(keys.ledgerTrust, 'epoch', 'epoch-a', 'server', 'run-1');
    expect(await ledger.getWithTrustEpoch(delivery.deliveryId)).toEqual({ trustEpoch: 'epoch-a' });

    const stored = await ledger.record({ ...delivery, status: 'publishing', size: 12, sha256: 'ab' });
    const read = await ledger.getWithTrustEpoch(delivery.deliveryId);
    expect(read).toEqual({ record: stored, trustEpoch: 'epoch-a' });
    expect(read.record).toEqual(await ledger.get(delivery.deliveryId));
  });

  it('returns the record without an epoch once the trust hash is gone', async () => {
    const ledger = createRedisLedger(redis, keys);
    await redis.del(keys.ledgerTrust);
    const read = await ledger.getWithTrustEpoch(delivery.deliveryId);
    expect(read.trustEpoch).toBeUndefined();
    expect(read.record).toMatchObject({ status: 'publishing', size: 12, sha256: 'ab' });
  });

  it('still answers after Redis lost its script cache', async () => {
    const ledger = createRedisLedger(redis, keys);
    await redis.script('FLUSH');
    expect((await ledger.getWithTrustEpoch(delivery.deliveryId)).record?.deliveryId).toBe(
      delivery.deliveryId,
    );
  });
});
