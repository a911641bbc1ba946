// Shared helpers for the benches that compare Ferry with the tools a user would pick instead: OpenSSH
// `sftp -b` and rclone against the harness sshd, a delay proxy that adds round-trip time in front of sshd,
// and /proc readings (peak RSS, CPU) of a Ferry child process.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { spawnFerry, type FerryProcess } from '../test/support/ferry-process.js';
import type { FerryConfig } from '../src/config/load-config.js';
import { sweepAndWait } from '../test/support/pipeline.js';
import type { Services } from '../test/support/services.js';

export { verdict } from './targets.js';

const run = promisify(execFile);

/** The cipher ssh2 (and so Ferry) negotiates first on a CPU with AES-NI; OpenSSH's client prefers chacha20. */
export const AES128_GCM = 'aes128-gcm@openssh.com';

/** Client-side files for OpenSSH and rclone: a known_hosts that pins the harness host key on every port given. */
export interface SshClientFiles {
  dir: string;
  knownHosts: string;
}

/** Writes `<dir>/known_hosts` with the harness sshd's host key for each port (sshd itself and any proxy). */
export async function writeSshClientFiles(
  services: Services,
  dir: string,
  ports: number[],
): Promise<SshClientFiles> {
  await mkdir(dir, { recursive: true });
  const [type, key] = (await readFile(join(services.sshd.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).split(
    ' ',
  );
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, ports.map((port) => `[127.0.0.1]:${port} ${type} ${key}\n`).join(''));
  return { dir, knownHosts };
}

/** Creates a directory on the SFTP server (a local path: the harness has no chroot) owned by the SFTP user. */
export async function makeRemoteDir(services: Services, path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  const owner = await stat(services.sshd.inbound);
  await chown(path, owner.uid, owner.gid);
}

export interface OpensshBatchOptions {
  services: Services;
  files: SshClientFiles;
  /** The port to dial: sshd's, or a delay proxy's in front of it. */
  port: number;
  /** sftp batch commands, one per line (e.g. `put /local/file /remote/file`). */
  commands: string[];
  /** `-c` cipher; OpenSSH's default (chacha20-poly1305) when omitted. */
  cipher?: string;
}

/** Runs one `sftp -b` session (one connection) and returns its wall time in seconds, process start included. */
export async function runOpensshBatch(options: OpensshBatchOptions): Promise<number> {
  const { services, files, port } = options;
  const batch = join(files.dir, `batch-${process.pid}-${Date.now()}`);
  await writeFile(batch, options.commands.join('\n') + '\n');
  const args = [
    '-q',
    '-b',
    batch,
    '-i',
    services.sshd.privateKeyPath,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${files.knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    ...(options.cipher === undefined ? [] : ['-c', options.cipher]),
    '-P',
    String(port),
    `${services.sshd.username}@127.0.0.1`,
  ];
  const started = performance.now();
  await run('sftp', args, { maxBuffer: 64 * 1024 * 1024 });
  return (performance.now() - started) / 1000;
}

/** Writes `<dir>/rclone.conf` with an `s3` remote (s3rver) and an `sftp` remote (harness sshd via `port`). */
export async function writeRcloneConfig(
  services: Services,
  files: SshClientFiles,
  port: number,
): Promise<string> {
  const { s3, sshd } = services;
  const path = join(files.dir, 'rclone.conf');
  await writeFile(
    path,
    [
      '[s3]',
      'type = s3',
      'provider = Other',
      `access_key_id = ${s3.accessKeyId}`,
      `secret_access_key = ${s3.secretAccessKey}`,
      `endpoint = ${s3.endpoint}`,
      `region = ${s3.region}`,
      'force_path_style = true',
      'no_check_bucket = true',
      '',
      '[sftp]',
      'type = sftp',
      'host = 127.0.0.1',
      `port = ${port}`,
      `user = ${sshd.username}`,
      `key_file = ${sshd.privateKeyPath}`,
      `known_hosts_file = ${files.knownHosts}`,
      // The harness sshd forces internal-sftp: no shell for rclone's md5sum/sha1sum probes.
      'shell_type = none',
      'disable_hashcheck = true',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return path;
}

/** Runs `rclone <args>` with that config (at its default transfers/checkers); returns wall seconds. */
export async function runRclone(configPath: string, args: string[]): Promise<number> {
  // The endpoint is plain HTTP; an inherited AWS_CA_BUNDLE makes rclone's S3 client refuse to start.
  const { AWS_CA_BUNDLE: _unused, ...env } = process.env;
  const started = performance.now();
  await run('rclone', ['--config', configPath, '--retries', '1', ...args], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  return (performance.now() - started) / 1000;
}

/** Installs rclone with apt when missing (Debian's 1.60); the benches compare Ferry with it. */
export async function ensureRclone(log: (line: string) => void): Promise<void> {
  try {
    await run('rclone', ['version']);
  } catch {
    log('rclone not found: apt-get install -y rclone…');
    await run('apt-get', ['install', '-y', 'rclone'], { maxBuffer: 64 * 1024 * 1024 });
  }
}

/** Peak and current resident set size of a process, in KiB (/proc/<pid>/status VmHWM / VmRSS). */
export async function memoryOf(pid: number): Promise<{ peakKiB: number; rssKiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peakKiB: field('VmHWM'), rssKiB: field('VmRSS') };
}

let clockTicks: number | undefined;

/** utime + stime of a process so far, in milliseconds (/proc/<pid>/stat). */
export async function cpuMsOf(pid: number): Promise<number> {
  if (clockTicks === undefined) {
    const { stdout } = await run('getconf', ['CLK_TCK']);
    clockTicks = Number(stdout.trim()) || 100;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/** utime + stime of a process and all its living descendants, in ms (sshd forks one process per session). */
export async function treeCpuMsOf(pid: number): Promise<number> {
  let total = 0;
  for (const child of await descendantsOf(pid)) total += await cpuMsOf(child).catch(() => 0);
  return total + (await cpuMsOf(pid));
}

async function descendantsOf(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const direct = children.split(' ').filter(Boolean).map(Number);
  const nested = await Promise.all(direct.map((child) => descendantsOf(child)));
  return [...direct, ...nested.flat()];
}

/** Starts `ferry start --role worker` (the compiled CLI) and waits until it is up. */
export async function startFerryWorker(
  configDir: string,
  env: NodeJS.ProcessEnv,
  processes = 1,
): Promise<FerryProcess> {
  const extra = processes > 1 ? ['--processes', String(processes)] : [];
  const worker = spawnFerry(['start', '--role', 'worker', '--config', configDir, ...extra], env);
  // Under a supervisor: every worker process logs its own "ferry started".
  const deadline = Date.now() + 60_000;
  while ((worker.output().match(/"msg":"ferry started"/g)?.length ?? 0) < processes) {
    if (Date.now() > deadline) {
      throw new Error(`ferry worker did not start:\n${worker.output().slice(-2000)}`);
    }
    await worker.waitForLine(/ferry started/, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return worker;
}

/** The largest peak RSS among a process and its descendants (the worker processes of a supervisor). */
export async function peakOfTree(pid: number): Promise<number> {
  const pids = [pid, ...(await descendantsOf(pid))];
  const peaks = await Promise.all(
    pids.map((p) =>
      memoryOf(p)
        .then((m) => m.peakKiB)
        .catch(() => 0),
    ),
  );
  return Math.max(...peaks);
}

/** Stops a worker started by startFerryWorker (SIGTERM, then SIGKILL after 10 s). */
export async function stopFerryWorker(worker: FerryProcess): Promise<void> {
  worker.kill('SIGTERM');
  const timer = setTimeout(() => worker.kill('SIGKILL'), 10_000);
  await worker.exited;
  clearTimeout(timer);
}

export interface FerrySweepRun {
  /** `ferry sweep --wait`: sweep start → every delivery settled (last receipt written). */
  seconds: number;
  /** Date.now() when the sweep was requested (to compare with file mtimes). */
  startedAtMs: number;
  summary: string;
  /** The worker's VmHWM: its peak RSS over its whole life (start-up included). */
  peakKiB: number;
  /** The worker's CPU during the sweep. */
  cpuMs: number;
}

/**
 * Starts a fresh worker process (so its VmHWM is this run's peak), sweeps one partner and waits for every
 * delivery, reads the worker's CPU and peak RSS from /proc, then stops it. Throws when a delivery failed.
 */
export async function runFerrySweep(
  configDir: string,
  env: NodeJS.ProcessEnv,
  config: FerryConfig,
  partnerId: string,
  log: (line: string) => void,
  /** Runs once the sweep settled, while the worker still runs (e.g. to find its sockets). */
  afterSweep?: (workerPid: number) => Promise<void>,
  /** `ferry start --processes N`: CPU is then the whole tree's, peak RSS the largest process's. */
  processes = 1,
): Promise<FerrySweepRun> {
  await syncDisks();
  const worker = await startFerryWorker(configDir, env, processes);
  try {
    log(`ferry (partner ${partnerId}${processes > 1 ? `, ${processes} worker processes` : ''})…`);
    const cpu0 = await treeCpuMsOf(worker.pid);
    const startedAtMs = Date.now();
    const started = performance.now();
    const { code, summary } = await sweepAndWait(config, partnerId, 3600);
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = (await treeCpuMsOf(worker.pid)) - cpu0;
    const peakKiB = await peakOfTree(worker.pid);
    await afterSweep?.(worker.pid);
    if (code !== 0) throw new Error(`ferry sweep ${partnerId} exited ${code}: ${summary}`);
    return { seconds, startedAtMs, summary, peakKiB, cpuMs };
  } catch (err) {
    log(`ferry worker output (tail):\n${worker.output().slice(-4000)}`);
    throw err;
  } finally {
    await stopFerryWorker(worker);
  }
}

export interface DelayProxy {
  port: number;
  pid: number;
  /** Connections accepted so far: proof that a client went through the proxy (and so paid its RTT). */
  connections(): number;
  close(): Promise<void>;
}

// Runs in its own node process, so the bench's own work (e.g. the SFTP writer alone) cannot delay it.
// Every chunk is forwarded `delay` ms after it arrived, without limiting bandwidth (the test tcp-proxy's
// delay fault waits per chunk in sequence, which caps throughput at chunk/delay).
const DELAY_PROXY_SOURCE = `
const net = require('node:net');
const [targetPort, delay] = process.argv.slice(1).map(Number);
function pump(from, to) {
  const queue = [];
  let timer = null;
  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0].at <= now) {
      if (!to.write(queue.shift().chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    }
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0].at - now));
    else if (from.readableEnded) to.end();
  };
  from.on('data', (chunk) => {
    queue.push({ at: performance.now() + delay, chunk });
    if (!timer) timer = setTimeout(flush, delay);
  });
  from.on('end', () => { if (queue.length === 0 && !timer) to.end(); });
  from.on('error', () => to.destroy());
}
const server = net.createServer((client) => {
  process.stdout.write('connection\\n');
  const upstream = net.connect(targetPort, '127.0.0.1');
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  pump(client, upstream);
  pump(upstream, client);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * Starts a TCP proxy in front of 127.0.0.1:<targetPort> that adds `rttMs` of round-trip time (half each
 * way) in a child process; every client (Ferry, OpenSSH, rclone) dials its port instead of sshd's.
 */
export async function startDelayProxy(targetPort: number, rttMs: number): Promise<DelayProxy> {
  const child = spawn(process.execPath, ['-e', DELAY_PROXY_SOURCE, String(targetPort), String(rttMs / 2)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let text = '';
  let connections = 0;
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /listening (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
      // Count whole lines only; a partial one waits for its end.
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      connections += lines.filter((line) => line === 'connection').length;
    });
    child.once('exit', (code) => reject(new Error(`delay proxy exited (${code}) before listening`)));
  });
  return {
    port,
    pid: child.pid ?? -1,
    connections: () => connections,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      process.removeListener('exit', killOnExit);
    },
  };
}

/**
 * Runs `run`; with a delay proxy, throws unless it opened a connection through the proxy, so a baseline
 * (or Ferry) that dialled sshd directly cannot pass for one that paid the round-trip time.
 */
export async function expectThroughProxy<T>(
  proxy: DelayProxy | undefined,
  who: string,
  run: () => Promise<T>,
): Promise<T> {
  const before = proxy?.connections() ?? 0;
  const result = await run();
  if (proxy && proxy.connections() === before) {
    throw new Error(`${who} opened no connection through the delay proxy (port ${proxy.port})`);
  }
  return result;
}

/** Writes `size` random bytes to `path` (16 MiB at a time); returns their sha256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  return writeGenerated(path, size, (left) => randomBytes(Math.min(16 * 1024 * 1024, left)));
}

/** Writes `size` bytes from `next(bytesLeft)` (cut to size) to `path` with back-pressure; their sha256. */
async function writeGenerated(path: string, size: number, next: (left: number) => Buffer): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let written = 0; written < size;) {
    const chunk = next(size - written).subarray(0, size - written);
    hash.update(chunk);
    written += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/**
 * Writes `size` bytes of CSV-like export rows to `path` (orders: id, timestamp, customer, email, country,
 * SKU, amounts, status; pseudo-random values, so compressible like real exports, ~4:1 with gzip -6,
 * never repeating within deflate's window) and returns their sha256.
 */
export async function writeCsvFile(path: string, size: number): Promise<string> {
  const first = ['Anna', 'Bob', 'Chen', 'Dmitri', 'Eva', 'Farah', 'Goran', 'Hiro', 'Ines', 'Jamal', 'Kofi'];
  const last = ['Smith', 'Garcia', 'Müller', 'Rossi', 'Nguyen', 'Kowalski', 'Okafor', 'Silva', 'Tanaka'];
  const countries = ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'NG', 'PL', 'IT', 'VN'];
  const statuses = ['paid', 'shipped', 'refunded', 'pending'];
  // Math.random: crypto's randomInt would make seeding 1 GiB (~10 M rows) take minutes.
  const randomInt = (min: number, max?: number): number =>
    max === undefined ? Math.floor(Math.random() * min) : min + Math.floor(Math.random() * (max - min));
  const pick = <T>(list: readonly T[]): T => list[randomInt(list.length)]!;
  let id = 10_000_000;
  let pending = 'order_id,created_at,customer,email,country,sku,qty,unit_price,amount,status\n';
  return writeGenerated(path, size, (left) => {
    const lines: string[] = [pending];
    for (let n = 0; n < 20_000; n++) {
      const [f, l] = [pick(first), pick(last)];
      const qty = randomInt(1, 20);
      const price = randomInt(100, 100_000) / 100;
      const at = new Date(
        Date.UTC(2026, randomInt(12), randomInt(1, 29), randomInt(24), randomInt(60), randomInt(60)),
      );
      lines.push(
        `${id++},${at.toISOString()},"${l}, ${f}",${f.toLowerCase()}.${l.toLowerCase()}${randomInt(1000)}@example.com,${pick(countries)},SKU-${String(randomInt(100_000)).padStart(6, '0')},${qty},${price.toFixed(2)},${(qty * price).toFixed(2)},${pick(statuses)}\n`,
      );
    }
    pending = '';
    return wholeRows(Buffer.from(lines.join('')), left, id++);
  });
}

/**
 * `block` cut to `left` bytes when it is longer, still ending on a whole row: the cut row (and, if it
 * has no room, the one before it) is replaced by a filler row of the same 10 columns and the exact
 * length left, so the file parses as CSV to its last byte (what `shape` needs).
 */
function wholeRows(block: Buffer, left: number, id: number): Buffer {
  if (block.length <= left) return block;
  const filler = (bytes: number) => {
    const fixed = `${id},,"",,,,,,,\n`.length;
    return bytes >= fixed ? `${id},,"${'x'.repeat(bytes - fixed)}",,,,,,,\n` : undefined;
  };
  let end = block.lastIndexOf(0x0a, left - 1) + 1;
  for (;;) {
    const row = filler(left - end);
    if (row !== undefined) return Buffer.concat([block.subarray(0, end), Buffer.from(row)]);
    end = end === 0 ? 0 : block.lastIndexOf(0x0a, end - 2) + 1;
    if (end === 0 && filler(left) === undefined) return block.subarray(0, left); // too small for a row
    if (end === 0) return Buffer.from(filler(left)!);
  }
}

/** `sync`: flush the previous run's written pages so they do not compete with the next measurement. */
export async function syncDisks(): Promise<void> {
  await run('sync');
}

/** Bytes as the bench labels show them: 1GiB, 10MiB, 512KiB or 10000000B. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

/** MB/s (10^6 bytes per second). */
export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

/** The fields of /proc/<pid>/stat after the command name (index 11 = utime … 14 = cstime). */
async function procStatFields(pid: number): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

async function ticksPerSecond(): Promise<number> {
  if (clockTicks === undefined) {
    const { stdout } = await run('getconf', ['CLK_TCK']);
    clockTicks = Number(stdout.trim()) || 100;
  }
  return clockTicks;
}

export interface TreeCpuSampler {
  /** Takes a last sample and returns the tree's CPU since the sampler started, in ms. */
  stop(): Promise<number>;
}

/**
 * Follows the CPU of a process tree (utime + stime of the process and every descendant, each known by pid
 * and start time) by sampling /proc every `intervalMs`. For services that fork per connection (sshd): a
 * session's CPU does not reach the root's cutime when it ends (sshd does not reap its grandchildren), so
 * one reading at the end would miss every session closed before it. A process that ends between samples
 * loses at most its last `intervalMs` of CPU: the figure is a lower bound.
 */
export async function startTreeCpuSampler(pid: number, intervalMs = 200): Promise<TreeCpuSampler> {
  const hz = await ticksPerSecond();
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const sample = async (atStart: boolean) => {
    for (const one of [pid, ...(await descendantsOf(pid))]) {
      const fields = await procStatFields(one).catch(() => undefined);
      if (!fields) continue;
      const identity = `${one}@${fields[19]}`; // field 22: start time
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (!first.has(identity)) first.set(identity, atStart ? ticks : 0);
      last.set(identity, ticks);
    }
  };
  await sample(true);
  let stopped = false;
  let pending = Promise.resolve();
  const tick = () => {
    pending = sample(false).then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  let timer = setTimeout(tick, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pending;
      await sample(false);
      let ticks = 0;
      for (const [identity, value] of last) ticks += value - (first.get(identity) ?? 0);
      return (ticks * 1000) / hz;
    },
  };
}

/** The whole machine's CPU so far (/proc/stat), in ms summed over cores: busy, stolen by the hypervisor, all. */
export async function machineCpuMs(): Promise<{ busyMs: number; stealMs: number; totalMs: number }> {
  const hz = await ticksPerSecond();
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const busy = user + nice + system + irq + softirq;
  const ms = (ticks: number) => (ticks * 1000) / hz;
  return { busyMs: ms(busy), stealMs: ms(steal), totalMs: ms(busy + idle + iowait + steal) };
}
