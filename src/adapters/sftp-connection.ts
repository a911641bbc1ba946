import { createHash, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import {
  Client,
  type Algorithms,
  type CipherAlgorithm,
  type CompressionAlgorithm,
  type ConnectConfig,
  type FileEntryWithStats,
  type InputAttributes,
  type KexAlgorithm,
  type MacAlgorithm,
  type ServerHostKeyAlgorithm,
  type SFTPWrapper,
} from 'ssh2';
import {
  effectiveAlgorithms,
  hostKeyAlgorithmsFor,
  MODERN_ALGORITHMS,
  parseHostKeyPin,
  type AlgorithmOverrides,
} from '../core/ssh-algorithms.js';
import { classifyError, markSshDisconnect } from '../core/classify-error.js';
import { fingerprintOfKey, isPinned } from '../core/host-key.js';
import { createRequestDeadlines, type OverdueRequest } from '../core/request-deadlines.js';
import { FerryError } from '../errors.js';
import { hitFailpoint } from '../failpoints.js';
import { openEgressSocket, type EgressProxy } from './egress-proxy.js';
import { abortReason, pipelinedUpload, sftpRequestError, type RequestLog } from './pipelined-upload.js';
import type { RemoteDirEntry, RemoteStat, SftpSession, UploadResult } from '../core/ports.js';

export interface SftpConnectOptions {
  host: string;
  port: number;
  username: string;
  /**
   * Pins: 'SHA256:…' (any key type) or '<key type> SHA256:…' (e.g. 'ssh-ed25519 SHA256:…'). The
   * server's key must match one of them before we authenticate; when every pin names its type, only
   * those types' host-key algorithms are offered.
   */
  hostKeys: readonly string[];
  /** Per-category replacements of the modern algorithm lists (a partner's `target.algorithms`). */
  algorithms?: AlgorithmOverrides;
  /** Connect through this egress proxy instead of directly (the proxy resolves `host`). */
  proxy?: EgressProxy;
  auth: { privateKey?: string; passphrase?: string; password?: string };
  /** Bound on TCP connect + SSH handshake + auth + opening the SFTP subsystem. */
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /**
   * Deadline on every SFTP request once connected (default 60 s; workers pass `stallTimeoutSeconds`).
   * SSH keepalives are answered by sshd, not by the sftp-server process behind it, so they cannot
   * tell a hung subsystem (e.g. stuck on a dead NFS mount) from an idle one; this can. When a request
   * has had no reply, and the connection no reply at all, for this long, the whole connection is
   * destroyed and every pending request rejects with ERR_SFTP_TIMEOUT.
   */
  requestTimeoutMs?: number;
  /** Where the connection notes what it leaves out (a server without fsync@openssh.com); default: nowhere. */
  log?: { debug(fields: Record<string, unknown>, message: string): void };
}

/** What the handshake settled on (client-to-server direction; Ferry offers the same lists both ways). */
export interface NegotiatedAlgorithms {
  kex: string;
  serverHostKey: string;
  cipher: string;
  hmac: string;
}

export interface SftpConnection extends SftpSession {
  /** The algorithms in use, when ssh2 reported them. */
  readonly negotiated?: NegotiatedAlgorithms;
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
 * What Ferry negotiates unless a partner's `target.algorithms` says otherwise (reliability-anchors
 * §6.2; the lists live in core/ssh-algorithms.ts): no SHA-1, no CBC, no ssh-rsa/ssh-dss signatures,
 * no compression. Host-key types are further limited to the pinned ones when the pins name them.
 */
export const SFTP_ALGORITHMS: AlgorithmAllowList = Object.freeze({
  kex: MODERN_ALGORITHMS.kex as readonly KexAlgorithm[],
  cipher: MODERN_ALGORITHMS.cipher as readonly CipherAlgorithm[],
  hmac: MODERN_ALGORITHMS.hmac as readonly MacAlgorithm[],
  serverHostKey: MODERN_ALGORITHMS.serverHostKey as readonly ServerHostKeyAlgorithm[],
  compress: Object.freeze<CompressionAlgorithm[]>(['none']),
});

/** How long close() waits for a clean SSH disconnect before destroying the socket. */
const CLOSE_GRACE_MS = 2_000;

/** The request deadline when the caller sets none: the worker's `stallTimeoutSeconds` default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

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
    // Aborted when set-up fails, so a proxy handshake still running stops and closes its socket.
    const abort = new AbortController();
    let sock: Socket | undefined;
    let settled = false;
    // Set by our hostVerifier when it refuses a key; ssh2 then fails the handshake.
    let refusedKey: string | undefined;
    let refusedType: string | undefined;
    let negotiated: NegotiatedAlgorithms | undefined;
    const pins = options.hostKeys.flatMap((pin) => parseHostKeyPin(pin) ?? []);

    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      abort.abort(err);
      client.destroy();
      sock?.destroy();
      if (refusedKey !== undefined) {
        const pinned = [...options.hostKeys];
        const presented = refusedType === undefined ? refusedKey : `${refusedType} ${refusedKey}`;
        reject(
          new FerryError(
            'ERR_HOST_KEY_MISMATCH',
            `host key ${presented} presented by ${where} matches none of the pinned host keys (${pinned.join(', ') || 'none'})`,
            {
              cause: err,
              details: { host, port, presented: refusedKey, presentedType: refusedType, pinned },
            },
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
    // ssh2 emits a server DISCONNECT on the client only; SFTP statuses come through request callbacks.
    const failOnError = (err: unknown): void => fail(markSshDisconnect(err));
    client.on('error', failOnError);
    client.on('close', () => {
      fail(new FerryError('ERR_SFTP_CONNECTION_LOST', `SFTP connection to ${where} closed during set-up`));
    });
    client.on('handshake', (n) => {
      negotiated = { kex: n.kex, serverHostKey: n.serverHostKey, cipher: n.cs.cipher, hmac: n.cs.mac };
    });

    const lists = effectiveAlgorithms(options.algorithms);
    const algorithms = toSsh2Algorithms({
      kex: lists.kex as readonly KexAlgorithm[],
      cipher: lists.cipher as readonly CipherAlgorithm[],
      hmac: lists.hmac as readonly MacAlgorithm[],
      serverHostKey: hostKeyAlgorithmsFor(options.hostKeys, lists.serverHostKey) as ServerHostKeyAlgorithm[],
      compress: SFTP_ALGORITHMS.compress,
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
          const keyType = keyTypeOfBlob(key);
          // A typed pin only vouches for a key of that type; a bare fingerprint for any type.
          const candidates = pins
            .filter((pin) => pin.keyType === undefined || pin.keyType === keyType)
            .map((pin) => pin.fingerprint);
          if (isPinned(presented, candidates)) return true;
          refusedKey = presented;
          refusedType = keyType;
          return false;
        },
        algorithms,
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
            client.off('error', failOnError);
            resolve(
              createConnection({
                client,
                sock: socket,
                sftp,
                where,
                negotiated,
                requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
                log: options.log,
              }),
            );
          });
        } catch (err) {
          fail(err);
        }
      });
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 throws synchronously for settings it cannot use, in practice an unparseable private key
        // or a wrong passphrase (algorithm names are checked by the config schema): a secret problem,
        // permanent like a refused login.
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

    // Our own socket (direct or through the egress proxy) so TCP_NODELAY is on before the first
    // handshake byte: ssh2 never sets it, and Nagle costs ~40 ms per stop-and-wait request.
    openEgressSocket({ host, port }, options.proxy, { signal: abort.signal }).then((socket) => {
      if (settled) {
        socket.destroy();
        return;
      }
      sock = socket;
      if (socket.destroyed) {
        fail(
          new FerryError(
            'ERR_SFTP_CONNECTION_LOST',
            `connection to ${where} closed before the SSH handshake`,
          ),
        );
        return;
      }
      // ssh2 attaches its socket listeners synchronously in connect() and re-emits errors on the client.
      startSsh(socket);
    }, fail);
  });
}

/** The key type at the start of an SSH public key blob (uint32 length + name), e.g. "ssh-ed25519". */
function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
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
  negotiated: NegotiatedAlgorithms | undefined;
  requestTimeoutMs: number;
  log: SftpConnectOptions['log'];
}

