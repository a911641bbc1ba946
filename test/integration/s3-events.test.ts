// POST /api/events/s3 on the real services (redis-server, sshd, s3rver): S3 notifications (as MinIO's
// webhook target sends them) and EventBridge events deliver files without a sweep, by the sweep's rules
// and job ids, so events and sweeps together deliver each object version once.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FetchLike } from '../../src/adapters/sns-subscriber.js';
import type { ObjectEventCounts } from '../../src/partners/object-event-intake.js';
import { useHeadlessChromium, withDashboardPage } from '../support/headless-chromium.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { waitFor, waitForJobState, type SeededObject } from '../support/pipeline.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';
import { createSnsSigner, TEST_SIGNING_CERT_URL } from '../support/sns-signer.js';

const TOKEN = 'events-token-canary-3f9e';
const ADMIN_PASSWORD = 's3-events-admin-canary-88a1';
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:exports';

/** The SubscribeURLs Ferry GETs, through its SNS adapter with a fake fetch (no internet here). */
const snsGets: string[] = [];
const snsFetch: FetchLike = (url) => {
  snsGets.push(url);
  const xml = `<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>${TOPIC}:4b1e</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`;
  return Promise.resolve({ ok: true, status: 200, text: () => Promise.resolve(xml) });
};

/** Signs the SNS messages below; Ferry fetches its public key as the signing certificate (fake fetch). */
const signer = createSnsSigner();

const pipeline = usePartnerPipeline({
  adminPassword: ADMIN_PASSWORD,
  env: { FERRY_EVENTS_TOKEN: TOKEN },
  partners: [
    { id: 'evt', prefix: 'evt/', extraYaml: 'events: true' },
    // Same prefix, no events: an event must never start its deliveries.
    { id: 'quiet', prefix: 'evt/' },
    { id: 'young', prefix: 'young/', minAgeSeconds: 3, extraYaml: 'events: true' },
  ],
  beforeStart: async ({ fixture }) => {
    const file = join(fixture.dir, 'ferry.yaml');
    const text = await readFile(file, 'utf8');
    const withEvents = text.replace(
      'adminPasswordEnv: FERRY_ADMIN_PASSWORD }',
      'adminPasswordEnv: FERRY_ADMIN_PASSWORD, events: { tokenEnv: FERRY_EVENTS_TOKEN } }',
    );
    expect(withEvents).not.toBe(text);
    await writeFile(file, withEvents);
    return { snsFetch, snsCertFetch: signer.certFetch };
  },
});

/** A single-part PUT's ETag: the MD5 of its bytes. */
const etagOf = (seeded: SeededObject) => createHash('md5').update(seeded.body).digest('hex');

const base = () => `http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}`;
const bucket = () => pipeline.fixture.bucket;

/** The endpoint's 202 body. */
type Counts = ObjectEventCounts;

async function postEvents(
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
) {
  const res = await fetch(`${base()}/api/events/s3`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Counts & { error?: string } };
}

/** An S3 event notification as MinIO's webhook target sends it (key URL-encoded, "/" as %2F). */
function minioEvent(keys: string[], etags: Record<string, string> = {}) {
  return {
    EventName: 's3:ObjectCreated:Put',
    Key: `${bucket()}/${keys[0]}`,
    Records: keys.map((key) => ({
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      eventName: 's3:ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: bucket(), arn: `arn:aws:s3:::${bucket()}` },
        object: {
          key: encodeURIComponent(key).replace(/%20/g, '+'),
          size: 100,
          ...(etags[key] ? { eTag: etags[key] } : {}),
        },
      },
    })),
  };
}

