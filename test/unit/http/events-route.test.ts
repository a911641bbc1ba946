// POST /api/events/s3 at the HTTP boundary: its own token (Bearer, the API-key header or Basic's
// password), no dashboard login, browsers refused, a body limit, bad bodies told with 400, and SNS
// subscription confirmations, SNS signatures checked. The checks, the SubscribeURL GET and the
// certificate GET are faked; SNS messages are signed with a key of the test's own.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ObjectEvent } from '../../../src/core/object-events.js';
import { fixedEventsTokens } from '../../../src/adapters/events-token-source.js';
import { createSnsCertificates } from '../../../src/adapters/sns-certificates.js';
import { FerryError } from '../../../src/errors.js';
import { createEventsRouter, type EventsEndpoint } from '../../../src/http/events-route.js';
import { createSnsSigner } from '../../support/sns-signer.js';

const TOKEN = 'events-token-canary-7d1';
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:exports';
/** A second token, as a token file holds both during a rotation. */
const NEXT_TOKEN = 'events-token-canary-next-52c';
let server: Server;
let base: string;
let checked: { events: readonly ObjectEvent[]; ignored: number }[] = [];
/** The SubscribeURLs the fake SNS subscriber was asked to GET; `snsFails` makes it throw. */
let confirmed: string[] = [];
let snsFails = false;
/** Signs SNS messages; its certificate GETs are listed in `signer.fetched`; `certFails` makes them fail. */
const signer = createSnsSigner();
let certFails = false;
let logged: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
/** The statuses the router reported (ferry_s3_event_requests_total). */
let answered: number[] = [];
const log = {
  info: (obj: object, msg: string) =>
    logged.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  warn: (obj: object, msg: string) =>
    logged.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
};

/** The endpoint's SNS parts: the subscriber fake, signatures checked with the signer's key. */
function snsParts(): Pick<EventsEndpoint, 'sns' | 'snsSignatures' | 'snsCertificates'> {
  return {
    sns: {
      confirm: (url) => {
        confirmed.push(url.href);
        if (snsFails) {
          return Promise.reject(
            new FerryError('ERR_SNS_CONFIRMATION', 'SNS answered the subscription confirmation with 403'),
          );
        }
        return Promise.resolve({ subscriptionArn: `${TOPIC}:8a21d249` });
      },
    },
    snsSignatures: 'verify',
    snsCertificates: createSnsCertificates({
      fetch: (url, init) =>
        certFails
          ? Promise.resolve(new Response('unavailable', { status: 503 }))
          : signer.certFetch(url, init),
    }),
  };
}

