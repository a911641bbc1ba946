// large-file: one S3 object (1 GiB by default) → partner, end to end through the real pipeline (`ferry start
// --role worker` as a child process; sweep, job, stream, verify, publish, receipt), against OpenSSH `sftp`
// putting the same bytes from local disk (default cipher and aes128-gcm), rclone copying the same object
// S3 → SFTP, and Ferry's SFTP writer alone (local stream → SFTP). Also Ferry's peak RSS for this file and
// for a 10 MiB one, and the CPU each side spent per GiB (client, sshd, s3rver), which varies far less than
// MB/s when other work shares the machine. `--rtt MS` puts a delay proxy in front of sshd for every client
// (each is checked to have dialled it). `--runs N` measures Ferry and the baselines N times and judges the
// median against issue 14's targets (bench/targets.ts): ≥ 0.9 × OpenSSH on loopback, ≥ 0.95 × at 20 ms,
// peak RSS ≤ 200 MiB and within 32 MiB of the 10 MiB file's.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { DeliveryReceipt } from '../src/adapters/receipt-store.js';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { generateTestKey, writeKeyFile } from '../test/support/pgp-keys.js';
import { loadConfigOrThrow } from '../test/support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../test/support/services.js';
import {
  AES128_GCM,
  ensureRclone,
  expectThroughProxy,
  formatSize,
  machineCpuMs,
  makeRemoteDir,
  mbPerSecond,
  runOpensshBatch,
  runFerrySweep,
  runRclone,
  startDelayProxy,
  startTreeCpuSampler,
  syncDisks,
  writeCsvFile,
  writeRandomFile,
  writeRcloneConfig,
  writeSshClientFiles,
  type DelayProxy,
} from './baselines.js';
import { judge, largeFileTargets, median, medianLabel, parseRuns } from './targets.js';

const SMALL_RSS_SIZE = 10 * 1024 * 1024;

const runNode = (args: string[], options: { maxBuffer: number }) =>
  promisify(execFile)(process.execPath, args, options);

/** CPU (ms) that sshd, s3rver, this process's ended children (OpenSSH's sftp + ssh) and the whole machine spent while `run` ran. */
interface CpuSpent {
  sshdMs: number;
  s3rverMs: number;
  childrenMs: number;
  machineBusyMs: number;
  machineTotalMs: number;
}

// USER_HZ: what /proc reports times in (100 on every Linux we run on; machineCpuMs asks getconf).
const CLOCK_TICKS = 100;

/** utime + stime of this process's children that have ended and been waited for (cutime + cstime), in ms. */
async function endedChildrenCpuMs(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}

async function withCpuOf<T>(
  services: Services,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: CpuSpent }> {
  const sshd = await startTreeCpuSampler(services.sshd.pid);
  const s3rver = await startTreeCpuSampler(services.s3.pid);
  const machine0 = await machineCpuMs();
  const children0 = await endedChildrenCpuMs();
  let result: T;
  try {
    result = await run();
  } catch (err) {
    await Promise.all([sshd.stop(), s3rver.stop()]);
    throw err;
  }
  const machine1 = await machineCpuMs();
  const children1 = await endedChildrenCpuMs();
  return {
    result,
    cpu: {
      childrenMs: children1 - children0,
      sshdMs: await sshd.stop(),
      s3rverMs: await s3rver.stop(),
      machineBusyMs: machine1.busyMs - machine0.busyMs,
      machineTotalMs: machine1.totalMs - machine0.totalMs,
    },
  };
}

interface WriterOptions {
  port: number;
  username: string;
  hostKey: string;
  privateKeyPath: string;
  local: string;
  remote: string;
}

/** What the writer-alone child reports: connect → close, the transfer alone, and its CPU during the transfer. */
interface WriterRun {
  seconds: number;
  transferSeconds: number;
  transferCpuMs: number;
  cipher: string;
  sha256: string;
}

