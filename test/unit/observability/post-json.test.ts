// postJson against a loopback node:http server: status passthrough, no redirects followed, a hard timeout.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postJson } from '../../../src/observability/alert-sender.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function serve(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const options = () => ({ timeoutMs: 2000, signal: new AbortController().signal });

describe('postJson', () => {
  it('posts the body with its headers and returns the status and Retry-After', async () => {
    let seen: { method?: string; path?: string; type?: string; length?: string; body?: string } = {};
    const base = await serve((req, body, res) => {
      seen = {
        method: req.method,
        path: req.url,
        type: req.headers['content-type'],
        length: req.headers['content-length'],
        body,
      };
      res.writeHead(429, { 'retry-after': '7' }).end('slow down');
    });
    const body = JSON.stringify({ text: 'héllo' });
    const result = await postJson(`${base}/hook/x`, body, { 'content-type': 'application/json' }, options());
    expect(result).toEqual({ status: 429, retryAfterSeconds: 7 });
    expect(seen).toEqual({
      method: 'POST',
      path: '/hook/x',
      type: 'application/json',
      length: String(Buffer.byteLength(body)),
      body,
    });
  });

  it('does not follow a redirect (the body would go somewhere else)', async () => {
    let hits = 0;
    const base = await serve((_req, _body, res) => {
      hits += 1;
      res.writeHead(302, { location: '/elsewhere' }).end();
    });
    expect(await postJson(`${base}/hook`, '{}', {}, options())).toEqual({ status: 302 });
    expect(hits).toBe(1);
  });

  it('gives up on a receiver that never answers after timeoutMs, with code ETIMEDOUT', async () => {
    const base = await serve(() => undefined);
    await expect(postJson(`${base}/hook`, '{}', {}, { ...options(), timeoutMs: 200 })).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
  });

  it('stops when its signal aborts', async () => {
    const base = await serve(() => undefined);
    const aborter = new AbortController();
    const pending = postJson(`${base}/hook`, '{}', {}, { timeoutMs: 10_000, signal: aborter.signal });
    aborter.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});
