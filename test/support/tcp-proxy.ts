// A loopback TCP proxy for tests: counts concurrent connections exactly (the fault modes of issue 3 build on it).
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections open right now. */
  readonly open: number;
  /** The most connections that were ever open at once. */
  readonly maxOpen: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /**
   * The next `connections` accepted connections stop forwarding (both ways, sockets left open) once the
   * client has sent `afterBytes` bytes: a blackholed link, as a dead NAT or firewall makes one.
   */
  blackhole(options: { afterBytes: number; connections?: number }): void;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:<targetPort>. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let open = 0;
  let maxOpen = 0;
  let accepted = 0;
  const sockets = new Set<Socket>();
  let blackholeBudget = 0;
  let blackholeAfter = 0;
  const server: Server = createServer((client) => {
    accepted += 1;
    const holeAfter = blackholeBudget > 0 ? blackholeAfter : undefined;
    if (blackholeBudget > 0) blackholeBudget -= 1;
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      open -= 1;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    if (holeAfter === undefined) {
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    let sent = 0;
    let dead = false;
    client.on('data', (chunk: Buffer) => {
      if (dead) return;
      const room = holeAfter - sent;
      sent += chunk.length;
      if (room <= chunk.length) {
        upstream.write(chunk.subarray(0, Math.max(room, 0)));
        dead = true;
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!dead) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    get open() {
      return open;
    },
    get maxOpen() {
      return maxOpen;
    },
    get accepted() {
      return accepted;
    },
    blackhole({ afterBytes, connections = 1 }) {
      blackholeAfter = afterBytes;
      blackholeBudget = connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
