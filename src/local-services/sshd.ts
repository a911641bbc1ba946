import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { makeTempDir } from './temp-dir.js';
import {
  listDescendants,
  spawnService,
  startOnPort,
  waitForReady,
  type ServiceProcess,
} from './spawn-service.js';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
/** OpenSSH's SFTP server as its own program (Debian package openssh-sftp-server). */
export const SFTP_SERVER_BINARY = '/usr/lib/openssh/sftp-server';
/** The dedicated non-root login used when the harness runs as root. */
const SFTP_SYSTEM_USER = 'ferry-sftp';
/**
 * The login for `sftpServer: 'external'`: sshd runs a program subsystem through the user's shell, which
 * nologin refuses, so this one has /bin/sh (ForceCommand still allows nothing but sftp-server).
 */
const EXTERNAL_SFTP_SYSTEM_USER = 'ferry-sftp-sh';

export interface SshdOptions {
  dir?: string;
  /** Flags for internal-sftp (or sftp-server), e.g. ['-P', 'posix-rename'] to deny a request. */
  sftpFlags?: string[];
  /**
   * 'internal' (default): sshd's in-process internal-sftp. 'external': the sftp-server program, one
   * process per session, so a test can SIGSTOP the subsystem alone (a server stuck on a dead mount)
   * while sshd keeps answering keepalives; find its pids with `sftpServerPids()`.
   */
  sftpServer?: 'internal' | 'external';
  /**
   * Log every SFTP request the server handles (open, write totals, fsync, rename…) to `sftpLogFile`:
   * implies `sftpServer: 'external'` (internal-sftp logs only to syslog), run as `-e -l VERBOSE`.
   */
  sftpLog?: boolean;
  /** Extra sshd_config lines, appended last. */
  extraConfig?: string[];
  port?: number;
}

export interface SshdHandle {
  host: '127.0.0.1';
  port: number;
  pid: number;
  dir: string;
  /** The SFTP login user (never root). */
  username: string;
  /** Client ed25519 key authorised for `username` (no passphrase, mode 0600). */
  privateKeyPath: string;
  /** 'SHA256:...' exactly as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Absolute local path owned by `username`; SFTP paths are the same (no chroot). */
  home: string;
  /** `${home}/inbound`, owned by `username`. */
  inbound: string;
  logFile: string;
  /** With `sftpLog`: the sftp-server's request log (one line per request, e.g. `fsync "<path>"`). */
  sftpLogFile?: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Restarts on the same port; `newHostKey` swaps the host key (MITM tests) and updates the fingerprint. */
  start(options?: { newHostKey?: boolean }): Promise<void>;
  /**
   * The pids of the sftp-server processes serving this sshd's sessions now (`sftpServer: 'external'`;
   * always empty with internal-sftp), oldest first. Signal them by pid, e.g. SIGSTOP / SIGCONT.
   */
  sftpServerPids(): number[];
}

interface SftpUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * Starts a private OpenSSH sshd (foreground child, 127.0.0.1, a free port unless given) that only
 * serves SFTP to one non-root user with a generated key. Ready once it sends its `SSH-2.0-` banner.
 */
