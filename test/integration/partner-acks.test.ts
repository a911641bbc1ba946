// ack on the real pipeline (redis-server, sshd, s3rver): the partner's system drops answers into its
// ack directory on the same SFTP server (the test writes them there, as the partner would); each sweep
// reads them once, records accept / reject on the delivery (ledger, answer receipt), removes them,
// keeps and shows answers that match nothing, and reports deliveries left unanswered past ack.within.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { appendFile, chown, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createAckIndex } from '../../src/ledger/ack-index.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { JOB, QUEUE } from '../../src/queues/names.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';

let offsetMs = 0;
let acks = '';
let archived = '';

const pipeline = usePartnerPipeline({
  partners: [{ id: 'answers' }, { id: 'archived' }, { id: 'plain' }],
  beforeStart: async ({ services, fixture }) => {
    const dir = fixture.partnerDirs.answers!;
    acks = join(dir, 'acks');
    await mkdir(acks);
    const owner = await stat(services.sshd.inbound);
    await chown(acks, owner.uid, owner.gid);
    await appendFile(
      join(fixture.dir, 'partners', 'answers.yaml'),
      `ack: { directory: "${acks}", within: 1h }\n`,
    );
    archived = join(fixture.partnerDirs.archived!, 'answers');
    for (const d of [archived, join(archived, 'processed')]) {
      await mkdir(d);
      await chown(d, owner.uid, owner.gid);
    }
    await appendFile(
      join(fixture.dir, 'partners', 'archived.yaml'),
      `ack: { directory: "${archived}", accept: "{filename}.ok", reject: "ERR_{filename}", archive: processed/ }\n`,
    );
    // The clock of deliveries and answers: moved forward to make a wait overdue.
    return { now: () => new Date(Date.now() + offsetMs) };
  },
});

const ackIndex = () => createAckIndex(pipeline.testFerry.redis, createRedisKeys('{ferry}'));

async function deliver(name: string): Promise<string> {
  await pipeline.put([{ key: `answers/${name}`, body: Buffer.from('order_id,amount\n1,2\n') }]);
  expect((await pipeline.sweep('answers')).summary).toMatch(/^delivered 1,/);
  const id = await pipeline.deliveryIdOf('answers', `answers/${name}`);
  expect(await pipeline.ledger.get(id)).toMatchObject({ status: 'delivered', ack: 'pending' });
  return id;
}

/** The partner's system writes an answer file. */
async function answer(name: string, text = ''): Promise<void> {
  await writeFile(join(acks, name), text);
}

async function ackReceipt(id: string): Promise<Record<string, unknown>> {
  const out = await pipeline.testFerry.s3.send(
    new GetObjectCommand({
      Bucket: pipeline.fixture.receiptsBucket,
      Key: `ferry/receipts/answers/${id}.ack.json`,
    }),
  );
  return JSON.parse(await out.Body!.transformToString()) as Record<string, unknown>;
}

