// sweep-batch: N objects of S bytes, end to end through the real pipeline (`ferry sweep --wait`:
// sweep, jobs, stream, verify, publish, receipts, ledger), against OpenSSH `sftp` putting the same
// bytes from local disk over one connection to the same sshd.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { runSweepCommand } from '../src/commands/sweep-command.js';
import { startFerry } from '../src/main.js';
import { createLogger } from '../src/observability/logger.js';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { loadConfigOrThrow, putObjects } from '../test/support/pipeline.js';
import { s3ClientFor, startServices } from '../test/support/services.js';

const run = promisify(execFile);

export async function runSweepBatchBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      files: { type: 'string', default: '200' },
      size: { type: 'string', default: String(1024 * 1024) },
      concurrency: { type: 'string', default: '8' },
      'max-connections': { type: 'string', default: '4' },
    },
  });
  const files = Number(values.files);
  const size = Number(values.size);
  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  try {
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    process.env.FERRY_ADMIN_PASSWORD = randomBytes(8).toString('hex');
    const fixture = await writeFerryConfig(services, {
      partners: [{ id: 'bench', prefix: 'bench/', maxConnections: Number(values['max-connections']) }],
      worker: `concurrency: ${values.concurrency}`,
      logLevel: 'warn',
    });
    const s3 = s3ClientFor(services.s3);
    const local = join(services.sshd.dir, '..', 'bench-local');
    await mkdir(local, { recursive: true });
    process.stderr.write(`bench sweep-batch: seeding ${files} objects of ${size} bytes…\n`);
    const seeded = [];
    for (let i = 0; i < files; i += 20) {
      const batch = Array.from({ length: Math.min(20, files - i) }, (_, j) => ({
        key: `bench/file_${String(i + j).padStart(5, '0')}.csv`,
        size,
      }));
      seeded.push(...(await putObjects(s3, fixture.bucket, batch)));
    }
    for (const o of seeded) await writeFile(join(local, o.key.split('/')[1]!), o.body);
    seeded.length = 0; // let the bodies go before measuring Ferry's memory
    s3.destroy();

    // Baseline: OpenSSH sftp, one connection, the same bytes from local disk to the same sshd.
    const target = join(services.sshd.inbound, 'baseline');
    const sshDir = join(services.sshd.dir, '..', 'bench-ssh');
    await mkdir(sshDir, { recursive: true });
    const hostPub = (await readFile(join(services.sshd.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).split(' ');
    await writeFile(
      join(sshDir, 'known_hosts'),
      `[127.0.0.1]:${services.sshd.port} ${hostPub[0]} ${hostPub[1]}\n`,
    );
    await writeFile(join(sshDir, 'batch'), `mkdir ${target}\nput ${local}/* ${target}/\n`);
    const t0 = performance.now();
    await run('sftp', [
      '-q',
      '-b',
      join(sshDir, 'batch'),
      '-i',
      services.sshd.privateKeyPath,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${join(sshDir, 'known_hosts')}`,
      '-o',
      'BatchMode=yes',
      '-P',
      String(services.sshd.port),
      `${services.sshd.username}@127.0.0.1`,
    ]);
    const baselineS = (performance.now() - t0) / 1000;
    const baselineCount = (await readdir(target)).length;

    const config = await loadConfigOrThrow(fixture.dir);
    const ferry = await startFerry({
      config,
      role: 'worker',
      env: process.env,
      logger: createLogger({ level: 'warn', name: 'bench' }),
      watch: false,
    });
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    const s3cpu0 = await cpuSecondsOf(services.s3.pid);
    const lines: string[] = [];
    const code = await runSweepCommand({
      config,
      partnerId: 'bench',
      wait: true,
      timeoutSeconds: 600,
      out: (l) => lines.push(l),
      err: () => undefined,
      pollMs: 50,
    });
    const ferryS = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const s3cpu = (await cpuSecondsOf(services.s3.pid)) - s3cpu0;
    await ferry.close();
    const delivered = (await readdir(fixture.partnerDirs.bench!)).filter((n) => !n.startsWith('.')).length;
    const mb = (files * size) / 1e6;
    const label = `sweep-batch ${files}×${size}B`;
    console.log(
      `${label}: ferry sweep --wait ${ferryS.toFixed(2)} s (${(files / ferryS).toFixed(0)} files/s, ${(mb / ferryS).toFixed(1)} MB/s), delivered ${delivered}/${files}, exit ${code}`,
    );
    console.log(
      `${label}: openssh-sftp put (local disk, 1 connection) ${baselineS.toFixed(2)} s (${(files / baselineS).toFixed(0)} files/s), copied ${baselineCount}/${files}`,
    );
    console.log(`${label}: ratio ferry/openssh time ${(ferryS / baselineS).toFixed(2)}`);
    console.log(
      `${label}: cpu during the ferry run: ferry ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, s3rver ${s3cpu.toFixed(2)} s, peak RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
    );
    console.log(`${label}: summary: ${lines[lines.length - 1] ?? ''}`);
    await rm(local, { recursive: true, force: true });
  } finally {
    await services.stop();
  }
}

/** utime + stime of a process from /proc, in seconds. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