/** An EventBridge "Object Created" event as an API destination sends it (key as it is). */
function eventBridgeEvent(key: string, etag: string) {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket()}`],
    detail: {
      version: '0',
      bucket: { name: bucket() },
      object: { key, size: 100, etag },
      reason: 'PutObject',
    },
  };
}

/** Waits for the key's delivery to be recorded delivered and its job to end (its log lines written). */
async function delivered(partnerId: string, key: string): Promise<string> {
  const id = await waitFor(async () => {
    const found = await pipeline.deliveryIdOf(partnerId, key);
    return (await pipeline.ledger.get(found))?.status === 'delivered' ? found : undefined;
  }, `${key} delivered to ${partnerId}`);
  await waitForJobState(pipeline.testFerry.deliverQueue, id, 'completed');
  return id;
}

/** How many times a delivery was published ("delivery completed" log lines of its id). */
const publishedCount = (id: string) =>
  pipeline.logs.lines().filter((l) => l.trackingId === id && l.outcome === 'delivered').length;

async function jobsOf(partnerId: string) {
  const jobs = await pipeline.testFerry.deliverQueue.getJobs([
    'waiting',
    'delayed',
    'active',
    'completed',
    'failed',
    'prioritized',
  ]);
  return jobs.filter((j) => (j.data as { partnerId?: string }).partnerId === partnerId);
}

describe('POST /api/events/s3', () => {
  it('delivers the object of a MinIO-style event without a sweep, only to partners with events: true', async () => {
    const [seeded] = await pipeline.put([{ key: 'evt/minio.csv', size: 120 }]);
    const res = await postEvents(minioEvent(['evt/minio.csv'], { 'evt/minio.csv': etagOf(seeded!) }));
    expect(res).toEqual({
      status: 202,
      body: { events: 1, matched: 1, enqueued: 1, delayed: 0, sweeps: 0, ignored: 0 },
    });
    await delivered('evt', 'evt/minio.csv');
    expect(await pipeline.finals('evt')).toContain('minio.csv');
    expect(await jobsOf('quiet')).toEqual([]);
  });

  it('delivers the object of an EventBridge Object Created event', async () => {
    const [seeded] = await pipeline.put([{ key: 'evt/bridge.csv', size: 90 }]);
    const res = await postEvents(eventBridgeEvent('evt/bridge.csv', etagOf(seeded!)));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ events: 1, matched: 1, enqueued: 1 });
    await delivered('evt', 'evt/bridge.csv');
  });

  it('decodes a notification key with "+" for a space and "%2B" for a plus', async () => {
    const key = 'evt/red flower+1.csv';
    await pipeline.put([{ key, size: 50 }]);
    const record = minioEvent([key]);
    expect(record.Records[0]!.s3.object.key).toBe('evt%2Fred+flower%2B1.csv');
    expect((await postEvents(record)).body).toMatchObject({ enqueued: 1, ignored: 0 });
    await delivered('evt', key);
    expect(await pipeline.finals('evt')).toContain('red flower+1.csv');
  });

  it('ignores an event for a version S3 no longer holds, a key no partner takes, and deletes', async () => {
    await pipeline.put([{ key: 'evt/changed.csv', size: 10 }]);
    const stale = minioEvent(['evt/changed.csv', 'elsewhere/x.csv'], { 'evt/changed.csv': 'not-the-etag' });
    stale.Records.push({ ...stale.Records[0]!, eventName: 's3:ObjectRemoved:Delete' });
    const res = await postEvents(stale);
    expect(res.body).toMatchObject({ events: 3, enqueued: 0, ignored: 3 });
  });

  it.each([
    ['no credential', {}],
    ['a wrong token', { authorization: 'Bearer wrong' }],
    [
      'the dashboard login',
      { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` },
    ],
  ])('refuses %s with 401', async (_label, headers) => {
    expect((await postEvents(minioEvent(['evt/minio.csv']), headers)).status).toBe(401);
  });

  it('accepts the token in the X-Ferry-Events-Key header', async () => {
    const res = await postEvents({ Records: [] }, { 'x-ferry-events-key': TOKEN });
    expect(res.status).toBe(202);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await fetch(`${base()}/api/events/s3`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"Records": [',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^body is not JSON/);
  });

  it('re-checks a young object once it has settled: its job waits, then delivers without a sweep', async () => {
    const [seeded] = await pipeline.put([{ key: 'young/fresh.csv', size: 70 }]);
    const res = await postEvents(eventBridgeEvent('young/fresh.csv', etagOf(seeded!)));
    expect(res.body).toMatchObject({ matched: 1, enqueued: 1, delayed: 1 });
    const id = await pipeline.deliveryIdOf('young', 'young/fresh.csv');
    expect(await pipeline.testFerry.deliverQueue.getJobState(id)).toBe('delayed');
    await delivered('young', 'young/fresh.csv');
  });

  it('delivers once when an event and a sweep find the same object', async () => {
    const [seeded] = await pipeline.put([{ key: 'evt/both.csv', size: 80 }]);
    const [event, sweep] = await Promise.all([
      postEvents(minioEvent(['evt/both.csv'], { 'evt/both.csv': etagOf(seeded!) })),
      pipeline.sweep('evt'),
    ]);
    expect(event.status).toBe(202);
    expect(sweep.code).toBe(0);
    const id = await delivered('evt', 'evt/both.csv');
    // Once more after it is delivered: the ledger says settled, nothing is enqueued.
    expect((await postEvents(minioEvent(['evt/both.csv']))).body).toMatchObject({ enqueued: 0, ignored: 1 });
    expect((await pipeline.sweep('evt')).code).toBe(0);
    expect(publishedCount(id)).toBe(1);
  });

  it('gives exactly 50 deliveries for a burst of duplicate, out-of-order events for 50 keys', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `evt/burst-${String(i).padStart(2, '0')}.csv`);
    const seeded = await pipeline.put(keys.map((key) => ({ key, size: 40 })));
    const etags = Object.fromEntries(seeded.map((s) => [s.key, etagOf(s)]));
    // 10 events per key, in an order that is not the keys' (a stride through them), in 10 requests at once.
    const order = Array.from({ length: 500 }, (_, i) => keys[(i * 7) % 50]!);
    const requests = Array.from({ length: 10 }, (_, r) =>
      postEvents(minioEvent(order.slice(r * 50, r * 50 + 50), etags)),
    );
    for (const res of await Promise.all(requests)) expect(res.status).toBe(202);
    const ids = await Promise.all(keys.map((key) => delivered('evt', key)));
    expect(new Set(ids).size).toBe(50);
    expect(ids.map(publishedCount)).toEqual(ids.map(() => 1));
    const receipts = (await pipeline.receipts('evt')).filter((r) => ids.includes(r.deliveryId));
    expect(receipts).toHaveLength(50);
  });

  it('shows the last event time in GET /api/partners and ferry plan', async () => {
    const authorization = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
    const res = await fetch(`${base()}/api/partners`, { headers: { authorization } });
    const { partners } = (await res.json()) as {
      partners: { id: string; events: { on: boolean; lastEventAt: string | null } }[];
    };
    const byId = new Map(partners.map((p) => [p.id, p.events]));
    expect(byId.get('evt')).toEqual({ on: true, lastEventAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(byId.get('quiet')).toEqual({ on: false, lastEventAt: null });
    const plan = await runFerryInProcess(['plan', 'evt', '--config', pipeline.fixture.dir]);
    expect(plan.out).toContainEqual(
      expect.stringMatching(/^ {2}events: on, last event \d{4}-\d\d-\d\dT\S+ /),
    );
  });
});

