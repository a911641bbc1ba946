// Config faults (reliability-anchors §5.2 table E) against a running Ferry: a valid edit lands while a
// transfer is in flight, and every class of bad input is rejected on reload while the old config runs on.
// What each bad input is rejected with is tested in test/unit/config; here it is the running service.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeDeliveryId, normalizeEtag } from '../../src/core/delivery-id.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import type { DeliverResult } from '../../src/queues/payloads.js';
import { expectUniversalFigures, measureUniversalFigures } from '../support/convergence.js';
import {
  writeFerryConfig,
  writePartnerFile,
  type FerryFixture,
  type PartnerFixture,
} from '../support/ferry-fixture.js';
import { observePartnerDir } from '../support/partner-observer.js';
import {
  captureLogger,
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sweepAndWait,
  waitFor,
  waitForJobState,
} from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const MB = 1024 * 1024;
const CANARY = `canary-inline-${randomBytes(12).toString('hex')}`;
/** A well-formed pin for a second host key (a rotation overlap); no server presents it. */
const ROTATION_PIN = `SHA256:${createHash('sha256').update('next host key').digest('base64').replace(/=+$/, '')}`;

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let redis: Redis;
let proxy: TcpProxy;
let ferry: RunningFerry;
let sweepQueue: Queue;
let deliverQueue: Queue;
let partners: Record<'inflight' | 'other', PartnerFixture>;
const logs = captureLogger('info');

const logLines = () => logs.lines();
const messages = (msg: string) => logLines().filter((l) => String(l.msg).startsWith(msg));

async function schedulers() {
  return (await sweepQueue.getJobSchedulers(0, -1))
    .map((s) => ({ key: s.key, pattern: s.pattern, tz: s.tz, next: s.next }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

async function deliveryIdOf(partnerId: string, key: string): Promise<string> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
  return computeDeliveryId({ partnerId, bucket: fixture.bucket, key, etag: normalizeEtag(head.ETag ?? '') });
}

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  proxy = await startTcpProxy(services.sshd.port);
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = `admin-${randomBytes(8).toString('hex')}`;
  partners = {
    inflight: { id: 'inflight', port: proxy.port, cron: '0 2 1 1 *', attempts: 3 },
    other: { id: 'other', cron: '0 3 1 1 *' },
  };
  fixture = await writeFerryConfig(services, {
    partners: Object.values(partners),
    worker:
      'concurrency: 4, idleTimeoutSeconds: 1, lockDurationSeconds: 3, stalledIntervalSeconds: 1, stallTimeoutSeconds: 20, slotLeaseSeconds: 3',
  });
  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
  sweepQueue = new Queue('sweep', { connection: redis, prefix: '{ferry}' });
  deliverQueue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
  ferry = await startFerry({
    config: await loadConfigOrThrow(fixture.dir),
    role: 'all',
    env: process.env,
    logger: logs.logger,
  });
});

afterAll(async () => {
  await ferry?.close();
  await sweepQueue?.close();
  await deliverQueue?.close();
  redis?.disconnect();
  s3?.destroy();
  await proxy?.close();
  await services?.stop();
});

