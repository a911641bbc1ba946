// Self-test of the partner-side observer and the universal-figures checker the fault tests rely on:
// they must see what happens in a directory and must flag every kind of violation.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { link, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUniversalFigures, measureUniversalFigures } from '../support/convergence.js';
import { observePartnerDir } from '../support/partner-observer.js';
import { startS3rver, type S3rverHandle } from '../support/s3rver.js';
import { s3ClientFor } from '../support/services.js';
import { makeTempDir } from '../support/temp-dir.js';

const BUCKET = 'observer-selftest';
let s3rver: S3rverHandle;
let s3: S3Client;
const dirs: string[] = [];

async function freshDir(): Promise<string> {
  const dir = await makeTempDir('observer');
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  s3rver = await startS3rver({ buckets: [BUCKET] });
  s3 = s3ClientFor(s3rver);
});

afterAll(async () => {
  s3?.destroy();
  await s3rver?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('partner observer and universal figures', () => {
  it('records a temp-then-rename publish in order and passes the universal figures', async () => {
    const dir = await freshDir();
    const body = randomBytes(3000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/orders.csv', Body: body }));
    const observer = await observePartnerDir(dir);
    await writeFile(join(dir, '.orders.csv.abcdef012345.part'), body);
    await rename(join(dir, '.orders.csv.abcdef012345.part'), join(dir, 'orders.csv'));
    await observer.stop();

    expect(observer.events().map((e) => `${e.event} ${e.name}`)).toEqual([
      'CREATE .orders.csv.abcdef012345.part',
      'CLOSE_WRITE .orders.csv.abcdef012345.part',
      'MOVED_FROM .orders.csv.abcdef012345.part',
      'MOVED_TO orders.csv',
    ]);
    const figures = await measureUniversalFigures({
      s3,
      bucket: BUCKET,
      keys: ['p/orders.csv'],
      partnerDir: dir,
      events: observer.events(),
      publish: 'rename',
    });
    expect(figures).toEqual({ lost: 0, duplicates: 0, partialVisible: 0, orphanTemps: 0, problems: [] });
    expectUniversalFigures(figures);
  });

  it("counts OpenSSH's plain rename (a hard link, then unlink of the temp) as one complete publish", async () => {
    const dir = await freshDir();
    const body = randomBytes(2000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/linked.csv', Body: body }));
    const observer = await observePartnerDir(dir);
    await writeFile(join(dir, '.linked.csv.abcdef012345.part'), body);
    await link(join(dir, '.linked.csv.abcdef012345.part'), join(dir, 'linked.csv'));
    await unlink(join(dir, '.linked.csv.abcdef012345.part'));
    await observer.stop();

    expect(observer.events().map((e) => `${e.event} ${e.name}`)).toEqual([
      'CREATE .linked.csv.abcdef012345.part',
      'CLOSE_WRITE .linked.csv.abcdef012345.part',
      'CREATE linked.csv',
      'DELETE .linked.csv.abcdef012345.part',
    ]);
    expectUniversalFigures(
      await measureUniversalFigures({
        s3,
        bucket: BUCKET,
        keys: ['p/linked.csv'],
        partnerDir: dir,
        events: observer.events(),
        publish: 'rename',
      }),
    );
  });

  it('counts a lost object, a second publish, a final name written in place, a short file and an orphan temp', async () => {
    const dir = await freshDir();
    const full = randomBytes(4000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/short.csv', Body: full }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/missing.csv', Body: full }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'p/twice.csv', Body: full }));
    const observer = await observePartnerDir(dir);
    await writeFile(join(dir, 'short.csv'), full.subarray(0, 1000)); // in place, and short
    for (let i = 0; i < 2; i++) {
      await writeFile(join(dir, '.twice.csv.0123456789ab.part'), full);
      await rename(join(dir, '.twice.csv.0123456789ab.part'), join(dir, 'twice.csv'));
    }
    await writeFile(join(dir, '.left.csv.0123456789ab.part'), 'x');
    await unlink(join(dir, 'twice.csv')).then(() => writeFile(join(dir, 'twice.csv'), full));
    await observer.sync();
    const events = observer.events();
    await observer.stop();

    const figures = await measureUniversalFigures({
      s3,
      bucket: BUCKET,
      keys: ['p/short.csv', 'p/missing.csv', 'p/twice.csv'],
      partnerDir: dir,
      events,
      publish: 'rename',
    });
    // twice.csv: two renames plus a rewrite in place (CREATE) = 3 publishes.
    expect(figures).toMatchObject({ lost: 2, duplicates: 2, orphanTemps: 1 });
    // short.csv: bytes differ + written in place (CLOSE_WRITE); twice.csv rewritten in place (CLOSE_WRITE).
    expect(figures.partialVisible).toBe(3);
    expect(() => expectUniversalFigures(figures)).toThrow(
      /lost 2, duplicates 2, partial-visible 3, orphan temps 1/,
    );

    const settled = await measureUniversalFigures({
      s3,
      bucket: BUCKET,
      keys: ['p/missing.csv'],
      partnerDir: dir,
      events: [],
      publish: 'direct',
      settled: { 'p/missing.csv': 'failed' },
    });
    expect(settled).toMatchObject({ lost: 0, duplicates: 0, partialVisible: 0 });
  });
});