describe('an S3 → SNS → Ferry subscription', () => {
  /** An SNS message of `type` with `body`'s fields, as SNS builds it (unsigned). */
  function snsMessage(type: string, body: Record<string, string>): Record<string, string> {
    return {
      Type: type,
      MessageId: `m-${type}`,
      TopicArn: TOPIC,
      Timestamp: new Date().toISOString(),
      Message:
        type === 'Notification' ? '{"Records": []}' : `You have chosen to subscribe to the topic ${TOPIC}.`,
      ...(type === 'Notification' ? {} : { Token: 'sns-confirm-canary-c0' }),
      ...body,
    };
  }

  /**
   * What SNS sends to https://sns:<token>@ferry.example.com/api/events/s3 (after a 401 asked for it):
   * the message signed with the test key, or `message` as it is when given.
   */
  async function postSns(
    type: string,
    body: Record<string, string>,
    options: { token?: string; message?: Record<string, string> } = {},
  ) {
    const res = await fetch(`${base()}/api/events/s3`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`sns:${options.token ?? TOKEN}`).toString('base64')}`,
        'content-type': 'text/plain; charset=UTF-8',
        'x-amz-sns-message-type': type,
        'x-amz-sns-topic-arn': TOPIC,
      },
      body: JSON.stringify(options.message ?? signer.sign(snsMessage(type, body))),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('asks for Basic credentials with the 401, as SNS needs before it sends those of its endpoint URL', async () => {
    const res = await fetch(`${base()}/api/events/s3`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Basic realm="ferry-events"');
  });

  it('confirms the subscription by GETting its AWS SubscribeURL, logging the topic only', async () => {
    const subscribeUrl = `https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=sns-confirm-canary-c0`;
    const res = await postSns('SubscriptionConfirmation', {
      Token: 'sns-confirm-canary-c0',
      SubscribeURL: subscribeUrl,
    });
    expect(res).toEqual({
      status: 200,
      body: { type: 'SubscriptionConfirmation', topicArn: TOPIC, confirmed: true },
    });
    expect(snsGets).toEqual([subscribeUrl]);
    expect(pipeline.logs.lines().filter((l) => l.msg === 'SNS subscription confirmed')).toEqual([
      expect.objectContaining({ topicArn: TOPIC, subscriptionArn: `${TOPIC}:4b1e` }),
    ]);
    expect(pipeline.logs.text()).not.toContain('sns-confirm-canary-c0');
  });

  it('refuses a SubscribeURL that is not AWS SNS with 400 and makes no request', async () => {
    // A listener the refused URLs point at: any connection to it would be the outbound request.
    let connections = 0;
    const trap = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const port = (trap.address() as { port: number }).port;
    try {
      const before = snsGets.length;
      for (const url of [`https://127.0.0.1:${port}/?Token=x`, `http://localhost:${port}/?Token=x`]) {
        const res = await postSns('SubscriptionConfirmation', { SubscribeURL: url });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatch(/ERR_SNS_SUBSCRIBE_URL/);
      }
      expect(snsGets).toHaveLength(before);
      expect(connections).toBe(0);
      const refused = pipeline.logs
        .lines()
        .filter((l) => String(l.msg).startsWith('SNS subscription confirmation refused'));
      expect(refused.map((l) => [l.topicArn, l.host, l.code])).toEqual([
        [TOPIC, '127.0.0.1', 'ERR_SNS_SUBSCRIBE_URL'],
        [TOPIC, 'localhost', 'ERR_SNS_SUBSCRIBE_URL'],
      ]);
    } finally {
      await new Promise<void>((resolve) => trap.close(() => resolve()));
    }
  });

  it('delivers the object of an S3 notification SNS wraps in its Notification envelope', async () => {
    const [seeded] = await pipeline.put([{ key: 'evt/sns.csv', size: 60 }]);
    const s3Event = minioEvent(['evt/sns.csv'], { 'evt/sns.csv': etagOf(seeded!) });
    const res = await postSns('Notification', { Message: JSON.stringify(s3Event) });
    expect(res).toMatchObject({ status: 202, body: { events: 1, matched: 1, enqueued: 1 } });
    await delivered('evt', 'evt/sns.csv');
    // Every message so far was signed with the one certificate: fetched once, then kept.
    expect(signer.fetched).toEqual([TEST_SIGNING_CERT_URL]);
  });

  it('refuses Basic credentials whose password is not the token', async () => {
    expect((await postSns('Notification', {}, { token: 'not-the-token' })).status).toBe(401);
  });

  it('refuses an unsigned or tampered Notification with 403 and enqueues nothing', async () => {
    const [seeded] = await pipeline.put([{ key: 'evt/forged.csv', size: 30 }]);
    const forged = JSON.stringify(minioEvent(['evt/forged.csv'], { 'evt/forged.csv': etagOf(seeded!) }));
    const unsigned = snsMessage('Notification', { Message: forged });
    // Signed by the test key for an event of nothing, then given the forged event.
    const tampered = { ...signer.sign(snsMessage('Notification', {})), Message: forged };
    for (const message of [unsigned, tampered]) {
      const res = await postSns('Notification', {}, { message });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatch(/ERR_SNS_SIGNATURE/);
    }
    const refused = pipeline.logs
      .lines()
      .filter((l) => l.msg === 'SNS message refused: its signature does not verify, nothing done');
    expect(refused.map((l) => [l.topicArn, l.code, l.problem])).toEqual([
      [TOPIC, 'ERR_SNS_SIGNATURE', 'SNS Notification has no Signature'],
      [
        TOPIC,
        'ERR_SNS_SIGNATURE',
        "SNS Notification signature does not verify with sns.eu-west-1.amazonaws.com's certificate",
      ],
    ]);
    const id = await pipeline.deliveryIdOf('evt', 'evt/forged.csv');
    expect(await pipeline.testFerry.deliverQueue.getJob(id)).toBeUndefined();
    expect(await pipeline.ledger.get(id)).toBeUndefined();
  });

  it('acknowledges an UnsubscribeConfirmation', async () => {
    const res = await postSns('UnsubscribeConfirmation', {
      SubscribeURL: 'https://sns.eu-west-1.amazonaws.com/',
    });
    expect(res.status).toBe(200);
    expect(
      pipeline.logs.lines().some((l) => l.msg === 'SNS subscription removed (UnsubscribeConfirmation)'),
    ).toBe(true);
  });
});

describe('the web UI', () => {
  const browser = useHeadlessChromium();

  it('says on the partners page which partners are event-driven and when their last event came', async () => {
    // An event of its own (a key not in S3: ignored, yet heard), so this test does not lean on the ones above.
    expect((await postEvents(minioEvent(['evt/ui.csv']))).status).toBe(202);
    await withDashboardPage(
      browser(),
      base(),
      { user: 'admin', password: ADMIN_PASSWORD },
      async (page, problems) => {
        await page.goto(`${base()}/`);
        const evt = page.locator('td[data-schedule="evt"]');
        await evt.waitFor();
        const text = (await evt.textContent()) ?? '';
        expect(text).toContain('event-driven, last event ');
        expect(text).not.toContain('none yet');
        expect(await evt.locator('time').last().getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
        expect(await page.locator('td[data-schedule="quiet"]').textContent()).not.toContain('event');
        expect(problems).toEqual([]);
      },
    );
  });
});
