// A loopback TCP fault proxy for tests and benches: put it in front of sshd or s3rver and choose what
// happens to the next connections (pass, reset, blackhole, throttle, drop replies, delay). It also counts
// concurrent connections exactly.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Which bytes a byte-count fault counts: client→server ("up"), server→client ("down"), or both. */
export type Direction = 'up' | 'down' | 'any';

export type Fault =
  | { kind: 'pass' }
  /** Both sockets are reset (RST) once `afterBytes` bytes went through in `direction`. */
  | { kind: 'reset'; afterBytes: number; direction?: Direction }
  /** Nothing more is forwarded either way once `afterBytes` went through; the sockets stay open. */
  | { kind: 'blackhole'; afterBytes: number; direction?: Direction }
  /** Each direction is limited to `bytesPerSecond`. */
  | { kind: 'throttle'; bytesPerSecond: number }
  /** Client→server keeps flowing; server→client is dropped after `afterBytes` (a lost acknowledgement). */
  | { kind: 'drop-downstream'; afterBytes: number }
  /** Every chunk is delayed by `ms` in both directions (a long round trip). */
  | { kind: 'delay'; ms: number };

export interface TcpProxy {
  port: number;
  /** Connections open right now. */
  readonly open: number;
  /** The most connections that were ever open at once. */
  readonly maxOpen: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Applies `fault` to the next `connections` accepted connections (all new ones when omitted). */
  setFault(fault: Fault, options?: { connections?: number }): void;
  /** New connections pass again. */
  clearFault(): void;
  /** The next `connections` connections stop forwarding once the client sent `afterBytes` (kept for older tests). */
  blackhole(options: { afterBytes: number; connections?: number }): void;
  /** Resets every open connection now. */
  resetAll(): void;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:<targetPort>. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let open = 0;
  let maxOpen = 0;
  let accepted = 0;
  const live = new Set<{ client: Socket; upstream: Socket }>();
  let fault: Fault = { kind: 'pass' };
  let budget = Infinity;

  const server: Server = createServer((client) => {
    accepted += 1;
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    const mine: Fault = budget > 0 ? fault : { kind: 'pass' };
    if (budget > 0) budget -= 1;
    if (budget === 0) {
      fault = { kind: 'pass' };
      budget = Infinity;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair = { client, upstream };
    live.add(pair);
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      open -= 1;
      client.destroy();
      upstream.destroy();
      live.delete(pair);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    forward(client, upstream, 'up', mine, pair);
    forward(upstream, client, 'down', mine, pair);
  });

  let upBytes = new WeakMap<object, { up: number; down: number; dead: boolean }>();
  function counters(pair: object) {
    let c = upBytes.get(pair);
    if (!c) {
      c = { up: 0, down: 0, dead: false };
      upBytes.set(pair, c);
    }
    return c;
  }

  function forward(
    from: Socket,
    to: Socket,
    dir: 'up' | 'down',
    f: Fault,
    pair: { client: Socket; upstream: Socket },
  ) {
    if (f.kind === 'pass') {
      from.pipe(to);
      return;
    }
    const c = counters(pair);
    if (f.kind === 'throttle' || f.kind === 'delay') {
      // Paced forwarding: a queue drained at the configured rate (or after the delay).
      let queue = Promise.resolve();
      from.on('data', (chunk: Buffer) => {
        from.pause();
        queue = queue.then(async () => {
          const wait = f.kind === 'throttle' ? (chunk.length / f.bytesPerSecond) * 1000 : f.ms;
          await new Promise((resolve) => setTimeout(resolve, wait));
          if (!to.destroyed) to.write(chunk);
          from.resume();
        });
      });
      from.on('end', () => void queue.then(() => to.end()));
      return;
    }
    from.on('data', (chunk: Buffer) => {
      if (c.dead) return;
      if (f.kind === 'drop-downstream') {
        if (dir === 'up') {
          to.write(chunk);
          return;
        }
        const room = f.afterBytes - c.down;
        c.down += chunk.length;
        if (room > 0) to.write(chunk.subarray(0, Math.min(room, chunk.length)));
        return;
      }
      const direction = f.direction ?? 'up';
      const counts = direction === 'any' || direction === dir;
      if (!counts) {
        to.write(chunk);
        return;
      }
      const seen = dir === 'up' ? c.up : c.down;
      const total = direction === 'any' ? c.up + c.down : seen;
      const room = f.afterBytes - total;
      if (dir === 'up') c.up += chunk.length;
      else c.down += chunk.length;
      if (room > chunk.length) {
        to.write(chunk);
        return;
      }
      if (room > 0) to.write(chunk.subarray(0, room));
      c.dead = true;
      if (f.kind === 'reset') {
        pair.client.resetAndDestroy();
        pair.upstream.resetAndDestroy();
      }
    });
    from.on('end', () => {
      if (!c.dead) to.end();
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const setFault = (next: Fault, options: { connections?: number } = {}) => {
    fault = next;
    budget = options.connections ?? Infinity;
  };
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
    setFault,
    clearFault: () => setFault({ kind: 'pass' }),
    blackhole: ({ afterBytes, connections = 1 }) =>
      setFault({ kind: 'blackhole', afterBytes }, { connections }),
    resetAll: () => {
      for (const { client, upstream } of live) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of live) {
          client.destroy();
          upstream.destroy();
        }
        upBytes = new WeakMap();
        server.close(() => resolve());
      }),
  };
}
