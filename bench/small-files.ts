// small-files: N small objects (1,000 × 1 KiB by default) for one partner with maxConnections 4, from sweep
// start to the last receipt (`ferry sweep --wait` against a `ferry start --role worker` child process),
// against rclone copying the same prefix S3 → SFTP and OpenSSH `sftp -b` putting the same files from local
// disk over one connection. Also Ferry's CPU per delivered file. `--rtt MS` puts a delay proxy in front of
// sshd for every client. `--trace` (with e.g. `--files 10`) runs Ferry alone and counts the Redis commands,
// S3 requests and SFTP requests per delivered file instead of timing anything (bench/request-trace.ts).
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { loadConfigOrThrow } from '../test/support/pipeline.js';
import { s3ClientFor, startServices } from '../test/support/services.js';
import {
  ensureRclone,
  formatSize,
  makeRemoteDir,
  runFerrySweep,
  runOpensshBatch,
  runRclone,
  startDelayProxy,
  syncDisks,
  verdict,
  writeRcloneConfig,
  writeSshClientFiles,
  type DelayProxy,
} from './baselines.js';
import {
  startRedisMonitor,
  startS3CountingProxy,
  type RedisMonitor,
  type S3CountingProxy,
  Tally,
} from './request-trace.js';

/** `npm run bench -- small-files [--files N] [--size BYTES] [--rtt MS] [--concurrency N] [--max-connections N] [--trace]`. */
export async function runSmallFilesBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      files: { type: 'string', default: '1000' },
      size: { type: 'string', default: '1024' },
      rtt: { type: 'string', default: '0' },
      concurrency: { type: 'string', default: '8' },
      'max-connections': { type: 'string', default: '4' },
      trace: { type: 'boolean', default: false },
    },
  });
  const trace = values.trace;
  const count = Number(values.files);
  const size = Number(values.size);
  const rtt = Number(values.rtt);
  const maxConnections = Number(values['max-connections']);
  const progress = (line: string) => process.stderr.write(`bench small-files: ${line}\n`);
  if (!trace) await ensureRclone(progress);

  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  let proxy: DelayProxy | undefined;
  let s3Proxy: S3CountingProxy | undefined;
  try {
    if (rtt > 0) proxy = await startDelayProxy(services.sshd.port, rtt);
    if (trace) s3Proxy = await startS3CountingProxy(services.s3.port);
    const port = proxy?.port ?? services.sshd.port;
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    process.env.FERRY_ADMIN_PASSWORD = randomBytes(8).toString('hex');
    const ferryServices = s3Proxy
      ? { ...services, s3: { ...services.s3, endpoint: s3Proxy.endpoint } }
      : services;
    const fixture = await writeFerryConfig(ferryServices, {
      partners: [{ id: 'small', prefix: 'small/', port, maxConnections }],
      worker: `concurrency: ${values.concurrency}`,
      // The production default; the worker's 'ferry started' line is logged at info.
      logLevel: 'info',
    });
    const config = await loadConfigOrThrow(fixture.dir);
    const runDir = join(services.sshd.dir, '..');

    // The same bodies in S3 (Ferry, rclone) and on local disk (OpenSSH).
    progress(`seeding ${count} objects of ${size} bytes…`);
    const localDir = join(runDir, 'bench-local');
    await mkdir(localDir, { recursive: true });
    const s3 = s3ClientFor(services.s3);
    const names = Array.from({ length: count }, (_, i) => `file_${String(i).padStart(6, '0')}.csv`);
    for (let i = 0; i < names.length; i += 16) {
      await Promise.all(
        names.slice(i, i + 16).map(async (name) => {
          const body = randomBytes(size);
          await writeFile(join(localDir, name), body);
          await s3.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: `small/${name}`, Body: body }));
        }),
      );
    }
    s3.destroy();

    if (trace) return await traceFerry(services, s3Proxy!, fixture.dir, config, count, runDir, progress);

    const files = await writeSshClientFiles(services, join(runDir, 'bench-ssh'), [services.sshd.port, port]);
    const rcloneConf = await writeRcloneConfig(services, files, port);

    /** Times one baseline into a fresh remote dir and checks that every file arrived with its size. */
    const timeBaseline = async (name: string, runIt: (remote: string) => Promise<number>) => {
      const remote = join(services.sshd.inbound, name);
      await makeRemoteDir(services, remote);
      await syncDisks();
      progress(`${name}…`);
      const seconds = await runIt(remote);
      await expectFiles(remote, count, size, name);
      return seconds;
    };
    const opensshS = await timeBaseline('openssh', (remote) =>
      runOpensshBatch({ services, files, port, commands: [`put ${localDir}/* ${remote}/`] }),
    );
    const rcloneS = await timeBaseline('rclone', (remote) =>
      runRclone(rcloneConf, ['copy', `s3:${fixture.bucket}/small`, `sftp:${remote}`]),
    );

    const ferry = await runFerrySweep(fixture.dir, { ...process.env }, config, 'small', progress);
    const lastWriteS =
      (await expectFiles(fixture.partnerDirs['small']!, count, size, 'ferry')) - ferry.startedAtMs;

    const label = `small-files ${count}×${formatSize(size)}${rtt > 0 ? ` rtt ${rtt}ms` : ''}`;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const opensshTarget = rtt > 0 ? '< 1.0' : '≤ 3';
    const opensshOk = rtt > 0 ? ferry.seconds / opensshS < 1 : ferry.seconds / opensshS <= 3;
    console.log(
      `${label}: ferry ${ferry.seconds.toFixed(2)} s sweep → last receipt (${(count / ferry.seconds).toFixed(0)} files/s, maxConnections ${maxConnections}), rclone ${rcloneS.toFixed(2)} s, ratio ferry/rclone ${ratio(ferry.seconds, rcloneS)} (target ≤ 0.5: ${verdict(ferry.seconds / rcloneS <= 0.5)})`,
    );
    console.log(
      `${label}: openssh-sftp -b (1 connection, local disk) ${opensshS.toFixed(2)} s, ratio ferry/openssh ${ratio(ferry.seconds, opensshS)} (target ${opensshTarget}: ${verdict(opensshOk)})`,
    );
    console.log(
      `${label}: ferry CPU ${(ferry.cpuMs / count).toFixed(2)} ms per delivered file (worker ${(ferry.cpuMs / 1000).toFixed(2)} s over the sweep), peak RSS ${(ferry.peakKiB / 1024).toFixed(0)} MiB, last file written ${(lastWriteS / 1000).toFixed(2)} s after sweep start, ${ferry.summary}`,
    );
    return 0;
  } finally {
    await proxy?.close();
    await s3Proxy?.close();
    await services.stop();
  }
}

