// `ferry test-connection <partner>`: proves, step by step, that deliveries to a partner can work:
// reachability, pinned host key, login, directory, write, rename, stat, delete. Leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path/posix';
import { Readable } from 'node:stream';
import type { EgressProxy } from '../adapters/egress-proxy.js';
import { openEgressSocket } from '../adapters/egress-proxy.js';
import { connectSftp, type SftpConnection } from '../adapters/sftp-connection.js';
import type { FerryConfig } from '../config/load-config.js';
import type { PartnerConfig } from '../config/schema.js';
import { resolvePartnerAuth, resolveSecret } from '../config/secrets.js';
import { effectiveAlgorithms, hostKeyAlgorithmsFor, legacyAlgorithmsIn } from '../core/ssh-algorithms.js';
import { classifyError } from '../core/classify-error.js';
import {
  checkExitCode,
  decidePublishSupport,
  formatCheckLine,
  formatCheckSummary,
  renamesNeeded,
  type CheckStatus,
  type CheckStep,
  type ProbeResult,
} from '../core/connection-check.js';
import { formatHostAddress, matchesPins, pinFor } from '../core/host-key-scan.js';
import { FerryError } from '../errors.js';
import { egressProxyFor } from '../main.js';
import { probeHostKey } from './host-key-command.js';

export interface TestConnectionOptions {
  config: FerryConfig;
  partnerId: string;
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
  /** Bound on each connection set-up; default: the service's worker.connectTimeoutSeconds. */
  timeoutMs?: number;
}

