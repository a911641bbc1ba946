// Retrying a delivery that failed for good (src/ledger/retries.ts) through the API and the `ferry retry`
// command, on the real pipeline (redis-server, sshd, s3rver): the cause is fixed, the retry resumes the
// same delivery and it is delivered, with an audit entry; what a retry cannot fix is refused.
import { chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runSweepCommand } from '../../src/commands/sweep-command.js';
import { createAuditLog } from '../../src/ledger/audit-log.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { getFreePort } from '../support/free-port.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { readPartnerDir, waitFor, waitForJobState, type SeededObject } from '../support/pipeline.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';

const OPERATOR = { user: 'admin', password: 'retry-operator-canary-51c3' };
const VIEWER = { user: 'auditor', password: 'retry-viewer-canary-9d02' };

const pipeline = usePartnerPipeline({
  adminPassword: OPERATOR.password,
  env: { FERRY_VIEWER_USER: VIEWER.user, FERRY_VIEWER_PASSWORD: VIEWER.password },
  partners: async () => [
    { id: 'acme', onExisting: 'fail' },
    { id: 'globex', onExisting: 'fail' },
    { id: 'initech', onExisting: 'fail' },
    // Nothing listens on its port: each attempt fails transiently, the next one is an hour away.
    { id: 'hooli', port: await getFreePort(), attempts: 2, backoffSeconds: 3600, maxBackoffSeconds: 3600 },
  ],
  // globex's directory is missing on the SFTP server until a test creates it.
  beforeStart: async ({ fixture }) => rm(fixture.partnerDirs.globex!, { recursive: true }),
});