describe('config reloads', () => {
  it('finishes a 10 MB delivery in flight while a valid edit is loaded: 0 failures, and the new config runs afterwards', async () => {
    const dir = fixture.partnerDirs.inflight!;
    const key = 'inflight/big.bin';
    const observer = await observePartnerDir(dir);
    await putObjects(s3, fixture.bucket, [{ key, size: 10 * MB }]);
    const id = await deliveryIdOf('inflight', key);
    proxy.setFault({ kind: 'throttle', bytesPerSecond: 2 * MB });
    const sweeping = sweepAndWait(ferry.getConfig(), 'inflight');
    const temp = await waitFor(async () => (await readPartnerDir(dir)).temps[0], 'the upload to start');
    await waitFor(
      async () => ((await stat(join(dir, temp))).size >= 1 * MB ? true : undefined),
      'the first megabyte',
    );

    // The edit: this partner's retry policy and a second host-key pin (a rotation overlap, which also
    // retires its pooled connection), and another partner's schedule.
    const before = ferry.getConfig();
    await writePartnerFile(
      fixture.dir,
      services,
      { ...partners.inflight, attempts: 5, hostKeys: [services.sshd.hostKeyFingerprint, ROTATION_PIN] },
      dir,
    );
    await writePartnerFile(
      fixture.dir,
      services,
      { ...partners.other, cron: '30 4 * * *' },
      fixture.partnerDirs.other!,
    );
    const after = await waitFor(() => {
      const c = ferry.getConfig();
      return c.partners.get('inflight')?.retry.attempts === 5 &&
        c.partners.get('other')?.schedule.cron === '30 4 * * *'
        ? c
        : undefined;
    }, 'the edit to be loaded');
    expect(after).not.toBe(before);
    // The reload landed mid-transfer.
    expect((await readPartnerDir(dir)).finals.has('big.bin')).toBe(false);
    await waitFor(
      async () => (await schedulers()).find((s) => s.key === 'sweep-other' && s.pattern === '30 4 * * *'),
      'the new schedule',
    );

    const { code, summary } = await sweeping;
    expect(summary).toMatch(/^delivered 1, .*failed 0/);
    expect(code).toBe(0);
    const job = await waitForJobState(deliverQueue, id, 'completed');
    expect(job.attemptsMade).toBe(1);
    expect((job.returnvalue as DeliverResult).bytes).toBe(10 * MB);
    // No attempt failed, nothing alerted, for this partner or because of the reload.
    expect(logLines().filter((l) => l.partnerId === 'inflight' && l.errCode !== undefined)).toEqual([]);
    expect(logLines().filter((l) => l.alert === true)).toEqual([]);

    // The next delivery runs on the new config: a fresh connection with both pins, 5 attempts.
    proxy.clearFault();
    await putObjects(s3, fixture.bucket, [{ key: 'inflight/after.csv', size: 4096 }]);
    const next = await sweepAndWait(ferry.getConfig(), 'inflight');
    expect(next.summary).toMatch(/^delivered 1, already delivered 1, .*failed 0/);
    const nextJob = await deliverQueue.getJob(await deliveryIdOf('inflight', 'inflight/after.csv'));
    expect(nextJob?.opts.attempts).toBe(5);

    expect(logs.text()).not.toContain(process.env.FERRY_ADMIN_PASSWORD);
    await observer.stop();
    expectUniversalFigures(
      await measureUniversalFigures({
        s3,
        bucket: fixture.bucket,
        keys: [key, 'inflight/after.csv'],
        partnerDir: dir,
        events: observer.events(),
        publish: 'rename',
        prefix: 'inflight/',
      }),
    );
  });

  it('rejects every class of bad input on reload, naming file:line:col, while the running config and schedules stay as they were', async () => {
    const probePath = join(fixture.dir, 'partners', 'probe.yaml');
    const probeDir = join(services.sshd.inbound, 'probe');
    const valid = [
      'id: probe',
      'enabled: true',
      'schedule: { cron: "0 5 1 1 *", timezone: UTC }',
      'source: { bucket: warehouse-exports, prefix: probe/ }',
      'target:',
      '  host: 127.0.0.1',
      `  port: ${services.sshd.port}`,
      `  username: ${services.sshd.username}`,
      `  hostKeys: ["${services.sshd.hostKeyFingerprint}"]`,
      `  auth: { privateKeyFile: ${services.sshd.privateKeyPath} }`,
      `  directory: ${probeDir}`,
      '  fileMode: "0640"',
      '',
    ].join('\n');
    const edit = (from: string, to: string) => {
      expect(valid).toContain(from);
      return valid.replace(from, to);
    };
    // [matrix row, what the file holds, the problem expected on the probe file]
    const cases: [string, string, RegExp][] = [
      ['E1 truncated file', valid.slice(0, valid.indexOf('UTC }')), /probe\.yaml:\d+:\d+: /],
      ['E1 tab indentation', edit('  username:', '\tusername:'), /:\d+:\d+: .*tab/],
      [
        'E1 duplicate key',
        edit('  username:', '  host: 127.0.0.2\n  username:'),
        /target\.host: duplicate key/,
      ],
      [
        'E2 misspelt field',
        edit('  fileMode:', '  hostKeyFingerprnt: x\n  fileMode:'),
        /hostKeyFingerprnt: unknown field/,
      ],
      ['E2 extra top-level key', `${valid}owner: data-team\n`, /:\d+:\d+: owner: unknown field/],
      ['E3 unquoted octal mode', edit('fileMode: "0640"', 'fileMode: 0640'), /target\.fileMode: /],
      ['E3 unquoted cron', edit('cron: "0 5 1 1 *"', 'cron: */5 * * * *'), /schedule\.cron: /],
      [
        'E3 port as a string',
        edit(`port: ${services.sshd.port}`, 'port: "22"'),
        /target\.port: must be a number/,
      ],
      ['E3 YAML 1.1 boolean', edit('enabled: true', 'enabled: NO'), /enabled: must be true or false/],
      [
        'E4 cron out of range',
        edit('cron: "0 5 1 1 *"', 'cron: "61 * * * *"'),
        /schedule\.cron: invalid cron/,
      ],
      [
        'E4 unknown timezone',
        edit('timezone: UTC', 'timezone: Mars/Base'),
        /schedule\.timezone: unknown timezone/,
      ],
      [
        'E5 inline password',
        edit(`{ privateKeyFile: ${services.sshd.privateKeyPath} }`, `{ password: ${CANARY} }`),
        /target\.auth\.password: secrets must be references/,
      ],
      [
        'E5 inline private key',
        edit(
          services.sshd.privateKeyPath,
          `"-----BEGIN OPENSSH PRIVATE KEY-----\\n${CANARY}\\n-----END OPENSSH PRIVATE KEY-----"`,
        ),
        /target\.auth\.privateKeyFile: secrets must be references/,
      ],
      [
        'E6 no host-key pin',
        edit(`  hostKeys: ["${services.sshd.hostKeyFingerprint}"]\n`, ''),
        /target\.hostKeys: required/,
      ],
      ['E7 duplicate partner id', edit('id: probe', 'id: other'), /id: duplicate partner id "other"/],
      [
        'E7 same target as another partner',
        edit(`directory: ${probeDir}`, `directory: ${fixture.partnerDirs.other!}`),
        /same host, port and directory as partner "other"/,
      ],
      [
        'E8 relative directory',
        edit(`directory: ${probeDir}`, 'directory: inbound/probe'),
        /target\.directory: must be an absolute path/,
      ],
      [
        'E8 directory with ..',
        edit(`directory: ${probeDir}`, `directory: ${probeDir}/../other`),
        /target\.directory: must not contain "\.\." segments/,
      ],
    ];

    const running = ferry.getConfig();
    const scheduled = await schedulers();
    for (const [row, text, expected] of cases) {
      const seen = messages('config reload rejected').length;
      await writeFile(probePath, text);
      const rejection = await waitFor(
        () =>
          messages('config reload rejected')
            .slice(seen)
            .find((l) => (l.problems as string[]).some((p) => expected.test(p))),
        `${row} to be rejected with ${expected}`,
        15_000,
        20,
      );
      const problems = rejection.problems as string[];
      expect(
        problems.some((p) => p.startsWith(`${probePath}:`) && /^[^:]+:\d+:\d+: /.test(p)),
        row,
      ).toBe(true);
      expect(rejection).toMatchObject({ alert: true, errCode: 'ERR_CONFIG_INVALID' });
      expect(ferry.getConfig(), row).toBe(running);
    }
    expect(await schedulers()).toEqual(scheduled);
    expect(logs.text()).not.toContain(CANARY);

    // Fixing it is picked up as usual.
    const loaded = messages('config reloaded').length;
    await writeFile(probePath, valid);
    await waitFor(
      () => messages('config reloaded').length > loaded && ferry.getConfig().partners.has('probe'),
      'the fix',
    );
    await waitFor(
      async () => (await schedulers()).find((s) => s.key === 'sweep-probe'),
      'the probe schedule',
    );
    await rm(probePath);
    await waitFor(() => !ferry.getConfig().partners.has('probe'), 'the probe partner to go');
  });
});