/** Every step, in order: the ones after a blocking failure are reported as `skip`. */
const STEP_NAMES = [
  'reach',
  'host key',
  'login',
  'directory',
  'write',
  'rename',
  'posix-rename',
  'stat',
  'delete',
  'publish',
] as const;
type StepName = (typeof STEP_NAMES)[number];

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** Runs the checks against one partner; exit 0 when none failed, 1 otherwise, 2 for an unknown partner. */
export async function runTestConnection(o: TestConnectionOptions): Promise<number> {
  const partner = o.config.partners.get(o.partnerId);
  if (!partner) {
    o.err(
      `ferry test-connection: unknown partner "${o.partnerId}" (configured: ${[...o.config.partners.keys()].join(', ')})`,
    );
    return 2;
  }
  const t = partner.target;
  const worker = o.config.service.worker;
  const timeoutMs = o.timeoutMs ?? worker.connectTimeoutSeconds * 1000;
  const where = formatHostAddress(t);
  const proxySetting = egressProxyFor(partner, o.config.service.sftp);
  const via =
    proxySetting === undefined ? '' : ` via ${proxySetting.protocol}://${formatHostAddress(proxySetting)}`;
  o.out(
    `ferry test-connection ${partner.id}: ${t.username}@${where}${via} → ${t.directory} ` +
      `(publish: ${t.publish}, onExisting: ${t.onExisting})`,
  );
  if (!partner.enabled) o.out('note: the partner is disabled (enabled: false); testing it anyway');

  const started = performance.now();
  const steps: CheckStep[] = [];
  const report = (name: StepName, status: CheckStatus, detail: string, ms?: number): void => {
    const step: CheckStep = { name, status, detail, ...(ms === undefined ? {} : { ms }) };
    steps.push(step);
    o.out(formatCheckLine(step));
  };
  const finish = (): number => {
    for (const name of STEP_NAMES.slice(steps.length)) {
      report(name, 'skip', 'not run: an earlier check failed');
    }
    o.out(formatCheckSummary(partner.id, steps, performance.now() - started));
    return checkExitCode(steps);
  };

  // 1. reach: a TCP connection (through the egress proxy, when one is configured) and nothing more.
  let proxy: EgressProxy | undefined;
  const reach = await timed(async () => {
    proxy = await resolveProxy(partner, o.config, o.env);
    const socket = await withTimeout(timeoutMs, `TCP connect to ${where}${via}`, (signal) =>
      openEgressSocket({ host: t.host, port: t.port }, proxy, { signal }),
    );
    socket.destroy();
  });
  if (reach.error) {
    report('reach', 'FAIL', describeError(reach.error), reach.ms);
    return finish();
  }
  report('reach', 'ok', `TCP connection to ${where}${via}`, reach.ms);

  // 2. host key: key exchange with the partner's algorithms, up to the host key; compared with the pins.
  const lists = effectiveAlgorithms(t.algorithms);
  const hostKey = await timed(() =>
    probeHostKey({
      host: t.host,
      port: t.port,
      ...(proxy === undefined ? {} : { proxy }),
      algorithms: { ...lists, serverHostKey: hostKeyAlgorithmsFor(t.hostKeys, lists.serverHostKey) },
      timeoutMs,
    }),
  );
  if (hostKey.error) {
    const hint =
      hostKey.error.code === 'ERR_SFTP_ALGORITHMS'
        ? ` (the server has no host key of the pinned types, or no key exchange, cipher or MAC in common with target.algorithms; \`ferry host-key ${where}\` lists its keys)`
        : '';
    report('host key', 'FAIL', describeError(hostKey.error) + hint, hostKey.ms);
    return finish();
  }
  const presented = pinFor(hostKey.value);
  if (!matchesPins(hostKey.value, t.hostKeys)) {
    report(
      'host key',
      'FAIL',
      `ERR_HOST_KEY_MISMATCH: the server presented "${presented}", which matches no pin in hostKeys ` +
        `(${t.hostKeys.join(', ')}); pin it only after the partner confirmed it out of band`,
      hostKey.ms,
    );
    return finish();
  }
  report('host key', 'ok', `${presented} matches a pin`, hostKey.ms);

  // 3. login: the real connection set-up deliveries use (secrets resolved by reference, never printed).
  const login = await timed(() => connectPartner(partner, o.config, o.env, timeoutMs));
  if (login.error) {
    const hint =
      login.error.code === 'ERR_SFTP_AUTH' ? ` (${t.username} was refused with ${describeAuth(t.auth)})` : '';
    report('login', 'FAIL', describeError(login.error) + hint, login.ms);
    return finish();
  }
  const session = login.value;
  try {
    const n = session.negotiated;
    // An AEAD cipher (…-gcm) has no separate MAC: ssh2 reports it as "".
    const names = n === undefined ? [] : [n.kex, n.serverHostKey, n.cipher, n.hmac].filter((a) => a !== '');
    const algorithms = names.length === 0 ? '' : ` (${names.join(', ')})`;
    const legacy = legacyAlgorithmsIn(t.algorithms);
    if (legacy.length > 0) {
      report(
        'login',
        'warn',
        `logged in as ${t.username}${algorithms}; target.algorithms allows legacy ${legacy.join(', ')}`,
        login.ms,
      );
    } else {
      report('login', 'ok', `logged in as ${t.username}${algorithms}`, login.ms);
    }
    await probeDirectory(session, partner, report);
  } finally {
    await session.close();
  }
  return finish();
}

type Report = (name: StepName, status: CheckStatus, detail: string, ms?: number) => void;

/**
 * Steps 4-10 on an open session. Probe files are dot-files under a random name (like Ferry's own temp
 * files); every one created is removed again, also when a step fails half-way.
 */
