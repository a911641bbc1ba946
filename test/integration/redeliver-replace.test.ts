// `ferry redeliver --replace` and `replace: true` in the redeliver API (issue 12) on the real pipeline
// (redis-server, sshd, s3rver): without it an onExisting: fail partner that still has the file fails the
// redelivery as before; with it that one redelivery replaces the partner's file, and the audit says so.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuditLog } from '../../src/ledger/audit-log.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { readPartnerDir, waitForJobState, type SeededObject } from '../support/pipeline.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';

const OPERATOR = { user: 'admin', password: 'replace-operator-canary-3f8a' };
const PARTNER_COPY = 'the partner’s edited copy\n';

const pipeline = usePartnerPipeline({
  adminPassword: OPERATOR.password,
  partners: [
    { id: 'acme', onExisting: 'fail' },
    { id: 'umbrella', onExisting: 'skip' },
    { id: 'hooli', onExisting: 'fail', publish: 'direct' },
  ],
});

afterEach(() => {
  vi.restoreAllMocks();
});

interface Body {
  error?: string;
  jobId?: string;
  deliveryId?: string;
  status?: string;
  lastErrorCode?: string;
  redelivery?: { replace?: boolean };
}

async function redeliver(id: string, json: Record<string, unknown>): Promise<{ status: number; body: Body }> {
  const res = await fetch(
    `http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}/api/deliveries/${encodeURIComponent(id)}/redeliver`,
    {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(json),
    },
  );
  return { status: res.status, body: (await res.json()) as Body };
}

/** Delivers `<partner>/<name>`, then the partner edits its copy (so a replace is visible). */
async function delivered(
  partnerId: string,
  name: string,
): Promise<{ id: string; seeded: SeededObject; partnerFile: string }> {
  const [seeded] = await pipeline.put([{ key: `${partnerId}/${name}`, size: 1400 }]);
  expect((await pipeline.sweep(partnerId)).code).toBe(0);
  const id = await pipeline.deliveryIdOf(partnerId, `${partnerId}/${name}`);
  await waitForJobState(pipeline.testFerry.deliverQueue, id, 'completed');
  const partnerFile = join(pipeline.fixture.partnerDirs[partnerId]!, name);
  await writeFile(partnerFile, PARTNER_COPY);
  return { id, seeded: seeded!, partnerFile };
}

async function partnerFileOf(partnerId: string, name: string) {
  return (await readPartnerDir(pipeline.fixture.partnerDirs[partnerId]!)).finals.get(name);
}

const auditOf = (id: string) =>
  createAuditLog(pipeline.testFerry.redis, createRedisKeys('{ferry}')).forDelivery(id);

