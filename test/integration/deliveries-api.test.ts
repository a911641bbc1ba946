// The deliveries API (/api) and the `ferry deliveries | redeliver | plan` commands against the real
// pipeline: redis-server, sshd and s3rver, Ferry with every role in this process, requests over HTTP.
import { rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeliveriesCommand } from '../../src/commands/deliveries-command.js';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { runRedeliverCommand } from '../../src/commands/redeliver-command.js';
import { computeDeliveryId } from '../../src/core/delivery-id.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { spawnFerry } from '../support/ferry-process.js';
import {
  captureLogger,
  putObjects,
  readPartnerDir,
  sweepAndWait,
  startTestFerry,
  waitForJobState,
  type SeededObject,
  type TestFerry,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';

const OPERATOR = { user: 'admin', password: 'api-operator-canary-7e21' };
const VIEWER = { user: 'auditor', password: 'api-viewer-canary-40bd' };

let services: Services;
let fixture: FerryFixture;
let t: TestFerry;
let base: string;
const seeded = new Map<string, SeededObject>();
const logs = captureLogger();

interface View {
  id: string;
  partnerId: string;
  key: string;
  status: string;
  updatedAt: string;
  remotePath?: string;
  boardUrl: string;
  jobId: string;
  lastErrorCode?: string;
}
interface PartnerBody {
  id: string;
  failed: number;
  delivered24h: number;
  pause: { paused: boolean; at?: string };
  [field: string]: unknown;
}
/** What the API answers, loosely: each test looks at the fields it cares about. */
interface ApiBody {
  error?: string;
  jobId?: string;
  audit?: unknown[];
  partners?: PartnerBody[];
  [field: string]: unknown;
}
interface ListBody {
  items: View[];
  nextCursor: string | null;
  total?: number;
}

const basic = (login: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}`;

async function call(
  login: { user: string; password: string },
  method: string,
  path: string,
  options: { json?: unknown; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: ApiBody }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: basic(login),
      ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.body === undefined ? {} : { 'content-type': 'text/csv' }),
      ...options.headers,
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text.startsWith('{') ? (JSON.parse(text) as ApiBody) : { error: text },
  };
}

const get = async (path: string, login = VIEWER) =>
  (await call(login, 'GET', path)).body as unknown as ListBody;
const idOf = (partnerId: string, key: string, etag: string) =>
  computeDeliveryId({ partnerId, bucket: fixture.bucket, key, etag });

async function etagOf(key: string): Promise<string> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const head = await t.s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
  return head.ETag!.replaceAll('"', '');
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, o: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = OPERATOR.password;
  process.env.FERRY_VIEWER_USER = VIEWER.user;
  process.env.FERRY_VIEWER_PASSWORD = VIEWER.password;
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'acme', prefix: 'acme/', include: ['*.csv'], onExisting: 'fail' },
      { id: 'globex', prefix: 'globex/', onExisting: 'overwrite' },
    ],
  });
  t = await startTestFerry(services, fixture.dir, logs.logger);
  base = `http://127.0.0.1:${t.ferry.httpPort}`;
  const objects = [
    ...['A1', 'A2', 'A3', 'A4', 'A5'].map((n) => ({ key: `acme/orders-${n}.csv`, size: 1500 })),
    ...['G1', 'G2'].map((n) => ({ key: `globex/stock-${n}.csv`, size: 900 })),
  ];
  for (const o of await putObjects(t.s3, fixture.bucket, objects)) seeded.set(o.key, o);
  expect((await sweepAndWait(t.ferry.getConfig(), 'acme')).code).toBe(0);
  expect((await sweepAndWait(t.ferry.getConfig(), 'globex')).code).toBe(0);
});

afterAll(async () => {
  await t?.close();
  await services?.stop();
});

