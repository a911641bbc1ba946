// Bull Board at /admin: viewer vs operator logins, CSRF (same-origin) protection of state-changing
// routes, DNS rebinding (Host) and framing protection of every route, redacted job data, and forged
// or edited jobs refused by the worker. Real redis-server, sshd and s3rver; requests go over HTTP to
// the board the web role serves.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeDeliveryId } from '../../src/core/delivery-id.js';
import { DEFAULT_CSP } from '../../src/http/security-headers.js';
import { WEB_UI_CSP } from '../../src/http/ui/web-ui.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  loadConfigOrThrow,
  putObjects,
  readPartnerDir,
  sweepAndWait,
  waitForJobState,
} from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';

const OPERATOR = { user: 'admin', password: 'board-operator-canary-61d0' };
const FILE_OPERATOR = { user: 'ops2', password: 'board-ops2-canary-a9e4' };
const VIEWER = { user: 'auditor', password: 'board-viewer-canary-3c77' };
const DATA_CANARY = 'job-data-canary-5b2f8e';
const TRUSTED_ORIGIN = 'https://ferry.example.com';
const REBIND = 'rebind.evil.example';

let services: Services;
let fixture: FerryFixture;
let s3: S3Client;
let redis: Redis;
let deliverQueue: Queue;
let ferry: RunningFerry;
let base: string;
const logs = captureLogger();

const basic = (login: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}`;

async function call(
  login: { user: string; password: string } | undefined,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      ...(login ? { authorization: basic(login) } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One request with exactly these headers: fetch would put its own Host (and nothing else) in. */
function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.once('error', reject);
    req.end(body);
  });
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
      { id: 'acme', prefix: 'acme/daily/', include: ['*.csv'] },
      { id: 'globex', prefix: 'globex/' },
    ],
  });
  // A second operator whose password is in a file next to the config.
  await mkdir(join(fixture.dir, 'secrets'), { recursive: true });
  await writeFile(join(fixture.dir, 'secrets', 'ops2'), `${FILE_OPERATOR.password}\n`);
  const ferryYaml = join(fixture.dir, 'ferry.yaml');
  await writeFile(
    ferryYaml,
    (await readFile(ferryYaml, 'utf8')).replace(
      /^http: .*$/m,
      `http: { host: 127.0.0.1, port: 0, adminUser: ${OPERATOR.user}, adminPasswordEnv: FERRY_ADMIN_PASSWORD, operators: [{ user: ${FILE_OPERATOR.user}, passwordFile: secrets/ops2 }], trustedOrigins: ['${TRUSTED_ORIGIN}'] }`,
    ),
  );
  s3 = s3ClientFor(services.s3);
  redis = new Redis(services.redis.url);
  deliverQueue = new Queue('deliver', { connection: redis, prefix: '{ferry}' });
  ferry = await startFerry({
    config: await loadConfigOrThrow(fixture.dir),
    role: 'all',
    env: process.env,
    logger: logs.logger,
    watch: false,
  });
  base = `http://127.0.0.1:${ferry.httpPort}`;
});

afterAll(async () => {
  await ferry?.close();
  await deliverQueue?.close();
  redis?.disconnect();
  s3?.destroy();
  await services?.stop();
});

/** Delivers one acme object and returns its (completed) delivery job id. */
async function deliverOne(key: string): Promise<string> {
  await putObjects(s3, fixture.bucket, [{ key, size: 2048 }]);
  const { code } = await sweepAndWait(ferry.getConfig(), 'acme');
  expect(code).toBe(0);
  const jobs = await deliverQueue.getJobs(['completed']);
  const job = jobs.find((j) => (j.data as { key?: string }).key === key);
  expect(job).toBeDefined();
  return job!.id!;
}