export async function startSshd(options: SshdOptions = {}): Promise<SshdHandle> {
  const dir = resolve(options.dir ?? (await makeTempDir('sshd')));
  const external = options.sftpServer === 'external' || options.sftpLog === true;
  const user = await resolveSftpUser(external);
  const paths = {
    config: join(dir, 'sshd_config'),
    hostKey: join(dir, 'ssh_host_ed25519_key'),
    clientKey: join(dir, 'client_ed25519'),
    authorizedKeys: join(dir, 'authorized_keys'),
    home: join(dir, 'home'),
    log: join(dir, 'sshd.log'),
    sftpLog: join(dir, 'sftp-server.log'),
  };
  const inbound = join(paths.home, 'inbound');
  const pidFile = join(dir, 'sshd.pid');

  await mkdir(paths.authorizedKeys, { recursive: true });
  await mkdir(inbound, { recursive: true });
  // sshd reads authorized_keys as the user, and the user must reach its home.
  await makeTraversable(dir, paths.home);
  await chmod(paths.authorizedKeys, 0o755);
  await generateKey(paths.clientKey, 'ferry-test-client');
  await chmod(paths.clientKey, 0o600);
  await copyFile(`${paths.clientKey}.pub`, join(paths.authorizedKeys, user.name));
  await chmod(join(paths.authorizedKeys, user.name), 0o644);
  for (const owned of [paths.home, inbound]) {
    await chown(owned, user.uid, user.gid);
    await chmod(owned, 0o755);
  }
  if (options.sftpLog) {
    // Written by sftp-server as the login user; the ForceCommand runs through its shell, so 2>> works.
    await writeFile(paths.sftpLog, '');
    await chown(paths.sftpLog, user.uid, user.gid);
  }
  await generateKey(paths.hostKey, 'ferry-test-host');
  let hostKeyFingerprint = await fingerprintOf(paths.hostKey);
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const penaltiesOff = (await opensshVersion()) >= 9.8 ? ['PerSourcePenalties no'] : [];

  let current: ServiceProcess | undefined;
  const launch = async (port: number): Promise<ServiceProcess> => {
    const sftp = [
      external ? SFTP_SERVER_BINARY : 'internal-sftp',
      ...(options.sftpFlags ?? []),
      ...(options.sftpLog ? ['-e', '-l', 'VERBOSE', `2>>${paths.sftpLog}`] : []),
    ].join(' ');
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${paths.hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${paths.authorizedKeys}/%u`,
      // The instance lives under /tmp (world-writable), which StrictModes would reject.
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin no',
      `AllowUsers ${user.name}`,
      'X11Forwarding no',
      'AllowTcpForwarding no',
      'MaxStartups 100:30:200',
      `Subsystem sftp ${sftp}`,
      `ForceCommand ${sftp}`,
      'LogLevel VERBOSE',
      ...penaltiesOff,
      ...(options.extraConfig ?? []),
    ];
    await writeFile(paths.config, config.join('\n') + '\n');
    const service = await spawnService({
      name: 'sshd',
      command: SSHD,
      args: ['-D', '-e', '-f', paths.config],
      logFile: paths.log,
      cwd: dir,
    });
    // The pid file (written after sshd bound its port) proves the banner comes from our child.
    await waitForReady(service, {
      probe: async () => (await readPidFile(pidFile)) === service.pid && (await sendsSshBanner(port)),
    });
    return service;
  };

  const port = await startOnPort(options.port, async (candidate) => {
    current = await launch(candidate);
    return candidate;
  });

  return {
    host: '127.0.0.1',
    port,
    get pid() {
      return current!.pid;
    },
    dir,
    username: user.name,
    privateKeyPath: paths.clientKey,
    get hostKeyFingerprint() {
      return hostKeyFingerprint;
    },
    home: paths.home,
    inbound,
    logFile: paths.log,
    ...(options.sftpLog ? { sftpLogFile: paths.sftpLog } : {}),
    stop: (signal) => current!.stop(signal),
    async start(restart = {}) {
      if (current?.isRunning()) await current.stop();
      if (restart.newHostKey) {
        await rm(paths.hostKey, { force: true });
        await rm(`${paths.hostKey}.pub`, { force: true });
        await generateKey(paths.hostKey, 'ferry-test-host');
        hostKeyFingerprint = await fingerprintOf(paths.hostKey);
      }
      current = await launch(port);
    },
    sftpServerPids: () =>
      listDescendants(current!.pid)
        .filter((p) => commandOf(p.pid) === 'sftp-server')
        .sort((a, b) => Number(a.startTime) - Number(b.startTime) || a.pid - b.pid)
        .map((p) => p.pid),
  };
}

/** A process's command name (/proc/<pid>/comm), or undefined once it is gone. */
function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The whole sshd log so far (connections, auth decisions, SFTP requests at LogLevel VERBOSE). */
export function readSshdLog(handle: Pick<SshdHandle, 'logFile'>): Promise<string> {
  return readFile(handle.logFile, 'utf8');
}

async function generateKey(path: string, comment: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

async function fingerprintOf(keyPath: string): Promise<string> {
  // "256 SHA256:abc... comment (ED25519)"
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${keyPath}.pub`]);
  const fingerprint = stdout.trim().split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) {
    throw new Error(`sshd: unexpected ssh-keygen -l output: ${stdout}`);
  }
  return fingerprint;
}

