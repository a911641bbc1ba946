// Bad input from the S3 side (reliability-anchors §5.2 D8, D9) on real redis-server, sshd and s3rver:
// hostile object keys end to end, and a worker without AWS credentials.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { lstat, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/adapters/s3-source.js';
import { computeDeliveryId } from '../../src/core/delivery-id.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger } from '../../src/ledger/redis-ledger.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { JOB, QUEUE } from '../../src/queues/names.js';
import { createQueues } from '../../src/queues/queues.js';
import { expectUniversalFigures, measureUniversalFigures } from '../support/convergence.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { observePartnerDir, type PartnerObserver } from '../support/partner-observer.js';
import { captureLogger, loadConfigOrThrow, putObjects, sweepAndWait, waitFor } from '../support/pipeline.js';
import { installS3Faults, type S3Faults } from '../support/s3-faults.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';

const PREFIX = '{ferry}';
const WORKER =
  'concurrency: 4, lockDurationSeconds: 3, stalledIntervalSeconds: 1, slotLeaseSeconds: 3, ' +
  'keepaliveIntervalSeconds: 1, stallTimeoutSeconds: 2';

// The unit corpus (test/unit/core/remote-name.test.ts) plus a few path forms, split by how they reach
// the listing. s3rver stores and lists these back byte for byte, so they are seeded through the S3 API:
const SEEDED_NAMES = [
  '..\\x.csv',
  'a\\x.csv',
  'sub/x.csv',
  'x..csv',
  '.',
  '..',
  'x\t.csv',
  'x\u007f.csv',
  'x\u0085.csv',
  '%2e%2e%2fx.csv',
  '%2E%2E%2Fx.csv',
  'a%5Cx.csv',
  '．．／x.csv',
  'a＼x.csv',
  'a\u2215x.csv',
  'a\u2044x.csv',
  'a\u29f8x.csv',
  'invoice\u202Efdp.csv',
  'x\u200e.csv',
  'x\u2066.csv',
  'Rapport Ma\u0308rz.csv',
  'x\u200b.csv',
  '.hidden.csv',
  '-rf.csv',
  'x.csv.',
  ' x.csv',
  'x.csv ',
  'x.csv\u00a0',
  'x;rm.csv',
  '$HOME.csv',
  "it's.csv",
  'x😀.csv',
  '100%.csv',
];
// ...and these cannot be stored in s3rver, so its listing is given them by middleware on Ferry's client
// (what S3 itself would list). s3rver normalises "." and ".." segments in request paths ("a/../../x.csv"
// would be stored as another, harmless key), rejects "/etc/…" and "a//…", fails on NUL, cannot encode a
// lone surrogate, turns CR LF into LF in its XML listing, and crashes on a file name over 255 bytes.
// Its on-disk store cannot hold them either: a directory entry cannot be named "." or "..", contain NUL
// or exceed 255 bytes, so seeding the store's files directly is not possible for these.
const LISTED_ONLY_NAMES = [
  '../x.csv',
  'a/../../x.csv',
  './x.csv',
  'a/./x.csv',
  '/etc/x.csv',
  'a//x.csv',
  'x.csv\0.txt',
  'x\r\n.csv',
  'x\ud800.csv',
  'a'.repeat(296) + '.csv',
  'ä'.repeat(128),
];
// picomatch never lets "**" match "." or ".." segments or dot files (dot: false); these globs spell
// them out so that every hostile key reaches the deliver step instead of being "not-included".
const INCLUDE_EVERYTHING = ['**/{.,}*', '**/./**', '**/.', './**', '**/../**', '*/../../*'];

let services: Services;
let fixture: FerryFixture;
let seeder: S3Client;
let ferryS3: S3Client;
let faults: S3Faults;
let ferry: RunningFerry;
let redis: Redis;
let observer: PartnerObserver;
const logs = captureLogger();

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  fixture = await writeFerryConfig(services, {
    partners: [{ id: 'hostile', include: INCLUDE_EVERYTHING }],
    adminUser: null,
    worker: WORKER,
  });
  observer = await observePartnerDir(fixture.partnerDirs.hostile!);
  seeder = s3ClientFor(services.s3);
  ferryS3 = createS3Client({
    region: services.s3.region,
    endpoint: services.s3.endpoint,
    forcePathStyle: true,
  });
  faults = installS3Faults(ferryS3);
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
  await observer?.stop();
  redis?.disconnect();
  ferryS3?.destroy();
  seeder?.destroy();
  await services?.stop();
});

/** Every file and directory below `root` with its size: what "nothing written anywhere" compares. */
async function snapshotTree(root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const st = await lstat(path);
      out.set(path.slice(root.length), st.isDirectory() ? -1 : st.size);
      if (st.isDirectory()) await walk(path);
    }
  };
  await walk(root);
  return out;
}

