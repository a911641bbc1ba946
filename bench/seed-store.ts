// Seeding for the sweep benches: many object versions written straight into s3rver's filesystem store
// (far faster than PutObject), and recorded as delivered through the ledger's own record().
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { FerryConfig } from '../src/config/load-config.js';
import { computeDeliveryId } from '../src/core/delivery-id.js';
import { createRedisKeys } from '../src/ledger/redis-keys.js';
import { createRedisLedger } from '../src/ledger/redis-ledger.js';
import type { Services } from '../test/support/services.js';

/** One seeded object version: what the ledger and the listing must agree on. */
export interface Seeded {
  key: string;
  etag: string;
  size: number;
  sha256: string;
}

export function versionOf(key: string, body: Buffer): Seeded {
  return {
    key,
    etag: createHash('md5').update(body).digest('hex'),
    size: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
}

/** PutObject over HTTP; throws unless S3's ETag is the body's MD5. */
export async function putVersion(s3: S3Client, bucket: string, key: string, size: number): Promise<Seeded> {
  const body = randomBytes(size);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const version = versionOf(key, body);
  if (put.ETag !== `"${version.etag}"`) {
    throw new Error(`PutObject ${key}: ETag ${put.ETag}, expected ${version.etag}`);
  }
  return version;
}

/**
 * Writes `count` versions (keys from `keyOf(i)`, `size` random bytes each) into s3rver's filesystem
 * store directly (node_modules/s3rver/lib/stores/filesystem.js): per key `<key>._S3rver_object` (the
 * body), `._S3rver_object.md5` (its hex MD5, the ETag) and `._S3rver_metadata.json`, copied from the
 * first object, put over HTTP so the layout is s3rver's own. Every listing still goes through
 * s3rver's HTTP ListObjectsV2.
 */
export async function seedS3rverStore(
  services: Services,
  s3: S3Client,
  bucket: string,
  o: { count: number; size: number; keyOf: (i: number) => string; progress: (line: string) => void },
): Promise<Seeded[]> {
  const first = await putVersion(s3, bucket, o.keyOf(0), o.size);
  const fileOf = (key: string, resource: string) =>
    join(
      services.s3.dir,
      'data',
      bucket,
      ...posix.dirname(key).split('/'),
      `${posix.basename(key)}._S3rver_${resource}`,
    );
  const metadata = await readFile(fileOf(first.key, 'metadata.json'));
  const made = new Set<string>();
  const seeded: Seeded[] = [first];
  const t0 = performance.now();
  for (let i = 1; i < o.count; i += 256) {
    const batch = Array.from({ length: Math.min(256, o.count - i) }, (_, j) => o.keyOf(i + j));
    for (const dir of new Set(batch.map((key) => posix.dirname(fileOf(key, 'object'))))) {
      if (!made.has(dir)) await mkdir(dir, { recursive: true });
      made.add(dir);
    }
    const versions = await Promise.all(
      batch.map(async (key) => {
        const body = randomBytes(o.size);
        const version = versionOf(key, body);
        await writeFile(fileOf(key, 'object'), body);
        await Promise.all([
          writeFile(fileOf(key, 'object.md5'), version.etag),
          writeFile(fileOf(key, 'metadata.json'), metadata),
        ]);
        return version;
      }),
    );
    seeded.push(...versions);
    if (seeded.length % 20_000 < 256) {
      const rate = (seeded.length / ((performance.now() - t0) / 1000)).toFixed(0);
      o.progress(`wrote ${seeded.length}/${o.count} (${rate}/s)`);
    }
  }
  return seeded;
}

/**
 * Records every seeded version as delivered to `partnerId` through the ledger's own record() (the Lua
 * upsert a delivery runs last), with the fields a real delivery writes; 1,000 calls in flight at a time.
 */
export async function recordDelivered(
  redis: Redis,
  config: FerryConfig,
  partnerId: string,
  bucket: string,
  seeded: readonly Seeded[],
  remotePathOf: (key: string) => string,
): Promise<void> {
  const ledger = createRedisLedger(redis, createRedisKeys(config.service.redis.prefix));
  const deliveredAt = new Date().toISOString();
  for (let i = 0; i < seeded.length; i += 1000) {
    await Promise.all(
      seeded.slice(i, i + 1000).map((v) =>
        ledger.record({
          deliveryId: computeDeliveryId({ partnerId, bucket, key: v.key, etag: v.etag }),
          partnerId,
          bucket,
          key: v.key,
          etag: v.etag,
          status: 'delivered',
          size: v.size,
          sha256: v.sha256,
          remotePath: remotePathOf(v.key),
          deliveredAt,
        }),
      ),
    );
  }
}
