import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat as statLocal, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSftp, type SftpConnection } from '../../src/adapters/sftp-connection.js';
import { FerryError } from '../../src/errors.js';
import { readSshdLog, startSshd, type SshdHandle } from '../support/sshd.js';
import { makeTempDir } from '../support/temp-dir.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let sshd: SshdHandle;
let privateKey: string;
const open = new Set<SftpConnection>();

beforeAll(async () => {
  sshd = await startSshd();
  privateKey = await readFile(sshd.privateKeyPath, 'utf8');
});

afterAll(async () => {
  await Promise.all([...open].map((connection) => connection.close()));
  await sshd?.stop();
});

async function connect(
  overrides: { hostKeys?: string[]; privateKey?: string; server?: SshdHandle } = {},
): Promise<SftpConnection> {
  const server = overrides.server ?? sshd;
  const key =
    overrides.privateKey ?? (server === sshd ? privateKey : await readFile(server.privateKeyPath, 'utf8'));
  const connection = await connectSftp({
    host: server.host,
    port: server.port,
    username: server.username,
    hostKeys: overrides.hostKeys ?? [server.hostKeyFingerprint],
    auth: { privateKey: key },
    readyTimeoutMs: 10_000,
    keepaliveIntervalMs: 1_000,
    keepaliveCountMax: 3,
  });
  open.add(connection);
  return connection;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Splits `data` into chunks of 1 byte to 100 KiB, so writes never line up with the source's chunks. */
function irregularChunks(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = [1, 7, 4_096, 65_535, 65_537, 100_000, 333][i % 7]!;
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** A source that never ends (the upload only stops when aborted); `pulled` counts bytes handed out. */
function endlessSource(): Readable & { pulled: number } {
  const block = randomBytes(64 * 1024);
  const source = Object.assign(
    new Readable({
      read() {
        source.pulled += block.length;
        this.push(block);
      },
    }),
    { pulled: 0 },
  );
  return source;
}

function fakeFingerprint(): string {
  return 'SHA256:' + createHash('sha256').update(randomBytes(32)).digest('base64').replace(/=+$/, '');
}

/** Polls the sshd log until `predicate` holds for the part written after `offset` (sshd writes asynchronously). */
async function logAfter(offset: number, predicate: (text: string) => boolean): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const text = (await readSshdLog(sshd)).slice(offset);
    if (predicate(text) || attempt >= 100) return text;
    await delay(50);
  }
}

/** Every process below `pid` (sshd's per-connection children). */
async function descendantsOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  const walk = async (parent: number): Promise<void> => {
    let text = '';
    try {
      text = await readFile(`/proc/${parent}/task/${parent}/children`, 'utf8');
    } catch {
      return;
    }
    for (const child of text.split(/\s+/).filter(Boolean).map(Number)) {
      found.push(child);
      await walk(child);
    }
  };
  await walk(pid);
  return found;
}

function expectFerryError(err: unknown, code: string): FerryError {
  expect(err).toBeInstanceOf(FerryError);
  expect((err as FerryError).code).toBe(code);
  return err as FerryError;
}