describe('dashboard logins', () => {
  it('answers 401 without or with wrong credentials, 200 for operators and viewers', async () => {
    for (const path of ['/admin', '/admin/api/queues']) {
      expect((await call(undefined, 'GET', path)).status).toBe(401);
      expect((await call({ user: OPERATOR.user, password: 'wrong' }, 'GET', path)).status).toBe(401);
      expect((await call({ user: VIEWER.user, password: OPERATOR.password }, 'GET', path)).status).toBe(401);
      for (const login of [OPERATOR, FILE_OPERATOR, VIEWER]) {
        expect((await call(login, 'GET', path)).status).toBe(200);
      }
    }
  });

  it('shows viewers a read-only board and operators a full one', async () => {
    const view = async (login: { user: string; password: string }) =>
      (
        (await (await call(login, 'GET', '/admin/api/queues')).json()) as {
          queues: Array<{ name: string; readOnlyMode: boolean; allowRetries: boolean }>;
        }
      ).queues;
    const viewerQueues = await view(VIEWER);
    expect(viewerQueues.map((q) => q.name).sort()).toEqual(['deliver', 'sweep']);
    for (const q of viewerQueues) expect(q).toMatchObject({ readOnlyMode: true, allowRetries: false });
    for (const q of await view(OPERATOR)) {
      expect(q).toMatchObject({ readOnlyMode: false, allowRetries: true });
    }
    expect(await (await call(VIEWER, 'GET', '/admin')).text()).toContain('Ferry (read-only)');
  });

  it('refuses every state-changing Bull Board route to a viewer with 403, and nothing changes', async () => {
    const jobId = await deliverOne('acme/daily/viewer.csv');
    const params: Record<string, string> = {
      queueName: 'deliver',
      jobId,
      queueStatus: 'completed',
      schedulerId: 'sweep-acme',
    };
    const writes = appRoutes.api.filter((r) => r.method !== 'get');
    // The board's own route table: retry, clean, add, update-data, pause/resume, obliterate, schedulers…
    expect(writes.length).toBeGreaterThanOrEqual(20);
    for (const route of writes) {
      const method = [route.method].flat()[0]!;
      for (const template of [route.route].flat()) {
        const path = `/admin${template.replace(/:(\w+)/g, (_m, name: string) => params[name] ?? name)}`;
        const res = await call(VIEWER, method.toUpperCase(), path, {
          body: { jobData: {}, name: 'x', data: {} },
        });
        expect({ method: route.method, path, status: res.status }).toEqual({
          method: route.method,
          path,
          status: 403,
        });
      }
    }
    expect(await deliverQueue.isPaused()).toBe(false);
    expect(await (await deliverQueue.getJob(jobId))?.getState()).toBe('completed');
    const sweepQueue = new Queue('sweep', { connection: redis, prefix: '{ferry}' });
    expect(await sweepQueue.getJobScheduler('sweep-acme')).toBeDefined();
    await sweepQueue.close();
    const refusals = logs.lines().filter((l) => l.msg === 'dashboard action refused: viewers are read-only');
    expect(refusals.length).toBe(writes.length);
    expect(refusals[0]).toMatchObject({ user: VIEWER.user, role: 'viewer' });
  });
});