// The SFTP writer alone runs in a fresh node process, as OpenSSH's sftp does, with only the SFTP adapter
// loaded. V8 counts the Buffers an upload churns through (ssh2 copies every byte twice) against the old
// generation's limit, and in a process with a small heap (this child) or one shaped by the seeding (the
// bench process) that limit is close enough to start a mark-compact every ~8–12 MB uploaded: +30 % CPU
// for the child, ×2 in the bench process. Ferry's worker, with its larger heap, does 1–2 per 512 MiB
// and does not need it, so the child gets the worker's regime with --initial-old-space-size=64 (its
// peak RSS moves by ~3 MiB).
const WRITER_CHILD_SOURCE = `
const [adapterUrl, json] = process.argv.slice(1);
const { createReadStream, readFileSync } = await import('node:fs');
const { connectSftp } = await import(adapterUrl);
const o = JSON.parse(json);
const started = performance.now();
const session = await connectSftp({
  host: '127.0.0.1', port: o.port, username: o.username, hostKeys: [o.hostKey],
  auth: { privateKey: readFileSync(o.privateKeyPath, 'utf8') },
  readyTimeoutMs: 30000, keepaliveIntervalMs: 10000, keepaliveCountMax: 3,
});
const transferStarted = performance.now();
const cpu0 = process.cpuUsage();
const result = await session.upload(o.remote, createReadStream(o.local, { highWaterMark: 64 * 1024 }), { mode: 0o640 });
const cpu = process.cpuUsage(cpu0);
const transferSeconds = (performance.now() - transferStarted) / 1000;
await session.close();
process.stdout.write(JSON.stringify({
  seconds: (performance.now() - started) / 1000, transferSeconds,
  transferCpuMs: (cpu.user + cpu.system) / 1000,
  cipher: session.negotiated?.cipher ?? '?', sha256: result.sha256,
}) + '\\n');
process.exit(0);
`;