describe('SFTP adapter against OpenSSH sshd', () => {
  it('streams a 5 MiB Readable and reports the bytes and sha256 of the file that landed', async () => {
    const session = await connect();
    const data = randomBytes(5 * MiB);
    const remote = join(sshd.inbound, 'five-mib.bin');
    const progress: number[] = [];

    const result = await session.upload(remote, Readable.from([data]), {
      mode: 0o640,
      onProgress: (bytes) => progress.push(bytes),
    });

    const landed = await readFile(remote);
    expect(result).toEqual({ bytes: data.length, sha256: sha256(data) });
    expect(sha256(landed)).toBe(sha256(data));
    expect(landed.length).toBe(data.length);
    expect(progress.at(-1)).toBe(data.length);
    expect(await session.stat(remote)).toMatchObject({ size: data.length });
  });

  it('reassembles a source that yields small irregular chunks', async () => {
    const session = await connect();
    const data = randomBytes(3 * MiB + 12_345);
    const remote = join(sshd.inbound, 'irregular.bin');

    const result = await session.upload(remote, Readable.from(irregularChunks(data)), { mode: 0o640 });

    const landed = await readFile(remote);
    expect(result).toEqual({ bytes: data.length, sha256: sha256(data) });
    expect(sha256(landed)).toBe(sha256(data));
  });

  it('uploads an empty source as an empty file', async () => {
    const session = await connect();
    const remote = join(sshd.inbound, 'empty.bin');

    const result = await session.upload(remote, Readable.from([]), { mode: 0o640 });

    expect(result).toEqual({ bytes: 0, sha256: sha256(Buffer.alloc(0)) });
    expect((await statLocal(remote)).size).toBe(0);
  });

  it('creates files with the configured mode, never 0666', async () => {
    const session = await connect();
    const default640 = join(sshd.inbound, 'mode-640.txt');
    const private600 = join(sshd.inbound, 'mode-600.txt');

    await session.upload(default640, Readable.from([Buffer.from('a')]), { mode: 0o640 });
    await session.upload(private600, Readable.from([Buffer.from('b')]), { mode: 0o600 });

    expect((await statLocal(default640)).mode & 0o777).toBe(0o640);
    expect((await statLocal(private600)).mode & 0o777).toBe(0o600);
    expect((await session.stat(default640))!.mode & 0o777).toBe(0o640);
  });

  it('refuses an unpinned host key before authenticating and names both fingerprints', async () => {
    const wrongPin = fakeFingerprint();
    const logOffset = (await readSshdLog(sshd)).length;

    const err = await connect({ hostKeys: [wrongPin] }).catch((e: unknown) => e);

    const mismatch = expectFerryError(err, 'ERR_HOST_KEY_MISMATCH');
    expect(mismatch.message).toContain(sshd.hostKeyFingerprint);
    expect(mismatch.message).toContain(wrongPin);
    expect(mismatch.details).toMatchObject({ presented: sshd.hostKeyFingerprint, pinned: [wrongPin] });
    // sshd logs the end of the pre-auth connection; no auth attempt may appear before it.
    const log = await logAfter(logOffset, (text) =>
      /Disconnected from|Connection (closed|reset) by/.test(text),
    );
    expect(log).toMatch(/Connection from 127\.0\.0\.1/);
    expect(log).not.toMatch(/Accepted|Failed publickey|Postponed publickey|userauth/i);
  });

  it('rejects with ERR_SFTP_AUTH when the server does not know the client key', async () => {
    const dir = await makeTempDir('sftp-wrong-key');
    const keyPath = join(dir, 'id_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', keyPath]);

    const err = await connect({ privateKey: await readFile(keyPath, 'utf8') }).catch((e: unknown) => e);

    expectFerryError(err, 'ERR_SFTP_AUTH');
  });

  it('rejects with ERR_SFTP_AUTH when the private key cannot be parsed', async () => {
    const err = await connect({ privateKey: 'not a key' }).catch((e: unknown) => e);

    expectFerryError(err, 'ERR_SFTP_AUTH');
  });

  it('keeps plain rename from replacing an existing file, while posixRename replaces it', async () => {
    const session = await connect();
    const from = join(sshd.inbound, 'rename-from.txt');
    const to = join(sshd.inbound, 'rename-to.txt');
    await writeFile(to, 'partner file');
    await session.upload(from, Readable.from([Buffer.from('new delivery')]), { mode: 0o640 });

    const err = await session.rename(from, to).catch((e: unknown) => e);

    expectFerryError(err, 'ERR_SFTP_FAILURE');
    expect(await readFile(to, 'utf8')).toBe('partner file');
    expect(session.supportsPosixRename).toBe(true);
    await session.posixRename(from, to);
    expect(await readFile(to, 'utf8')).toBe('new delivery');
    expect(await session.stat(from)).toBeUndefined();
  });

  it('renames onto a free name and removes files', async () => {
    const session = await connect();
    const from = join(sshd.inbound, 'move-me.txt');
    const to = join(sshd.inbound, 'moved.txt');
    await session.upload(from, Readable.from([Buffer.from('x')]), { mode: 0o640 });

    await session.rename(from, to);
    await session.remove(to);

    expect(await session.stat(from)).toBeUndefined();
    expect(await session.stat(to)).toBeUndefined();
  });

  it('returns undefined when stat-ing a missing path', async () => {
    const session = await connect();

    expect(await session.stat(join(sshd.inbound, 'no-such-file'))).toBeUndefined();
  });

  it('maps a write into a missing directory to ERR_SFTP_NO_SUCH_PATH and destroys the source', async () => {
    const session = await connect();
    const source = endlessSource();

    const err = await session
      .upload(join(sshd.inbound, 'missing-dir', 'f.bin'), source, { mode: 0o640 })
      .catch((e: unknown) => e);

    expectFerryError(err, 'ERR_SFTP_NO_SUCH_PATH');
    expect(source.destroyed).toBe(true);
  });

  it('rejects with the abort reason mid-upload, destroys the source and keeps the connection usable', async () => {
    const session = await connect();
    const source = endlessSource();
    const controller = new AbortController();
    const reason = new FerryError('ERR_TRANSFER_STALLED', 'test abort');
    let maxAhead = 0;

    const upload = session.upload(join(sshd.inbound, 'aborted.bin'), source, {
      mode: 0o640,
      signal: controller.signal,
      onProgress: (bytes) => {
        maxAhead = Math.max(maxAhead, source.pulled - bytes);
        if (bytes >= 8 * MiB) controller.abort(reason);
      },
    });

    await expect(upload).rejects.toBe(reason);
    expect(source.destroyed).toBe(true);
    // Back-pressure: at most 2 MiB read and unacknowledged (maxBufferedBytes), plus a chunk past it.
    expect(maxAhead).toBeLessThanOrEqual(2 * MiB + 256 * 1024);
    expect(session.alive).toBe(true);
    expect(await session.stat(join(sshd.inbound, 'aborted.bin'))).toBeDefined();
  });

  it('rejects an abort promptly even when the server has stopped answering', async () => {
    const session = await connect();
    const children = await descendantsOf(sshd.pid);
    expect(children.length).toBeGreaterThan(0);
    const controller = new AbortController();
    let firstAck!: () => void;
    const acknowledged = new Promise<void>((resolve) => (firstAck = resolve));
    const upload = session.upload(join(sshd.inbound, 'frozen.bin'), endlessSource(), {
      mode: 0o640,
      signal: controller.signal,
      onProgress: () => firstAck(),
    });
    await acknowledged;
    // Freeze every per-connection sshd process: from now on nothing is acknowledged.
    for (const pid of children) process.kill(pid, 'SIGSTOP');
    try {
      controller.abort(new FerryError('ERR_TRANSFER_STALLED', 'frozen server'));
      expectFerryError(await upload.catch((e: unknown) => e), 'ERR_TRANSFER_STALLED');
    } finally {
      for (const pid of children) process.kill(pid, 'SIGCONT');
    }
  });

  it('rejects posixRename with ERR_SFTP_RENAME_UNSUPPORTED when the server does not offer it', async () => {
    const limited = await startSshd({ sftpFlags: ['-P', 'posix-rename'] });
    try {
      const session = await connect({ server: limited });
      const from = join(limited.inbound, 'a.txt');
      await session.upload(from, Readable.from([Buffer.from('a')]), { mode: 0o640 });

      const err = await session.posixRename(from, join(limited.inbound, 'b.txt')).catch((e: unknown) => e);

      expect(session.supportsPosixRename).toBe(false);
      expectFerryError(err, 'ERR_SFTP_RENAME_UNSUPPORTED');
      await session.close();
    } finally {
      await limited.stop();
    }
  });

  it('closes idempotently and rejects operations afterwards', async () => {
    const session = await connect();

    await Promise.all([session.close(), session.close()]);
    await session.close();

    expect(session.alive).toBe(false);
    expectFerryError(await session.stat(sshd.inbound).catch((e: unknown) => e), 'ERR_SFTP_CONNECTION_LOST');
  });

  // Last: stops the shared sshd.
  it('notices when the server goes away: alive turns false and later operations reject', async () => {
    const session = await connect();
    const closed = new Promise<void>((resolve) => session.onClose(resolve));

    await sshd.stop();
    await closed;

    expect(session.alive).toBe(false);
    const err = await session.stat(sshd.inbound).catch((e: unknown) => e);
    expectFerryError(err, 'ERR_SFTP_CONNECTION_LOST');
    const upload = await session
      .upload(join(sshd.inbound, 'late.bin'), Readable.from([Buffer.from('x')]), { mode: 0o640 })
      .catch((e: unknown) => e);
    expectFerryError(upload, 'ERR_SFTP_CONNECTION_LOST');
  });
});
