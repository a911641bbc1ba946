// Reliability matrix §5.2 C, server variants: what Ferry does against real OpenSSH servers that offer
// only weak algorithms, forbid rename, posix-rename or setstat, already hold the target name, or drop
// idle sessions. Every row ends with the universal figures (nothing lost, duplicated, partial or orphaned).
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFerry } from '../../src/main.js';
import { expectPartnerConverged } from '../support/convergence.js';
import { writeFerryConfig, type FerryFixture, type PartnerFixture } from '../support/ferry-fixture.js';
import { observePartnerDir, type PartnerEvent, type PartnerObserver } from '../support/partner-observer.js';
import {
  captureLogger,
  dumpRedisAsText,
  jobsOfPartner,
  putObjects,
  readPartnerDir,
  startTestFerry,
  sweepAndWait,
  type TestFerry,
  waitFor,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';
import { readSshdLog, startSshd, type SshdHandle, type SshdOptions } from '../support/sshd.js';

// ssh2's SFTP client class: its setstat-family methods are spied on to prove Ferry never sends one.
interface SftpPrototype {
  setstat: (...args: unknown[]) => unknown;
  fsetstat: (...args: unknown[]) => unknown;
  ext_openssh_lsetstat: (...args: unknown[]) => unknown;
}
const { SFTP } = createRequire(import.meta.url)('ssh2/lib/protocol/SFTP.js') as {
  SFTP: { prototype: SftpPrototype };
};

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let ferry: RunningFerry;
let redis: Redis;
let deliverQueue: Queue;
let testFerry: TestFerry | undefined;
const variants: Record<string, SshdHandle> = {};
const observers: PartnerObserver[] = [];
const logs = captureLogger();
const ADMIN_CANARY = `canary-admin-${randomBytes(12).toString('hex')}`;

const VARIANTS: Record<string, SshdOptions> = {
  weak: {
    extraConfig: ['Ciphers aes128-cbc', 'MACs hmac-sha1', 'KexAlgorithms diffie-hellman-group14-sha1'],
  },
  norename: { sftpFlags: ['-P', 'rename,posix-rename'] },
  noposix: { sftpFlags: ['-P', 'posix-rename'] },
  nosetstat: { sftpFlags: ['-P', 'setstat,fsetstat,lsetstat'] },
  // ClientAliveInterval/ClientAliveCountMax cannot drop a client that answers keepalives (and a zero
  // count disables the drop, sshd_config(5)); ChannelTimeout closes an SFTP session idle for 2 s.
  idle: { extraConfig: ['ChannelTimeout session:*=2', 'UnusedConnectionTimeout 2'] },
  readonly: { sftpFlags: ['-R'] },
  // Restarted with a new host key mid-test (a MITM, or an unannounced key change): its own instance.
  rotated: {},
};

/** A partner served by one of the sshd variants (same SFTP user, its own port, key and host key). */
function on(variant: string, partner: PartnerFixture): PartnerFixture {
  const sshd = variants[variant]!;
  return {
    ...partner,
    port: sshd.port,
    hostKeys: [sshd.hostKeyFingerprint],
    auth: `{ privateKeyFile: ${sshd.privateKeyPath} }`,
  };
}

const jobsOf = (partnerId: string): Promise<Job[]> => jobsOfPartner(deliverQueue, partnerId);

async function onlyJobOf(partnerId: string): Promise<Job> {
  const mine = await jobsOf(partnerId);
  expect(mine).toHaveLength(1);
  return mine[0]!;
}

async function observe(partnerId: string): Promise<PartnerObserver> {
  const observer = await observePartnerDir(fixture.partnerDirs[partnerId]!);
  observers.push(observer);
  return observer;
}

/** Stops the observer (after a sync) and asserts the universal figures for the partner's keys. */
async function expectConverged(
  partnerId: string,
  observer: PartnerObserver,
  options: {
    keys: string[];
    publish?: 'rename' | 'direct';
    settled?: Record<string, 'failed' | 'skipped'>;
  },
): Promise<PartnerEvent[]> {
  await observer.stop();
  const events = observer.events();
  await expectPartnerConverged({ s3, fixture, partnerId, events, ...options });
  return events;
}

const sweep = (partnerId: string) => sweepAndWait(ferry.getConfig(), partnerId, 45);
const onName = (events: PartnerEvent[], name: string) =>
  events.filter((e) => e.name === name).map((e) => e.event);

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  await Promise.all(
    Object.entries(VARIANTS).map(async ([name, options]) => {
      variants[name] = await startSshd({ ...options, dir: join(services.sshd.dir, '..', `sshd-${name}`) });
    }),
  );
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = ADMIN_CANARY;
  fixture = await writeFerryConfig(services, {
    partners: [
      on('weak', { id: 'weak', attempts: 3 }),
      on('norename', { id: 'norename', publish: 'rename', attempts: 3 }),
      on('norename', { id: 'norenamedirect', publish: 'direct', fileMode: '0600' }),
      on('nosetstat', { id: 'nosetstat', fileMode: '0640' }),
      on('noposix', { id: 'noposix', onExisting: 'overwrite', attempts: 3 }),
      on('norename', { id: 'norenameoverwrite', onExisting: 'overwrite', attempts: 3 }),
      on('idle', { id: 'idle', attempts: 3 }),
      on('readonly', { id: 'roserver', attempts: 3 }),
      on('rotated', { id: 'rotated', attempts: 3 }),
      { id: 'atomic', onExisting: 'overwrite', attempts: 3 },
    ],
    worker:
      'concurrency: 4, lockDurationSeconds: 5, stalledIntervalSeconds: 2, keepaliveIntervalSeconds: 1, keepaliveCountMax: 2, stallTimeoutSeconds: 8, connectTimeoutSeconds: 5, idleTimeoutSeconds: 30',
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  ({ s3, redis, deliverQueue, ferry } = testFerry);
});

afterAll(async () => {
  await Promise.all(observers.map((o) => o.stop()));
  await testFerry?.close();
  await Promise.all(Object.values(variants).map((v) => v.stop()));
  await services?.stop();
});

describe('SFTP server variants', () => {
  it('refuses a server that offers only weak algorithms: one attempt, no authentication, no bytes', async () => {
    const observer = await observe('weak');
    await putObjects(s3, fixture.bucket, [{ key: 'weak/orders.csv', size: 2000 }]);
    const { code, summary } = await sweep('weak');
    expect(code).toBe(1);
    expect(summary).toMatch(/failed 1/);
    const job = await onlyJobOf('weak');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/ERR_SFTP_ALGORITHMS/);
    const alert = logs.lines().find((l) => l.partnerId === 'weak' && l.errCode === 'ERR_SFTP_ALGORITHMS');
    expect(alert).toMatchObject({ alert: true, willRetry: false });

    // sshd logs the refusal in its own process, possibly after the job has failed: wait for the line.
    const log = await waitFor(async () => {
      const text = await readSshdLog(variants.weak!);
      return /Unable to negotiate with 127\.0\.0\.1/.test(text) ? text : undefined;
    }, 'sshd to log the refused negotiation');
    expect(log).not.toMatch(/Accepted publickey|Failed publickey/);
    const events = await expectConverged('weak', observer, {
      keys: ['weak/orders.csv'],
      settled: { 'weak/orders.csv': 'failed' },
    });
    expect(events).toEqual([]);
  });

  it('fails for good with a hint to use publish: direct when the server forbids rename, leaving no temp file', async () => {
    const observer = await observe('norename');
    await putObjects(s3, fixture.bucket, [{ key: 'norename/orders.csv', size: 100_000 }]);
    const { code } = await sweep('norename');
    expect(code).toBe(1);
    const job = await onlyJobOf('norename');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/ERR_SFTP_RENAME_UNSUPPORTED/);
    expect(job.failedReason).toMatch(/publish: direct/);

    const events = await expectConverged('norename', observer, {
      keys: ['norename/orders.csv'],
      settled: { 'norename/orders.csv': 'failed' },
    });
    // The temp file was written, the rename refused, the temp removed; the final name never appeared.
    const temp = events.find((e) => e.event === 'CREATE')?.name ?? '';
    expect(temp).toMatch(/^\.orders\.csv\.[0-9a-f]{12}\.part$/);
    expect(onName(events, temp)).toEqual(['CREATE', 'CLOSE_WRITE', 'DELETE']);
    expect(onName(events, 'orders.csv')).toEqual([]);
  });

  it('delivers with publish: direct to a server that forbids rename', async () => {
    const observer = await observe('norenamedirect');
    const [object] = await putObjects(s3, fixture.bucket, [
      { key: 'norenamedirect/orders.csv', size: 100_000 },
    ]);
    expect((await sweep('norenamedirect')).summary).toMatch(/^delivered 1,/);
    expect((await onlyJobOf('norenamedirect')).attemptsMade).toBe(1);
    const events = await expectConverged('norenamedirect', observer, {
      keys: ['norenamedirect/orders.csv'],
      publish: 'direct',
    });
    expect(onName(events, 'orders.csv')).toEqual(['CREATE', 'CLOSE_WRITE']);
    const dir = await readPartnerDir(fixture.partnerDirs.norenamedirect!);
    expect(dir.finals.get('orders.csv')).toMatchObject({ sha256: object!.sha256, mode: 0o600 });
  });

  it('delivers with the configured mode to a server that forbids setstat, sending no setstat request', async () => {
    const calls: string[] = [];
    const methods = ['setstat', 'fsetstat', 'ext_openssh_lsetstat'] as const;
    const originals = methods.map((method) => [method, SFTP.prototype[method]] as const);
    for (const [method, original] of originals) {
      SFTP.prototype[method] = function (this: unknown, ...args: unknown[]) {
        calls.push(method);
        return original.apply(this, args);
      };
    }
    try {
      const observer = await observe('nosetstat');
      const [object] = await putObjects(s3, fixture.bucket, [{ key: 'nosetstat/orders.csv', size: 300_000 }]);
      expect((await sweep('nosetstat')).summary).toMatch(/^delivered 1,/);
      expect((await onlyJobOf('nosetstat')).attemptsMade).toBe(1);
      expect(calls).toEqual([]);
      await expectConverged('nosetstat', observer, { keys: ['nosetstat/orders.csv'] });
      const dir = await readPartnerDir(fixture.partnerDirs.nosetstat!);
      expect(dir.finals.get('orders.csv')).toMatchObject({ sha256: object!.sha256, mode: 0o640 });

      // Control: the spy sees a chmod, and this server refuses it (so a client that chmods after
      // uploading would fail the attempt here, and retry into a duplicate).
      const refused = await chmodWithRawSsh2(
        variants.nosetstat!,
        join(fixture.partnerDirs.nosetstat!, 'orders.csv'),
      );
      expect(calls).toEqual(['setstat']);
      expect(refused).toMatchObject({ code: 3 }); // SSH_FX_PERMISSION_DENIED
    } finally {
      for (const [method, original] of originals) SFTP.prototype[method] = original;
    }
  });

  it('replaces an existing file atomically with posix-rename: the final name is never missing', async () => {
    const dir = fixture.partnerDirs.atomic!;
    await writeFile(join(dir, 'orders.csv'), 'the partner already has this\n');
    const observer = await observe('atomic');
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'atomic/orders.csv', size: 200_000 }]);
    expect((await sweep('atomic')).summary).toMatch(/^delivered 1,/);
    const events = await expectConverged('atomic', observer, { keys: ['atomic/orders.csv'] });
    // One rename onto the name; never a DELETE or MOVED_FROM of it, so no moment without the file.
    expect(onName(events, 'orders.csv')).toEqual(['MOVED_TO']);
    expect((await readPartnerDir(dir)).finals.get('orders.csv')?.sha256).toBe(object!.sha256);
  });

  it('replaces an existing file without posix-rename only after the new file is complete', async () => {
    const dir = fixture.partnerDirs.noposix!;
    await writeFile(join(dir, 'orders.csv'), 'the partner already has this\n');
    const observer = await observe('noposix');
    const [object] = await putObjects(s3, fixture.bucket, [{ key: 'noposix/orders.csv', size: 200_000 }]);
    expect((await sweep('noposix')).summary).toMatch(/^delivered 1,/);
    expect((await onlyJobOf('noposix')).attemptsMade).toBe(1);
    const events = await expectConverged('noposix', observer, { keys: ['noposix/orders.csv'] });
    const label = (name: string) =>
      name.endsWith('.part') ? 'temp' : name.endsWith('.old') ? 'aside' : name;
    expect(asRenames(events).map((step) => step.replace(/[^ →]+/g, label))).toEqual([
      'CREATE temp',
      'CLOSE_WRITE temp',
      // Only once the new file is complete is the partner's file moved aside (never deleted first)…
      'RENAME orders.csv→aside',
      // …then the new one renamed into place, and the old one removed.
      'RENAME temp→orders.csv',
      'DELETE aside',
    ]);
    expect((await readPartnerDir(dir)).finals.get('orders.csv')?.sha256).toBe(object!.sha256);
  });

  it("keeps the partner's file when overwrite cannot rename the new one into place", async () => {
    const dir = fixture.partnerDirs.norenameoverwrite!;
    await writeFile(join(dir, 'orders.csv'), 'the partner already has this\n');
    const observer = await observe('norenameoverwrite');
    await putObjects(s3, fixture.bucket, [{ key: 'norenameoverwrite/orders.csv', size: 100_000 }]);
    expect((await sweep('norenameoverwrite')).code).toBe(1);
    const job = await onlyJobOf('norenameoverwrite');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/ERR_SFTP_RENAME_UNSUPPORTED/);
    const events = await expectConverged('norenameoverwrite', observer, {
      keys: ['norenameoverwrite/orders.csv'],
      settled: { 'norenameoverwrite/orders.csv': 'failed' },
    });
    expect(onName(events, 'orders.csv')).toEqual([]);
    expect(await readFile(join(dir, 'orders.csv'), 'utf8')).toBe('the partner already has this\n');
  });

  it('reconnects transparently after the server dropped the idle pooled connection', async () => {
    const observer = await observe('idle');
    await putObjects(s3, fixture.bucket, [{ key: 'idle/first.csv', size: 50_000 }]);
    expect((await sweep('idle')).summary).toMatch(/^delivered 1,/);
    // The server closes the idle session; the pool notices and retires the connection.
    await waitFor(
      () =>
        logs
          .lines()
          .some(
            (l) =>
              l.msg === 'sftp connection retired' &&
              String(l.partnerKey).startsWith('idle#') &&
              l.reason === 'closed-while-idle',
          ),
      'the pool to retire the dropped idle connection',
      15_000,
    );
    expect(await readSshdLog(variants.idle!)).toMatch(/closing after 2 seconds of inactivity/);

    await putObjects(s3, fixture.bucket, [{ key: 'idle/second.csv', size: 50_000 }]);
    expect((await sweep('idle')).summary).toMatch(/^delivered 1, already delivered 1,/);
    const jobs = await jobsOf('idle');
    expect(jobs).toHaveLength(2);
    expect(jobs.map((j) => j.attemptsMade)).toEqual([1, 1]);
    expect(logs.lines().filter((l) => l.partnerId === 'idle' && Number(l.level) >= 40)).toEqual([]);
    expect((await readSshdLog(variants.idle!)).match(/Accepted publickey/g)).toHaveLength(2);
    await expectConverged('idle', observer, { keys: ['idle/first.csv', 'idle/second.csv'] });
  });
  it('keeps secrets out of the logs and Redis through every fault above', async () => {
    const keyBody: string[] = [];
    for (const sshd of [services.sshd, ...Object.values(variants)]) {
      const key = await readFile(sshd.privateKeyPath, 'utf8');
      keyBody.push(...key.split('\n').filter((line) => line !== '' && !line.startsWith('-----')));
    }
    const everything = logs.text() + (await dumpRedisAsText(redis));
    expect(everything.length).toBeGreaterThan(0);
    for (const secret of [ADMIN_CANARY, 'PRIVATE KEY', ...keyBody]) {
      expect(everything).not.toContain(secret);
    }
  });
  it('fails for good, without retrying, when the server is read-only (internal-sftp -R), leaving nothing', async () => {
    const observer = await observe('roserver');
    await putObjects(s3, fixture.bucket, [{ key: 'roserver/orders.csv', size: 1000 }]);
    const { code } = await sweep('roserver');
    expect(code).toBe(1);
    const job = await onlyJobOf('roserver');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/ERR_SFTP_PERMISSION/);
    const events = await expectConverged('roserver', observer, {
      keys: ['roserver/orders.csv'],
      settled: { 'roserver/orders.csv': 'failed' },
    });
    expect(events).toEqual([]);
  });

  it('refuses a server whose host key changed on the same port, before authenticating, naming both fingerprints', async () => {
    const sshd = variants.rotated!;
    const pinned = sshd.hostKeyFingerprint;
    await putObjects(s3, fixture.bucket, [{ key: 'rotated/before.csv', size: 1000 }]);
    expect((await sweep('rotated')).summary).toMatch(/^delivered 1,/);

    await sshd.start({ newHostKey: true });
    expect(sshd.hostKeyFingerprint).not.toBe(pinned);
    const authBefore = ((await readSshdLog(sshd)).match(/Accepted publickey|Failed publickey/g) ?? []).length;
    const observer = await observe('rotated');
    await putObjects(s3, fixture.bucket, [{ key: 'rotated/after.csv', size: 1000 }]);
    const { code, summary } = await sweep('rotated');
    expect(code).toBe(1);
    expect(summary).toMatch(/failed 1/);
    const failed = (await jobsOf('rotated')).filter((j) => j.failedReason);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attemptsMade).toBe(1);
    expect(failed[0]!.failedReason).toMatch(/ERR_HOST_KEY_MISMATCH/);
    const alert = logs
      .lines()
      .find((l) => l.partnerId === 'rotated' && l.errCode === 'ERR_HOST_KEY_MISMATCH');
    expect(alert).toMatchObject({ alert: true, presented: sshd.hostKeyFingerprint, pinned: [pinned] });
    // No credential was offered to the impostor, and nothing reached the directory.
    const authAfter = ((await readSshdLog(sshd)).match(/Accepted publickey|Failed publickey/g) ?? []).length;
    expect(authAfter).toBe(authBefore);
    const events = await expectConverged('rotated', observer, {
      keys: ['rotated/after.csv'],
      settled: { 'rotated/after.csv': 'failed' },
    });
    expect(events).toEqual([]);
  });
});