function createConnection({
  client,
  sock,
  sftp,
  where,
  negotiated,
  requestTimeoutMs,
  log,
}: ConnectionParts): SftpConnection {
  const id = `sftp-${++connectionCount}-${randomUUID().slice(0, 8)}`;
  let alive = true;
  let closing: Promise<void> | undefined;
  const closeListeners: Array<() => void> = [];
  // Rejecters of requests still waiting for a reply; a request sent on a closed channel is never answered.
  const waiting = new Set<(err: FerryError) => void>();
  const extensions = (sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {};
  // Same test ssh2's ext_openssh_rename applies before sending the request.
  const supportsPosixRename = extensions['posix-rename@openssh.com'] === '1';
  // Same test ext_openssh_fsync applies before sending the request.
  const fsyncOffered = extensions['fsync@openssh.com'] === '1';
  let fsyncNoted = false;

  // The last error ssh2 reported (keepalive timeout, reset…): kept as the cause of later rejections.
  let lastError: unknown;
  const lost = (): FerryError =>
    new FerryError('ERR_SFTP_CONNECTION_LOST', `SFTP connection ${id} to ${where} is closed`, {
      cause: lastError,
      details: { connectionId: id },
    });

  const markDead = (reason: () => FerryError = lost): void => {
    if (!alive) return;
    alive = false;
    clearTimeout(deadlineTimer);
    for (const rejectWaiting of [...waiting]) rejectWaiting(reason());
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

  // One timer per connection, armed while requests are outstanding, checks the oldest of them.
  const deadlines = createRequestDeadlines(requestTimeoutMs);
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  const armDeadline = (ms: number): void => {
    deadlineTimer = setTimeout(checkDeadline, Math.ceil(ms));
    deadlineTimer.unref();
  };
  function checkDeadline(): void {
    deadlineTimer = undefined;
    if (!alive) return;
    const now = performance.now();
    const overdue = deadlines.overdue(now);
    if (overdue !== undefined) {
      expire(overdue);
      return;
    }
    const wait = deadlines.msUntilDue(now);
    if (wait !== undefined) armDeadline(wait);
  }
  /**
   * A request outlived its deadline: the subsystem is in an unknown state (the request may still be
   * carried out later), so the whole connection goes, not just the channel, and everything pending fails.
   */
  const expire = ({ request, waitedMs }: OverdueRequest): void => {
    const timedOut = (): FerryError =>
      new FerryError(
        'ERR_SFTP_TIMEOUT',
        `SFTP ${request.op} ${request.path} got no reply from ${where} within the ${requestTimeoutMs / 1000} s request deadline; connection ${id} destroyed`,
        {
          details: {
            connectionId: id,
            request: request.op,
            path: request.path,
            deadlineMs: requestTimeoutMs,
            waitedMs: Math.round(waitedMs),
            outstanding: deadlines.outstanding,
          },
        },
      );
    lastError = timedOut();
    markDead(timedOut);
    client.destroy();
    sock.destroy();
  };
  /** Where every request is registered when sent and ended when answered (the writer's too). */
  const requests: RequestLog = {
    begin(op, path) {
      const token = deadlines.begin(op, path, performance.now());
      // An armed timer fires at or before this request's deadline; it re-arms for the oldest then.
      if (deadlineTimer === undefined && alive) armDeadline(requestTimeoutMs);
      return token;
    },
    end(token, answered) {
      deadlines.end(token, performance.now(), answered);
    },
  };
  client.on('error', (err) => remember(markSshDisconnect(err)));
  sftp.on('error', remember);
  client.on('close', markDead);
  client.on('end', markDead);
  sftp.on('close', () => {
    markDead();
    // A session without its SFTP channel is useless: drop the SSH connection too.
    client.end();
  });

  /**
   * Runs one SFTP request under the connection's deadline; rejects (never hangs) when the connection is
   * or becomes closed, when the deadline expires (ERR_SFTP_TIMEOUT), or on abort.
   */
  const request = <T>(
    op: string,
    path: string,
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
      const token = requests.begin(op, path);
      try {
        send((err, value) => {
          requests.end(token);
          if (!settle()) {
            // Aborted or lost before the reply came: release what the reply created (an open handle).
            if (!err && value !== undefined) opts.onLateValue?.(value);
            return;
          }
          if (err) reject(sftpRequestError(err, alive));
          else resolve(value as T);
        });
      } catch (err) {
        requests.end(token, false);
        if (settle()) reject(sftpRequestError(err, alive));
      }
    });

  /** Notes once per connection that files are closed without fsync, and why. */
  const noteNoFsync = (why: string): void => {
    if (fsyncNoted) return;
    fsyncNoted = true;
    log?.debug({ connectionId: id, server: where }, `files are closed without fsync: ${why}`);
  };

  /**
   * fsync@openssh.com on an open handle, under the request deadline. An error reply (the server could
   * not flush the file to its disk) fails the upload: the bytes are not known to be durable.
   */
  const fsyncHandle = async (handle: Buffer, path: string): Promise<void> => {
    await request<void>('fsync', path, (done) => sftp.ext_openssh_fsync(handle, (err) => done(err)));
    await hitFailpoint('after_fsync');
  };

  /** Reads `path` from its start in order, at most `maxBytes`, handing each chunk (reused) to `onChunk`. */
  const readChunks = async (
    path: string,
    maxBytes: number,
    onChunk: (chunk: Buffer) => void,
  ): Promise<number> => {
    const handle = await request<Buffer>('open', path, (done) => sftp.open(path, 'r', done), {
      onLateValue: (late) => sftp.close(late, noop),
    });
    let size = 0;
    try {
      const buffer = Buffer.allocUnsafe(READ_BACK_CHUNK);
      while (size < maxBytes) {
        const want = Math.min(READ_BACK_CHUNK, maxBytes - size);
        const n = await request<number>('read', path, (done) =>
          sftp.read(handle, buffer, 0, want, size, (err, bytesRead) => {
            // OpenSSH answers a read at the end with an EOF status, which ssh2 passes as an error.
            if (err && (err as { code?: unknown }).code === SFTP_EOF) done(undefined, 0);
            else done(err, bytesRead);
          }),
        );
        if (n === 0) break;
        onChunk(buffer.subarray(0, n));
        size += n;
      }
    } finally {
      await request<void>('close', path, (done) => sftp.close(handle, done)).catch(noop);
    }
    return size;
  };

  const connection: SftpConnection = {
    id,
    ...(negotiated === undefined ? {} : { negotiated }),
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
        // A missing path is an answer (every delivery asks about its final name first): resolved here
        // without building a FerryError to throw and catch. Other replies go through sftpRequestError.
        const stats = await request<{ size: number; mode: number } | undefined>('stat', path, (done) =>
          sftp.stat(path, (err, value) => {
            if (alive && isNoSuchFile(err)) done(undefined, undefined);
            else done(err, value);
          }),
        );
        return stats && { size: stats.size, mode: stats.mode };
      } catch (err) {
        if (err instanceof FerryError && err.code === 'ERR_SFTP_NO_SUCH_PATH') return undefined;
        throw err;
      }
    },

    async upload(
      path: string,
      source: Readable,
      options: Parameters<SftpSession['upload']>[2],
    ): Promise<UploadResult> {
      const { signal } = options;
      // The mode goes in the OPEN attributes: no chmod/setstat, which some servers forbid.
      const attrs: InputAttributes = { mode: options.mode };
      let handle: Buffer;
      try {
        handle = await request<Buffer>('open', path, (done) => sftp.open(path, 'w', attrs, done), {
          signal,
          onLateValue: (late) => {
            const token = requests.begin('close', path);
            sftp.close(late, () => requests.end(token));
          },
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
      if (options.fsync === true && !fsyncOffered) noteNoFsync('the server does not offer fsync@openssh.com');
      const fsync = options.fsync === true && fsyncOffered;
      // The writer's requests fail with the connection too (a deadline, a reset), not only on abort.
      const dead = new AbortController();
      const onLost = (err: FerryError): void => dead.abort(err);
      waiting.add(onLost);
      try {
        // The socket lets the writer cork the writes it issues together into one syscall.
        return await pipelinedUpload(sftp, handle, source, {
          signal: signal === undefined ? dead.signal : AbortSignal.any([signal, dead.signal]),
          onProgress: options.onProgress,
          socket: sock,
          md5: options.md5,
          sizeBeforeClose: options.sizeBeforeClose,
          beforeClose: fsync ? () => fsyncHandle(handle, path) : undefined,
          requests,
          path,
        });
      } finally {
        waiting.delete(onLost);
      }
    },

    async rename(from: string, to: string): Promise<void> {
      await request<void>('rename', `${from} -> ${to}`, (done) => sftp.rename(from, to, done));
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
      await request<void>('posix-rename', `${from} -> ${to}`, (done) =>
        sftp.ext_openssh_rename(from, to, done),
      );
    },

    async remove(path: string): Promise<void> {
      await request<void>('remove', path, (done) => sftp.unlink(path, done));
    },

    async sha256Of(path: string): Promise<{ size: number; sha256: string }> {
      const hash = createHash('sha256');
      const size = await readChunks(path, Infinity, (chunk) => hash.update(chunk));
      return { size, sha256: hash.digest('hex') };
    },

    async readHead(path: string, maxBytes: number): Promise<Buffer> {
      const chunks: Buffer[] = [];
      await readChunks(path, maxBytes, (chunk) => chunks.push(Buffer.from(chunk)));
      return Buffer.concat(chunks);
    },

    async list(dir: string): Promise<RemoteDirEntry[]> {
      // ssh2 reads a path (not a handle) to the end: OPENDIR, READDIR until EOF, CLOSE.
      const entries = await request<FileEntryWithStats[]>('readdir', dir, (done) => sftp.readdir(dir, done));
      return entries.map((e) => ({
        name: e.filename,
        size: e.attrs.size,
        mtime: new Date(e.attrs.mtime * 1000),
        mode: e.attrs.mode,
      }));
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

/** ssh2's error for an SSH_FX_NO_SUCH_FILE status reply (what sftpRequestError maps to ERR_SFTP_NO_SUCH_PATH). */
function isNoSuchFile(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, level } = err as { code?: unknown; level?: unknown };
  return code === SFTP_NO_SUCH_FILE && level === undefined;
}

const SFTP_NO_SUCH_FILE = 2;
const SFTP_EOF = 1;
/** Read-back request size: under OpenSSH's 255 KiB packet limit. */
const READ_BACK_CHUNK = 224 * 1024;

function noop(): void {}
