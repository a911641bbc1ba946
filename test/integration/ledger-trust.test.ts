// Ledger trust (src/ledger/ledger-trust.ts): a delivery skips its S3 receipt read only while the ledger
// provably holds every receipt; a Redis that restarted or lost data is rebuilt from the receipts first.
import type { S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { captureLogger, loadConfigOrThrow, putObjects, sweepAndWait, waitFor } from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let ferryS3: S3Client;
let ferry: RunningFerry;
let redis: Redis;
const logs = captureLogger();
const keys = createRedisKeys('{ferry}');
let receiptReads = 0;

const PARTNER = 'trusty';

/** inode and mtime of every delivered file: a redelivery would change them. */
async function fingerprints(names: string[]): Promise<string[]> {
  return Promise.all(
    names.map(async (name) => {
      const st = await stat(join(fixture.partnerDirs[PARTNER]!, name));
      return `${name}:${st.ino}:${st.mtimeMs}`;
    }),
  );
}

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  fixture = await writeFerryConfig(services, { partners: [{ id: PARTNER, prefix: 'trust/' }] });
  s3 = s3ClientFor(services.s3);
  // Ferry's own client, instrumented (not mocked): counts GetObject calls on receipt keys.
  ferryS3 = s3ClientFor(services.s3);
  ferryS3.middlewareStack.add(
    (next, context) => (args) => {
      const input = args.input as { Key?: string };
      if (context.commandName === 'GetObjectCommand' && input.Key?.endsWith('.json')) receiptReads++;
      return next(args);
    },
    { step: 'initialize' },
  );
  redis = new Redis(services.redis.url);
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
  redis?.disconnect();
  s3?.destroy();
  ferryS3?.destroy();
  await services?.stop();
});

describe('ledger trust', () => {
  const first = ['a.csv', 'b.csv', 'c.csv', 'd.csv'];
  let ids: string[] = [];

  it('trusts a new install at once (no receipts to restore) and then delivers without reading any receipt', async () => {
    await ferry.ledgerTrusted();
    expect(await redis.hget(keys.ledgerTrust, 'epoch')).toMatch(/^[0-9a-f-]{36}$/);
    await putObjects(
      s3,
      fixture.bucket,
      first.map((name) => ({ key: `trust/${name}`, size: 2048 })),
    );
    const { code, summary } = await sweepAndWait(ferry.getConfig(), PARTNER);
    expect(summary).toMatch(/^delivered 4, already delivered 0, skipped 0, quarantined 0, failed 0/);
    expect(code).toBe(0);
    expect(receiptReads).toBe(0);
    ids = await redis.zrange(keys.partnerDeliveries(PARTNER), '0', '-1');
    expect(ids).toHaveLength(4);
  });

  it('after a Redis restart that lost ledger records, restores them from receipts before trusting again: nothing is sent twice', async () => {
    const before = await fingerprints(first);
    // The records a crash could lose (the AOF's last second), then a restart: the server identity changes.
    const lost = ids.slice(0, 2);
    for (const id of lost) {
      await redis.del(keys.delivery(id));
      await redis.zrem(keys.partnerDeliveries(PARTNER), id);
    }
    const epochBefore = await redis.hget(keys.ledgerTrust, 'epoch');
    await services.redis.stop('SIGTERM');
    await services.redis.start();

    const rebuilt = await waitFor(
      () => logs.lines().find((l) => l.msg === 'ledger rebuilt from receipts: trusted' && l.restored === 2),
      'the ledger rebuilt from receipts',
      30_000,
    );
    expect(rebuilt.receiptsSeen).toBe(4); // the receipts written since the last heartbeat (minus the margin)
    await ferry.ledgerTrusted();
    expect(await redis.hget(keys.ledgerTrust, 'epoch')).not.toBe(epochBefore);
    for (const id of lost) expect(await redis.hget(keys.delivery(id), 'status')).toBe('delivered');

    const { code, summary } = await sweepAndWait(ferry.getConfig(), PARTNER);
    expect(summary).toMatch(/^delivered 0, already delivered 4, skipped 0, quarantined 0, failed 0/);
    expect(code).toBe(0);
    expect(await fingerprints(first)).toEqual(before);
  });

  it('does not trust a Redis that lost everything: deliveries read receipts, the rebuild restores every record', async () => {
    const before = await fingerprints(first);
    // A superseded delivery's witness sits beside the receipts: the rebuild must not take it for one.
    await putObjects(s3, fixture.receiptsBucket, [
      {
        key: `ferry/receipts/${PARTNER}/${ids[0]!}-r9.superseded.json`,
        body: Buffer.from('{"outcome":"superseded"}'),
      },
    ]);
    await redis.flushall();
    receiptReads = 0;
    await putObjects(s3, fixture.bucket, [{ key: 'trust/e.csv', size: 100 }]);
    const { code, summary } = await sweepAndWait(ferry.getConfig(), PARTNER);
    expect(code).toBe(0);
    expect(summary).toMatch(/failed 0/);
    expect(await fingerprints(first)).toEqual(before);
    await ferry.ledgerTrusted();
    for (const id of ids) expect(await redis.hget(keys.delivery(id), 'status')).toBe('delivered');
    // Either the rebuild or the deliveries themselves read every receipt before trusting its absence.
    expect(receiptReads).toBeGreaterThanOrEqual(4);
  });
});
