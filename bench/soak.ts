// `npm run soak -- --minutes N`: 3 partners, a stream of exports (1 KB – 50 MB), random faults every few
// seconds (worker SIGKILL, Redis SIGKILL + AOF restart, SFTP reset/blackhole, S3 reset, throttling), then a
// quiet period. Prints delivered / duplicates / partial / lost / orphans and p99 latency; exits 1 on any
// violation or when nothing was delivered, 2 when the flags leave no time to produce (bench/plan-soak.ts).
// Not part of CI: run it on demand.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes, randomInt } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureUniversalFigures, type UniversalFigures } from '../test/support/convergence.js';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { spawnFerry, type FerryProcess } from '../test/support/ferry-process.js';
import { observePartnerDir, type PartnerObserver } from '../test/support/partner-observer.js';
import { readPartnerDir, waitFor } from '../test/support/pipeline.js';
import { s3ClientFor, startServices } from '../test/support/services.js';
import { planSoak, soakVerdict } from './plan-soak.js';
import { startTcpProxy, type Fault } from '../test/support/tcp-proxy.js';

const PARTNERS = ['north', 'south', 'west'] as const;

/** Mostly small CSVs, now and then a big one: 1 KB – 50 MB. */
function pickSize(): number {
  const r = Math.random();
  if (r < 0.7) return randomInt(1_000, 100_000);
  if (r < 0.95) return randomInt(100_000, 5_000_000);
  return randomInt(5_000_000, 50_000_000);
}