describe('ack', () => {
  it('reads the answers every ack.pollEveryMinutes too, without listing the source', async () => {
    const sweeps = new Queue(QUEUE.sweep, { connection: pipeline.testFerry.redis, prefix: '{ferry}' });
    try {
      // The scheduler: every 15 min (the default) beside the partner's cron sweep; none for a partner without ack.
      const schedulers = await sweeps.getJobSchedulers(0, -1);
      expect(schedulers.find((s) => s.key === 'acks-answers')).toMatchObject({
        every: 15 * 60_000,
        template: { data: { partnerId: 'answers', reason: 'acks' } },
      });
      expect(schedulers.some((s) => s.key === 'acks-plain')).toBe(false);

      const id = await deliver('e.csv');
      await answer('e.csv.ack');
      const listedBefore = pipeline.lastSweepLog('answers');
      const job = await sweeps.add(JOB.sweep, { v: 1, partnerId: 'answers', reason: 'acks' });
      await expect.poll(() => job.getState(), { timeout: 30_000 }).toBe('completed');
      expect(await pipeline.ledger.get(id)).toMatchObject({ ack: 'acknowledged', ackFile: 'e.csv.ack' });
      expect(pipeline.lastSweepLog('answers')).toEqual(listedBefore); // no listing sweep ran
    } finally {
      await sweeps.close();
    }
  });

  it("matches the partner's own answer names and moves each answer into the archive folder", async () => {
    await pipeline.put([{ key: 'archived/d.csv', body: Buffer.from('x\n') }]);
    expect((await pipeline.sweep('archived')).summary).toMatch(/^delivered 1,/);
    const id = await pipeline.deliveryIdOf('archived', 'archived/d.csv');
    await writeFile(join(archived, 'ERR_d.csv'), 'duplicate file');
    await pipeline.sweep('archived');
    expect(await pipeline.ledger.get(id)).toMatchObject({ ack: 'rejected', ackReason: 'duplicate file' });
    expect(await readdir(archived)).toEqual(['processed']);
    expect(await readdir(join(archived, 'processed'))).toEqual(['ERR_d.csv']);
  });

  it('records an accept answer on the delivery and in its answer receipt, then removes the answer file', async () => {
    const id = await deliver('a.csv');
    await answer('a.csv.ack');
    await pipeline.sweep('answers');
    expect(await pipeline.ledger.get(id)).toMatchObject({
      status: 'delivered',
      ack: 'acknowledged',
      ackFile: 'a.csv.ack',
      ackAt: expect.any(String),
    });
    expect(await ackReceipt(id)).toMatchObject({
      kind: 'ack',
      deliveryId: id,
      result: 'acknowledged',
      answerPath: join(acks, 'a.csv.ack'),
      remotePath: join(pipeline.fixture.partnerDirs.answers!, 'a.csv'),
    });
    // The delivery receipt itself is not rewritten.
    expect((await pipeline.receiptOf('answers', id)).deliveryId).toBe(id);
    expect(await readdir(acks)).toEqual([]);
  });

  it('records a reject with its text as the reason, alerts, and keeps an answer that matches nothing', async () => {
    const id = await deliver('b.csv');
    await answer('b.csv.nack', 'line 2: column Amount missing\n');
    await answer('nobody.csv.ack');
    await pipeline.sweep('answers');
    expect(await pipeline.ledger.get(id)).toMatchObject({
      ack: 'rejected',
      ackFile: 'b.csv.nack',
      ackReason: 'line 2: column Amount missing',
    });
    expect(await ackReceipt(id)).toMatchObject({
      result: 'rejected',
      reason: 'line 2: column Amount missing',
    });
    const alerts = pipeline.logs.lines().filter((l) => l.alert === true && l.trackingId === id);
    expect(alerts.map((l) => l.msg)).toEqual(['the partner rejected a delivered file']);
    expect(await readdir(acks)).toEqual(['nobody.csv.ack']);
    expect(await ackIndex().unmatched('answers')).toEqual([
      { name: 'nobody.csv.ack', size: 0, firstSeenAt: expect.any(String) },
    ]);
  });

  it('reports a delivery without an answer after ack.within overdue once; a late answer is still recorded', async () => {
    const id = await deliver('c.csv');
    offsetMs = 2 * 3_600_000;
    try {
      await pipeline.sweep('answers');
      expect(await pipeline.ledger.get(id)).toMatchObject({ ack: 'overdue' });
      await pipeline.sweep('answers'); // once: no second alert
      const overdue = pipeline.logs
        .lines()
        .filter(
          (l) =>
            l.alert === true &&
            l.trackingId === id &&
            l.msg === 'no answer from the partner within ack.within',
        );
      expect(overdue).toHaveLength(1);

      await answer('c.csv.ack');
      await pipeline.sweep('answers');
      expect(await pipeline.ledger.get(id)).toMatchObject({ ack: 'acknowledged', ackFile: 'c.csv.ack' });
    } finally {
      offsetMs = 0;
    }
  });
});
