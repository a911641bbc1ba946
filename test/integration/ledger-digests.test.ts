// The md5 of the delivered bytes (naming.checksumFile: md5) round trip through the Redis ledger: stored
// with the publish intent, read back by a retry, kept by a failed record, and restored from a receipt.
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryReceipt } from '../../src/adapters/receipt-store.js';
import { restoreFromReceipt } from '../../src/ledger/ledger-trust.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger, type Ledger, type LedgerUpdate } from '../../src/ledger/redis-ledger.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const SHA = 'a'.repeat(64);
const MD5 = 'b'.repeat(32);
let server: RedisServerHandle;
let redis: Redis;
let ledger: Ledger;
let uniq = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
  ledger = createRedisLedger(redis, createRedisKeys('{ferry-test}'));
});

afterAll(async () => {
  await redis?.quit();
  await server?.stop();
  if (server) await rm(server.dir, { recursive: true, force: true });
});

function makeDelivery(overrides: Partial<LedgerUpdate> = {}): LedgerUpdate {
  uniq += 1;
  return {
    deliveryId: `d-md5-${uniq}`,
    partnerId: 'acme',
    bucket: 'exports',
    key: `acme/file-${uniq}.csv`,
    etag: `etag${uniq}`,
    status: 'publishing',
    ...overrides,
  };
}

describe('ledger digests', () => {
  it('stores the md5 with the publish intent and reads it back', async () => {
    const intent = makeDelivery({ size: 10, sha256: SHA, md5: MD5, remotePath: '/in/a.csv' });
    expect(await ledger.record(intent)).toMatchObject({ sha256: SHA, md5: MD5 });
    expect(await ledger.get(intent.deliveryId)).toMatchObject({
      status: 'publishing',
      sha256: SHA,
      md5: MD5,
    });
  });

  it('keeps the md5 when a later record (failed for good) does not repeat it', async () => {
    const intent = makeDelivery({ size: 10, sha256: SHA, md5: MD5 });
    await ledger.record(intent);
    await ledger.record({
      ...intent,
      sha256: undefined,
      md5: undefined,
      status: 'failed',
      lastErrorCode: 'X',
    });
    expect(await ledger.get(intent.deliveryId)).toMatchObject({ status: 'failed', md5: MD5 });
  });

  it('has no md5 when none was recorded (an intent from before checksumFile: md5)', async () => {
    const intent = makeDelivery({ size: 10, sha256: SHA });
    await ledger.record(intent);
    expect(await ledger.get(intent.deliveryId)).not.toHaveProperty('md5');
  });

  it('restores the md5 from a receipt, and leaves it out when the receipt has none', async () => {
    const base = makeDelivery();
    const receipt = (md5?: string): DeliveryReceipt => ({
      version: 1,
      deliveryId: base.deliveryId,
      trackingId: base.deliveryId,
      partnerId: base.partnerId,
      source: { bucket: base.bucket, key: base.key, etag: base.etag, size: 10 },
      target: { host: 'sftp.example', port: 22, path: '/in/a.csv', mode: '0640' },
      sha256: SHA,
      ...(md5 === undefined ? {} : { md5 }),
      bytes: 10,
      attempts: 1,
      publish: 'rename',
      startedAt: '2026-01-01T00:00:00.000Z',
      deliveredAt: '2026-01-01T00:00:01.000Z',
      durationMs: 1000,
      ferryVersion: 'test',
    });
    await restoreFromReceipt(ledger, receipt(MD5));
    expect(await ledger.get(base.deliveryId)).toMatchObject({ status: 'delivered', sha256: SHA, md5: MD5 });

    const other = makeDelivery();
    await restoreFromReceipt(ledger, {
      ...receipt(),
      deliveryId: other.deliveryId,
      trackingId: other.deliveryId,
    });
    expect(await ledger.get(other.deliveryId)).not.toHaveProperty('md5');
  });

  it("restores the data rows from a receipt: shape's rows written, else validate.csv's count", async () => {
    const receiptOf = (id: string, extra: Partial<DeliveryReceipt>): DeliveryReceipt => ({
      version: 1,
      deliveryId: id,
      trackingId: id,
      partnerId: 'acme',
      source: { bucket: 'exports', key: `acme/${id}.csv`, etag: 'e', size: 10 },
      target: { host: 'sftp.example', port: 22, path: `/in/${id}.csv`, mode: '0640' },
      sha256: SHA,
      bytes: 10,
      attempts: 1,
      publish: 'rename',
      startedAt: '2026-01-01T00:00:00.000Z',
      deliveredAt: '2026-01-01T00:00:01.000Z',
      durationMs: 1000,
      ferryVersion: 'test',
      ...extra,
    });
    const shape = {
      columns: ['A'],
      header: true,
      delimiter: ';',
      quote: 'minimal' as const,
      lineEnding: 'crlf' as const,
      encoding: 'utf-8' as const,
    };
    const cases: [Partial<DeliveryReceipt>, number | undefined][] = [
      [{ csv: { rows: 3 } }, 3],
      [{ csv: { rows: 0 } }, 0],
      [{ transform: { compress: 'none', shape: { ...shape, rows: 7 } } }, 7],
      [{ transform: { compress: 'none', shape } }, undefined],
      [{}, undefined],
    ];
    for (const [extra, rows] of cases) {
      const id = makeDelivery().deliveryId;
      await restoreFromReceipt(ledger, receiptOf(id, extra));
      const record = await ledger.get(id);
      expect(record?.status).toBe('delivered');
      if (rows === undefined) expect(record).not.toHaveProperty('rows');
      else expect(record?.rows).toBe(rows);
    }
  });
});
