// Outbound TCP for SFTP, directly or through an egress proxy (SOCKS5 or HTTP CONNECT), for partners who
// allow-list one fixed source address. Both client handshakes are small enough to own: no dependency,
// and every failure maps to a Ferry code at this one boundary.
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { FerryError } from '../errors.js';

/** A resolved egress proxy: the password is the secret itself, read at connect time. */
export interface EgressProxy {
  protocol: 'socks5' | 'http';
  host: string;
  port: number;
  username?: string;
  password?: string;
}

export interface EgressTarget {
  host: string;
  port: number;
}

/** Largest HTTP CONNECT response head we read before calling the proxy broken. */
const MAX_HTTP_HEAD = 16 * 1024;

// RFC 1928 §6 reply codes.
const SOCKS_REPLIES: Readonly<Record<number, string>> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};
const SOCKS_RULESET = 2;

/**
 * Opens a TCP connection to `target`, through `proxy` when one is given, with TCP_NODELAY on. With a
 * proxy, the target's host name is resolved by the proxy (SOCKS5 domain address / CONNECT authority),
 * never locally, so nothing but the proxy is ever contacted.
 *
 * Direct: rejects with the socket's own error (the caller classifies errno codes). Through a proxy:
 * rejects with FerryError ERR_SFTP_UNREACHABLE (proxy down, broken handshake, or the proxy could not
 * reach the target: transient) or ERR_PROXY_DENIED (the proxy refused our credentials or its rules
 * forbid the target: permanent). Aborting `signal` destroys the socket and rejects with its reason.
 */
export function openEgressSocket(
  target: EgressTarget,
  proxy: EgressProxy | undefined,
  options: { signal?: AbortSignal } = {},
): Promise<Socket> {
  const { signal } = options;
  return new Promise<Socket>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const hop = proxy ?? target;
    const socket = connectTcp({ host: hop.host, port: hop.port });
    socket.setNoDelay(true);
    let done = false;
    const finish = (err: Error | undefined, value?: Socket): void => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err !== undefined) {
        socket.destroy();
        reject(err);
      } else {
        resolve(value!);
      }
    };
    const onAbort = (): void => finish(abortReason(signal!));
    const onError = (err: Error): void => {
      finish(proxy === undefined ? err : unreachable(proxy, 'is unreachable or dropped the connection', err));
    };
    const onClose = (): void => {
      finish(
        proxy === undefined
          ? new FerryError('ERR_SFTP_CONNECTION_LOST', `connection to ${target.host}:${target.port} closed`)
          : unreachable(proxy, 'closed the connection during the handshake'),
      );
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', onError);
    socket.once('close', onClose);
    socket.once('connect', () => {
      if (proxy === undefined) {
        finish(undefined, socket);
        return;
      }
      const handshake = proxy.protocol === 'socks5' ? socks5Handshake : httpConnectHandshake;
      handshake(socket, proxy, target).then(
        () => finish(undefined, socket),
        (err: unknown) =>
          finish(err instanceof Error ? err : unreachable(proxy, 'failed the handshake', err)),
      );
    });
  });
}

/** RFC 1928 CONNECT, with no authentication or RFC 1929 username/password. */
async function socks5Handshake(socket: Socket, proxy: EgressProxy, target: EgressTarget): Promise<void> {
  const reader = createReader(socket);
  try {
    const canAuth = proxy.username !== undefined && proxy.password !== undefined;
    socket.write(Buffer.from(canAuth ? [5, 2, 0x00, 0x02] : [5, 1, 0x00]));
    const [version, method] = await reader.read(2);
    if (version !== 5) throw unreachable(proxy, 'does not speak SOCKS5');
    if (method === 0x02 && canAuth) {
      const user = Buffer.from(proxy.username!, 'utf8');
      const password = Buffer.from(proxy.password!, 'utf8');
      if (user.length > 255 || password.length > 255 || password.length === 0) {
        throw denied(proxy, 'SOCKS5 user name and password must be 1-255 bytes');
      }
      socket.write(
        Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([password.length]), password]),
      );
      const [, status] = await reader.read(2);
      if (status !== 0) throw denied(proxy, 'rejected the proxy credentials');
    } else if (method !== 0x00) {
      throw denied(
        proxy,
        canAuth
          ? 'accepts none of the authentication methods offered'
          : 'requires authentication: put a user in the proxy URL and set proxyPasswordEnv or proxyPasswordFile',
      );
    }

    socket.write(
      Buffer.concat([Buffer.from([5, 1, 0]), socksAddress(proxy, target.host), port16(target.port)]),
    );
    const [replyVersion, reply, , addressType] = await reader.read(4);
    if (replyVersion !== 5) throw unreachable(proxy, 'sent a malformed SOCKS5 reply');
    if (reply !== 0) {
      const why = SOCKS_REPLIES[reply!] ?? `SOCKS5 reply ${reply}`;
      const details = { socksReply: reply };
      if (reply === SOCKS_RULESET) {
        throw denied(proxy, `refused ${target.host}:${target.port}: ${why}`, details);
      }
      throw unreachable(proxy, `could not reach ${target.host}:${target.port}: ${why}`, undefined, details);
    }
    // The bound address the proxy reports: read and ignore.
    const addressLength =
      addressType === 1 ? 4 : addressType === 4 ? 16 : addressType === 3 ? (await reader.read(1))[0]! : -1;
    if (addressLength < 0) throw unreachable(proxy, 'sent a malformed SOCKS5 reply');
    await reader.read(addressLength + 2);
  } finally {
    reader.release();
  }
}

