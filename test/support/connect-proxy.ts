// A minimal HTTP CONNECT proxy (RFC 9110 §9.3.6) for egress tests, with optional Basic proxy auth and
// its own tiny name table; counts what it relays. Shares its accounting with the SOCKS5 test proxy.
import { createServer, type Server, type Socket } from 'node:net';
import {
  createProxyState,
  listenTestProxy,
  readerFor,
  type TestProxy,
  type TestProxyOptions,
} from './socks-proxy.js';

const MAX_HEAD = 16 * 1024;

/** Starts the CONNECT proxy on a free loopback port. */
export async function startConnectProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const state = createProxyState();
  const server: Server = createServer((client) => {
    state.counts.accepted += 1;
    state.track(client);
    client.setNoDelay(true);
    void handle(client).catch(() => client.destroy());
  });

  async function handle(client: Socket): Promise<void> {
    const reader = readerFor(client);
    let head = '';
    while (!head.includes('\r\n\r\n')) {
      head += (await reader.read(1)).toString('latin1');
      if (head.length > MAX_HEAD) throw new Error('head too long');
    }
    const [requestLine = '', ...headerLines] = head.split('\r\n');
    const match = /^CONNECT (\[[^\]]+\]|[^\s:]+):(\d+) HTTP\/1\.[01]$/.exec(requestLine);
    const answer = (status: string): void => {
      client.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (!match) {
      state.counts.refused += 1;
      answer('405 Method Not Allowed');
      return;
    }
    const host = match[1]!.replace(/^\[|\]$/g, '');
    const port = Number(match[2]);
    state.destinations.push(`${host}:${port}`);
    if (options.auth) {
      const expected = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
      const given = headerLines
        .find((line) => line.toLowerCase().startsWith('proxy-authorization:'))
        ?.slice('proxy-authorization:'.length)
        .trim();
      if (given !== expected) {
        state.counts.refused += 1;
        client.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        );
        return;
      }
    }
    const address = state.resolve(options.hosts, host);
    if (address === undefined) {
      state.counts.refused += 1;
      answer('502 Bad Gateway');
      return;
    }
    state.relay(
      client,
      { host: address, port, leftover: reader.detach() },
      () => client.write('HTTP/1.1 200 Connection Established\r\n\r\n'),
      () => answer('502 Bad Gateway'),
    );
  }

  return listenTestProxy(server, state, 'http');
}
