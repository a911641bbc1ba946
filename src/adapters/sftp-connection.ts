import { randomUUID } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import {
  Client,
  type Algorithms,
  type CipherAlgorithm,
  type CompressionAlgorithm,
  type ConnectConfig,
  type InputAttributes,
  type KexAlgorithm,
  type MacAlgorithm,
  type ServerHostKeyAlgorithm,
  type SFTPWrapper,
} from 'ssh2';
import { classifyError } from '../core/classify-error.js';
import { fingerprintOfKey, isPinned } from '../core/host-key.js';
import { FerryError } from '../errors.js';
import { abortReason, pipelinedUpload, sftpRequestError } from './pipelined-upload.js';
import type { RemoteStat, SftpSession, UploadResult } from './ports.js';

export interface SftpConnectOptions {
  host: string;
  port: number;
  username: string;
  /** Pinned 'SHA256:…' fingerprints; the server's key must match one of them before we authenticate. */
  hostKeys: readonly string[];
  auth: { privateKey?: string; passphrase?: string; password?: string };
  /** Bound on TCP connect + SSH handshake + auth + opening the SFTP subsystem. */
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

export interface SftpConnection extends SftpSession {
  /** Ends the connection; bounded (the socket is destroyed if the server does not answer) and idempotent. */
  close(): Promise<void>;
  readonly id: string;
  /** Registers a callback for when the connection closes for any reason (called at most once). */
  onClose(listener: () => void): void;
}

interface AlgorithmAllowList {
  readonly kex: readonly KexAlgorithm[];
  readonly cipher: readonly CipherAlgorithm[];
  readonly hmac: readonly MacAlgorithm[];
  readonly serverHostKey: readonly ServerHostKeyAlgorithm[];
  readonly compress: readonly CompressionAlgorithm[];
}

/**
 * What Ferry negotiates (reliability-anchors §6.2): no SHA-1, no CBC, no ssh-rsa/ssh-dss signatures,
 * no compression. The server host key types are limited so a server cannot pick an unpinned key type.
 */
export const SFTP_ALGORITHMS: AlgorithmAllowList = Object.freeze({
  kex: Object.freeze<KexAlgorithm[]>([
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha256',
  ]),
  cipher: Object.freeze<CipherAlgorithm[]>([
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-ctr',
    'aes192-ctr',
    'aes256-ctr',
    'chacha20-poly1305@openssh.com',
  ]),
  hmac: Object.freeze<MacAlgorithm[]>([
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com',
    'hmac-sha2-256',
    'hmac-sha2-512',
  ]),
  serverHostKey: Object.freeze<ServerHostKeyAlgorithm[]>([
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
  ]),
  compress: Object.freeze<CompressionAlgorithm[]>(['none']),
});

/** How long close() waits for a clean SSH disconnect before destroying the socket. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Opens an authenticated SFTP session. The TCP socket is connected first with TCP_NODELAY (ssh2
 * never sets it; Nagle costs ~40 ms per handshake and per stop-and-wait request), the server's host
 * key is checked against the pins during key exchange (before any credential is sent), keepalive
 * is on so a blackholed link fails instead of hanging, and the whole set-up is bounded by
 * `readyTimeoutMs`.
 *
 * Rejects with FerryError: ERR_HOST_KEY_MISMATCH (details.presented / details.pinned), ERR_SFTP_AUTH,
 * ERR_SFTP_ALGORITHMS, ERR_SFTP_TIMEOUT, or whatever classifyError(err, 'sftp') says.
 */
export function connectSftp(options: SftpConnectOptions): Promise<SftpConnection> {
  const { host, port, readyTimeoutMs } = options;
  const where = `${host}:${port}`;

  return new Promise<SftpConnection>((resolve, reject) => {
    const client = new Client();
    // Our own socket so TCP_NODELAY is on before the first handshake byte.
    const sock = connectTcp({ host, port });
    sock.setNoDelay(true);
    let settled = false;
    // Set by our hostVerifier when it refuses a key; ssh2 then fails the handshake.
    let refusedKey: string | undefined;

    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.destroy();
      sock.destroy();
      if (refusedKey !== undefined) {
        const pinned = [...options.hostKeys];
        reject(
          new FerryError(
            'ERR_HOST_KEY_MISMATCH',
            `host key ${refusedKey} presented by ${where} matches none of the pinned fingerprints (${pinned.join(', ') || 'none'})`,
            { cause: err, details: { host, port, presented: refusedKey, pinned } },
          ),
        );
        return;
      }
      reject(classifyError(err, 'sftp'));
    };

    const timer = setTimeout(() => {
      fail(
        new FerryError('ERR_SFTP_TIMEOUT', `SFTP connect to ${where} timed out after ${readyTimeoutMs} ms`),
      );
    }, readyTimeoutMs);

    // Attached before anything can emit; createConnection puts its own listener in place before this
    // one goes (an ssh2 'error' event without a listener would crash the process).
    client.on('error', fail);
    client.on('close', () => {
      fail(new FerryError('ERR_SFTP_CONNECTION_LOST', `SFTP connection to ${where} closed during set-up`));
    });

    const startSsh = (socket: Socket): void => {
      const config: ConnectConfig = {
        sock: socket,
        host,
        port,
        username: options.username,
        ...(options.auth.privateKey !== undefined ? { privateKey: options.auth.privateKey } : {}),
        ...(options.auth.passphrase !== undefined ? { passphrase: options.auth.passphrase } : {}),
        ...(options.auth.password !== undefined ? { password: options.auth.password } : {}),
        tryKeyboard: false,
        hostVerifier: (key: Buffer): boolean => {
          const presented = fingerprintOfKey(key);
          if (isPinned(presented, options.hostKeys)) return true;
          refusedKey = presented;
          return false;
        },
        algorithms: toSsh2Algorithms(SFTP_ALGORITHMS),
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: options.keepaliveCountMax,
      };
      client.once('ready', () => {
        try {
          client.sftp((err, sftp) => {
            if (err) {
              fail(err);
              return;
            }
            if (settled) {
              sftp.end();
              return;
            }
            settled = true;
            clearTimeout(timer);
            client.off('error', fail);
            resolve(createConnection({ client, sock: socket, sftp, where }));
          });
        } catch (err) {
          fail(err);
        }
      });
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 throws synchronously for settings it cannot use, in practice an unparseable private key
        // or a wrong passphrase: a secret problem, permanent like a refused login.
        fail(
          new FerryError(
            'ERR_SFTP_AUTH',
            `cannot use the client credentials for ${where}: ${(err as Error).message}`,
            {
              cause: err,
            },
          ),
        );
      }
    };

    const onSocketError = (err: Error): void => fail(err);
    sock.once('error', onSocketError);
    sock.once('connect', () => {
      // From here on ssh2 listens for socket errors and re-emits them on the client.
      sock.off('error', onSocketError);
      if (!settled) startSsh(sock);
    });
  });
}

