// large-file: one S3 object (1 GiB by default) → partner, end to end through the real pipeline (`ferry start
// --role worker` as a child process; sweep, job, stream, verify, publish, receipt), against OpenSSH `sftp`
// putting the same bytes from local disk (default cipher and aes128-gcm), rclone copying the same object
// S3 → SFTP, and Ferry's SFTP writer alone (local stream → SFTP). Also Ferry's peak RSS for this file and
// for a 10 MiB one. `--rtt MS` puts a delay proxy in front of sshd for every client.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectSftp } from '../src/adapters/sftp-connection.js';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { loadConfigOrThrow } from '../test/support/pipeline.js';
import { s3ClientFor, startServices } from '../test/support/services.js';
import {
  AES128_GCM,
  ensureRclone,
  formatSize,
  makeRemoteDir,
  mbPerSecond,
  runOpensshBatch,
  runFerrySweep,
  runRclone,
  startDelayProxy,
  syncDisks,
  verdict,
  writeRandomFile,
  writeRcloneConfig,
  writeSshClientFiles,
  type DelayProxy,
} from './baselines.js';

const SMALL_RSS_SIZE = 10 * 1024 * 1024;

/** `npm run bench -- large-file [--size BYTES] [--rtt MS]`. */
export async function runLargeFileBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: String(2 ** 30) },
      rtt: { type: 'string', default: '0' },
    },
  });
  const size = Number(values.size);
  const rtt = Number(values.rtt);
  const progress = (line: string) => process.stderr.write(`bench large-file: ${line}\n`);
  await ensureRclone(progress);

  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  let proxy: DelayProxy | undefined;
  try {
    if (rtt > 0) proxy = await startDelayProxy(services.sshd.port, rtt);
    const port = proxy?.port ?? services.sshd.port;
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    process.env.FERRY_ADMIN_PASSWORD = randomBytes(8).toString('hex');
    const fixture = await writeFerryConfig(services, {
      partners: [
        { id: 'large', prefix: 'large/', port },
        { id: 'rss', prefix: 'rss/', port },
      ],
      worker: 'concurrency: 4',
      // The production default; the worker's 'ferry started' line is logged at info.
      logLevel: 'info',
    });
    const config = await loadConfigOrThrow(fixture.dir);
    const runDir = join(services.sshd.dir, '..');

    // The same bytes on local disk (for OpenSSH and the writer alone) and in S3 (for Ferry and rclone).
    const local = join(runDir, 'bench-local.bin');
    const localSmall = join(runDir, 'bench-local-small.bin');
    const key = `large/export-${formatSize(size)}.bin`;
    progress(`seeding ${formatSize(size)} on disk and in s3rver…`);
    const sha256 = await writeRandomFile(local, size);
    await writeRandomFile(localSmall, SMALL_RSS_SIZE);
    const s3 = s3ClientFor(services.s3);
    for (const [path, objectKey, length] of [
      [local, key, size],
      [localSmall, `rss/export-${formatSize(SMALL_RSS_SIZE)}.bin`, SMALL_RSS_SIZE],
    ] as const) {
      await s3.send(
        new PutObjectCommand({
          Bucket: fixture.bucket,
          Key: objectKey,
          Body: createReadStream(path),
          ContentLength: length,
        }),
      );
    }
    s3.destroy();

    const files = await writeSshClientFiles(services, join(runDir, 'bench-ssh'), [services.sshd.port, port]);
    const rcloneConf = await writeRcloneConfig(services, files, port);
    const baselineDir = join(services.sshd.inbound, 'baseline');
    await makeRemoteDir(services, baselineDir);

    /** Times one baseline run into baselineDir/<name>, checks the size that arrived, removes it. */
    const timeBaseline = async (name: string, runIt: (remote: string) => Promise<number>) => {
      const remote = join(baselineDir, name);
      await syncDisks();
      progress(`${name}…`);
      const seconds = await runIt(remote);
      const arrived = (await stat(remote)).size;
      if (arrived !== size) throw new Error(`${name}: ${arrived} bytes arrived, expected ${size}`);
      await rm(remote);
      return seconds;
    };

    const opensshDefault = await timeBaseline('openssh-default.bin', (remote) =>
      runOpensshBatch({ services, files, port, commands: [`put ${local} ${remote}`] }),
    );
    const opensshGcm = await timeBaseline('openssh-gcm.bin', (remote) =>
      runOpensshBatch({ services, files, port, commands: [`put ${local} ${remote}`], cipher: AES128_GCM }),
    );
    let writerCipher = '?';
    let writerTransferS = 0;
    const privateKey = await readFile(services.sshd.privateKeyPath, 'utf8');
    const writerS = await timeBaseline('writer.bin', async (remote) => {
      const started = performance.now();
      const session = await connectSftp({
        host: '127.0.0.1',
        port,
        username: services.sshd.username,
        hostKeys: [services.sshd.hostKeyFingerprint],
        auth: { privateKey },
        readyTimeoutMs: 30_000,
        keepaliveIntervalMs: 10_000,
        keepaliveCountMax: 3,
      });
      writerCipher = session.negotiated?.cipher ?? '?';
      const transferStarted = performance.now();
      const result = await session.upload(remote, createReadStream(local, { highWaterMark: 64 * 1024 }), {
        mode: 0o640,
      });
      writerTransferS = (performance.now() - transferStarted) / 1000;
      await session.close();
      if (result.sha256 !== sha256) throw new Error('writer alone: sha256 of the upload differs');
      return (performance.now() - started) / 1000;
    });
    const rcloneS = await timeBaseline('rclone.bin', (remote) =>
      runRclone(rcloneConf, ['copyto', `s3:${fixture.bucket}/${key}`, `sftp:${remote}`]),
    );

    const env = { ...process.env };
    const smallRun = await runFerrySweep(fixture.dir, env, config, 'rss', progress);
    await checkDelivered(fixture.partnerDirs['rss']!, SMALL_RSS_SIZE);
    const largeRun = await runFerrySweep(fixture.dir, env, config, 'large', progress);
    const delivered = await checkDelivered(fixture.partnerDirs['large']!, size);
    if ((await sha256OfFile(delivered)) !== sha256) {
      throw new Error('ferry: sha256 of the delivered file differs');
    }

    const label = `large-file ${formatSize(size)}${rtt > 0 ? ` rtt ${rtt}ms` : ''}`;
    const ferryMb = mbPerSecond(size, largeRun.seconds);
    const defaultMb = mbPerSecond(size, opensshDefault);
    const gcmMb = mbPerSecond(size, opensshGcm);
    const rcloneMb = mbPerSecond(size, rcloneS);
    const writerMb = mbPerSecond(size, writerS);
    const peakMiB = largeRun.peakKiB / 1024;
    const smallPeakMiB = smallRun.peakKiB / 1024;
    const fmt = (n: number) => n.toFixed(0);
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const openTarget = rtt > 0 ? 0.9 : 0.8;
    console.log(
      `${label}: ferry ${fmt(ferryMb)} MB/s, openssh-sftp ${fmt(defaultMb)} MB/s, ratio ${ratio(ferryMb, defaultMb)}, ferry peak RSS ${fmt(peakMiB)} MiB`,
    );
    console.log(
      `${label}: ferry ${largeRun.seconds.toFixed(2)} s sweep → receipt (${largeRun.summary}), worker CPU ${(largeRun.cpuMs / 1000).toFixed(2)} s`,
    );
    console.log(
      `${label}: openssh-sftp default cipher ${fmt(defaultMb)} MB/s (${opensshDefault.toFixed(2)} s), ratio ferry/openssh ${ratio(ferryMb, defaultMb)} (target ≥ ${openTarget}: ${verdict(ferryMb / defaultMb >= openTarget)})`,
    );
    console.log(
      `${label}: openssh-sftp ${AES128_GCM} ${fmt(gcmMb)} MB/s (${opensshGcm.toFixed(2)} s), ratio ferry/openssh-gcm ${ratio(ferryMb, gcmMb)} (target ≥ ${openTarget}: ${verdict(ferryMb / gcmMb >= openTarget)})`,
    );
    console.log(
      `${label}: rclone ${fmt(rcloneMb)} MB/s (${rcloneS.toFixed(2)} s), ratio ferry/rclone ${ratio(ferryMb, rcloneMb)} (target ≥ 1.25: ${verdict(ferryMb / rcloneMb >= 1.25)})`,
    );
    console.log(
      `${label}: sftp writer alone (local stream → SFTP, ${writerCipher}) ${fmt(writerMb)} MB/s (${writerS.toFixed(2)} s with connect; transfer only ${fmt(mbPerSecond(size, writerTransferS))} MB/s), ratio writer/openssh-gcm ${ratio(writerMb, gcmMb)} (target ≥ 0.9: ${verdict(writerMb / gcmMb >= 0.9)})`,
    );
    console.log(
      `${label}: ferry peak RSS ${fmt(peakMiB)} MiB (target ≤ 200: ${verdict(peakMiB <= 200)}), ${formatSize(SMALL_RSS_SIZE)} file ${fmt(smallPeakMiB)} MiB, difference ${fmt(peakMiB - smallPeakMiB)} MiB (target ≤ 32: ${verdict(peakMiB - smallPeakMiB <= 32)})`,
    );
    return 0;
  } finally {
    await proxy?.close();
    await services.stop();
  }
}

/** The one final file in a partner directory, checked for size. */
async function checkDelivered(dir: string, size: number): Promise<string> {
  const finals = (await readdir(dir)).filter((name) => !name.startsWith('.'));
  if (finals.length !== 1) throw new Error(`expected one delivered file in ${dir}, found ${finals.length}`);
  const path = join(dir, finals[0]!);
  const arrived = (await stat(path)).size;
  if (arrived !== size) throw new Error(`ferry: ${arrived} bytes delivered, expected ${size}`);
  return path;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
