// Ferry as separate `ferry start` processes (the compiled CLI), as it runs in production.
import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFerryConfig, writePartnerFile, type FerryFixture } from '../support/ferry-fixture.js';
import { spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { loadConfigOrThrow, putObjects, readPartnerDir, sweepAndWait, waitFor } from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let redis: Redis;
let proxy: TcpProxy;
let env: NodeJS.ProcessEnv;
const running: FerryProcess[] = [];

function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): FerryProcess {
  const p = spawnFerry(['start', '--config', fixture.dir, ...args], { ...env, ...extraEnv });
  running.push(p);
  return p;
}

const sweepAndWaitFor = async (partnerId: string) =>
  sweepAndWait(await loadConfigOrThrow(fixture.dir, env), partnerId, 90);

/** Resolves once `path` exists with at least `bytes` bytes (polling: the writer is another process). */
function fileReaches(path: string, bytes: number) {
  return waitFor(
    async () => {
      const st = await stat(path).catch(() => undefined);
      return st && st.size >= bytes ? st.size : undefined;
    },
    `${path} to reach ${bytes} bytes`,
    30_000,
    5,
  );
}

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  proxy = await startTcpProxy(services.sshd.port);
  env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: services.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
    FERRY_ADMIN_PASSWORD: 'worker-test-password',
    LOG_LEVEL: 'info',
  };
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'capped', prefix: 'capped/', maxConnections: 1, port: proxy.port },
      { id: 'big', prefix: 'big/' },
    ],
    worker:
      'concurrency: 4, idleTimeoutSeconds: 1, lockDurationSeconds: 3, stalledIntervalSeconds: 1, stallTimeoutSeconds: 20, slotLeaseSeconds: 3',
  });
  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
});

afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
});

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await proxy?.close();
  await services?.stop();
});

