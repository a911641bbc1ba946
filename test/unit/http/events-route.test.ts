// POST /api/events/s3 at the HTTP boundary: its own token (Bearer or the API-key header), no dashboard
// login, browsers refused, a body limit, and bad bodies told with 400. The checks themselves are faked.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectEvent } from '../../../src/core/object-events.js';
import { fixedEventsTokens } from '../../../src/adapters/events-token-source.js';
import { createEventsRouter } from '../../../src/http/events-route.js';

const TOKEN = 'events-token-canary-7d1';
/** A second token, as a token file holds both during a rotation. */
const NEXT_TOKEN = 'events-token-canary-next-52c';
let server: Server;
let base: string;
let checked: { events: readonly ObjectEvent[]; ignored: number }[] = [];

beforeAll(async () => {
  const app = express().use(
    '/api/events',
    createEventsRouter({
      tokens: fixedEventsTokens([TOKEN, NEXT_TOKEN]),
      header: 'x-ferry-events-key',
      maxBodyBytes: 2048,
      check: (events, ignored) => {
        checked.push({ events, ignored });
        return Promise.resolve({
          events: events.length + ignored,
          matched: 0,
          enqueued: 0,
          delayed: 0,
          sweeps: 0,
          ignored,
        });
      },
    }),
  );
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
beforeEach(() => {
  checked = [];
});
afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

const EVENT = JSON.stringify({
  Records: [
    { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'a+b.csv', eTag: 'e' } } },
  ],
});
const post = (headers: Record<string, string>, body = EVENT) =>
  fetch(`${base}/api/events/s3`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

describe('POST /api/events/s3', () => {
  it('accepts the token as a Bearer token or in the API-key header, and answers 202 with the counts', async () => {
    const ways: Record<string, string>[] = [
      { authorization: `Bearer ${TOKEN}` },
      { 'X-Ferry-Events-Key': TOKEN },
    ];
    for (const headers of ways) {
      const res = await post(headers);
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ events: 1, ignored: 0 });
    }
    expect(checked.map((c) => c.events)).toEqual([
      [{ bucket: 'b', key: 'a b.csv', etag: 'e' }],
      [{ bucket: 'b', key: 'a b.csv', etag: 'e' }],
    ]);
  });

  it('accepts each of several tokens (a rotation in progress)', async () => {
    for (const token of [TOKEN, NEXT_TOKEN]) {
      expect((await post({ authorization: `Bearer ${token}` })).status).toBe(202);
    }
  });

  it.each([
    ['no credential', {}],
    ['a wrong token', { authorization: 'Bearer nope' }],
    ['a token one character short', { 'x-ferry-events-key': TOKEN.slice(0, -1) }],
    [
      'a dashboard Basic login',
      { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
    ],
  ])('refuses %s with 401 before reading the body', async (_label, headers) => {
    const res = await post(headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(checked).toEqual([]);
  });

  it.each([
    ['Origin', { origin: 'https://evil.example' }],
    ['Sec-Fetch-Site', { 'sec-fetch-site': 'same-origin' }],
  ])('refuses a browser request (%s) even with the token', async (_label, headers) => {
    const res = await post({ authorization: `Bearer ${TOKEN}`, ...headers });
    expect(res.status).toBe(403);
    expect(checked).toEqual([]);
  });

  it('answers 400 with a clear message for a body that is not JSON or not an event', async () => {
    const bad = await post({ authorization: `Bearer ${TOKEN}` }, '{"Records": [');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^body is not JSON/);
    const other = await post({ authorization: `Bearer ${TOKEN}` }, '{"hello": 1}');
    expect(other.status).toBe(400);
    expect(checked).toEqual([]);
  });

  it('accepts SNS text/plain bodies', async () => {
    const res = await post({ authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain; charset=UTF-8' });
    expect(res.status).toBe(202);
  });

  it('refuses a body over maxBodyBytes with 413', async () => {
    const res = await post(
      { authorization: `Bearer ${TOKEN}` },
      JSON.stringify({ Records: [], pad: 'x'.repeat(4096) }),
    );
    expect(res.status).toBe(413);
    expect(checked).toEqual([]);
  });

  it('answers 404 for anything but POST /s3', async () => {
    expect((await fetch(`${base}/api/events/s3`)).status).toBe(404);
  });
});

describe('without http.events', () => {
  it('answers 404 saying the endpoint is off', async () => {
    const app = express().use('/api/events', createEventsRouter(undefined));
    const off = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const res = await fetch(`http://127.0.0.1:${(off.address() as AddressInfo).port}/api/events/s3`, {
        method: 'POST',
        body: EVENT,
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toMatch(/http\.events/);
    } finally {
      await new Promise<void>((resolve) => off.close(() => resolve()));
    }
  });
});