const basic = (login: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}`;

interface Body {
  error?: string;
  jobId?: string;
  deliveryId?: string;
  how?: string;
  status?: string;
  lastErrorCode?: string;
  audit?: { user: string; action: string; reason?: string; deliveryId?: string }[];
}

async function call(
  login: { user: string; password: string },
  method: string,
  path: string,
  options: { json?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Body }> {
  const res = await fetch(`http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}${path}`, {
    method,
    headers: {
      authorization: basic(login),
      ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

const retry = (id: string, reason: unknown, login = OPERATOR, headers?: Record<string, string>) =>
  call(login, 'POST', `/api/deliveries/${encodeURIComponent(id)}/retry`, {
    json: { reason },
    ...(headers === undefined ? {} : { headers }),
  });
const detail = async (id: string) => (await call(VIEWER, 'GET', `/api/deliveries/${id}`)).body;

/**
 * Puts `<partner>/<name>` into S3 while the partner already has a file of that name: with
 * onExisting: fail the delivery fails for good (ERR_REMOTE_EXISTS). Returns its id and the object.
 */
async function failOnExistingFile(
  partnerId: string,
  name: string,
): Promise<{ id: string; seeded: SeededObject; partnerFile: string }> {
  const partnerFile = join(pipeline.fixture.partnerDirs[partnerId]!, name);
  await writeFile(partnerFile, 'the partner’s own file\n');
  const [seeded] = await pipeline.put([{ key: `${partnerId}/${name}`, size: 1200 }]);
  expect((await pipeline.sweep(partnerId)).code).toBe(1);
  const id = await pipeline.deliveryIdOf(partnerId, `${partnerId}/${name}`);
  await waitForJobState(pipeline.testFerry.deliverQueue, id, 'failed');
  expect(await detail(id)).toMatchObject({ status: 'failed', lastErrorCode: 'ERR_REMOTE_EXISTS' });
  return { id, seeded: seeded!, partnerFile };
}

async function partnerSha256(partnerId: string, name: string): Promise<string | undefined> {
  return (await readPartnerDir(pipeline.fixture.partnerDirs[partnerId]!)).finals.get(name)?.sha256;
}

afterEach(() => vi.restoreAllMocks());

describe('POST /api/deliveries/:id/retry', () => {
  let deliveredId = '';

  it('delivers a delivery that failed because the partner still had the file, once the partner removed it', async () => {
    const { id, seeded, partnerFile } = await failOnExistingFile('acme', 'orders-1.csv');
    await rm(partnerFile);

    const res = await retry(id, 'partner archived their copy, ticket OPS-7');
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: id, deliveryId: id, how: 'retried' });
    const job = await waitForJobState(pipeline.testFerry.deliverQueue, id, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', deliveryId: id });
    expect(await partnerSha256('acme', 'orders-1.csv')).toBe(seeded.sha256);
    expect(await pipeline.finals('acme')).toEqual(['orders-1.csv']);

    const after = await detail(id);
    expect(after.status).toBe('delivered');
    expect(after.audit).toEqual([
      expect.objectContaining({
        user: OPERATOR.user,
        action: 'retry',
        reason: 'partner archived their copy, ticket OPS-7',
        deliveryId: id,
        partnerId: 'acme',
      }),
    ]);
    expect(
      pipeline.logs
        .lines()
        .some(
          (l) => l.audit === true && l.action === 'retry' && l.user === OPERATOR.user && l.deliveryId === id,
        ),
    ).toBe(true);
    deliveredId = id;
  });

  it('delivers a delivery that failed because the partner directory was missing, once it exists', async () => {
    const [seeded] = await pipeline.put([{ key: 'globex/stock-1.csv', size: 900 }]);
    expect((await pipeline.sweep('globex')).code).toBe(1);
    const id = await pipeline.deliveryIdOf('globex', 'globex/stock-1.csv');
    await waitForJobState(pipeline.testFerry.deliverQueue, id, 'failed');
    expect(await detail(id)).toMatchObject({ status: 'failed', lastErrorCode: 'ERR_SFTP_NO_SUCH_PATH' });

    const dir = pipeline.fixture.partnerDirs.globex!;
    const owner = await stat(pipeline.services.sshd.inbound);
    await mkdir(dir);
    await chown(dir, owner.uid, owner.gid);

    const res = await retry(id, 'partner created the inbound directory');
    expect(res.status).toBe(202);
    await waitForJobState(pipeline.testFerry.deliverQueue, id, 'completed');
    expect(await partnerSha256('globex', 'stock-1.csv')).toBe(seeded!.sha256);
    expect((await detail(id)).status).toBe('delivered');
  });

  it('refuses viewers (403), a missing or short reason (400), cross-site posts (403) and unknown ids (404), leaving the job failed', async () => {
    const { id } = await failOnExistingFile('acme', 'orders-2.csv');
    expect((await retry(id, 'viewer tries', VIEWER)).status).toBe(403);
    expect((await call(OPERATOR, 'POST', `/api/deliveries/${id}/retry`, { json: {} })).status).toBe(400);
    expect((await retry(id, ' x ')).status).toBe(400);
    expect((await retry(id, 'ok reason', OPERATOR, { origin: 'https://evil.example' })).status).toBe(403);
    const unknown = await retry('dlv-acme-00000000000000000000000000000000', 'nothing there');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no delivery dlv-acme-0+/);

    expect(await (await pipeline.testFerry.deliverQueue.getJob(id))!.getState()).toBe('failed');
    expect((await detail(id)).audit).toEqual([]);
  });

  it('refuses (409) a delivered delivery, and one whose job is already queued again', async () => {
    const delivered = await retry(deliveredId, 'once more');
    expect(delivered.status).toBe(409);
    expect(delivered.body.error).toMatch(/is delivered, not failed: redeliver it/);

    // A paused partner holds the retried job in the delayed set: the ledger still says failed.
    const { id } = await failOnExistingFile('acme', 'orders-3.csv');
    const pause = await call(OPERATOR, 'POST', '/api/partners/acme/pause', { json: { reason: 'hold it' } });
    expect(pause.status).toBe(200);
    expect((await retry(id, 'first operator')).status).toBe(202);
    const queue = pipeline.testFerry.deliverQueue;
    await waitFor(
      async () => ((await (await queue.getJob(id))!.getState()) === 'delayed' ? true : undefined),
      `job ${id} held back by the pause`,
    );
    expect((await detail(id)).status).toBe('failed');
    const again = await retry(id, 'second operator');
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/is delayed, not failed: it is already queued or running/);
    expect((await detail(id)).audit?.map((a) => a.reason)).toEqual(['first operator']);
    expect(
      (await call(OPERATOR, 'POST', '/api/partners/acme/resume', { json: { reason: 'hold over' } })).status,
    ).toBe(200);
  });

  it('adds the job again from the ledger record when the failed job was removed', async () => {
    const queue = pipeline.testFerry.deliverQueue;
    const { id, seeded, partnerFile } = await failOnExistingFile('initech', 'report-1.csv');
    const swept = (await queue.getJob(id))!.data as Record<string, unknown>;
    await queue.remove(id);
    await rm(partnerFile);

    const res = await retry(id, 'job was cleaned up, partner removed their file');
    expect(res.status).toBe(202);
    expect(res.body.how).toBe('requeued');
    const job = await waitForJobState(queue, id, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', deliveryId: id });
    // The job a sweep built, but for LastModified read by HeadObject (HTTP dates have whole seconds).
    const { lastModified, ...rest } = job.data as Record<string, unknown>;
    expect({ ...rest, lastModified: swept.lastModified }).toEqual(swept);
    expect(Math.abs(Date.parse(String(lastModified)) - Date.parse(String(swept.lastModified)))).toBeLessThan(
      1000,
    );
    expect(await partnerSha256('initech', 'report-1.csv')).toBe(seeded.sha256);
  });

  it('re-adds a removed redelivery job with its number, so the worker still finds who asked for it', async () => {
    const queue = pipeline.testFerry.deliverQueue;
    // The partner still has orders-1.csv: the redelivery fails with ERR_REMOTE_EXISTS.
    const asked = await call(OPERATOR, 'POST', `/api/deliveries/${deliveredId}/redeliver`, {
      json: { reason: 'partner asked again' },
    });
    expect(asked.status).toBe(202);
    const redeliveryId = `${deliveredId}-r1`;
    await waitForJobState(queue, redeliveryId, 'failed');
    await queue.remove(redeliveryId);
    await rm(join(pipeline.fixture.partnerDirs.acme!, 'orders-1.csv'));

    const res = await retry(redeliveryId, 'partner removed the first copy');
    expect(res.body).toEqual({ jobId: redeliveryId, deliveryId: redeliveryId, how: 'requeued' });
    const job = await waitForJobState(queue, redeliveryId, 'completed');
    expect(job.data).toMatchObject({ deliveryId: redeliveryId, redelivery: 1 });
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', deliveryId: redeliveryId });
  });
});

const ferry = runFerryInProcess;

/** `ferry sweep <partner>` without --wait, then waits for that sweep's log line. */
async function sweepWithoutWaiting(partnerId: string): Promise<void> {
  const done = () =>
    pipeline.logs.lines().filter((l) => l.partnerId === partnerId && String(l.msg).startsWith('sweep found'))
      .length;
  const before = done();
  const code = await runSweepCommand({
    config: pipeline.config(),
    partnerId,
    wait: false,
    timeoutSeconds: 60,
    out: () => undefined,
    err: () => undefined,
  });
  expect(code).toBe(0);
  await waitFor(() => done() > before, `a sweep of ${partnerId}`);
}

describe('ferry retry', () => {
  const config = () => ['--config', pipeline.fixture.dir];

  it('retries with --wait and prints how it ended, recording $USER as who asked', async () => {
    const { id, seeded, partnerFile } = await failOnExistingFile('initech', 'report-2.csv');
    await rm(partnerFile);

    const run = await ferry(
      ['retry', id, '--reason', 'partner removed their file', '--wait', '--timeout', '60', ...config()],
      { ...process.env, USER: 'ops-jane' },
    );
    expect(run.code).toBe(0);
    expect(run.out).toEqual([
      `retry of ${id} queued for initech (failed job moved back to wait)`,
      `delivered: ${id} → ${join(pipeline.fixture.partnerDirs.initech!, 'report-2.csv')}`,
    ]);
    expect(await partnerSha256('initech', 'report-2.csv')).toBe(seeded.sha256);
    const audit = createAuditLog(pipeline.testFerry.redis, createRedisKeys('{ferry}'));
    expect(await audit.forDelivery(id)).toEqual([
      expect.objectContaining({ user: 'ops-jane', action: 'retry', reason: 'partner removed their file' }),
    ]);

    const again = await ferry(['retry', id, '--reason', 'once more', ...config()]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/ferry retry: delivery \S+ is delivered, not failed: redeliver it/);
  });

  it('exits 1 when the retried delivery fails again, naming the error', async () => {
    const { id } = await failOnExistingFile('initech', 'report-3.csv');
    const run = await ferry(['retry', id, '--reason', 'try before the fix', '--wait', ...config()]);
    expect(run.code).toBe(1);
    expect(run.out).toEqual([`retry of ${id} queued for initech (failed job moved back to wait)`]);
    expect(run.err).toMatch(/ferry retry: delivery \S+ failed again: .*ERR_REMOTE_EXISTS/);
  });

  it('leaves a failed delivery whose failed job was removed to the operator: a sweep does not send it, ferry retry does', async () => {
    const queue = pipeline.testFerry.deliverQueue;
    const { id, seeded, partnerFile } = await failOnExistingFile('initech', 'report-4.csv');
    // What removeOnFail does after 30 days.
    await (await queue.getJob(id))!.remove();
    await rm(partnerFile);

    const swept = await pipeline.sweep('initech');
    expect(swept.summary).toMatch(/failed [1-9]/);
    expect(pipeline.lastSweepLog('initech').settled?.failed).toBeGreaterThanOrEqual(1);
    expect(await queue.getJob(id)).toBeUndefined();
    expect(await partnerSha256('initech', 'report-4.csv')).toBeUndefined();
    expect((await pipeline.ledger.get(id))?.status).toBe('failed');

    const run = await ferry(['retry', id, '--reason', 'old export, partner wants it', '--wait', ...config()]);
    expect(run.code).toBe(0);
    expect(run.out).toEqual([
      `retry of ${id} queued for initech (its failed job was gone: added again from the ledger record)`,
      `delivered: ${id} → ${join(pipeline.fixture.partnerDirs.initech!, 'report-4.csv')}`,
    ]);
    expect(await partnerSha256('initech', 'report-4.csv')).toBe(seeded.sha256);
  });

  it('leaves a delivery between attempts (job delayed) to its own retries: not failed, not counted settled', async () => {
    const queue = pipeline.testFerry.deliverQueue;
    await pipeline.put([{ key: 'hooli/a.csv', size: 500 }]);
    const id = await pipeline.deliveryIdOf('hooli', 'hooli/a.csv');
    await sweepWithoutWaiting('hooli');
    const job = await waitFor(
      async () => ((await (await queue.getJob(id))?.getState()) === 'delayed' ? queue.getJob(id) : undefined),
      `job ${id} delayed for its next attempt`,
    );
    expect(job?.attemptsMade).toBe(1);
    expect((await pipeline.ledger.get(id))?.status).not.toBe('failed');

    await sweepWithoutWaiting('hooli');
    expect(pipeline.lastSweepLog('hooli')).toMatchObject({
      enqueued: 1,
      settled: { delivered: 0, quarantined: 0, skipped: 0, superseded: 0, failed: 0 },
    });
    expect(await (await queue.getJob(id))!.getState()).toBe('delayed');
  });

  it('exits 1 for an unknown id and 2 for usage errors', async () => {
    const unknown = await ferry([
      'retry',
      'dlv-acme-00000000000000000000000000000000',
      '--reason',
      'nope',
      ...config(),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/ferry retry: no delivery dlv-acme-0+/);
    for (const [args, problem] of [
      [['retry', '--reason', 'no id'], 'missing <deliveryId>'],
      [['retry', 'dlv-acme-00000000000000000000000000000000'], 'missing --reason TEXT'],
      [['retry', 'dlv-acme-00000000000000000000000000000000', '--reason', 'x'], '--reason must be 3-500'],
      [['retry', 'a', 'b', '--reason', 'two ids'], 'unexpected argument "b"'],
      [
        ['retry', 'dlv-acme-00000000000000000000000000000000', '--reason', 'ok', '--timeout', '0'],
        '--reason must be 3-500 characters, got 2',
      ],
      [
        ['retry', 'dlv-acme-00000000000000000000000000000000', '--reason', 'okay', '--timeout', '0'],
        '--timeout must be a positive number, got "0"',
      ],
    ] as const) {
      const run = await ferry([...args, ...config()]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.err.startsWith(`ferry retry: ${problem}`), run.err).toBe(true);
      expect(run.err).toMatch(/ \(usage: ferry retry <deliveryId> --reason TEXT .*\)\n$/);
    }
  });
});