describe('worker processes', () => {
  it('never holds more than maxConnections to a partner across two worker processes', async () => {
    await putObjects(
      s3,
      fixture.bucket,
      Array.from({ length: 20 }, (_, i) => ({ key: `capped/file_${i}.csv`, size: 200_000 })),
    );
    const a = start(['--role', 'worker']);
    const b = start(['--role', 'worker']);
    await Promise.all([a.waitForLine(/ferry started/), b.waitForLine(/ferry started/)]);
    const { code, summary } = await sweepAndWaitFor('capped');
    expect(summary).toMatch(/^delivered 20, /);
    expect(code).toBe(0);
    expect(proxy.maxOpen).toBe(1);
    expect(proxy.accepted).toBeGreaterThanOrEqual(1);
    // Both processes took part (the cap is shared, not per process).
    expect(a.output()).toMatch(/delivery completed/);
    expect(b.output()).toMatch(/delivery completed/);
    const dir = await readPartnerDir(fixture.partnerDirs.capped!);
    expect(dir.finals.size).toBe(20);
    expect(dir.temps).toEqual([]);
  });

  it('delivers once when a worker is SIGKILLed mid-transfer and another takes the job over', async () => {
    const [object] = await putObjects(s3, fixture.bucket, [
      { key: 'big/kill-me.bin', size: 64 * 1024 * 1024 },
    ]);
    const victim = start(['--role', 'worker']);
    await victim.waitForLine(/ferry started/);
    const sweeping = sweepAndWaitFor('big');
    const temp = await waitFor(
      async () => {
        const { temps } = await readPartnerDir(fixture.partnerDirs.big!).catch(() => ({
          temps: [] as string[],
        }));
        return temps[0];
      },
      'the temp file to appear',
      30_000,
      5,
    );
    await fileReaches(join(fixture.partnerDirs.big!, temp), 1024 * 1024);
    victim.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    const partial = await stat(join(fixture.partnerDirs.big!, temp));
    expect(partial.size).toBeLessThan(object!.body.length);

    const rescuer = start(['--role', 'worker']);
    const { code, summary } = await sweeping;
    expect(summary).toMatch(/^delivered 1, /);
    expect(code).toBe(0);
    expect(rescuer.output()).toMatch(/delivery completed/);
    const dir = await readPartnerDir(fixture.partnerDirs.big!);
    expect(dir.temps).toEqual([]);
    expect(dir.finals.get('kill-me.bin')?.sha256).toBe(object!.sha256);
  });

  it('finishes an in-flight delivery on SIGTERM, then exits 0', async () => {
    const [object] = await putObjects(s3, fixture.bucket, [
      { key: 'big/graceful.bin', size: 48 * 1024 * 1024 },
    ]);
    const worker = start(['--role', 'worker']);
    await worker.waitForLine(/ferry started/);
    const sweeping = sweepAndWaitFor('big');
    const temp = await waitFor(
      async () => {
        const { temps } = await readPartnerDir(fixture.partnerDirs.big!);
        return temps[0];
      },
      'the temp file to appear',
      30_000,
      5,
    );
    expect(temp).toBeDefined();
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const { summary } = await sweeping;
    expect(summary).toMatch(/^delivered 1, /);
    expect(worker.output()).toMatch(/delivery completed/);
    expect(worker.output()).not.toMatch(/stalled/);
    const dir = await readPartnerDir(fixture.partnerDirs.big!);
    expect(dir.finals.get('graceful.bin')?.sha256).toBe(object!.sha256);
  });

  it('runs --processes 2 worker processes that deliver, restarts one that dies, and stops both on SIGTERM', async () => {
    const supervisor = start(['--role', 'worker', '--processes', '2']);
    const started = () => supervisor.output().match(/"msg":"ferry started"/g)?.length ?? 0;
    await waitFor(() => started() >= 2, 'both worker processes to start');
    const pids = () =>
      [...supervisor.output().matchAll(/"pid":(\d+),"msg":"worker process started"/g)].map((m) =>
        Number(m[1]),
      );
    expect(pids()).toHaveLength(2);

    await putObjects(
      s3,
      fixture.bucket,
      Array.from({ length: 6 }, (_, i) => ({ key: `big/multi_${i}.csv`, size: 100_000 })),
    );
    expect((await sweepAndWaitFor('big')).summary).toMatch(/^delivered 6, /);

    const [first] = pids();
    process.kill(first!, 'SIGKILL');
    await supervisor.waitForLine(/worker process exited on its own: restarting it/);
    await waitFor(() => started() >= 3, 'the dead worker process to be restarted');
    expect(pids()).toHaveLength(3);

    supervisor.kill('SIGTERM');
    expect(await supervisor.exited).toBe(0);
    const alive = pids().filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });

  it('stops its worker processes when the supervisor itself is killed', async () => {
    const supervisor = start(['--role', 'worker', '--processes', '1']);
    const line = await supervisor.waitForLine(/"msg":"worker process started"/);
    const pid = Number(/"pid":(\d+)/.exec(line)![1]);
    await supervisor.waitForLine(/"msg":"ferry started"/);

    supervisor.kill('SIGKILL');
    await supervisor.exited;
    // The worker sees its IPC channel close and shuts down as on SIGTERM; nothing is left running.
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the orphaned worker process to stop');
  });

  it('refuses --processes for any role but worker, with exit 2', async () => {
    const refused = start(['--role', 'all', '--processes', '2']);
    expect(await refused.exited).toBe(2);
    expect(refused.output()).toMatch(/--processes needs --role worker/);
  });

  it('keeps one job scheduler per partner when several scheduler processes start at once', async () => {
    const schedulers = [0, 1, 2].map(() => start(['--role', 'scheduler']));
    await Promise.all(schedulers.map((s) => s.waitForLine(/ferry started/)));
    const queue = new Queue('sweep', { connection: redis, prefix: '{ferry}' });
    const list = await queue.getJobSchedulers(0, -1);
    expect(list.map((s) => s.key).sort()).toEqual(['sweep-big', 'sweep-capped']);
    await queue.close();
    for (const s of schedulers) s.kill('SIGTERM');
    expect(await Promise.all(schedulers.map((s) => s.exited))).toEqual([0, 0, 0]);
  });

  it('picks up partner files added, changed and removed while running, and keeps the old config on a bad edit', async () => {
    const scheduler = start(['--role', 'scheduler']);
    await scheduler.waitForLine(/ferry started/);
    const queue = new Queue('sweep', { connection: redis, prefix: '{ferry}' });
    const schedulerFor = async (id: string) =>
      (await queue.getJobSchedulers(0, -1)).find((s) => s.key === id);

    const target = join(services.sshd.inbound, 'late');
    await writePartnerFile(
      fixture.dir,
      services,
      { id: 'late', prefix: 'late/', cron: '*/5 * * * *' },
      target,
    );
    await waitFor(() => schedulerFor('sweep-late'), 'the new partner to be scheduled', 15_000);

    await writePartnerFile(
      fixture.dir,
      services,
      { id: 'late', prefix: 'late/', cron: '15 3 * * *', timezone: 'Europe/Paris' },
      target,
    );
    const changed = await waitFor(
      async () => {
        const s = await schedulerFor('sweep-late');
        return s?.pattern === '15 3 * * *' ? s : undefined;
      },
      'the changed schedule',
      15_000,
    );
    expect(changed.tz).toBe('Europe/Paris');

    await writeFile(
      join(fixture.dir, 'partners', 'late.yaml'),
      'id: late\nschedule: { cron: "*/5 * * * *"\n',
    );
    await scheduler.waitForLine(/config reload rejected/, 15_000);
    expect((await schedulerFor('sweep-late'))?.pattern).toBe('15 3 * * *');

    await rm(join(fixture.dir, 'partners', 'late.yaml'));
    await waitFor(
      async () => ((await schedulerFor('sweep-late')) ? undefined : true),
      'the partner to be unscheduled',
      15_000,
    );
    await queue.close();
  });

  it('refuses to serve Bull Board without credentials unless --insecure-admin on loopback', async () => {
    const { FERRY_ADMIN_PASSWORD: _p, FERRY_ADMIN_USER: _u, ...noCreds } = env;
    const bare = await writeFerryConfig(
      services,
      { partners: [{ id: 'big', prefix: 'big/' }], adminUser: null },
      join(fixture.dir, '..', 'config-nocreds'),
    );
    const refused = spawnFerry(['start', '--role', 'web', '--config', bare.dir], noCreds);
    running.push(refused);
    expect(await refused.exited).not.toBe(0);
    expect(refused.output()).toMatch(/needs admin credentials/);

    const insecure = spawnFerry(
      ['start', '--role', 'web', '--insecure-admin', '--config', bare.dir],
      noCreds,
    );
    running.push(insecure);
    const line = await insecure.waitForLine(/Bull Board listening/);
    const url = (JSON.parse(line) as { url: string }).url;
    expect((await fetch(url.replace('/admin', '/healthz'))).status).toBe(200);
  });
});