export async function runSoak(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      minutes: { type: 'string', default: '10' },
      'quiet-seconds': { type: 'string' }, // default: 120 s, at most half the run (plan-soak.ts)
      'fault-every': { type: 'string', default: '8' },
    },
  });
  const plan = planSoak({
    minutes: values.minutes,
    quietSeconds: values['quiet-seconds'],
    faultEverySeconds: values['fault-every'],
  });
  if (!plan.ok) {
    process.stderr.write(`soak: ${plan.problem}\n`);
    return 2;
  }
  const quietMs = plan.quietSeconds * 1000;
  const faultEveryMs = plan.faultEverySeconds * 1000;
  const started = Date.now();
  const log = (line: string) =>
    process.stdout.write(`[soak ${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);
  log(
    `plan: produce exports with faults for ${plan.produceSeconds} s, then a quiet period of ${plan.quietSeconds} s${plan.note === undefined ? '' : ` (${plan.note})`}`,
  );

  const services = await startServices({
    buckets: ['warehouse-exports', 'ferry-audit'],
    redis: { persistence: 'aof' },
  });
  const sftpProxy = await startTcpProxy(services.sshd.port);
  const s3Proxy = await startTcpProxy(services.s3.port);
  const workers: FerryProcess[] = [];
  let control: FerryProcess | undefined;
  const observers = new Map<string, PartnerObserver>();
  try {
    const fixture = await writeFerryConfig(services, {
      partners: PARTNERS.map((id) => ({
        id,
        prefix: `${id}/`,
        cron: '*/5 * * * * *',
        port: sftpProxy.port,
        attempts: 20,
        backoffSeconds: 1,
        maxConnections: 2,
      })),
      worker:
        'concurrency: 4, lockDurationSeconds: 10, stalledIntervalSeconds: 2, slotLeaseSeconds: 5, keepaliveIntervalSeconds: 2, keepaliveCountMax: 2, stallTimeoutSeconds: 10, idleTimeoutSeconds: 5',
      logLevel: 'info',
    });
    // S3 through its own fault proxy.
    const ferryYaml = join(fixture.dir, 'ferry.yaml');
    await writeFile(
      ferryYaml,
      (await readFile(ferryYaml, 'utf8')).replace(services.s3.endpoint, `http://127.0.0.1:${s3Proxy.port}`),
    );
    for (const id of PARTNERS) observers.set(id, await observePartnerDir(fixture.partnerDirs[id]!));

    const runDir = join(fixture.dir, '..');
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: services.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
      FERRY_ADMIN_PASSWORD: randomBytes(8).toString('hex'),
    };
    const logFile = join(runDir, 'ferry.ndjson');
    const startWorker = (): FerryProcess => {
      const p = spawnFerry(['start', '--role', 'worker', '--config', fixture.dir], env);
      p.child.stdout?.on('data', (c: Buffer) => void appendFile(logFile, c));
      p.child.stderr?.on('data', (c: Buffer) => void appendFile(logFile, c));
      workers.push(p);
      return p;
    };
    control = spawnFerry(['start', '--role', 'scheduler', '--config', fixture.dir], env);
    control.child.stdout?.on('data', (c: Buffer) => void appendFile(logFile, c));
    await control.waitForLine(/ferry started/);
    await Promise.all([startWorker(), startWorker()].map((w) => w.waitForLine(/ferry started/)));
    log(`services up; config ${fixture.dir}; logs ${logFile}`);

    const s3 = s3ClientFor(services.s3);
    const putAt = new Map<string, number>();
    let bytesPut = 0;
    const faults: string[] = [];
    // The plan's minutes start now that everything is up: start-up must not eat a short run's production.
    const produceUntil = Date.now() + plan.produceSeconds * 1000;

    const produce = async () => {
      let n = 0;
      while (Date.now() < produceUntil) {
        const partner = PARTNERS[n % PARTNERS.length]!;
        const size = pickSize();
        const key = `${partner}/export_${String(n).padStart(6, '0')}.csv`;
        try {
          await s3.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: key, Body: randomBytes(size) }));
          putAt.set(key, Date.now());
          bytesPut += size;
          n += 1;
        } catch (err) {
          log(`producer: put failed (${(err as Error).name}), retrying`);
        }
        await new Promise((r) => setTimeout(r, randomInt(100, 600)));
      }
    };

    const injectFaults = async () => {
      const kinds = [
        'worker-kill',
        'redis-kill',
        'sftp-reset',
        'sftp-blackhole',
        's3-reset',
        's3-throttle',
        'sftp-throttle',
      ] as const;
      while (Date.now() < produceUntil) {
        await new Promise((r) => setTimeout(r, faultEveryMs));
        if (Date.now() >= produceUntil) break;
        const kind = kinds[randomInt(kinds.length)]!;
        faults.push(kind);
        log(`fault: ${kind}`);
        const transient = async (proxy: typeof sftpProxy, fault: Fault) => {
          proxy.setFault(fault);
          await new Promise((r) => setTimeout(r, 3000));
          proxy.clearFault();
        };
        switch (kind) {
          case 'worker-kill': {
            const victim = workers.splice(randomInt(workers.length), 1)[0];
            victim?.kill('SIGKILL');
            await victim?.exited;
            await startWorker().waitForLine(/ferry started/, 60_000);
            break;
          }
          case 'redis-kill':
            await services.redis.stop('SIGKILL');
            await services.redis.start();
            break;
          case 'sftp-reset':
            sftpProxy.resetAll();
            break;
          case 'sftp-blackhole':
            await transient(sftpProxy, { kind: 'blackhole', afterBytes: randomInt(1_000, 2_000_000) });
            break;
          case 's3-reset':
            await transient(s3Proxy, {
              kind: 'reset',
              afterBytes: randomInt(1_000, 2_000_000),
              direction: 'down',
            });
            break;
          case 's3-throttle':
            await transient(s3Proxy, { kind: 'throttle', bytesPerSecond: 2_000_000 });
            break;
          case 'sftp-throttle':
            await transient(sftpProxy, { kind: 'throttle', bytesPerSecond: 2_000_000 });
            break;
        }
      }
    };

    await Promise.all([produce(), injectFaults()]);
    log(
      `quiet period: ${putAt.size} objects put (${(bytesPut / 1e6).toFixed(0)} MB), ${faults.length} faults; waiting for convergence`,
    );

    const deliveredAll = async () => {
      let count = 0;
      for (const id of PARTNERS) count += (await readPartnerDir(fixture.partnerDirs[id]!)).finals.size;
      return count >= putAt.size ? count : undefined;
    };
    const deadline = Math.max(produceUntil + quietMs, Date.now() + 30_000) - Date.now();
    await waitFor(deliveredAll, 'every object to be delivered', deadline, 1000).catch(() => undefined);

    const figures: UniversalFigures = {
      lost: 0,
      duplicates: 0,
      partialVisible: 0,
      orphanTemps: 0,
      problems: [],
    };
    const latencies: number[] = [];
    for (const id of PARTNERS) {
      const events = observers.get(id)!.events();
      const keys = [...putAt.keys()].filter((k) => k.startsWith(`${id}/`));
      const f = await measureUniversalFigures({
        s3,
        bucket: fixture.bucket,
        keys,
        partnerDir: fixture.partnerDirs[id]!,
        events,
        publish: 'rename',
      });
      figures.lost += f.lost;
      figures.duplicates += f.duplicates;
      figures.partialVisible += f.partialVisible;
      figures.orphanTemps += f.orphanTemps;
      figures.problems.push(...f.problems);
      for (const key of keys) {
        const name = key.slice(id.length + 1);
        // OpenSSH publishes a plain rename as link+unlink (inotify CREATE), posix-rename as MOVED_TO.
        const published = events.find(
          (e) => (e.event === 'MOVED_TO' || e.event === 'CREATE') && e.name === name,
        );
        if (published) latencies.push(published.atMs - putAt.get(key)!);
      }
    }
    s3.destroy();
    latencies.sort((a, b) => a - b);
    const p = (q: number) =>
      latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! : NaN;
    const logText = await readFile(logFile, 'utf8').catch(() => '');
    const unhandled = (logText.match(/unhandled rejection|uncaughtException/g) ?? []).length;
    const secretLeak = logText.includes(env.FERRY_ADMIN_PASSWORD) ? 1 : 0;
    const faultCounts = faults.reduce<Record<string, number>>(
      (acc, k) => ({ ...acc, [k]: (acc[k] ?? 0) + 1 }),
      {},
    );
    const delivered = latencies.length;

    console.log('');
    console.log(
      `soak ${values.minutes} min: ${putAt.size} objects (${(bytesPut / 1e6).toFixed(0)} MB) to 3 partners, ${faults.length} faults ${JSON.stringify(faultCounts)}`,
    );
    console.log(
      `soak: delivered ${delivered}, duplicates ${figures.duplicates}, partial ${figures.partialVisible}, lost ${figures.lost}, orphans ${figures.orphanTemps}, unhandled ${unhandled}, secrets in logs ${secretLeak}`,
    );
    console.log(
      `soak: delivery latency (put → published) p50 ${(p(0.5) / 1000).toFixed(1)} s, p99 ${(p(0.99) / 1000).toFixed(1)} s, max ${(p(1) / 1000).toFixed(1)} s`,
    );
    for (const problem of figures.problems.slice(0, 20)) console.log(`soak: problem: ${problem}`);
    const violations =
      figures.lost +
      figures.duplicates +
      figures.partialVisible +
      figures.orphanTemps +
      unhandled +
      secretLeak;
    const verdict = soakVerdict({ violations, delivered });
    console.log(`soak: ${verdict}`);
    return verdict === 'PASS' ? 0 : 1;
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    control?.kill('SIGKILL');
    for (const o of observers.values()) await o.stop();
    await sftpProxy.close();
    await s3Proxy.close();
    await services.stop();
  }
}