function toSsh2Algorithms(list: AlgorithmAllowList): Algorithms {
  return {
    kex: [...list.kex],
    cipher: [...list.cipher],
    hmac: [...list.hmac],
    serverHostKey: [...list.serverHostKey],
    compress: [...list.compress],
  };
}

let connectionCount = 0;

interface ConnectionParts {
  client: Client;
  sock: Socket;
  sftp: SFTPWrapper;
  where: string;
}

function createConnection({ client, sock, sftp, where }: ConnectionParts): SftpConnection {
  const id = `sftp-${++connectionCount}-${randomUUID().slice(0, 8)}`;
  let alive = true;
  let closing: Promise<void> | undefined;
  const closeListeners: Array<() => void> = [];
  // Rejecters of requests still waiting for a reply; a request sent on a closed channel is never answered.
  const waiting = new Set<(err: FerryError) => void>();
  const extensions = (sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {};
  // Same test ssh2's ext_openssh_rename applies before sending the request.
  const supportsPosixRename = extensions['posix-rename@openssh.com'] === '1';

  // The last error ssh2 reported (keepalive timeout, reset…): kept as the cause of later rejections.
  let lastError: unknown;
  const lost = (): FerryError =>
    new FerryError('ERR_SFTP_CONNECTION_LOST', `SFTP connection ${id} to ${where} is closed`, {
      cause: lastError,
      details: { connectionId: id },
    });

  const markDead = (): void => {
    if (!alive) return;
    alive = false;
    for (const rejectWaiting of [...waiting]) rejectWaiting(lost());
    waiting.clear();
    for (const listener of closeListeners.splice(0)) {
      try {
        listener();
      } catch {
        // A listener's bug must not stop the others or escape from an ssh2 event.
      }
    }
  };

  // Errors after set-up surface through the operations (and 'close'); these listeners only make sure
  // no 'error' event is ever unhandled.
  const remember = (err: unknown): void => {
    lastError = err;
  };
  client.on('error', remember);
  sftp.on('error', remember);
  client.on('close', markDead);
  client.on('end', markDead);
  sftp.on('close', () => {
    markDead();
    // A session without its SFTP channel is useless: drop the SSH connection too.
    client.end();
  });

  /** Runs one SFTP request; rejects (never hangs) when the connection is or becomes closed or on abort. */
  const request = <T>(
    send: (done: (err: unknown, value?: T) => void) => void,
    opts: { signal?: AbortSignal; onLateValue?: (value: T) => void } = {},
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const { signal } = opts;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      if (!alive) {
        reject(lost());
        return;
      }
      let finished = false;
      const settle = (): boolean => {
        if (finished) return false;
        finished = true;
        waiting.delete(onLost);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const onLost = (err: FerryError): void => {
        if (settle()) reject(err);
      };
      const onAbort = (): void => {
        if (settle() && signal) reject(abortReason(signal));
      };
      waiting.add(onLost);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        send((err, value) => {
          if (!settle()) {
            // Aborted or lost before the reply came: release what the reply created (an open handle).
            if (!err && value !== undefined) opts.onLateValue?.(value);
            return;
          }
          if (err) reject(sftpRequestError(err, alive));
          else resolve(value as T);
        });
      } catch (err) {
        if (settle()) reject(sftpRequestError(err, alive));
      }
    });

  const connection: SftpConnection = {
    id,
    get alive() {
      return alive;
    },
    supportsPosixRename,

    onClose(listener) {
      if (!alive) queueMicrotask(listener);
      else closeListeners.push(listener);
    },

    async stat(path: string): Promise<RemoteStat | undefined> {
      try {
        const stats = await request<{ size: number; mode: number }>((done) => sftp.stat(path, done));
        return { size: stats.size, mode: stats.mode };
      } catch (err) {
        if (err instanceof FerryError && err.code === 'ERR_SFTP_NO_SUCH_PATH') return undefined;
        throw err;
      }
    },

    async upload(
      path: string,
      source: Readable,
      options: { mode: number; signal?: AbortSignal; onProgress?: (bytes: number) => void },
    ): Promise<UploadResult> {
      const { signal } = options;
      // The mode goes in the OPEN attributes: no chmod/setstat, which some servers forbid.
      const attrs: InputAttributes = { mode: options.mode };
      let handle: Buffer;
      try {
        handle = await request<Buffer>((done) => sftp.open(path, 'w', attrs, done), {
          signal,
          onLateValue: (late) => sftp.close(late, noop),
        });
      } catch (err) {
        source.on('error', noop);
        source.destroy();
        throw err;
      }
      if (!alive) {
        source.on('error', noop);
        source.destroy();
        throw lost();
      }
      return pipelinedUpload(sftp, handle, source, { signal, onProgress: options.onProgress });
    },

    async rename(from: string, to: string): Promise<void> {
      await request<void>((done) => sftp.rename(from, to, done));
    },

    async posixRename(from: string, to: string): Promise<void> {
      if (!supportsPosixRename) {
        throw new FerryError(
          'ERR_SFTP_RENAME_UNSUPPORTED',
          `${where} does not offer posix-rename@openssh.com`,
          {
            details: { connectionId: id },
          },
        );
      }
      await request<void>((done) => sftp.ext_openssh_rename(from, to, done));
    },

    async remove(path: string): Promise<void> {
      await request<void>((done) => sftp.unlink(path, done));
    },

    close(): Promise<void> {
      closing ??= closeClient(client, sock);
      return closing;
    },
  };
  return connection;
}

/** Polite SSH disconnect, then the socket is destroyed if the peer does not close within the grace time. */
async function closeClient(client: Client, sock: Socket): Promise<void> {
  if (sock.destroyed) return;
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  const grace = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      void closed.then(() => clearTimeout(timer));
    });
  client.end();
  await Promise.race([closed, grace(CLOSE_GRACE_MS)]);
  if (!sock.destroyed) {
    client.destroy();
    sock.destroy();
  }
  await Promise.race([closed, grace(CLOSE_GRACE_MS)]);
}

function noop(): void {}