describe('GET /api/deliveries', () => {
  it('lists every partner newest first, with a total and links into Bull Board', async () => {
    const body = await get('/api/deliveries');
    expect(body.items).toHaveLength(7);
    expect(body.total).toBe(7);
    expect(body.nextCursor).toBeNull();
    const times = body.items.map((d) => d.updatedAt);
    expect([...times].sort().reverse()).toEqual(times);
    for (const d of body.items) {
      expect(d.status).toBe('delivered');
      expect(d.jobId).toBe(d.id);
      expect(d.boardUrl).toBe(`/admin/queue/deliver/${encodeURIComponent(d.id)}`);
    }
    expect(new Set(body.items.map((d) => d.partnerId))).toEqual(new Set(['acme', 'globex']));
  });

  it('filters by partner, status, time and a case-insensitive search of key or id', async () => {
    expect((await get('/api/deliveries?partner=globex')).items.map((d) => d.key).sort()).toEqual([
      'globex/stock-G1.csv',
      'globex/stock-G2.csv',
    ]);
    expect((await get('/api/deliveries?q=ORDERS-a3')).items.map((d) => d.key)).toEqual([
      'acme/orders-A3.csv',
    ]);
    const one = (await get('/api/deliveries?q=stock-G2')).items[0]!;
    expect((await get(`/api/deliveries?q=${one.id.slice(-12)}`)).items.map((d) => d.id)).toEqual([one.id]);
    expect((await get('/api/deliveries?status=failed')).items).toEqual([]);
    expect((await get('/api/deliveries?status=delivered&partner=acme')).items).toHaveLength(5);
    expect((await get('/api/deliveries?since=24h')).items).toHaveLength(7);
    expect((await get(`/api/deliveries?since=${new Date(Date.now() + 60_000).toISOString()}`)).items).toEqual(
      [],
    );
    expect((await get('/api/deliveries?until=2020-01-01')).items).toEqual([]);
  });

  it('pages with an opaque cursor through the same order as one listing', async () => {
    const all = (await get('/api/deliveries')).items.map((d) => d.id);
    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const body: ListBody = await get(
        `/api/deliveries?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      paged.push(...body.items.map((d) => d.id));
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(paged).toEqual(all);
    expect(pages).toBe(4);
  });

  it('answers 400 for a bad status, limit, time or cursor', async () => {
    for (const query of [
      'status=lost',
      'limit=0',
      'limit=500',
      'since=yesterday',
      'cursor=xyz!',
      'partner=nobody',
    ]) {
      const res = await call(VIEWER, 'GET', `/api/deliveries?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error).toEqual(expect.any(String));
    }
  });
});