describe('hostile object keys', () => {
  it('quarantines every hostile key with an alert and writes 0 bytes anywhere', async () => {
    const seededKeys = SEEDED_NAMES.map((n) => `hostile/${n}`);
    const listedOnlyKeys = LISTED_ONLY_NAMES.map((n) => `hostile/${n}`);
    const hostileKeys = [...seededKeys, ...listedOnlyKeys];
    await putObjects(
      seeder,
      fixture.bucket,
      seededKeys.map((key) => ({ key, size: 10 })),
    );
    const stored = await seeder.send(
      new ListObjectsV2Command({ Bucket: fixture.bucket, Prefix: 'hostile/' }),
    );
    // Guard: the seeded keys are exactly what s3rver lists (none normalised into a harmless name).
    expect((stored.Contents ?? []).map((o) => o.Key).sort()).toEqual([...seededKeys].sort());
    faults.addToListings(
      fixture.bucket,
      listedOnlyKeys.map((key) => ({ key })),
    );
    const [control] = await putObjects(seeder, fixture.bucket, [{ key: 'hostile/fine.csv', size: 100 }]);
    const before = await snapshotTree(services.sshd.home);

    const first = await sweepAndWait(ferry.getConfig(), 'hostile');

    expect(first).toEqual({
      code: 0,
      summary: `delivered 1, already delivered 0, skipped 0, quarantined ${hostileKeys.length}, failed 0`,
    });
    const ledger = createRedisLedger(redis, createRedisKeys(PREFIX));
    const deliverQueue = new Queue(QUEUE.deliver, { connection: redis, prefix: PREFIX });
    for (const key of hostileKeys) {
      const listed = [...(stored.Contents ?? [])].find((o) => o.Key === key);
      const etag = listed?.ETag ?? `"${'a'.repeat(32)}"`;
      const id = computeDeliveryId({ partnerId: 'hostile', bucket: fixture.bucket, key, etag });
      const record = await ledger.get(id);
      expect(record, JSON.stringify(key)).toMatchObject({ status: 'quarantined' });
      const job = await deliverQueue.getJob(id);
      expect(job?.failedReason, JSON.stringify(key)).toMatch(/^ERR_KEY_HOSTILE: /);
      expect(job?.attemptsMade).toBe(1);
    }
    await deliverQueue.close();
    const alerts = logs.lines().filter((l) => l.errCode === 'ERR_KEY_HOSTILE' && l.alert === true);
    expect(alerts).toHaveLength(hostileKeys.length);
    // Quarantine comes before any read: not one byte of a hostile object was fetched.
    const reads = faults
      .calls()
      .filter((c) => c.command === 'GetObjectCommand' && c.bucket === fixture.bucket);
    expect(reads.map((c) => c.key)).toEqual([control!.key]);

    // Nothing appeared, changed or went anywhere in the SFTP user's home but the control file.
    const after = await snapshotTree(services.sshd.home);
    const added = [...after.keys()].filter((p) => !before.has(p));
    expect(added).toEqual(['/inbound/hostile/fine.csv']);
    for (const [path, size] of before) expect(after.get(path), path).toBe(size);
    await observer.sync();
    expect(
      new Set(observer.events().map((e) => e.name.replace(/^\.(.*)\.[0-9a-f]{12}\.part$/, '$1'))),
    ).toEqual(new Set(['fine.csv']));

    const second = await sweepAndWait(ferry.getConfig(), 'hostile');
    expect(second.summary).toBe(
      `delivered 0, already delivered 1, skipped 0, quarantined ${hostileKeys.length}, failed 0`,
    );
    const figures = await measureUniversalFigures({
      s3: seeder,
      bucket: fixture.bucket,
      keys: [...hostileKeys, control!.key],
      partnerDir: fixture.partnerDirs.hostile!,
      events: observer.events(),
      publish: 'rename',
      prefix: 'hostile/',
      settled: Object.fromEntries(hostileKeys.map((k) => [k, 'quarantined' as const])),
    });
    expectUniversalFigures(figures);
  });
});

describe('missing AWS credentials', () => {
  let worker: FerryProcess | undefined;
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await worker?.exited;
  });

  it('fails the sweep once with ERR_S3_CREDENTIALS and a clear log line, echoing no secret', async () => {
    const canary = `canary-unused-profile-secret-${Date.now().toString(36)}`;
    const runDir = join(services.sshd.dir, '..');
    const configDir = join(runDir, 'config-nocreds');
    const nocreds = await writeFerryConfig(
      services,
      { partners: [{ id: 'nocreds' }], redisPrefix: '{nocreds}', adminUser: null, worker: WORKER },
      configDir,
    );
    await putObjects(seeder, nocreds.bucket, [{ key: 'nocreds/orders.csv', size: 100 }]);
    // A credentials file without a default profile: the chain reads it and finds nothing to use.
    const credentialsFile = join(runDir, 'aws-credentials');
    await writeFile(
      credentialsFile,
      `[unused]\naws_access_key_id = AKIAUNUSED\naws_secret_access_key = ${canary}\n`,
    );
    const configFile = join(runDir, 'aws-config');
    await writeFile(configFile, '');
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
    );
    Object.assign(env, {
      AWS_CONFIG_FILE: configFile,
      AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    worker = spawnFerry(['start', '--role', 'worker', '--config', configDir], env);
    await worker.waitForLine(/ferry started/);

    // A scheduled sweep, with the scheduler's job options (3 attempts).
    const queues = createQueues(redis, '{nocreds}');
    const job = await queues.sweep.add(JOB.sweep, { v: 1, partnerId: 'nocreds', reason: 'schedule' });
    const settled = await waitFor(async () => {
      const seen = await queues.sweep.getJob(job.id!);
      const state = await seen?.getState();
      return state === 'failed' || state === 'delayed' ? { state, job: seen! } : undefined;
    }, 'the sweep to fail');

    expect(settled.state).toBe('failed');
    expect(settled.job.attemptsMade).toBe(1);
    expect(settled.job.failedReason).toMatch(/^ERR_S3_CREDENTIALS: /);
    expect(await queues.deliver.getJobCounts()).toMatchObject({ waiting: 0, active: 0, completed: 0 });
    await queues.close();
    const line = await worker.waitForLine(/ERR_S3_CREDENTIALS/);
    expect(JSON.parse(line)).toMatchObject({ level: 'error', errCode: 'ERR_S3_CREDENTIALS', alert: true });
    expect(worker.output()).not.toContain(canary);
    expect(worker.output()).not.toContain('AKIAUNUSED');
  });
});