async function probeDirectory(
  session: SftpConnection,
  partner: PartnerConfig,
  report: Report,
): Promise<void> {
  const t = partner.target;
  const dir = t.directory;
  const name = `.ferry-probe-${randomBytes(6).toString('hex')}`;
  const join = (file: string): string => (dir === '/' ? `/${file}` : `${dir}/${file}`);
  const temp = join(`${name}.part`);
  const final = join(name);
  const second = join(`${name}.2.part`);
  // Paths that may exist on the server now (removed in the delete step, or on the way out).
  const present = new Set<string>();
  const probe: { write: ProbeResult; rename: ProbeResult; posixRename: ProbeResult | 'not-offered' } = {
    write: 'untested',
    rename: 'untested',
    posixRename: 'untested',
  };

  try {
    // 4. directory
    const dirStat = await timed(() => session.stat(dir));
    if (dirStat.error) return report('directory', 'FAIL', describeError(dirStat.error), dirStat.ms);
    if (dirStat.value === undefined) {
      return report(
        'directory',
        'FAIL',
        `ERR_SFTP_NO_SUCH_PATH: ${dir} does not exist for ${t.username} (ask the partner, or fix target.directory)`,
        dirStat.ms,
      );
    }
    if ((dirStat.value.mode & S_IFMT) !== S_IFDIR) {
      return report('directory', 'FAIL', `ERR_SFTP_NO_SUCH_PATH: ${dir} is not a directory`, dirStat.ms);
    }
    report('directory', 'ok', `${dir} exists`, dirStat.ms);

    // 5. write: a small file under a temp name, with the partner's file mode, size checked by stat.
    const body = Buffer.from(`ferry test-connection probe for ${partner.id}, ${new Date().toISOString()}\n`);
    const write = await timed(async () => {
      present.add(temp);
      await session.upload(temp, Readable.from([body]), { mode: t.fileMode });
      await expectSize(session, temp, body.length);
    });
    probe.write = write.error ? 'refused' : 'ok';
    if (write.error) {
      const hint =
        write.error.code === 'ERR_SFTP_PERMISSION' ? ` (${dir} is not writable for ${t.username})` : '';
      return report('write', 'FAIL', describeError(write.error) + hint, write.ms);
    }
    const mode = t.fileMode.toString(8).padStart(4, '0');
    report('write', 'ok', `wrote ${body.length} bytes to ${basename(temp)} (mode ${mode})`, write.ms);

    const needs = renamesNeeded(t, session.supportsPosixRename);
    // 6. plain rename onto a free name.
    const rename = await timed(() => session.rename(temp, final));
    probe.rename = rename.error ? 'refused' : 'ok';
    let expected = body.length;
    if (rename.error) {
      report('rename', needs.rename ? 'FAIL' : 'warn', describeError(rename.error), rename.ms);
    } else {
      present.delete(temp);
      present.add(final);
      report('rename', 'ok', `renamed to ${basename(final)}`, rename.ms);
    }

    // 7. posix-rename@openssh.com over the existing file (how onExisting: overwrite replaces atomically).
    if (!session.supportsPosixRename) {
      probe.posixRename = 'not-offered';
      report('posix-rename', 'skip', 'posix-rename@openssh.com is not offered by the server');
    } else {
      const replacement = Buffer.concat([body, Buffer.from('replaced atomically\n')]);
      const replaced = final;
      const posix = await timed(async () => {
        present.add(second);
        await session.upload(second, Readable.from([replacement]), { mode: t.fileMode });
        await session.posixRename(second, replaced);
      });
      probe.posixRename = posix.error ? 'refused' : 'ok';
      if (posix.error) {
        report('posix-rename', needs.posixRename ? 'FAIL' : 'warn', describeError(posix.error), posix.ms);
      } else {
        present.delete(second);
        present.add(replaced);
        expected = replacement.length;
        const how =
          probe.rename === 'ok' ? 'replaced the probe file atomically' : `renamed to ${basename(replaced)}`;
        report('posix-rename', 'ok', how, posix.ms);
      }
    }

    // 8. stat: the published probe (or the temp file when no rename worked) has the size written.
    const published = present.has(final) ? final : temp;
    const size = await timed(() => expectSize(session, published, expected));
    if (size.error) report('stat', 'FAIL', describeError(size.error), size.ms);
    else report('stat', 'ok', `${basename(published)} has the ${expected} bytes written`, size.ms);

    // 9. delete every probe file, and make sure none is left.
    const removal = await timed(async () => {
      for (const path of [...present]) {
        await session.remove(path);
        present.delete(path);
      }
      for (const path of [temp, final, second]) {
        if ((await session.stat(path)) !== undefined) {
          present.add(path);
          throw new FerryError('ERR_SFTP_FAILURE', `${path} is still there after removing it`);
        }
      }
    });
    if (removal.error) {
      report(
        'delete',
        'FAIL',
        `${describeError(removal.error)}; remove ${[...present].join(', ')} by hand`,
        removal.ms,
      );
    } else {
      report('delete', 'ok', 'probe files removed, nothing left behind', removal.ms);
    }

    // 10. what the server supports against what this partner's settings need.
    const verdict = decidePublishSupport(t, probe);
    report('publish', verdict.status, verdict.detail);
  } finally {
    // A step failed half-way: best effort, the probe must not stay on the partner's server.
    for (const path of present) await session.remove(path).catch(() => undefined);
  }
}