describe('GET /api/deliveries/:id and /api/me', () => {
  it('returns the record, its S3 receipt and its (empty) audit trail; 404 JSON when unknown', async () => {
    const key = 'acme/orders-A1.csv';
    const id = idOf('acme', key, await etagOf(key));
    const res = await call(VIEWER, 'GET', `/api/deliveries/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      key,
      status: 'delivered',
      remotePath: join(fixture.partnerDirs.acme!, 'orders-A1.csv'),
      receipt: { deliveryId: id, sha256: seeded.get(key)!.sha256, source: { key } },
      audit: [],
    });
    expect(res.body).not.toHaveProperty('runbookUrl'); // only failed and quarantined deliveries need one
    const missing = await call(VIEWER, 'GET', '/api/deliveries/dlv-acme-00000000000000000000000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/no delivery/);
  });

  it('answers 400 naming the format for what cannot be a delivery id', async () => {
    const bad = [`dlv-Acme-${'0'.repeat(32)}`, `dlv-acme-${'0'.repeat(32)}-r0`, 'orders.csv'];
    for (const id of bad) {
      const res = await call(VIEWER, 'GET', `/api/deliveries/${encodeURIComponent(id)}`);
      expect(res.status, id).toBe(400);
      expect(res.body.error).toBe(
        `${JSON.stringify(id)} is not a delivery id (dlv-<partner>-<32 hex>[-r<n>])`,
      );
    }
    for (const action of ['redeliver', 'retry']) {
      const res = await call(OPERATOR, 'POST', `/api/deliveries/dlv-acme/${action}`, {
        json: { reason: 'bad id' },
      });
      expect(res.status, action).toBe(400);
    }
  });

  it('tells the UI who is logged in and with which role', async () => {
    expect((await call(VIEWER, 'GET', '/api/me')).body).toEqual({ user: VIEWER.user, role: 'viewer' });
    expect((await call(OPERATOR, 'GET', '/api/me')).body).toEqual({ user: OPERATOR.user, role: 'operator' });
  });
});

describe('POST /api/deliveries/:id/redeliver', () => {
  it('sends a second copy as its own delivery with a receipt naming who asked and why', async () => {
    const key = 'acme/orders-A2.csv';
    const id = idOf('acme', key, await etagOf(key));
    // acme has onExisting: fail, so the partner must no longer have the file (it consumed it).
    await rm(join(fixture.partnerDirs.acme!, 'orders-A2.csv'));

    const res = await call(OPERATOR, 'POST', `/api/deliveries/${id}/redeliver`, {
      json: { reason: 'partner lost the file in their import, ticket OPS-42' },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: `${id}-r1`, deliveryId: `${id}-r1` });
    const job = await waitForJobState(t.deliverQueue, `${id}-r1`, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', deliveryId: `${id}-r1` });
    const { finals, temps } = await readPartnerDir(fixture.partnerDirs.acme!);
    expect(finals.get('orders-A2.csv')?.sha256).toBe(seeded.get(key)!.sha256);
    expect(temps).toEqual([]);

    const detail = (await call(VIEWER, 'GET', `/api/deliveries/${id}-r1`)).body;
    expect(detail).toMatchObject({
      id: `${id}-r1`,
      status: 'delivered',
      receipt: {
        deliveryId: `${id}-r1`,
        redeliveryOf: id,
        reason: 'partner lost the file in their import, ticket OPS-42',
        requestedBy: OPERATOR.user,
      },
      redelivery: { of: id, n: 1, by: OPERATOR.user },
    });
    const trail = (await call(VIEWER, 'GET', `/api/deliveries/${id}`)).body.audit;
    expect(trail).toEqual([
      expect.objectContaining({
        user: OPERATOR.user,
        action: 'redeliver',
        reason: 'partner lost the file in their import, ticket OPS-42',
        deliveryId: `${id}-r1`,
        partnerId: 'acme',
      }),
    ]);
    // The original stays delivered; the listing shows both.
    expect((await get(`/api/deliveries?q=orders-A2`)).items.map((d) => d.id).sort()).toEqual([
      id,
      `${id}-r1`,
    ]);
    expect(
      logs.lines().some((l) => l.audit === true && l.action === 'redeliver' && l.user === OPERATOR.user),
    ).toBe(true);
  });

  it('fails visibly with ERR_REMOTE_EXISTS when an onExisting: fail partner still has the file', async () => {
    const key = 'acme/orders-A3.csv';
    const id = idOf('acme', key, await etagOf(key));
    const res = await call(OPERATOR, 'POST', `/api/deliveries/${id}/redeliver`, {
      json: { reason: 'try it' },
    });
    expect(res.status).toBe(202);
    const job = await waitForJobState(t.deliverQueue, `${id}-r1`, 'failed');
    expect(job.failedReason).toMatch(/ERR_REMOTE_EXISTS/);
    const detail = (await call(VIEWER, 'GET', `/api/deliveries/${id}-r1`)).body;
    expect(detail).toMatchObject({
      status: 'failed',
      lastErrorCode: 'ERR_REMOTE_EXISTS',
      // No alerts.runbookBaseUrl in this config: the default base.
      runbookUrl: 'https://github.com/ferry-dev/ferry/blob/main/docs/runbooks/remote-exists.md',
    });
  });

  it('overwrites on an onExisting: overwrite partner', async () => {
    const key = 'globex/stock-G1.csv';
    const id = idOf('globex', key, await etagOf(key));
    const before = (await readPartnerDir(fixture.partnerDirs.globex!)).finals.get('stock-G1.csv')!;
    const res = await call(OPERATOR, 'POST', `/api/deliveries/${id}/redeliver`, {
      json: { reason: 'resend' },
    });
    expect(res.status).toBe(202);
    await waitForJobState(t.deliverQueue, res.body.jobId as string, 'completed');
    const after = (await readPartnerDir(fixture.partnerDirs.globex!)).finals.get('stock-G1.csv')!;
    expect(after.sha256).toBe(before.sha256);
    expect(after.ino).not.toBe(before.ino); // a new file replaced the old one
  });

  it('refuses viewers (403), a missing or short reason (400), unknown ids (404) and cross-site posts', async () => {
    const key = 'acme/orders-A4.csv';
    const id = idOf('acme', key, await etagOf(key));
    const path = `/api/deliveries/${id}/redeliver`;
    expect((await call(VIEWER, 'POST', path, { json: { reason: 'viewer tries' } })).status).toBe(403);
    expect((await call(OPERATOR, 'POST', path, { json: {} })).status).toBe(400);
    expect((await call(OPERATOR, 'POST', path, { json: { reason: ' x ' } })).status).toBe(400);
    expect(
      (
        await call(OPERATOR, 'POST', path, {
          json: { reason: 'ok reason' },
          headers: { origin: 'https://evil.example' },
        })
      ).status,
    ).toBe(403);
    const unknown = '/api/deliveries/dlv-acme-00000000000000000000000000000000/redeliver';
    expect((await call(OPERATOR, 'POST', unknown, { json: { reason: 'nothing there' } })).status).toBe(404);
    expect(await t.deliverQueue.getJob(`${id}-r1`)).toBeUndefined();
  });

  it('refuses a hand-made redelivery job that nobody requested', async () => {
    const key = 'acme/orders-A5.csv';
    const etag = await etagOf(key);
    const id = `${idOf('acme', key, etag)}-r7`;
    await t.deliverQueue.add(
      'deliver',
      {
        v: 1,
        deliveryId: id,
        partnerId: 'acme',
        bucket: fixture.bucket,
        key,
        etag,
        size: 1500,
        redelivery: 7,
      },
      { jobId: id, attempts: 1 },
    );
    const job = await waitForJobState(t.deliverQueue, id, 'failed');
    expect(job.failedReason).toMatch(/ERR_PAYLOAD_INVALID/);
  });
});

describe('partners, pause and upload', () => {
  it('GET /api/partners returns runtime state with ledger stats', async () => {
    const { partners } = (await call(VIEWER, 'GET', '/api/partners')).body as {
      partners: PartnerBody[];
    };
    expect(partners.map((p) => p.id).sort()).toEqual(['acme', 'globex']);
    const globex = partners.find((p) => p.id === 'globex')!;
    expect(globex).toMatchObject({
      enabled: true,
      schedule: { cron: '0 2 * * *', timezone: 'UTC', nextRun: expect.any(String) },
      pause: { paused: false },
      window: { configured: false, open: true },
      sla: { status: expect.any(String) },
      failed: 0,
      lastDelivery: { key: expect.stringMatching(/^globex\/stock-G[12]\.csv$/), at: expect.any(String) },
    });
    expect(globex.delivered24h).toBeGreaterThanOrEqual(2);
    expect(partners.find((p) => p.id === 'acme')!.failed).toBe(1); // the ERR_REMOTE_EXISTS redelivery
  });

  it('pauses and resumes a partner for operators only, with an audit trail', async () => {
    expect((await call(VIEWER, 'POST', '/api/partners/acme/pause', { json: { reason: 'no' } })).status).toBe(
      403,
    );
    expect((await call(OPERATOR, 'POST', '/api/partners/acme/pause', { json: {} })).status).toBe(400);
    expect(
      (await call(OPERATOR, 'POST', '/api/partners/nobody/pause', { json: { reason: 'x y z' } })).status,
    ).toBe(404);
    const paused = await call(OPERATOR, 'POST', '/api/partners/acme/pause', {
      json: { reason: 'partner maintenance' },
    });
    expect(paused).toMatchObject({
      status: 200,
      body: { pause: { paused: true, source: 'operator', by: OPERATOR.user, reason: 'partner maintenance' } },
    });
    const resumed = await call(OPERATOR, 'POST', '/api/partners/acme/resume', { json: { reason: 'back' } });
    expect(resumed).toMatchObject({ status: 200, body: { pause: { paused: false } } });
  });

  it('uploads a CSV into the partner prefix; refuses hostile or unmatched names and empty files', async () => {
    const body = Buffer.from('id,qty\n1,2\n');
    const ok = await call(OPERATOR, 'POST', '/api/upload?partner=acme&name=manual-1.csv', { body });
    expect(ok).toMatchObject({ status: 201, body: { bucket: fixture.bucket, key: 'acme/manual-1.csv' } });
    for (const name of ['..%2Fglobex%2Fx.csv', '.hidden.csv', 'notes.txt']) {
      const res = await call(OPERATOR, 'POST', `/api/upload?partner=acme&name=${name}`, { body });
      expect(res.status, name).toBe(400);
    }
    expect(
      (await call(OPERATOR, 'POST', '/api/upload?partner=acme&name=e.csv', { body: Buffer.alloc(0) })).status,
    ).toBe(400);
    expect((await call(VIEWER, 'POST', '/api/upload?partner=acme&name=v.csv', { body })).status).toBe(403);
  });

  it('refuses with 409 an upload whose name already exists, and leaves the object as it was', async () => {
    const { DeleteObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const bytesOf = async (key: string) =>
      Buffer.from(
        await (
          await t.s3.send(new GetObjectCommand({ Bucket: fixture.bucket, Key: key }))
        ).Body!.transformToByteArray(),
      );
    // A warehouse export (seeded in S3, delivered) and an earlier upload alike.
    const exported = 'acme/orders-A1.csv';
    const first = await call(OPERATOR, 'POST', '/api/upload?partner=acme&name=manual-2.csv', {
      body: Buffer.from('id,qty\n1,2\n'),
    });
    expect(first.status).toBe(201);
    for (const [name, key, original] of [
      ['orders-A1.csv', exported, seeded.get(exported)!.body],
      ['manual-2.csv', 'acme/manual-2.csv', Buffer.from('id,qty\n1,2\n')],
    ] as const) {
      const again = await call(OPERATOR, 'POST', `/api/upload?partner=acme&name=${name}`, {
        body: Buffer.from('id,qty\n9,9\n'),
      });
      expect(again).toEqual({
        status: 409,
        body: {
          error: `s3://${fixture.bucket}/${key} already exists; it was not overwritten (choose another name)`,
        },
      });
      expect((await bytesOf(key)).equals(original), key).toBe(true);
    }
    // The plan test below counts acme's objects.
    await t.s3.send(new DeleteObjectCommand({ Bucket: fixture.bucket, Key: 'acme/manual-2.csv' }));
  });
});