/** HTTP/1.1 CONNECT (RFC 9110 §9.3.6), with Basic proxy authentication when a user is configured. */
async function httpConnectHandshake(socket: Socket, proxy: EgressProxy, target: EgressTarget): Promise<void> {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(target.host)) {
    throw new FerryError(
      'ERR_CONFIG_INVALID',
      'the SFTP host name contains whitespace or control characters',
    );
  }
  const reader = createReader(socket);
  try {
    const authority = `${isIP(target.host) === 6 ? `[${target.host}]` : target.host}:${target.port}`;
    const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
    if (proxy.username !== undefined && proxy.password !== undefined) {
      const token = Buffer.from(`${proxy.username}:${proxy.password}`, 'utf8').toString('base64');
      lines.push(`Proxy-Authorization: Basic ${token}`);
    }
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    const head = (
      await reader.readUntil(Buffer.from('\r\n\r\n'), MAX_HTTP_HEAD, () =>
        unreachable(proxy, `sent a CONNECT response head over ${MAX_HTTP_HEAD} bytes`),
      )
    ).toString('latin1');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
    if (status === undefined) throw unreachable(proxy, 'did not answer CONNECT with an HTTP/1.x status line');
    const code = Number(status);
    if (code >= 200 && code < 300) return;
    const details = { httpStatus: code };
    if (code === 407) throw denied(proxy, 'requires or rejected proxy authentication (407)', details);
    if (code === 403) throw denied(proxy, `refused CONNECT to ${authority} (403)`, details);
    throw unreachable(proxy, `answered CONNECT to ${authority} with ${code}`, undefined, details);
  } finally {
    reader.release();
  }
}

interface Reader {
  /** Exactly `n` bytes. */
  read(n: number): Promise<Buffer>;
  /** Everything up to and including `delimiter`; rejects with `tooLong()` once `max` bytes came without it. */
  readUntil(delimiter: Buffer, max: number, tooLong: () => Error): Promise<Buffer>;
  /**
   * Stops reading: the socket is paused and any bytes past the handshake (the SSH server's banner may
   * arrive in the same packet as the proxy's reply) are put back for the next reader.
   */
  release(): void;
}

function createReader(socket: Socket): Reader {
  let buffered: Buffer = Buffer.alloc(0);
  // `take` returns the bytes once they are there, undefined to keep waiting, or throws to give up.
  let pending:
    | { take: () => Buffer | undefined; resolve: (b: Buffer) => void; reject: (e: unknown) => void }
    | undefined;
  const pump = (): void => {
    if (!pending) return;
    const { take, resolve, reject } = pending;
    let taken: Buffer | undefined;
    try {
      taken = take();
    } catch (err) {
      pending = undefined;
      reject(err);
      return;
    }
    if (taken === undefined) return;
    pending = undefined;
    resolve(taken);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    pump();
  };
  socket.on('data', onData);
  // Socket errors and closes fail the whole handshake: openEgressSocket listens for them.
  const wait = (take: () => Buffer | undefined): Promise<Buffer> =>
    new Promise<Buffer>((resolve, reject) => {
      pending = { take, resolve, reject };
      pump();
    });
  return {
    read: (n) =>
      wait(() => {
        if (buffered.length < n) return undefined;
        const out = buffered.subarray(0, n);
        buffered = buffered.subarray(n);
        return out;
      }),
    readUntil: (delimiter, max, tooLong) =>
      wait(() => {
        const at = buffered.indexOf(delimiter);
        if (at < 0) {
          if (buffered.length > max) throw tooLong();
          return undefined;
        }
        const out = buffered.subarray(0, at + delimiter.length);
        buffered = buffered.subarray(at + delimiter.length);
        return out;
      }),
    release() {
      socket.pause();
      socket.off('data', onData);
      pending = undefined;
      if (buffered.length > 0) socket.unshift(buffered);
      buffered = Buffer.alloc(0);
    },
  };
}

/** DST.ADDR: IPv4 / IPv6 literals as such, names as a domain the proxy resolves. */
function socksAddress(proxy: EgressProxy, host: string): Buffer {
  if (isIP(host) === 4) return Buffer.from([1, ...host.split('.').map(Number)]);
  if (isIP(host) === 6) return Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
  const name = Buffer.from(host, 'utf8');
  if (name.length > 255) throw denied(proxy, 'the SFTP host name is longer than SOCKS5 allows (255 bytes)');
  return Buffer.concat([Buffer.from([3, name.length]), name]);
}

function port16(port: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(port);
  return out;
}

/** The 16 bytes of an IPv6 literal (isIP already said it is one): "::" expanded, a trailing IPv4 allowed. */
function ipv6Bytes(text: string): Buffer {
  let address = text.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    address = `${address.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

function describe(proxy: EgressProxy): string {
  const host = isIP(proxy.host) === 6 ? `[${proxy.host}]` : proxy.host;
  return `${proxy.protocol}://${host}:${proxy.port}`;
}

// Messages and details name the proxy's address only: never the user name's password.
function unreachable(
  proxy: EgressProxy,
  what: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
): FerryError {
  const errno = errnoOf(cause);
  return new FerryError(
    'ERR_SFTP_UNREACHABLE',
    `egress proxy ${describe(proxy)} ${what}${errno === undefined ? '' : ` (${errno})`}`,
    { cause, details: { proxy: describe(proxy), ...(errno === undefined ? {} : { errno }), ...details } },
  );
}

function denied(proxy: EgressProxy, what: string, details: Record<string, unknown> = {}): FerryError {
  return new FerryError('ERR_PROXY_DENIED', `egress proxy ${describe(proxy)} ${what}`, {
    details: { proxy: describe(proxy), ...details },
  });
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}