async function runWriterAlone(options: WriterOptions): Promise<WriterRun> {
  const adapter = new URL('../src/adapters/sftp-connection.js', import.meta.url).href;
  const { stdout } = await runNode(
    [
      '--initial-old-space-size=64',
      '--input-type=module',
      '-e',
      WRITER_CHILD_SOURCE,
      adapter,
      JSON.stringify(options),
    ],
    { maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as WriterRun;
}

/**
 * `npm run bench -- large-file [--size BYTES] [--rtt MS] [--runs N]
 * [--transform gzip|pgp|gzip+pgp|shape|shape+gzip] [--level 1-9] [--data random|csv]` (`shape` needs `--data csv`). With a transform only Ferry runs (the baselines do not transform): throughput
 * of source bytes and peak RSS. `--level`: `transform.compressLevel`; `--data csv`: CSV-like export rows
 * (compressible, as partners' files are) instead of random bytes (gzip's worst case).
 */
export async function runLargeFileBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: String(2 ** 30) },
      rtt: { type: 'string', default: '0' },
      transform: { type: 'string', default: 'none' },
      level: { type: 'string' },
      data: { type: 'string', default: 'random' },
      runs: { type: 'string', default: '1' },
    },
  });
  const runs = parseRuns(values.runs);
  const transform = values.transform;
  if (!['none', 'gzip', 'pgp', 'gzip+pgp', 'shape', 'shape+gzip'].includes(transform)) {
    throw new Error(`--transform must be none, gzip, pgp, gzip+pgp, shape or shape+gzip, not ${transform}`);
  }
  if (transform !== 'none' && runs > 1) {
    throw new Error('--runs repeats the comparison with the baselines: leave it out with --transform');
  }
  const data = values.data;
  if (data !== 'random' && data !== 'csv') throw new Error(`--data must be random or csv, not ${data}`);
  if (transform.includes('shape') && data !== 'csv') throw new Error('--transform shape needs --data csv');
  const level = values.level === undefined ? undefined : Number(values.level);
  if (
    level !== undefined &&
    !(transform.includes('gzip') && Number.isInteger(level) && level >= 1 && level <= 9)
  ) {
    throw new Error('--level must be 1-9, with --transform gzip or gzip+pgp');
  }
  const writeFile = data === 'csv' ? writeCsvFile : writeRandomFile;
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
    const extraYaml = await transformYaml(transform, join(services.sshd.dir, '..'), level);
    const fixture = await writeFerryConfig(services, {
      // Two partners per run (large-<run>, rss-<run>) over the same prefixes: each run's delivery has its
      // own id, ledger record, receipt and SFTP directory, so no run finds an earlier one's work.
      partners: Array.from({ length: runs }, (_, i) => [
        { id: `large-${i + 1}`, prefix: 'large/', port, extraYaml },
        { id: `rss-${i + 1}`, prefix: 'rss/', port, extraYaml },
      ]).flat(),
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
    const sha256 = await writeFile(local, size);
    await writeFile(localSmall, SMALL_RSS_SIZE);
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
    if (transform !== 'none') {
      const label = `${transform}${level !== undefined ? ` level ${level}` : ''}${data === 'csv' ? ' csv' : ''}`;
      return await reportTransformed({ services, fixture, config, size, sha256, label, progress });
    }

    const files = await writeSshClientFiles(services, join(runDir, 'bench-ssh'), [services.sshd.port, port]);
    const rcloneConf = await writeRcloneConfig(services, files, port);
    const baselineDir = join(services.sshd.inbound, 'baseline');
    await makeRemoteDir(services, baselineDir);

    /** Times one baseline run into baselineDir/<name>, checks the size that arrived, removes it. */
    const timeBaseline = async (name: string, runIt: (remote: string) => Promise<number>) => {
      const remote = join(baselineDir, name);
      await syncDisks();
      progress(`${name}…`);
      const seconds = await expectThroughProxy(proxy, name, () => runIt(remote));
      const arrived = (await stat(remote)).size;
      if (arrived !== size) throw new Error(`${name}: ${arrived} bytes arrived, expected ${size}`);
      await rm(remote);
      return seconds;
    };

    const label = `large-file ${formatSize(size)}${rtt > 0 ? ` rtt ${rtt}ms` : ''}`;
    const measured: LargeFileRun[] = [];
    for (let run = 1; run <= runs; run++) {
      const opensshDefault = await timeBaseline('openssh-default.bin', (remote) =>
        runOpensshBatch({ services, files, port, commands: [`put ${local} ${remote}`] }),
      );
      let opensshGcmCpu: CpuSpent | undefined;
      const opensshGcm = await timeBaseline('openssh-gcm.bin', async (remote) => {
        const { result, cpu } = await withCpuOf(services, () =>
          runOpensshBatch({
            services,
            files,
            port,
            commands: [`put ${local} ${remote}`],
            cipher: AES128_GCM,
          }),
        );
        opensshGcmCpu = cpu;
        return result;
      });
      let writer: WriterRun | undefined;
      let writerCpu: CpuSpent | undefined;
      const writerS = await timeBaseline('writer.bin', async (remote) => {
        const { result, cpu } = await withCpuOf(services, () =>
          runWriterAlone({
            port,
            username: services.sshd.username,
            hostKey: services.sshd.hostKeyFingerprint,
            privateKeyPath: services.sshd.privateKeyPath,
            local,
            remote,
          }),
        );
        if (result.sha256 !== sha256) throw new Error('writer alone: sha256 of the upload differs');
        writer = result;
        writerCpu = cpu;
        return result.seconds;
      });
      const rcloneS = await timeBaseline('rclone.bin', (remote) =>
        runRclone(rcloneConf, ['copyto', `s3:${fixture.bucket}/${key}`, `sftp:${remote}`]),
      );

      const env = { ...process.env };
      const smallRun = await runFerrySweep(fixture.dir, env, config, `rss-${run}`, progress);
      await checkDelivered(fixture.partnerDirs[`rss-${run}`]!, SMALL_RSS_SIZE);
      const { result: largeRun, cpu: ferryCpu } = await withCpuOf(services, () =>
        expectThroughProxy(proxy, 'ferry', () =>
          runFerrySweep(fixture.dir, env, config, `large-${run}`, progress),
        ),
      );
      const delivered = await checkDelivered(fixture.partnerDirs[`large-${run}`]!, size);
      if ((await sha256OfFile(delivered)) !== sha256) {
        throw new Error('ferry: sha256 of the delivered file differs');
      }
      await rm(delivered); // checked; the next run delivers to its own partner's directory

      const one: LargeFileRun = {
        ferryS: largeRun.seconds,
        ferryMb: mbPerSecond(size, largeRun.seconds),
        defaultMb: mbPerSecond(size, opensshDefault),
        defaultS: opensshDefault,
        gcmMb: mbPerSecond(size, opensshGcm),
        gcmS: opensshGcm,
        rcloneMb: mbPerSecond(size, rcloneS),
        rcloneS,
        writerMb: mbPerSecond(size, writerS),
        writerS,
        writerTransferMb: mbPerSecond(size, writer?.transferSeconds ?? NaN),
        writerCipher: writer?.cipher ?? '?',
        peakMiB: largeRun.peakKiB / 1024,
        smallPeakMiB: smallRun.peakKiB / 1024,
        workerCpuMs: largeRun.cpuMs,
        summary: largeRun.summary,
        ferryCpu,
        writerCpuMs: writer?.transferCpuMs ?? NaN,
        writerCpu: writerCpu!,
        opensshGcmCpu: opensshGcmCpu!,
      };
      measured.push(one);
      if (runs > 1) {
        console.log(
          `${label} run ${run}/${runs}: ferry ${one.ferryMb.toFixed(0)} MB/s, openssh-sftp ${one.defaultMb.toFixed(0)} MB/s (${AES128_GCM} ${one.gcmMb.toFixed(0)}), rclone ${one.rcloneMb.toFixed(0)} MB/s, writer alone ${one.writerMb.toFixed(0)} MB/s, ratio ferry/openssh ${(one.ferryMb / one.defaultMb).toFixed(2)}, ferry peak RSS ${one.peakMiB.toFixed(0)} MiB (${formatSize(SMALL_RSS_SIZE)} file ${one.smallPeakMiB.toFixed(0)} MiB)`,
        );
      }
    }
    printLargeFileVerdicts(label + medianLabel(runs), measured, size, rtt);
    return 0;
  } finally {
    await proxy?.close();
    await services.stop();
  }
}