describe('ferry deliveries, redeliver and plan', () => {
  it('prints the night as a table, newest first, and as JSON', async () => {
    const c = capture();
    const config = t.ferry.getConfig();
    expect(
      await runDeliveriesCommand({ config, status: 'failed', since: '24h', limit: 50, json: false, ...c.o }),
    ).toBe(0);
    expect(c.out[0]).toMatch(/^UPDATED +PARTNER +STATUS +KEY +REMOTE PATH +ATT +LAST ERROR$/);
    expect(c.out).toHaveLength(2);
    expect(c.out[1]).toMatch(/ acme +failed +acme\/orders-A3\.csv .* ERR_REMOTE_EXISTS: /);

    const j = capture();
    expect(await runDeliveriesCommand({ config, partnerId: 'globex', limit: 1, json: true, ...j.o })).toBe(0);
    const rows = JSON.parse(j.out.join('\n')) as View[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ partnerId: 'globex', status: 'delivered' });

    const bad = capture();
    expect(await runDeliveriesCommand({ config, since: 'yesterday', limit: 5, json: false, ...bad.o })).toBe(
      2,
    );
  });

  it('redelivers the current version of a key, and refuses a version never delivered', async () => {
    const config = t.ferry.getConfig();
    const c = capture();
    const audit = captureLogger();
    const code = await runRedeliverCommand({
      config,
      partnerId: 'globex',
      key: 'globex/stock-G2.csv',
      reason: 'resent on request, ticket OPS-43',
      by: 'alice',
      audit: audit.logger,
      ...c.o,
    });
    expect(code).toBe(0);
    const id = idOf('globex', 'globex/stock-G2.csv', await etagOf('globex/stock-G2.csv'));
    expect(c.out).toEqual([`redelivery ${id}-r1 queued for globex: globex/stock-G2.csv (of ${id})`]);
    const job = await waitForJobState(t.deliverQueue, `${id}-r1`, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered' });
    expect(audit.lines()[0]).toMatchObject({ audit: true, action: 'redeliver', user: 'alice' });

    const never = capture();
    expect(
      await runRedeliverCommand({
        config,
        partnerId: 'acme',
        key: 'acme/orders-A1.csv',
        etag: 'ffffffffffffffffffffffffffffffff',
        reason: 'wrong version',
        by: 'alice',
        audit: audit.logger,
        ...never.o,
      }),
    ).toBe(1);
    expect(never.err.join('\n')).toMatch(/was never delivered/);
  });

  it('ferry redeliver records the OS account name as who asked when $USER and $LOGNAME are unset (cron, containers)', async () => {
    const { USER: _user, LOGNAME: _logname, ...env } = process.env;
    const key = 'globex/stock-G2.csv';
    const id = idOf('globex', key, await etagOf(key));
    const run = spawnFerry(
      ['redeliver', 'globex', key, '--reason', 'resent from a cron job', '--config', fixture.dir],
      env,
    );
    expect(await run.exited).toBe(0);
    const queued = new RegExp(`^redelivery (${id}-r\\d+) queued for globex: `, 'm').exec(run.output());
    expect(queued, run.output()).not.toBeNull();
    await waitForJobState(t.deliverQueue, queued![1]!, 'completed');
    const detail = (await call(VIEWER, 'GET', `/api/deliveries/${queued![1]!}`)).body;
    expect(detail).toMatchObject({ redelivery: { of: id, by: userInfo().username } });
  });

  it('plans without side effects: what would be delivered where, what is skipped and why', async () => {
    await putObjects(t.s3, fixture.bucket, [
      { key: 'acme/new-1.csv', size: 300 },
      { key: 'acme/empty.csv', body: Buffer.alloc(0) },
      { key: 'acme/readme.txt', size: 10 },
      { key: 'acme/-dash.csv', size: 10 },
    ]);
    const waitingBefore = await t.deliverQueue.getJobCounts('waiting', 'delayed', 'active');
    const c = capture();
    expect(await runPlanCommand({ config: t.ferry.getConfig(), partnerId: 'acme', ...c.o })).toBe(0);
    const dir = fixture.partnerDirs.acme!;
    expect(c.out).toContain(`deliver  acme/new-1.csv → ${dir}/new-1.csv`);
    expect(c.out).toContain(`deliver  acme/manual-1.csv → ${dir}/manual-1.csv`);
    expect(c.out).toContain('skip     acme/empty.csv  (zero-byte)');
    expect(c.out).toContain('skip     acme/readme.txt  (filter (no include glob matches))');
    expect(c.out).toContain('skip     acme/orders-A1.csv  (already delivered)');
    expect(c.out.find((l) => l.startsWith('skip     acme/-dash.csv'))).toMatch(/hostile key: leading-dash/);
    expect(c.out[c.out.length - 1]).toBe(
      'acme: 10 listed · would deliver 2 · already delivered 5 · filter (no include glob matches) 1 · hostile key 1 · zero-byte 1',
    );
    expect(await t.deliverQueue.getJobCounts('waiting', 'delayed', 'active')).toEqual(waitingBefore);
    expect((await get('/api/deliveries?q=new-1')).items).toEqual([]);

    // Paused: the deliverable objects are held, not delivered.
    expect(
      (await call(OPERATOR, 'POST', '/api/partners/acme/pause', { json: { reason: 'freeze' } })).status,
    ).toBe(200);
    const held = capture();
    await runPlanCommand({ config: t.ferry.getConfig(), partnerId: 'acme', ...held.o });
    expect(held.out).toContain(
      `hold     acme/new-1.csv → ${dir}/new-1.csv  (held: partner paused: by ${OPERATOR.user} at ${
        ((await call(VIEWER, 'GET', '/api/partners')).body.partners as PartnerBody[]).find(
          (p) => p.id === 'acme',
        )!.pause.at
      }: freeze)`,
    );
    await call(OPERATOR, 'POST', '/api/partners/acme/resume', { json: { reason: 'thaw' } });
  });
});

