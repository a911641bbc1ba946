// Onboarding a partner with the compiled CLI against real OpenSSH servers: `ferry host-key` reads the
// fingerprints to pin, `ferry test-connection` proves a partner's settings end to end.
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { spawnFerry } from '../support/ferry-process.js';
import { getFreePort } from '../support/free-port.js';
import { startServices, type Services } from '../support/services.js';
import { startSocksProxy, type TestProxy } from '../support/socks-proxy.js';
import { startSshd, type SshdHandle } from '../support/sshd.js';
import { makeTempDir } from '../support/temp-dir.js';

const run = promisify(execFile);

const WRONG_PASSWORD = 'not-the-partner-password';
const PROXY_USER = 'onboarding';
const PROXY_PASSWORD = 'proxy-secret-for-onboarding';
const PARTNER_HOST = 'sftp.partner.internal';
const STEPS = [
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
];

let services: Services;
/** internal-sftp -R: logins work, every write is refused. */
let readOnly: SshdHandle;
/** Refuses rename and posix-rename, and has ECDSA and RSA host keys besides the ed25519 one. */
let limited: SshdHandle;
let keysDir: string;
let fixture: FerryFixture;
let proxy: TestProxy;
let closedPort: number;

const env = {
  ...process.env,
  FERRY_CONFIG: '',
  ONBOARDING_WRONG_PASSWORD: WRONG_PASSWORD,
  ONBOARDING_PROXY_PASSWORD: PROXY_PASSWORD,
};

/** `ssh-keygen -lf <pub>`'s fingerprint ("256 SHA256:… comment (ED25519)" → "SHA256:…"). */
async function fingerprintOf(pubFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]);
  return stdout.trim().split(/\s+/)[1]!;
}

async function ferry(args: string[]): Promise<{ code: number | string; output: string }> {
  const child = spawnFerry(args, env);
  const code = await child.exited;
  return { code, output: child.output() };
}

function testConnection(partner: string) {
  return ferry(['test-connection', partner, '--config', fixture.dir, '--timeout', '10']);
}

/** The report line of one step, e.g. "FAIL  host key      ERR_HOST_KEY_MISMATCH: …". */
function stepLine(output: string, step: string): string {
  const line = output.split('\n').find((l) => new RegExp(`^(ok|FAIL|warn|skip) +${step} `).test(l));
  if (line === undefined) throw new Error(`no "${step}" line in:\n${output}`);
  return line;
}

async function probeFilesIn(partner: string): Promise<string[]> {
  return (await readdir(fixture.partnerDirs[partner]!)).filter((name) => name.includes('ferry-probe'));
}

beforeAll(async () => {
  keysDir = await makeTempDir('onboarding-keys');
  await Promise.all([
    run('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-f', join(keysDir, 'host_ecdsa')]),
    run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(keysDir, 'host_rsa')]),
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keysDir, 'stranger')]),
  ]);
  [services, readOnly, limited, proxy, closedPort] = await Promise.all([
    startServices(),
    startSshd({ sftpFlags: ['-R'] }),
    startSshd({
      sftpFlags: ['-P', 'rename,posix-rename'],
      extraConfig: [`HostKey ${join(keysDir, 'host_ecdsa')}`, `HostKey ${join(keysDir, 'host_rsa')}`],
    }),
    startSocksProxy({
      hosts: { [PARTNER_HOST]: '127.0.0.1' },
      auth: { username: PROXY_USER, password: PROXY_PASSWORD },
    }),
    getFreePort(),
  ]);
  const on = (server: SshdHandle) => ({
    port: server.port,
    hostKeys: [`ssh-ed25519 ${server.hostKeyFingerprint}`],
    auth: `{ privateKeyFile: ${server.privateKeyPath} }`,
  });
  fixture = await writeFerryConfig(services, {
    adminUser: null,
    partners: [
      { id: 'good' },
      { id: 'overwrite', onExisting: 'overwrite' },
      { id: 'wrong-pin', hostKeys: [`ssh-ed25519 SHA256:${'A'.repeat(43)}`] },
      { id: 'bad-password', auth: '{ passwordEnv: ONBOARDING_WRONG_PASSWORD }' },
      { id: 'bad-key', auth: `{ privateKeyFile: ${join(keysDir, 'stranger')} }` },
      { id: 'no-dir' },
      { id: 'unreachable', port: closedPort },
      { id: 'read-only', ...on(readOnly) },
      { id: 'no-rename', ...on(limited) },
      { id: 'no-rename-direct', publish: 'direct', ...on(limited) },
    ],
  });
  await rm(fixture.partnerDirs['no-dir']!, { recursive: true });
}, 60_000);