/** One run's figures (seconds, MB/s, MiB, CPU-ms). */
interface LargeFileRun {
  ferryS: number;
  ferryMb: number;
  defaultMb: number;
  defaultS: number;
  gcmMb: number;
  gcmS: number;
  rcloneMb: number;
  rcloneS: number;
  writerMb: number;
  writerS: number;
  writerTransferMb: number;
  writerCipher: string;
  peakMiB: number;
  smallPeakMiB: number;
  workerCpuMs: number;
  summary: string;
  ferryCpu: CpuSpent;
  writerCpuMs: number;
  writerCpu: CpuSpent;
  opensshGcmCpu: CpuSpent;
}

/**
 * The lines judged against issue 14's targets (ferry/openssh throughput, peak RSS and its spread from
 * the 10 MiB file), on the median over the runs (ratios: the median of each run's ratio); the other
 * baselines and the CPU per GiB are information.
 */
function printLargeFileVerdicts(label: string, measured: LargeFileRun[], size: number, rtt: number): void {
  const of = (pick: (run: LargeFileRun) => number) => median(measured.map(pick));
  const targets = largeFileTargets(rtt);
  const fmt = (n: number) => n.toFixed(0);
  const ferryMb = of((r) => r.ferryMb);
  const defaultMb = of((r) => r.defaultMb);
  const perOpenssh = of((r) => r.ferryMb / r.defaultMb);
  const peakMiB = of((r) => r.peakMiB);
  const smallPeakMiB = of((r) => r.smallPeakMiB);
  const spreadMiB = of((r) => r.peakMiB - r.smallPeakMiB);
  const last = measured.at(-1)!;
  const info = 'information';
  console.log(
    `${label}: ferry ${fmt(ferryMb)} MB/s, openssh-sftp ${fmt(defaultMb)} MB/s, ratio ${perOpenssh.toFixed(2)}, ferry peak RSS ${fmt(peakMiB)} MiB`,
  );
  console.log(
    `${label}: ferry ${of((r) => r.ferryS).toFixed(2)} s sweep → receipt (last run: ${last.summary}), worker CPU ${(of((r) => r.workerCpuMs) / 1000).toFixed(2)} s`,
  );
  console.log(
    `${label}: openssh-sftp default cipher ${fmt(defaultMb)} MB/s (${of((r) => r.defaultS).toFixed(2)} s), ratio ferry/openssh ${perOpenssh.toFixed(2)} (${judge(perOpenssh, targets.ferryPerOpenssh, `no target at ${rtt} ms RTT`)})`,
  );
  console.log(
    `${label}: openssh-sftp ${AES128_GCM} ${fmt(of((r) => r.gcmMb))} MB/s (${of((r) => r.gcmS).toFixed(2)} s), ratio ferry/openssh-gcm ${of((r) => r.ferryMb / r.gcmMb).toFixed(2)} (${info})`,
  );
  console.log(
    `${label}: rclone ${fmt(of((r) => r.rcloneMb))} MB/s (${of((r) => r.rcloneS).toFixed(2)} s), ratio ferry/rclone ${of((r) => r.ferryMb / r.rcloneMb).toFixed(2)} (${info})`,
  );
  console.log(
    `${label}: sftp writer alone (local stream → SFTP, ${last.writerCipher}) ${fmt(of((r) => r.writerMb))} MB/s (${of((r) => r.writerS).toFixed(2)} s with connect; transfer only ${fmt(of((r) => r.writerTransferMb))} MB/s), ratio writer/openssh-gcm ${of((r) => r.writerMb / r.gcmMb).toFixed(2)} (${info})`,
  );
  console.log(
    `${label}: ferry peak RSS ${fmt(peakMiB)} MiB (${judge(peakMiB, targets.peakMiB)}), ${formatSize(SMALL_RSS_SIZE)} file ${fmt(smallPeakMiB)} MiB, difference ${fmt(spreadMiB)} MiB (flat in file size, ${judge(spreadMiB, targets.peakSpreadMiB)})`,
  );
  const perGiB = (ms: number) => `${(((ms / 1000) * 2 ** 30) / size).toFixed(2)} s`;
  // How busy the machine was, in cores: other work sharing it slows every figure above.
  const cores = os.availableParallelism();
  const busy = (pick: (run: LargeFileRun) => CpuSpent) =>
    `machine busy ${of((r) => (cores * pick(r).machineBusyMs) / pick(r).machineTotalMs).toFixed(1)} of ${cores} cores`;
  console.log(
    `${label}: CPU per GiB, ferry end to end: worker ${perGiB(of((r) => r.workerCpuMs))}, sshd ${perGiB(of((r) => r.ferryCpu.sshdMs))}, s3rver ${perGiB(of((r) => r.ferryCpu.s3rverMs))} (${busy((r) => r.ferryCpu)})`,
  );
  console.log(
    `${label}: CPU per GiB, local file → SFTP with ${AES128_GCM}: ferry writer client ${perGiB(of((r) => r.writerCpuMs))}, sshd ${perGiB(of((r) => r.writerCpu.sshdMs))} (${busy((r) => r.writerCpu)}); openssh-sftp client ${perGiB(of((r) => r.opensshGcmCpu.childrenMs))}, sshd ${perGiB(of((r) => r.opensshGcmCpu.sshdMs))} (${busy((r) => r.opensshGcmCpu)})`,
  );
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

/** The partner YAML for `--transform` (PGP: a fresh recipient and signing key in `dir`), or undefined. */
async function transformYaml(transform: string, dir: string, level?: number): Promise<string | undefined> {
  if (transform === 'none') return undefined;
  if (transform.startsWith('shape')) {
    // 6 of writeCsvFile's 10 columns, 2 renamed, one added; ";", CRLF, windows-1252 (names like Müller), a trailer.
    const shape = `shape: { columns: [{ from: order_id, as: OrderID }, { from: created_at, as: Created }, { from: customer, as: Customer }, { from: country, as: Country }, { from: amount, as: Amount }, { value: "{partner}", as: Partner }], delimiter: ";", lineEnding: crlf, encoding: windows-1252, trailer: "TRL|{rows}" }`;
    return transform === 'shape' ? shape : `${shape}\ntransform: { compress: gzip }`;
  }
  const compress = transform.includes('gzip')
    ? `gzip${level !== undefined ? `, compressLevel: ${level}` : ''}`
    : 'none';
  if (!transform.includes('pgp')) return `transform: { compress: ${compress} }`;
  const [partner, signer] = await Promise.all([generateTestKey('partner'), generateTestKey('ferry')]);
  const recipients = await writeKeyFile(dir, 'bench-partner.asc', partner.publicKey);
  const signing = await writeKeyFile(dir, 'bench-sign.asc', signer.privateKey);
  return `transform: { compress: ${compress}, pgp: { recipientKeysFile: ${recipients}, signingKeyFile: ${signing} } }`;
}

/**
 * Ferry alone with a transform: MB/s of source bytes, the size delivered, worker CPU and peak RSS (the
 * 10 MiB run's beside it: memory must not grow with the file). Integrity: the receipt's source hash is
 * the seeded file's and its delivered hash is the file's (round trips are in test/integration/transforms).
 */
async function reportTransformed(run: {
  services: Services;
  fixture: Awaited<ReturnType<typeof writeFerryConfig>>;
  config: Awaited<ReturnType<typeof loadConfigOrThrow>>;
  size: number;
  sha256: string;
  label: string;
  progress: (line: string) => void;
}): Promise<number> {
  const { fixture, config, size, sha256, progress } = run;
  const env = { ...process.env };
  const smallRun = await runFerrySweep(fixture.dir, env, config, 'rss-1', progress);
  const { result: largeRun, cpu } = await withCpuOf(run.services, () =>
    runFerrySweep(fixture.dir, env, config, 'large-1', progress),
  );
  const dir = fixture.partnerDirs['large-1']!;
  const finals = (await readdir(dir)).filter((name) => !name.startsWith('.'));
  if (finals.length !== 1) throw new Error(`expected one delivered file in ${dir}, found ${finals.length}`);
  const delivered = join(dir, finals[0]!);
  const receipt = await readOnlyReceipt(run.services, config, 'large-1');
  if (receipt.source.sha256 !== sha256) throw new Error("ferry: the receipt's source sha256 differs");
  if ((await sha256OfFile(delivered)) !== receipt.sha256) throw new Error('ferry: delivered sha256 differs');
  const label = `large-file ${formatSize(size)} transform ${run.label}`;
  const peakMiB = largeRun.peakKiB / 1024;
  const smallPeakMiB = smallRun.peakKiB / 1024;
  console.log(
    `${label}: ferry ${mbPerSecond(size, largeRun.seconds).toFixed(0)} MB/s of source (${largeRun.seconds.toFixed(2)} s sweep → receipt, ${largeRun.summary}), delivered ${formatSize(receipt.bytes)} (${(receipt.bytes / size).toFixed(3)} of the source) as ${finals[0]}, worker CPU ${(largeRun.cpuMs / 1000).toFixed(2)} s`,
  );
  console.log(
    `${label}: ferry peak RSS ${peakMiB.toFixed(0)} MiB (${judge(peakMiB, largeFileTargets(0).peakMiB)}), ${formatSize(SMALL_RSS_SIZE)} file ${smallPeakMiB.toFixed(0)} MiB, difference ${(peakMiB - smallPeakMiB).toFixed(0)} MiB (flat in file size, ${judge(peakMiB - smallPeakMiB, largeFileTargets(0).peakSpreadMiB)})`,
  );
  // The transform is CPU-bound: how busy the machine was says how much of the MB/s other work took.
  const perGiB = (ms: number) => (((ms / 1000) * 2 ** 30) / size).toFixed(2);
  const cores = os.availableParallelism();
  console.log(
    `${label}: CPU per GiB of source: worker ${perGiB(largeRun.cpuMs)} s, sshd ${perGiB(cpu.sshdMs)} s, s3rver ${perGiB(cpu.s3rverMs)} s (machine busy ${((cores * cpu.machineBusyMs) / cpu.machineTotalMs).toFixed(1)} of ${cores} cores)`,
  );
  return 0;
}

async function readOnlyReceipt(
  services: Services,
  config: Awaited<ReturnType<typeof loadConfigOrThrow>>,
  partnerId: string,
): Promise<DeliveryReceipt> {
  const s3 = s3ClientFor(services.s3);
  try {
    const bucket = config.service.receipts.bucket;
    const prefix = `${config.service.receipts.prefix}${partnerId}/`;
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const key = listed.Contents?.[0]?.Key;
    if (key === undefined) throw new Error(`no receipt under ${prefix}`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await got.Body?.transformToString()) ?? '{}') as DeliveryReceipt;
  } finally {
    s3.destroy();
  }
}