describe('listing 100,000 ledger entries', () => {
  it('answers pages and searches with bounded work per request (prints the times)', async () => {
    const N = 100_000;
    const start = Date.now() - 30 * 86_400_000;
    for (let i = 0; i < N; i += 5000) {
      const pipeline = t.redis.pipeline();
      for (let j = i; j < Math.min(N, i + 5000); j++) {
        const id = `dlv-acme-${j.toString(16).padStart(32, '0')}`;
        const at = start + j * 25_000; // one every 25 s over the last month
        const iso = new Date(at).toISOString();
        pipeline.hset(`{ferry}:delivery:${id}`, {
          deliveryId: id,
          partnerId: 'acme',
          bucket: fixture.bucket,
          key: `acme/bulk/export-${j}.csv`,
          etag: 'e'.repeat(32),
          status: j % 50 === 0 ? 'failed' : 'delivered',
          attempts: '1',
          createdAt: iso,
          updatedAt: iso,
        });
        pipeline.zadd('{ferry}:deliveries:acme', at, id);
      }
      await pipeline.exec();
    }
    const timed = async (path: string) => {
      const began = performance.now();
      const body = await get(path);
      return { ms: performance.now() - began, body };
    };
    await timed('/api/deliveries'); // warm up
    const first = await timed('/api/deliveries');
    const failed = await timed('/api/deliveries?status=failed&limit=50');
    const search = await timed('/api/deliveries?q=export-4242.csv');
    let followed = 0;
    let cursor = search.body.nextCursor;
    const searchAllBegan = performance.now();
    const found = [...search.body.items];
    while (cursor !== null && followed < 50) {
      const page = await get(`/api/deliveries?q=export-4242.csv&cursor=${encodeURIComponent(cursor)}`);
      found.push(...page.items);
      cursor = page.nextCursor;
      followed += 1;
    }
    const searchAllMs = performance.now() - searchAllBegan + search.ms;
    expect(first.body.items).toHaveLength(50);
    expect(first.body.total).toBeGreaterThan(N);
    expect(failed.body.items.every((d) => d.status === 'failed')).toBe(true);
    expect(found.map((d) => d.key)).toEqual(['acme/bulk/export-4242.csv']);
    console.log(
      `deliveries API over ${N} ledger entries: first page ${first.ms.toFixed(1)} ms, ` +
        `status=failed page ${failed.ms.toFixed(1)} ms, q= first request ${search.ms.toFixed(1)} ms ` +
        `(${search.body.items.length} found), whole search ${searchAllMs.toFixed(1)} ms over ${followed + 1} requests`,
    );
  }, 120_000);
});
