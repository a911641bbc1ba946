// A minimal SOCKS5 proxy (RFC 1928 CONNECT, RFC 1929 username/password) for egress tests: real TCP on
// loopback, its own tiny name table (so a test can name a partner host only the proxy can resolve), and
// counters of what it relayed.
import { createServer, connect, isIP, type Server, type Socket } from 'node:net';

export interface TestProxyOptions {
  /** Names this proxy resolves, e.g. { 'partner.internal': '127.0.0.1' }; other names are unreachable. */
  hosts?: Record<string, string>;
  /** Require these credentials (SOCKS5 username/password, or HTTP Basic Proxy-Authorization). */
  auth?: { username: string; password: string };
}

export interface TestProxy {
  port: number;
  /** The URL to configure (without credentials). */
  url: string;
  /** Client connections accepted. */
  readonly accepted: number;
  /** Upstream connections opened and relayed. */
  readonly relayed: number;
  /** Requests refused (bad credentials, unknown name, upstream down). */
  readonly refused: number;
  /** `host:port` of every CONNECT request, in order. */
  readonly destinations: readonly string[];
  close(): Promise<void>;
}

/** The connection accounting both test proxies share. */
export function createProxyState(): {
  sockets: Set<Socket>;
  counts: { accepted: number; relayed: number; refused: number };
  destinations: string[];
  track(socket: Socket): void;
  resolve(hosts: Record<string, string> | undefined, host: string): string | undefined;
  relay(
    client: Socket,
    target: { host: string; port: number; leftover: Buffer },
    onOpen: () => void,
    onFail: () => void,
  ): void;
} {
  const sockets = new Set<Socket>();
  const counts = { accepted: 0, relayed: 0, refused: 0 };
  const destinations: string[] = [];
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  return {
    sockets,
    counts,
    destinations,
    track,
    resolve: (hosts, host) => (isIP(host) !== 0 ? host : hosts?.[host]),
    relay(client, { host, port, leftover }, onOpen, onFail) {
      const upstream = connect({ host, port });
      track(upstream);
      upstream.setNoDelay(true);
      let opened = false;
      upstream.once('connect', () => {
        opened = true;
        counts.relayed += 1;
        onOpen();
        if (leftover.length > 0) upstream.write(leftover);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.once('close', () => {
        if (opened) {
          client.destroy();
          return;
        }
        counts.refused += 1;
        onFail(); // answers the client, then closes it
      });
      client.once('close', () => upstream.destroy());
    },
  };
}

/** Starts the SOCKS5 proxy on a free loopback port. */
export async function startSocksProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const state = createProxyState();
  const server: Server = createServer((client) => {
    state.counts.accepted += 1;
    state.track(client);
    client.setNoDelay(true);
    void handle(client).catch(() => client.destroy());
  });

  async function handle(client: Socket): Promise<void> {
    const reader = readerFor(client);
    const read = reader.read;
    const [version, methodCount] = await read(2);
    if (version !== 5) throw new Error('not SOCKS5');
    const methods = [...(await read(methodCount!))];
    const wanted = options.auth ? 0x02 : 0x00;
    if (!methods.includes(wanted)) {
      state.counts.refused += 1;
      client.end(Buffer.from([5, 0xff]));
      return;
    }
    client.write(Buffer.from([5, wanted]));
    if (options.auth) {
      const [, userLength] = await read(2);
      const user = (await read(userLength!)).toString('utf8');
      const [passwordLength] = await read(1);
      const password = (await read(passwordLength!)).toString('utf8');
      if (user !== options.auth.username || password !== options.auth.password) {
        state.counts.refused += 1;
        client.end(Buffer.from([1, 1]));
        return;
      }
      client.write(Buffer.from([1, 0]));
    }
    const [, command, , addressType] = await read(4);
    let host: string;
    if (addressType === 1) host = [...(await read(4))].join('.');
    else if (addressType === 3) host = (await read((await read(1))[0]!)).toString('utf8');
    else if (addressType === 4) host = ipv6Text(await read(16));
    else throw new Error('bad address type');
    const port = (await read(2)).readUInt16BE(0);
    state.destinations.push(`${host}:${port}`);
    const reply = (code: number): Buffer => Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
    if (command !== 1) {
      state.counts.refused += 1;
      client.end(reply(7));
      return;
    }
    const address = state.resolve(options.hosts, host);
    if (address === undefined) {
      state.counts.refused += 1;
      client.end(reply(4)); // host unreachable
      return;
    }
    state.relay(
      client,
      { host: address, port, leftover: reader.detach() },
      () => client.write(reply(0)),
      () => client.end(reply(5)), // connection refused
    );
  }

  return listenTestProxy(server, state, 'socks5');
}

/**
 * Reads the handshake from a socket: `read(n)` gives exactly n bytes, `detach()` pauses the socket,
 * stops reading and returns bytes that came after the handshake (to forward upstream).
 */
export function readerFor(socket: Socket): {
  read: (n: number) => Promise<Buffer>;
  detach: () => Buffer;
} {
  let buffered = Buffer.alloc(0);
  let waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  const pump = (): void => {
    if (waiting && buffered.length >= waiting.n) {
      const { n, resolve } = waiting;
      waiting = undefined;
      const out = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      resolve(out);
    }
  };
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    pump();
  };
  const onClose = (): void => waiting?.reject(new Error('closed during the handshake'));
  socket.on('data', onData);
  socket.once('close', onClose);
  return {
    read: (n) =>
      new Promise<Buffer>((resolve, reject) => {
        waiting = { n, resolve, reject };
        pump();
      }),
    detach() {
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
      const rest = buffered;
      buffered = Buffer.alloc(0);
      return rest;
    },
  };
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** Binds a test proxy server to a free loopback port and exposes its counters. */
export async function listenTestProxy(
  server: Server,
  state: ReturnType<typeof createProxyState>,
  scheme: 'http' | 'socks5',
): Promise<TestProxy> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    get accepted() {
      return state.counts.accepted;
    },
    get relayed() {
      return state.counts.relayed;
    },
    get refused() {
      return state.counts.refused;
    },
    get destinations() {
      return [...state.destinations];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of state.sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