describe('cross-site request protection', () => {
  // A retry of a job that does not exist: harmless, and 404 once past the guard.
  const probe = '/admin/api/queues/deliver/no-such-job/retry';

  it.each([
    ['an Origin of another site', { origin: 'https://evil.example' }],
    ['Origin: null (sandboxed frame, redirect)', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
    ['a Referer on another site and no Origin', { referer: 'https://evil.example/page' }],
  ])('refuses an operator request with %s (403)', async (_what, headers) => {
    const put = await call(OPERATOR, 'PUT', probe, { headers });
    expect(put.status).toBe(403);
    const post = await call(OPERATOR, 'POST', '/admin/api/queues/deliver/add', {
      headers,
      body: { name: 'deliver', data: {} },
    });
    expect(post.status).toBe(403);
  });

  it('lets the board’s own same-origin requests and non-browser clients through', async () => {
    const sameOrigin: Record<string, string>[] = [
      { origin: base, 'sec-fetch-site': 'same-origin' },
      { origin: base },
      { referer: `${base}/admin/queue/deliver` },
      { 'sec-fetch-site': 'same-origin' },
      {},
    ];
    for (const headers of sameOrigin) {
      expect((await call(OPERATOR, 'PUT', probe, { headers })).status).toBe(404);
    }
  });

  it('audit-logs operator actions with the user', async () => {
    await call(FILE_OPERATOR, 'PUT', probe);
    const line = logs
      .lines()
      .find((l) => l.msg === 'dashboard action' && l.user === FILE_OPERATOR.user && l.path === probe);
    expect(line).toMatchObject({ method: 'PUT', status: 404 });
  });
});

describe('DNS rebinding: only configured host names are answered', () => {
  const rebound = (port: number, login?: { user: string; password: string }) => ({
    host: `${REBIND}:${port}`,
    origin: `http://${REBIND}:${port}`,
    ...(login ? { authorization: basic(login) } : {}),
    'content-type': 'application/json',
  });
  const FIX = `add its origin (e.g. https://${REBIND}) to http.trustedOrigins`;

  it('answers 421 naming the fix to reads and writes whose Host and Origin are a rebinding name', async () => {
    const port = ferry.httpPort!;
    const jobsBefore = await deliverQueue.getJobCounts();
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/admin'],
      ['GET', '/api/partners'],
      ['POST', '/admin/api/queues/deliver/add'],
      ['POST', '/api/partners/globex/pause'],
      ['POST', '/api/upload?partner=acme&name=rebind.csv'],
    ] as const) {
      const res = await rawRequest(
        port,
        method,
        path,
        rebound(port, OPERATOR),
        method === 'POST'
          ? JSON.stringify({ reason: 'rebinding attack', name: 'deliver', data: {} })
          : undefined,
      ).catch((err: Error) => {
        throw new Error(`${method} ${path}: ${err.message}`);
      });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 421 });
      expect(res.text).toContain(FIX);
    }
    const partners = (await (await call(OPERATOR, 'GET', '/api/partners')).json()) as {
      partners: { id: string; pause: { paused: boolean } }[];
    };
    expect(partners.partners.find((p) => p.id === 'globex')?.pause.paused).toBe(false);
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: 'acme/daily/rebind.csv' })),
    ).rejects.toMatchObject({ name: 'NotFound' });
    expect(await deliverQueue.getJobCounts()).toEqual(jobsBefore);
    const refused = logs.lines().filter((l) => l.msg === 'request refused: Host is not this dashboard');
    expect(refused[0]).toMatchObject({ host: `${REBIND}:${port}`, path: '/' });
  });

  it('answers /healthz, /readyz and /metrics whatever the Host', async () => {
    const port = ferry.httpPort!;
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await rawRequest(port, 'GET', path, rebound(port, VIEWER));
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
  });

  it('answers a trusted origin’s name, localhost and IP addresses', async () => {
    const port = ferry.httpPort!;
    for (const host of ['ferry.example.com', `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const res = await rawRequest(port, 'GET', '/admin', { host, authorization: basic(VIEWER) });
      expect({ host, status: res.status }).toEqual({ host, status: 200 });
    }
  });
});

describe('framing and sniffing headers', () => {
  it('are on every response: the web UI, Bull Board, the API, 401s, 404s and 421s', async () => {
    const port = ferry.httpPort!;
    const cases: [string, Record<string, string>, number, string][] = [
      ['/', { authorization: basic(VIEWER) }, 200, WEB_UI_CSP],
      ['/admin', { authorization: basic(VIEWER) }, 200, DEFAULT_CSP],
      ['/admin/queue/deliver', { authorization: basic(VIEWER) }, 200, DEFAULT_CSP],
      ['/admin/api/queues', { authorization: basic(VIEWER) }, 200, DEFAULT_CSP],
      ['/api/me', { authorization: basic(VIEWER) }, 200, DEFAULT_CSP],
      ['/admin', {}, 401, DEFAULT_CSP],
      ['/no-such-page', { authorization: basic(VIEWER) }, 404, DEFAULT_CSP],
      ['/admin', { host: REBIND, authorization: basic(VIEWER) }, 421, DEFAULT_CSP],
    ];
    for (const [path, headers, status, csp] of cases) {
      const res = await rawRequest(port, 'GET', path, headers);
      expect({ path, status: res.status, csp: res.headers['content-security-policy'] }).toEqual({
        path,
        status,
        csp,
      });
      expect(res.headers, path).toMatchObject({
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'same-origin',
      });
    }
    expect(WEB_UI_CSP).toContain("frame-ancestors 'none'");
    expect(DEFAULT_CSP).toContain("frame-ancestors 'none'");
  });
});

describe('without a login (--insecure-admin)', () => {
  let insecure: RunningFerry;
  let port: number;
  const pause = (headers: Record<string, string>) =>
    rawRequest(
      port,
      'POST',
      '/api/partners/globex/pause',
      { 'content-type': 'application/json', ...headers },
      JSON.stringify({ reason: 'maintenance window' }),
    );
  const resume = (headers: Record<string, string>) =>
    rawRequest(
      port,
      'POST',
      '/api/partners/globex/resume',
      { 'content-type': 'application/json', ...headers },
      JSON.stringify({ reason: 'maintenance over' }),
    );
  const globexPaused = async () =>
    (
      JSON.parse((await rawRequest(port, 'GET', '/api/partners', {})).text) as {
        partners: { id: string; pause: { paused: boolean } }[];
      }
    ).partners.find((p) => p.id === 'globex')?.pause.paused;

  beforeAll(async () => {
    const {
      FERRY_ADMIN_PASSWORD: _a,
      FERRY_VIEWER_USER: _b,
      FERRY_VIEWER_PASSWORD: _c,
      ...bareEnv
    } = process.env;
    const bare = await writeFerryConfig(
      services,
      {
        partners: [
          { id: 'acme', prefix: 'acme/daily/', include: ['*.csv'] },
          { id: 'globex', prefix: 'globex/' },
        ],
        adminUser: null,
      },
      join(fixture.dir, '..', 'config-insecure'),
    );
    insecure = await startFerry({
      config: await loadConfigOrThrow(bare.dir, bareEnv),
      role: 'web',
      env: bareEnv,
      logger: logs.logger,
      watch: false,
      insecureAdmin: true,
    });
    port = insecure.httpPort!;
  });

  afterAll(async () => {
    await insecure?.close();
  });

  it('answers 421 to a rebinding page’s reads and writes, and nothing changes', async () => {
    const rebound = { host: `${REBIND}:${port}`, origin: `http://${REBIND}:${port}` };
    expect((await pause(rebound)).status).toBe(421);
    for (const path of ['/', '/admin', '/api/partners']) {
      expect((await rawRequest(port, 'GET', path, rebound)).status).toBe(421);
    }
    expect(await globexPaused()).toBe(false);
  });

  it('refuses a write with no Origin, Referer or Sec-Fetch-Site (403, reason named)', async () => {
    const res = await pause({});
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toEqual({
      error: 'cross-site request refused',
      reason: expect.stringContaining('no Origin, Referer or Sec-Fetch-Site header and no Basic login'),
    });
    const board = await rawRequest(port, 'PUT', '/admin/api/queues/deliver/no-such-job/retry', {});
    expect(board.status).toBe(403);
    expect(await globexPaused()).toBe(false);
  });

  it('accepts the dashboard’s own same-origin writes', async () => {
    const own = { origin: `http://127.0.0.1:${port}` };
    expect((await pause(own)).status).toBe(200);
    expect(await globexPaused()).toBe(true);
    expect((await resume({ 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect(await globexPaused()).toBe(false);
  });
});

describe('writes without browser metadata, with a Basic login', () => {
  it('are accepted (curl, scripts)', async () => {
    const post = (action: string) =>
      rawRequest(
        ferry.httpPort!,
        'POST',
        `/api/partners/globex/${action}`,
        { authorization: basic(OPERATOR), 'content-type': 'application/json' },
        JSON.stringify({ reason: `scripted ${action}` }),
      );
    expect((await post('pause')).status).toBe(200);
    expect((await post('resume')).status).toBe(200);
  });
});

describe('job data in the board and in the worker', () => {
  it('shows only the id fields of job data, to operators and viewers alike', async () => {
    const identity = { partnerId: 'acme', bucket: fixture.bucket, key: 'acme/daily/extra.csv', etag: 'abc' };
    const id = computeDeliveryId(identity);
    await deliverQueue.add(
      'deliver',
      { v: 1, deliveryId: id, ...identity, size: 1, password: DATA_CANARY, note: { secret: DATA_CANARY } },
      { jobId: id, attempts: 1 },
    );
    await waitForJobState(deliverQueue, id, 'failed');
    for (const login of [OPERATOR, VIEWER]) {
      const list = await call(login, 'GET', '/admin/api/queues?activeQueue=deliver&status=failed');
      const listText = await list.text();
      expect(listText).not.toContain(DATA_CANARY);
      const one = await call(login, 'GET', `/admin/api/queues/deliver/${id}`);
      const body = (await one.json()) as { job: { data: Record<string, unknown> } };
      expect(body.job.data).toEqual({
        v: 1,
        deliveryId: id,
        ...identity,
        size: 1,
        _hidden: '2 other fields',
      });
      expect(JSON.stringify(body)).not.toContain(DATA_CANARY);
    }
  });

  it('refuses a job an operator edited in the board (other partner’s key, hostile name) when it is retried', async () => {
    const jobId = await deliverOne('acme/daily/edited.csv');
    const acmeBefore = await readPartnerDir(fixture.partnerDirs.acme!);
    const globexBefore = await readPartnerDir(fixture.partnerDirs.globex!);
    const job = await deliverQueue.getJob(jobId);
    const data = job!.data as Record<string, unknown>;

    for (const [edit, attempts] of [
      [{ key: 'globex/payroll.csv' }, 2],
      [{ key: 'acme/daily/../../../etc/cron.d/x.csv' }, 3],
    ] as const) {
      const patched = await call(OPERATOR, 'PATCH', `/admin/api/queues/deliver/${jobId}/update-data`, {
        body: { jobData: { ...data, ...edit } },
      });
      expect(patched.status).toBe(200);
      expect((await deliverQueue.getJob(jobId))?.data).toMatchObject(edit);
      const retried = await call(OPERATOR, 'PUT', `/admin/api/queues/deliver/${jobId}/retry`);
      expect(retried.status).toBe(204);
      const failed = await waitForJobState(
        deliverQueue,
        jobId,
        'failed',
        (j) => j.attemptsStarted >= attempts,
      );
      expect(failed.failedReason).toMatch(/^ERR_PAYLOAD_INVALID/);
    }
    expect(await readPartnerDir(fixture.partnerDirs.acme!)).toEqual(acmeBefore);
    expect(await readPartnerDir(fixture.partnerDirs.globex!)).toEqual(globexBefore);
  });

  it('refuses a job an operator adds with a self-consistent id for another partner’s key', async () => {
    await putObjects(s3, fixture.bucket, [{ key: 'globex/payroll.csv', size: 64 }]);
    const identity = { partnerId: 'acme', bucket: fixture.bucket, key: 'globex/payroll.csv', etag: 'abc' };
    const id = computeDeliveryId(identity);
    const added = await call(OPERATOR, 'POST', '/admin/api/queues/deliver/add', {
      body: {
        name: 'deliver',
        data: { v: 1, deliveryId: id, ...identity, size: 64 },
        options: { jobId: id },
      },
    });
    expect(added.status).toBe(200);
    const failed = await waitForJobState(deliverQueue, id, 'failed');
    expect(failed.failedReason).toMatch(/^ERR_KEY_OUTSIDE_PREFIX/);
    expect((await readPartnerDir(fixture.partnerDirs.acme!)).finals.has('payroll.csv')).toBe(false);
    expect((await readPartnerDir(fixture.partnerDirs.globex!)).finals.size).toBe(0);
  });

  it('keeps login passwords and job-data canaries out of logs', () => {
    const text = logs.text();
    for (const secret of [OPERATOR.password, FILE_OPERATOR.password, VIEWER.password, DATA_CANARY]) {
      expect(text).not.toContain(secret);
    }
  });
});