describe('POST /api/deliveries/:id/redeliver with replace', () => {
  it('fails with ERR_REMOTE_EXISTS without replace, and replaces the partner’s file with it', async () => {
    const { id, seeded } = await delivered('acme', 'orders-1.csv');
    const before = (await partnerFileOf('acme', 'orders-1.csv'))!;

    const plain = await redeliver(id, { reason: 'partner lost it' });
    expect(plain.status).toBe(202);
    const failed = await waitForJobState(pipeline.testFerry.deliverQueue, `${id}-r1`, 'failed');
    expect(failed.failedReason).toMatch(/ERR_REMOTE_EXISTS/);
    expect(await partnerFileOf('acme', 'orders-1.csv')).toMatchObject({
      sha256: before.sha256,
      ino: before.ino,
    });

    const replacing = await redeliver(id, { reason: 'partner asked for a clean copy', replace: true });
    expect(replacing).toEqual({ status: 202, body: { jobId: `${id}-r2`, deliveryId: `${id}-r2` } });
    const job = await waitForJobState(pipeline.testFerry.deliverQueue, `${id}-r2`, 'completed');
    expect(job.data).toMatchObject({ redelivery: 2, replace: true });
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', deliveryId: `${id}-r2` });
    const after = (await partnerFileOf('acme', 'orders-1.csv'))!;
    expect(after.sha256).toBe(seeded.sha256);
    expect(after.ino).not.toBe(before.ino); // renamed into place, not written over
    expect((await readPartnerDir(pipeline.fixture.partnerDirs.acme!)).temps).toEqual([]);

    const trail = await auditOf(id);
    expect(trail).toEqual([
      expect.objectContaining({ action: 'redeliver', deliveryId: `${id}-r1`, reason: 'partner lost it' }),
      expect.objectContaining({ action: 'redeliver', deliveryId: `${id}-r2`, replace: true }),
    ]);
    expect(trail[0]).not.toHaveProperty('replace');
    expect(
      pipeline.logs
        .lines()
        .some(
          (l) =>
            l.audit === true && l.action === 'redeliver' && l.replace === true && l.trackingId === `${id}-r2`,
        ),
    ).toBe(true);
  });

  it('replaces the file of an onExisting: skip partner, which a plain redelivery skips', async () => {
    const { id, seeded } = await delivered('umbrella', 'stock-1.csv');
    expect((await redeliver(id, { reason: 'plain resend' })).status).toBe(202);
    const skipped = await waitForJobState(pipeline.testFerry.deliverQueue, `${id}-r1`, 'completed');
    expect(skipped.returnvalue).toMatchObject({ outcome: 'skipped' });

    expect((await redeliver(id, { reason: 'replace it', replace: true })).status).toBe(202);
    const job = await waitForJobState(pipeline.testFerry.deliverQueue, `${id}-r2`, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered' });
    expect((await partnerFileOf('umbrella', 'stock-1.csv'))?.sha256).toBe(seeded.sha256);
  });

  it('refuses replace for a publish: direct partner (409), and a replace that is not a boolean (400)', async () => {
    const { id } = await delivered('hooli', 'ledger-1.csv');
    const direct = await redeliver(id, { reason: 'replace it', replace: true });
    expect(direct.status).toBe(409);
    expect(direct.body.error).toMatch(/publish: direct/);
    const wrong = await redeliver(id, { reason: 'replace it', replace: 'yes' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatch(/replace/);
    expect(await pipeline.testFerry.deliverQueue.getJob(`${id}-r1`)).toBeUndefined();
    expect(await auditOf(id)).toEqual([]);
  });

  it('refuses a redelivery job edited to carry replace that its request did not ask for', async () => {
    const { id, partnerFile } = await delivered('acme', 'orders-2.csv');
    const asked = await redeliver(id, { reason: 'plain resend' });
    expect(asked.status).toBe(202);
    const queue = pipeline.testFerry.deliverQueue;
    await waitForJobState(queue, `${id}-r1`, 'failed');
    const job = (await queue.getJob(`${id}-r1`))!;
    await job.updateData({ ...(job.data as object), replace: true });
    await job.retry('failed');
    const again = await waitForJobState(queue, `${id}-r1`, 'failed');
    expect(again.failedReason).toMatch(/ERR_PAYLOAD_INVALID/);
    expect(await readFile(partnerFile, 'utf8')).toBe(PARTNER_COPY);
  });
});

describe('ferry redeliver --replace', () => {
  const config = () => ['--config', pipeline.fixture.dir];

  it('replaces the partner’s file and records replace in the audit trail', async () => {
    const { id, seeded } = await delivered('acme', 'orders-3.csv');
    const before = (await partnerFileOf('acme', 'orders-3.csv'))!;
    const run = await ferry(
      [
        'redeliver',
        'acme',
        'acme/orders-3.csv',
        '--reason',
        'partner wants it again',
        '--replace',
        ...config(),
      ],
      { ...process.env, USER: 'ops-jane' },
    );
    expect(run.code).toBe(0);
    expect(run.out).toEqual([
      `redelivery ${id}-r1 queued for acme: acme/orders-3.csv (of ${id}), replacing the partner's file`,
    ]);
    expect(run.err).not.toMatch(/note:/);
    const job = await waitForJobState(pipeline.testFerry.deliverQueue, `${id}-r1`, 'completed');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered' });
    const after = (await partnerFileOf('acme', 'orders-3.csv'))!;
    expect(after.sha256).toBe(seeded.sha256);
    expect(after.ino).not.toBe(before.ino);
    expect(await auditOf(id)).toEqual([
      expect.objectContaining({ user: 'ops-jane', action: 'redeliver', replace: true }),
    ]);
    const shown = await ferry(['deliveries', 'show', id, ...config()]);
    expect(shown.out.join('\n')).toMatch(/ops-jane {2}redeliver --replace {2}partner wants it again/);
  });

  it('without --replace notes that the partner’s file makes it fail, and it does', async () => {
    const { id } = await delivered('acme', 'orders-4.csv');
    const run = await ferry([
      'redeliver',
      'acme',
      'acme/orders-4.csv',
      '--reason',
      'plain resend',
      ...config(),
    ]);
    expect(run.code).toBe(0);
    expect(run.err).toMatch(/fails with ERR_REMOTE_EXISTS \(--replace replaces it\)/);
    const job = await waitForJobState(pipeline.testFerry.deliverQueue, `${id}-r1`, 'failed');
    expect(job.failedReason).toMatch(/ERR_REMOTE_EXISTS/);
    expect((await auditOf(id))[0]).not.toHaveProperty('replace');
  });

  it('exits 1 for --replace on a publish: direct partner, queueing nothing', async () => {
    const { id } = await delivered('hooli', 'ledger-2.csv');
    const run = await ferry([
      'redeliver',
      'hooli',
      'hooli/ledger-2.csv',
      '--reason',
      'replace it',
      '--replace',
      ...config(),
    ]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/ferry redeliver: partner hooli has publish: direct/);
    expect(await pipeline.testFerry.deliverQueue.getJob(`${id}-r1`)).toBeUndefined();
  });
});

const ferry = runFerryInProcess;