/** chmod through a plain ssh2 client (not Ferry's adapter): resolves with the server's error, if any. */
async function chmodWithRawSsh2(sshd: SshdHandle, path: string): Promise<{ code?: unknown } | undefined> {
  const privateKey = await readFile(sshd.privateKeyPath);
  const client = new Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.username,
        privateKey,
        hostVerifier: () => true,
      });
    });
    return await new Promise((resolve, reject) => {
      client.sftp((err, sftp) => {
        if (err) {
          reject(err);
          return;
        }
        sftp.chmod(path, 0o666, (chmodErr) =>
          resolve(chmodErr ? (chmodErr as { code?: unknown }) : undefined),
        );
      });
    });
  } finally {
    client.end();
  }
}

/**
 * The observer's events with each rename folded into one `RENAME from→to` step. OpenSSH renames with
 * link(from, to) + unlink(from) (CREATE to, DELETE from), or with rename(2) (MOVED_FROM, MOVED_TO) when
 * the kernel refuses the hard link (e.g. fs.protected_hardlinks on a file the SFTP user does not own).
 */
function asRenames(events: PartnerEvent[]): string[] {
  const steps: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const next = events[i + 1];
    if (e.event === 'MOVED_FROM' && next?.event === 'MOVED_TO') {
      steps.push(`RENAME ${e.name}→${next.name}`);
      i++;
    } else if (e.event === 'CREATE' && next?.event === 'DELETE' && next.name !== e.name) {
      steps.push(`RENAME ${next.name}→${e.name}`);
      i++;
    } else {
      steps.push(`${e.event} ${e.name}`);
    }
  }
  return steps;
}