async function expectSize(session: SftpConnection, path: string, size: number): Promise<void> {
  const stat = await session.stat(path);
  if (stat === undefined) {
    throw new FerryError('ERR_SFTP_NO_SUCH_PATH', `${path} is not there after writing it`);
  }
  if (stat.size !== size) {
    throw new FerryError(
      'ERR_SIZE_MISMATCH',
      `${path} has ${stat.size} bytes on the server, ${size} were written`,
    );
  }
}

/**
 * One SFTP connection to the partner as a worker opens it (secrets and proxy resolved now, the
 * worker's keepalive and request deadline), for the commands that talk to a partner themselves.
 */
export async function connectPartner(
  partner: PartnerConfig,
  config: FerryConfig,
  env: NodeJS.ProcessEnv,
  readyTimeoutMs = config.service.worker.connectTimeoutSeconds * 1000,
): Promise<SftpConnection> {
  const t = partner.target;
  const worker = config.service.worker;
  const proxy = await resolveProxy(partner, config, env);
  return connectSftp({
    host: t.host,
    port: t.port,
    username: t.username,
    hostKeys: t.hostKeys,
    auth: await resolvePartnerAuth(t.auth, env),
    ...(t.algorithms === undefined ? {} : { algorithms: t.algorithms }),
    ...(proxy === undefined ? {} : { proxy }),
    readyTimeoutMs,
    keepaliveIntervalMs: worker.keepaliveIntervalSeconds * 1000,
    keepaliveCountMax: worker.keepaliveCountMax,
    // As a worker bounds them: a hung sftp-server fails the step instead of hanging the command.
    requestTimeoutMs: worker.stallTimeoutSeconds * 1000,
  });
}

/** The partner's egress proxy with its password read now (like a worker does at connect time). */
export async function resolveProxy(
  partner: PartnerConfig,
  config: FerryConfig,
  env: NodeJS.ProcessEnv,
): Promise<EgressProxy | undefined> {
  const setting = egressProxyFor(partner, config.service.sftp);
  if (setting === undefined) return undefined;
  const { password, ...address } = setting;
  return password === undefined ? address : { ...address, password: await resolveSecret(password, env) };
}

type Timed<T> =
  { value: T; error?: undefined; ms: number } | { value?: undefined; error: FerryError; ms: number };

/** Runs one step, timing it; any failure comes back classified, never thrown. */
async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const start = performance.now();
  try {
    const value = await fn();
    return { value, ms: performance.now() - start };
  } catch (err) {
    return { error: classifyError(err, 'sftp'), ms: performance.now() - start };
  }
}

async function withTimeout<T>(ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new FerryError('ERR_SFTP_TIMEOUT', `${what} timed out after ${ms} ms`));
  }, ms);
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Which credential was used, by reference (the variable or file name), never by value. */
function describeAuth(auth: PartnerConfig['target']['auth']): string {
  if (auth.privateKeyFile !== undefined) return `the private key in file ${auth.privateKeyFile}`;
  if (auth.privateKeyEnv !== undefined) return `the private key in $${auth.privateKeyEnv}`;
  if (auth.passwordFile !== undefined) return `the password in file ${auth.passwordFile}`;
  return `the password in $${auth.passwordEnv ?? '?'}`;
}

function describeError(err: FerryError): string {
  return `${err.code}: ${err.message}`;
}