let cachedVersion: Promise<number> | undefined;
function opensshVersion(): Promise<number> {
  cachedVersion ??= run(SSHD, ['-V']).then(
    ({ stdout, stderr }) => parseVersion(stdout + stderr),
    (error: { stderr?: string }) => parseVersion(error.stderr ?? ''),
  );
  return cachedVersion;
}

function parseVersion(text: string): number {
  const match = /OpenSSH_(\d+)\.(\d+)/.exec(text);
  return match ? Number(`${match[1]}.${match[2]}`) : 0;
}

// Adds o+x from `from` down to `to` so a non-root user can reach `to`.
async function makeTraversable(from: string, to: string): Promise<void> {
  const chain: string[] = [];
  for (let path = to; relative(from, path) !== '' && !relative(from, path).startsWith('..');) {
    chain.push(path);
    path = dirname(path);
  }
  chain.push(from);
  for (const path of chain) {
    const { mode } = await stat(path);
    await chmod(path, (mode & 0o7777) | 0o055);
  }
}

const cachedUsers = new Map<string, Promise<SftpUser>>();
function resolveSftpUser(withShell: boolean): Promise<SftpUser> {
  if (process.getuid?.() !== 0) return Promise.resolve(currentUser());
  const [name, shell] = withShell
    ? [EXTERNAL_SFTP_SYSTEM_USER, '/bin/sh']
    : [SFTP_SYSTEM_USER, '/usr/sbin/nologin'];
  let user = cachedUsers.get(name);
  if (!user) {
    user = ensureSystemUser(name, shell);
    cachedUsers.set(name, user);
  }
  return user;
}

function currentUser(): SftpUser {
  const info = userInfo();
  return { name: info.username, uid: info.uid, gid: info.gid };
}

/**
 * Creates the SFTP system user once. Several test files may race here: useradd/usermod take the
 * passwd lock and fail while another holds it, so retry until the account exists and is unlocked.
 */
async function ensureSystemUser(name: string, shell: string): Promise<SftpUser> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 40; attempt++) {
    const entry = await lookupUser(name);
    try {
      if (entry === undefined) {
        await run('useradd', [
          '--system',
          '--create-home',
          '--home-dir',
          `/var/lib/${name}`,
          '--shell',
          shell,
          name,
        ]);
        continue;
      }
      // useradd leaves the password '!' (locked), which sshd refuses under UsePAM no; '*' = no password.
      if (await isLocked(name)) {
        await run('usermod', ['-p', '*', name]);
        continue;
      }
      return entry;
    } catch (error) {
      lastError = error;
      await delay(50 * attempt);
    }
  }
  throw new Error(`sshd: cannot create the ${name} user: ${(lastError as Error | undefined)?.message}`);
}

async function lookupUser(name: string): Promise<SftpUser | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', name]);
    const [, , uid, gid] = stdout.trim().split(':');
    return { name, uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

async function isLocked(name: string): Promise<boolean> {
  const { stdout } = await run('getent', ['shadow', name]);
  return stdout.split(':')[1]?.startsWith('!') ?? false;
}

async function readPidFile(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim() === '' ? undefined : Number(text.trim());
}

function sendsSshBanner(port: number): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolveProbe(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.length >= 8) finish(received.startsWith('SSH-2.0-'));
    });
    socket.once('close', () => finish(false));
  });
}