afterAll(async () => {
  await Promise.all([services?.stop(), readOnly?.stop(), limited?.stop(), proxy?.close()]);
  if (keysDir) await rm(keysDir, { recursive: true, force: true });
});

describe('ferry host-key', () => {
  it('prints the fingerprint ssh-keygen -lf gives for the server key, as a pin and a YAML snippet, with a TOFU warning', async () => {
    const expected = await fingerprintOf(join(services.sshd.dir, 'ssh_host_ed25519_key.pub'));
    const { code, output } = await ferry(['host-key', `127.0.0.1:${services.sshd.port}`]);
    expect(code).toBe(0);
    expect(output.split('\n')).toContain(`ssh-ed25519 ${expected}`);
    expect(output).toContain(`  port: ${services.sshd.port}\n  hostKeys:\n    - "ssh-ed25519 ${expected}"`);
    expect(output).toMatch(/WARNING: .*NOT verified/);
    expect(output).toMatch(/out of band/);
  });

  it('reads every host key type the server offers, one handshake per type', async () => {
    const expected = await Promise.all([
      fingerprintOf(join(limited.dir, 'ssh_host_ed25519_key.pub')),
      fingerprintOf(join(keysDir, 'host_ecdsa.pub')),
      fingerprintOf(join(keysDir, 'host_rsa.pub')),
    ]);
    const { code, output } = await ferry(['host-key', `127.0.0.1:${limited.port}`]);
    expect(code).toBe(0);
    const lines = output.split('\n');
    expect(lines).toContain(`ssh-ed25519 ${expected[0]}`);
    expect(lines).toContain(`ecdsa-sha2-nistp256 ${expected[1]}`);
    expect(lines).toContain(`ssh-rsa ${expected[2]}`);
    expect(output).toMatch(/^# not offered: .*ecdsa-sha2-nistp384/m);
  });

  it('goes through an egress proxy that resolves the host name, with the password from a variable', async () => {
    const before = proxy.relayed;
    const { code, output } = await ferry([
      'host-key',
      `${PARTNER_HOST}:${services.sshd.port}`,
      '--proxy',
      proxy.url.replace('socks5://', `socks5://${PROXY_USER}@`),
      '--proxy-password-env',
      'ONBOARDING_PROXY_PASSWORD',
    ]);
    expect(code).toBe(0);
    expect(output.split('\n')).toContain(`ssh-ed25519 ${services.sshd.hostKeyFingerprint}`);
    expect(proxy.relayed).toBeGreaterThan(before);
    expect(proxy.destinations).toContain(`${PARTNER_HOST}:${services.sshd.port}`);
    expect(output).not.toContain(PROXY_PASSWORD);
  });

  it('exits 1 with ERR_SFTP_UNREACHABLE when nothing listens', async () => {
    const { code, output } = await ferry(['host-key', `127.0.0.1:${closedPort}`]);
    expect(code).toBe(1);
    expect(output).toMatch(/^ferry host-key: ERR_SFTP_UNREACHABLE: no host key read from 127\.0\.0\.1:\d+/m);
  });

  it('exits 1 with ERR_SFTP_TIMEOUT when the server never speaks SSH', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const { code, output } = await ferry(['host-key', `127.0.0.1:${port}`, '--timeout', '1']);
      expect(code).toBe(1);
      expect(output).toMatch(/^ferry host-key: ERR_SFTP_TIMEOUT: /m);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('exits 2 with the usage for a missing or malformed address', async () => {
    for (const args of [['host-key'], ['host-key', 'host:99999']]) {
      const { code, output } = await ferry(args);
      expect(code).toBe(2);
      expect(output).toMatch(/usage: ferry host-key <host\[:port\]>/);
    }
  });
});

describe('ferry test-connection', () => {
  it('passes every step on a good partner, in order, and leaves no probe file', async () => {
    const { code, output } = await testConnection('good');
    expect(code).toBe(0);
    const steps = output
      .split('\n')
      .map((line) => /^(ok|FAIL|warn|skip) +(\S+(?: key)?) /.exec(line))
      .filter((match) => match !== null);
    expect(steps.map((m) => m[2])).toEqual(STEPS);
    expect(steps.every((m) => m[1] === 'ok')).toBe(true);
    expect(stepLine(output, 'host key')).toContain(
      `ssh-ed25519 ${services.sshd.hostKeyFingerprint} matches a pin`,
    );
    expect(stepLine(output, 'publish')).toContain('server supports: direct, rename, posix-rename');
    expect(output).toMatch(/^test-connection good: OK, 10 checks passed/m);
    expect(await probeFilesIn('good')).toEqual([]);
  });

  it('reports atomic replace for onExisting: overwrite on a server with posix-rename', async () => {
    const { code, output } = await testConnection('overwrite');
    expect(code).toBe(0);
    expect(stepLine(output, 'posix-rename')).toMatch(/^ok .*replaced the probe file atomically/);
    expect(stepLine(output, 'publish')).toMatch(/^ok .*replaced atomically/);
    expect(await probeFilesIn('overwrite')).toEqual([]);
  });

  it('fails the host key step on a wrong pin, naming the key the server offered, before logging in', async () => {
    const { code, output } = await testConnection('wrong-pin');
    expect(code).toBe(1);
    expect(stepLine(output, 'host key')).toMatch(
      new RegExp(
        `^FAIL .*ERR_HOST_KEY_MISMATCH: the server presented "ssh-ed25519 ${escapeRegExp(services.sshd.hostKeyFingerprint)}"`,
      ),
    );
    expect(stepLine(output, 'login')).toMatch(/^skip /);
    expect(output).toMatch(/^test-connection wrong-pin: FAILED \(host key\)/m);
  });

  it('fails the login step on a wrong password, naming the variable but never the value', async () => {
    const { code, output } = await testConnection('bad-password');
    expect(code).toBe(1);
    expect(stepLine(output, 'login')).toMatch(/^FAIL .*ERR_SFTP_AUTH: .*ONBOARDING_WRONG_PASSWORD/);
    expect(output).not.toContain(WRONG_PASSWORD);
  });

  it('fails the login step with a key the server does not know', async () => {
    const { code, output } = await testConnection('bad-key');
    expect(code).toBe(1);
    expect(stepLine(output, 'login')).toMatch(/^FAIL .*ERR_SFTP_AUTH: .*stranger/);
  });

  it('fails the directory step when the remote directory is missing', async () => {
    const { code, output } = await testConnection('no-dir');
    expect(code).toBe(1);
    expect(stepLine(output, 'directory')).toMatch(/^FAIL .*ERR_SFTP_NO_SUCH_PATH: .*no-dir does not exist/);
    expect(stepLine(output, 'write')).toMatch(/^skip /);
  });

  it('fails the reach step when nothing listens', async () => {
    const { code, output } = await testConnection('unreachable');
    expect(code).toBe(1);
    expect(stepLine(output, 'reach')).toMatch(/^FAIL .*ERR_SFTP_UNREACHABLE/);
  });

  it('fails the write step on a read-only server and leaves nothing behind', async () => {
    const { code, output } = await testConnection('read-only');
    expect(code).toBe(1);
    expect(stepLine(output, 'directory')).toMatch(/^ok /);
    expect(stepLine(output, 'write')).toMatch(/^FAIL .*ERR_SFTP_PERMISSION: .*is not writable/);
    expect(await probeFilesIn('read-only')).toEqual([]);
  });

  it('fails on a server that refuses renames when the partner publishes by rename, and says direct works', async () => {
    const { code, output } = await testConnection('no-rename');
    expect(code).toBe(1);
    expect(stepLine(output, 'rename')).toMatch(/^FAIL /);
    expect(stepLine(output, 'posix-rename')).toMatch(/^skip .*not offered/);
    expect(stepLine(output, 'delete')).toMatch(/^ok /);
    expect(stepLine(output, 'publish')).toMatch(/^FAIL .*set publish: direct \(server supports: direct\)/);
    expect(await probeFilesIn('no-rename')).toEqual([]);
  });

  it('passes with a warning on that server when the partner publishes directly', async () => {
    const { code, output } = await testConnection('no-rename-direct');
    expect(code).toBe(0);
    expect(stepLine(output, 'rename')).toMatch(/^warn /);
    expect(stepLine(output, 'publish')).toMatch(/^ok .*publish: direct/);
    expect(output).toMatch(/^test-connection no-rename-direct: OK, \d+ checks passed, 1 warning/m);
    expect(await probeFilesIn('no-rename-direct')).toEqual([]);
  });

  it('exits 2 for a partner that is not configured', async () => {
    const { code, output } = await testConnection('nobody');
    expect(code).toBe(2);
    expect(output).toMatch(/unknown partner "nobody"/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