beforeAll(async () => {
  const app = express().use(
    '/api/events',
    createEventsRouter(
      {
        ...snsParts(),
        tokens: fixedEventsTokens([TOKEN, NEXT_TOKEN]),
        header: 'x-ferry-events-key',
        maxBodyBytes: 2048,
        answered: (status) => answered.push(status),
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
      },
      log,
    ),
  );
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
beforeEach(() => {
  checked = [];
  confirmed = [];
  snsFails = false;
  certFails = false;
  signer.fetched.length = 0;
  logged = [];
  answered = [];
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

  it('reports the status of every request it answers, refusals included', async () => {
    expect((await post({ authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    expect((await post({ authorization: 'Bearer stale-token' })).status).toBe(401);
    expect((await post({ authorization: `Bearer ${TOKEN}` }, 'x'.repeat(4096))).status).toBe(413);
    expect((await post({ authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' })).status).toBe(
      403,
    );
    // 'finish' is the server's side of the answer: it may come just after the client has read it.
    await vi.waitFor(() => expect(answered).toEqual([202, 401, 413, 403]));
  });

  it('accepts each of several tokens (a rotation in progress)', async () => {
    for (const token of [TOKEN, NEXT_TOKEN]) {
      expect((await post({ authorization: `Bearer ${token}` })).status).toBe(202);
    }
  });

  it('accepts Basic whose password is a token, whatever the user name (SNS: https://user:token@host/…)', async () => {
    for (const user of ['sns', 'ferry', '']) {
      const res = await post({
        authorization: `Basic ${Buffer.from(`${user}:${NEXT_TOKEN}`).toString('base64')}`,
      });
      expect(res.status).toBe(202);
    }
  });

  it.each([
    ['Basic with a wrong password', { authorization: `Basic ${Buffer.from(`sns:nope`).toString('base64')}` }],
    [
      'Basic with the token as user name',
      { authorization: `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}` },
    ],
    ['Basic without a colon', { authorization: `Basic ${Buffer.from(TOKEN).toString('base64')}` }],
    ['no credential', {}],
    ['a wrong token', { authorization: 'Bearer nope' }],
    ['a token one character short', { 'x-ferry-events-key': TOKEN.slice(0, -1) }],
  ])('refuses %s with 401 before reading the body', async (_label, headers) => {
    const res = await post(headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="ferry-events", Basic realm="ferry-events"$/,
    );
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
    // An SNS control message too: the body is read as JSON once, before what it is decides the rest.
    const control = await post(
      { authorization: `Bearer ${TOKEN}`, 'x-amz-sns-message-type': 'SubscriptionConfirmation' },
      '{"Type":',
    );
    expect(control.status).toBe(400);
    expect(((await control.json()) as { error: string }).error).toMatch(/body is not JSON/);
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

describe('SNS subscription messages', () => {
  const SUBSCRIBE_URL =
    'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:111122223333:exports&Token=confirm-token-77a';
  /** An SNS message of `type` with `body`'s fields, as SNS posts it. */
  const snsMessage = (type: string, body: Record<string, string>) => ({
    Type: type,
    MessageId: 'm-1',
    TopicArn: TOPIC,
    Timestamp: '2026-12-07T06:00:00.000Z',
    Message: type === 'Notification' ? EVENT : `You have chosen to subscribe to the topic ${TOPIC}.`,
    ...(type === 'Notification' ? {} : { Token: 'confirm-token-77a', SubscribeURL: SUBSCRIBE_URL }),
    ...body,
  });
  /** POSTs a message as SNS does: Basic credentials, text/plain, its type header; signed unless `raw`. */
  const postSns = (type: string, message: Record<string, string>) =>
    post(
      {
        authorization: `Basic ${Buffer.from(`sns:${TOKEN}`).toString('base64')}`,
        'content-type': 'text/plain; charset=UTF-8',
        'x-amz-sns-message-type': type,
      },
      JSON.stringify(message),
    );
  const sns = (type: string, body: Record<string, string>) =>
    postSns(type, signer.sign(snsMessage(type, body)));
  const noConfirmToken = () => expect(JSON.stringify(logged)).not.toContain('confirm-token');

  it('confirms a subscription by GETting its AWS SubscribeURL, and logs the topic', async () => {
    const res = await sns('SubscriptionConfirmation', {
      Token: 'confirm-token-77a',
      SubscribeURL: SUBSCRIBE_URL,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 'SubscriptionConfirmation', topicArn: TOPIC, confirmed: true });
    expect(confirmed).toEqual([SUBSCRIBE_URL]);
    expect(logged).toEqual([
      {
        level: 'info',
        obj: { topicArn: TOPIC, subscriptionArn: `${TOPIC}:8a21d249` },
        msg: 'SNS subscription confirmed',
      },
    ]);
    expect(checked).toEqual([]);
    noConfirmToken();
  });

  it.each([
    ['another host', 'https://evil.example/?Token=confirm-token-77a', 'evil.example'],
    ['http', 'http://sns.eu-west-1.amazonaws.com/?Token=confirm-token-77a', 'sns.eu-west-1.amazonaws.com'],
  ])('refuses a SubscribeURL on %s with 400, fetching nothing', async (_label, url, host) => {
    const res = await sns('SubscriptionConfirmation', { SubscribeURL: url });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/ERR_SNS_SUBSCRIBE_URL/);
    expect(confirmed).toEqual([]);
    expect(logged).toEqual([
      {
        level: 'warn',
        obj: expect.objectContaining({ topicArn: TOPIC, host, code: 'ERR_SNS_SUBSCRIBE_URL' }) as unknown,
        msg: 'SNS subscription confirmation refused: the SubscribeURL is not an AWS SNS https URL, nothing fetched',
      },
    ]);
    noConfirmToken();
  });

  it('answers 502 when the GET fails, so the subscription is known to stay pending', async () => {
    snsFails = true;
    const res = await sns('SubscriptionConfirmation', { SubscribeURL: SUBSCRIBE_URL });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toMatch(/403 \(code ERR_SNS_CONFIRMATION\)/);
    expect(logged.map((l) => [l.level, l.msg, l.obj.code])).toEqual([
      ['warn', 'SNS subscription confirmation failed', 'ERR_SNS_CONFIRMATION'],
    ]);
    noConfirmToken();
  });

  it('acknowledges an UnsubscribeConfirmation and logs it', async () => {
    const res = await sns('UnsubscribeConfirmation', { SubscribeURL: SUBSCRIBE_URL });
    expect(res.status).toBe(200);
    expect(confirmed).toEqual([]);
    expect(logged.map((l) => [l.msg, l.obj])).toEqual([
      ['SNS subscription removed (UnsubscribeConfirmation)', { topicArn: TOPIC }],
    ]);
  });

  it('answers 400 when the body is not the message the header names', async () => {
    const res = await post(
      { authorization: `Bearer ${TOKEN}`, 'x-amz-sns-message-type': 'SubscriptionConfirmation' },
      JSON.stringify(signer.sign(snsMessage('Notification', { Message: '{}' }))),
    );
    expect(res.status).toBe(400);
    expect(confirmed).toEqual([]);
  });

  it('needs the events token like any event', async () => {
    const res = await post(
      { 'x-amz-sns-message-type': 'SubscriptionConfirmation' },
      JSON.stringify({ Type: 'SubscriptionConfirmation', TopicArn: TOPIC, SubscribeURL: SUBSCRIBE_URL }),
    );
    expect(res.status).toBe(401);
    expect(confirmed).toEqual([]);
  });

  it('reads an SNS Notification (x-amz-sns-message-type: Notification) as the S3 event it wraps', async () => {
    const res = await sns('Notification', { Message: EVENT });
    expect(res.status).toBe(202);
    expect(checked.map((c) => c.events)).toEqual([[{ bucket: 'b', key: 'a b.csv', etag: 'e' }]]);
  });

  it('verifies the signature with the certificate fetched once for several messages', async () => {
    // A certificate URL of this test's own: the router keeps the others' certificates.
    const certUrl = 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-cached.pem';
    for (const id of ['m-2', 'm-3']) {
      const res = await postSns(
        'Notification',
        signer.sign(snsMessage('Notification', { MessageId: id }), { certUrl }),
      );
      expect(res.status).toBe(202);
    }
    expect(signer.fetched).toEqual([certUrl]);
    expect(checked).toHaveLength(2);
  });

  it.each([
    ['an unsigned Notification', () => snsMessage('Notification', {}), 'SNS Notification has no Signature'],
    [
      'a Notification whose Message was changed after signing',
      () => ({
        ...signer.sign(snsMessage('Notification', {})),
        Message: EVENT.replace('a+b.csv', 'other.csv'),
      }),
      "SNS Notification signature does not verify with sns.eu-west-1.amazonaws.com's certificate",
    ],
    [
      'a Notification whose certificate is not on SNS',
      () => signer.sign(snsMessage('Notification', {}), { certUrl: 'https://evil.example/cert.pem' }),
      'SigningCertURL host is not sns.<region>.amazonaws.com',
    ],
  ])(
    'refuses %s with 403, doing nothing, logging the topic and the reason',
    async (_label, message, problem) => {
      const res = await postSns('Notification', message());
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toBe(`${problem} (code ERR_SNS_SIGNATURE)`);
      expect(checked).toEqual([]);
      expect(logged).toEqual([
        {
          level: 'warn',
          obj: expect.objectContaining({ topicArn: TOPIC, code: 'ERR_SNS_SIGNATURE', problem }) as unknown,
          msg: 'SNS message refused: its signature does not verify, nothing done',
        },
      ]);
    },
  );

  it('refuses an unsigned SubscriptionConfirmation with 403 and GETs nothing', async () => {
    const res = await postSns('SubscriptionConfirmation', snsMessage('SubscriptionConfirmation', {}));
    expect(res.status).toBe(403);
    expect(confirmed).toEqual([]);
    expect(signer.fetched).toEqual([]);
    noConfirmToken();
  });

  it('refuses a signed Notification presented as another type (Type is signed)', async () => {
    // Type is signed: a Notification's signature does not make it an UnsubscribeConfirmation.
    const signed = signer.sign(snsMessage('Notification', {}));
    const res = await postSns('UnsubscribeConfirmation', { ...signed, Type: 'UnsubscribeConfirmation' });
    expect(res.status).toBe(403);
    expect(logged.map((l) => l.msg)).toEqual([
      'SNS message refused: its signature does not verify, nothing done',
    ]);
  });

  it('checks an SNS envelope sent without x-amz-sns-message-type too: the body decides', async () => {
    const res = await post(
      { authorization: `Bearer ${TOKEN}` },
      JSON.stringify(snsMessage('Notification', {})),
    );
    expect(res.status).toBe(403);
    expect(checked).toEqual([]);
  });

  it('answers 502 when the certificate cannot be fetched, so SNS sends the message again', async () => {
    certFails = true;
    const certUrl = 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-unreachable.pem';
    const res = await postSns('Notification', signer.sign(snsMessage('Notification', {}), { certUrl }));
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /SNS answered 503 \(code ERR_SNS_CERTIFICATE\)/,
    );
    expect(checked).toEqual([]);
    expect(logged.map((l) => [l.level, l.msg, l.obj.code, l.obj.topicArn])).toEqual([
      [
        'warn',
        'SNS message not checked: its signing certificate could not be fetched',
        'ERR_SNS_CERTIFICATE',
        TOPIC,
      ],
    ]);
  });
});

describe('with http.events.snsSignatures: off', () => {
  it('reads an unsigned SNS Notification as the S3 event it wraps, fetching no certificate', async () => {
    const app = express().use(
      '/api/events',
      createEventsRouter({
        ...snsParts(),
        snsSignatures: 'off',
        tokens: fixedEventsTokens([TOKEN]),
        header: 'x-ferry-events-key',
        maxBodyBytes: 2048,
        check: (events, ignored) => {
          checked.push({ events, ignored });
          return Promise.resolve({
            events: events.length,
            matched: 0,
            enqueued: 0,
            delayed: 0,
            sweeps: 0,
            ignored,
          });
        },
      }),
    );
    const off = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const res = await fetch(`http://127.0.0.1:${(off.address() as AddressInfo).port}/api/events/s3`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'x-amz-sns-message-type': 'Notification' },
        body: JSON.stringify({ Type: 'Notification', TopicArn: TOPIC, Message: EVENT }),
      });
      expect(res.status).toBe(202);
      expect(checked.map((c) => c.events)).toEqual([[{ bucket: 'b', key: 'a b.csv', etag: 'e' }]]);
      expect(signer.fetched).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => off.close(() => resolve()));
    }
  });
});