/** `--trace`: Ferry alone, then its Redis commands, S3 requests and SFTP requests per delivered file. */
async function traceFerry(
  services: Awaited<ReturnType<typeof startServices>>,
  s3Proxy: S3CountingProxy,
  configDir: string,
  config: Awaited<ReturnType<typeof loadConfigOrThrow>>,
  count: number,
  runDir: string,
  progress: (line: string) => void,
): Promise<number> {
  // The worker counts its own SFTP calls (trace-sftp-hook.ts) and writes them when it exits.
  const sftpFile = join(runDir, 'trace-sftp.json');
  const hook = fileURLToPath(new URL('./trace-sftp-hook.js', import.meta.url));
  const env = {
    ...process.env,
    FERRY_CHILD_NODE_ARGS: `${process.env.FERRY_CHILD_NODE_ARGS ?? ''} --import ${hook}`,
    FERRY_TRACE_SFTP_FILE: sftpFile,
  };
  const monitor: RedisMonitor = await startRedisMonitor(services.redis.url);
  let redis: Awaited<ReturnType<RedisMonitor['stop']>> | undefined;
  const ferry = await runFerrySweep(configDir, env, config, 'small', progress, async (pid) => {
    redis = await monitor.stop(pid);
  });
  const sftp = new Tally();
  for (const [name, n] of Object.entries(
    JSON.parse(await readFile(sftpFile, 'utf8')) as Record<string, number>,
  )) {
    sftp.add(name, n);
  }
  console.log(`small-files --trace, ${count} files (${ferry.summary}); per delivered file:`);
  console.log(`Redis round trips of the worker (${(redis!.commands.total / count).toFixed(2)}):`);
  for (const line of redis!.commands.report(count)) console.log(line);
  console.log(
    `  (${redis!.unattributed} commands of other clients: the sweep command's polling, the monitor)`,
  );
  console.log(
    `Redis commands run inside Lua scripts (no round trip; ${(redis!.insideLua.total / count).toFixed(2)}):`,
  );
  for (const line of redis!.insideLua.report(count)) console.log(line);
  console.log(`S3 requests (${(s3Proxy.requests.total / count).toFixed(2)}):`);
  for (const line of s3Proxy.requests.report(count)) console.log(line);
  console.log(`SFTP requests (${(sftp.total / count).toFixed(2)}):`);
  for (const line of sftp.report(count)) console.log(line);
  return 0;
}

/** Checks that `dir` holds exactly `count` final files of `size` bytes; returns the newest mtime (ms). */
async function expectFiles(dir: string, count: number, size: number, who: string): Promise<number> {
  const finals = (await readdir(dir)).filter((name) => !name.startsWith('.'));
  if (finals.length !== count) throw new Error(`${who}: ${finals.length} files arrived, expected ${count}`);
  let newest = 0;
  for (const name of finals) {
    const st = await stat(join(dir, name));
    if (st.size !== size) throw new Error(`${who}: ${name} has ${st.size} bytes, expected ${size}`);
    newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}
