// after.source on the real pipeline (redis-server, sshd, s3rver): `tag` adds ferry-delivered-<id> and
// keeps the object's other tags; `move` moves an object fed to two partners only once both have it,
// and the moved object is not delivered again.
import { GetObjectTaggingCommand, HeadObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  jobsOfPartner,
  putObjects,
  readPartnerDir,
  startTestFerry,
  sweepAndWait,
  type TestFerry,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';

let services: Services;
let fixture: FerryFixture;
let testFerry: TestFerry;
const logs = captureLogger();

async function exists(key: string): Promise<boolean> {
  try {
    await testFerry.s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

async function finals(partnerId: string): Promise<string[]> {
  return [...(await readPartnerDir(fixture.partnerDirs[partnerId]!)).finals.keys()].sort();
}

beforeAll(async () => {
  process.env.FERRY_ADMIN_PASSWORD = 'source-housekeeping-admin';
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'tagger', extraYaml: 'after: { source: tag }' },
      { id: 'mover', prefix: 'shared/', extraYaml: "after: { source: { move: 'archive/{key}' } }" },
      { id: 'peer', prefix: 'shared/' },
    ],
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  await testFerry.ferry.ledgerTrusted();
}, 120_000);

afterAll(async () => {
  await testFerry?.close();
  await services?.stop();
});

describe('after.source', () => {
  it('tag: adds ferry-delivered-<partner> after the delivery and keeps the existing tags', async () => {
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'tagger/a.csv', size: 100 }]);
    await testFerry.s3.send(
      new PutObjectTaggingCommand({
        Bucket: fixture.bucket,
        Key: 'tagger/a.csv',
        Tagging: { TagSet: [{ Key: 'owner', Value: 'warehouse' }] },
      }),
    );
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'tagger')).code).toBe(0);
    expect(await finals('tagger')).toEqual(['a.csv']);
    const { TagSet } = await testFerry.s3.send(
      new GetObjectTaggingCommand({ Bucket: fixture.bucket, Key: 'tagger/a.csv' }),
    );
    const tags = Object.fromEntries((TagSet ?? []).map((t) => [t.Key, t.Value]));
    expect(tags.owner).toBe('warehouse');
    expect(tags['ferry-delivered-tagger']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(logs.lines().filter((l) => l.errCode === 'ERR_SOURCE_HOUSEKEEPING')).toEqual([]);
  });

  it('move: moves an object fed to two partners only after both delivered it, and never resends it', async () => {
    const config = testFerry.ferry.getConfig();
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'shared/x.csv', size: 200 }]);

    expect((await sweepAndWait(config, 'mover')).code).toBe(0);
    expect(await finals('mover')).toEqual(['x.csv']);
    // peer has not received it yet: the object stays.
    expect(await exists('shared/x.csv')).toBe(true);
    expect(await exists('archive/shared/x.csv')).toBe(false);

    expect((await sweepAndWait(config, 'peer')).code).toBe(0);
    expect(await finals('peer')).toEqual(['x.csv']);
    // peer finished last, so its run moved it.
    expect(await exists('shared/x.csv')).toBe(false);
    expect(await exists('archive/shared/x.csv')).toBe(true);
    expect(logs.lines().some((l) => l.partnerId === 'peer' && l.movedTo === 'archive/shared/x.csv')).toBe(
      true,
    );

    const jobsBefore = (await jobsOfPartner(testFerry.deliverQueue, 'mover')).length;
    for (const id of ['mover', 'peer']) expect((await sweepAndWait(config, id)).code).toBe(0);
    expect((await jobsOfPartner(testFerry.deliverQueue, 'mover')).length).toBe(jobsBefore);
    expect(await finals('mover')).toEqual(['x.csv']);
    expect(await finals('peer')).toEqual(['x.csv']);
    expect(logs.lines().filter((l) => l.errCode === 'ERR_SOURCE_HOUSEKEEPING')).toEqual([]);
  });
});
