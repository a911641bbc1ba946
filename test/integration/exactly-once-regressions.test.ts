// The exactly-once holes a review reproduced (issue 11, cases 1–5 and 7), each on the real pipeline
// (redis-server, sshd, s3rver): two faults in a particular order. Every partner makes one attempt
// (attempts: 1), so a fault leaves a failed job that the test retries as an operator would in Bull
// Board, and what the partner does in between (takes a file away) happens at a known point.
import { createHash } from 'node:crypto';
import { chown, readFile, readdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempNameFor } from '../../src/core/delivery-id.js';
import { createReceiptStore } from '../../src/adapters/receipt-store.js';
import { createS3Source } from '../../src/adapters/s3-source.js';
import { runJanitorCommand } from '../../src/commands/janitor-command.js';
import { configureFailpoints } from '../../src/failpoints.js';
import { observePartnerDir } from '../support/partner-observer.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { readPartnerDir } from '../support/pipeline.js';

const SIDECARS = 'naming: { checksumFile: sha256, doneFile: "{filename}.done" }';
const pipeline = usePartnerPipeline({
  partners: [
    { id: 'overwrite', onExisting: 'overwrite', attempts: 1 },
    { id: 'failnew', onExisting: 'fail', attempts: 1 },
    { id: 'pickup', onExisting: 'fail', attempts: 1 },
    { id: 'donefile', onExisting: 'fail', attempts: 1, extraYaml: SIDECARS },
    { id: 'direct', publish: 'direct', onExisting: 'fail', attempts: 1 },
    { id: 'versions', onExisting: 'overwrite', attempts: 1 },
    { id: 'leftovers', onExisting: 'fail', attempts: 1 },
  ],
  janitor: 'enabled: true',
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** One sweep with `failpoint` active: the partner's one delivery fails (attempts: 1). */
async function sweepFailingAt(partnerId: string, failpoint: string): Promise<void> {
  configureFailpoints(failpoint);
  try {
    expect((await pipeline.sweep(partnerId)).summary).toMatch(/failed 1$/);
  } finally {
    configureFailpoints(undefined);
  }
}

/** Retries a failed delivery job (Bull Board's retry) and waits for it to complete; returns its result. */
async function retryFailed(partnerId: string, key: string, deliveryId?: string) {
  const id = deliveryId ?? (await pipeline.deliveryIdOf(partnerId, key));
  const job = await pipeline.testFerry.deliverQueue.getJob(id);
  expect(await job!.getState()).toBe('failed');
  await job!.retry('failed');
  await expect.poll(() => job!.getState(), { timeout: 30_000 }).toBe('completed');
  return (await pipeline.testFerry.deliverQueue.getJob(id))!.returnvalue as {
    outcome: string;
    bytes: number;
  };
}

describe('exactly once when two faults meet', () => {
  it('case 1: overwrite over a same-size old file, a transient error after the intent: the retry publishes the new bytes, not "delivered" on size', async () => {
    const dir = pipeline.fixture.partnerDirs.overwrite!;
    const [object] = await pipeline.put([{ key: 'overwrite/daily.csv', size: 4096 }]);
    await writeFile(join(dir, 'daily.csv'), Buffer.alloc(4096, 'y')); // yesterday's, same size
    await sweepFailingAt('overwrite', 'after_intent=throw');
    const id = await pipeline.deliveryIdOf('overwrite', 'overwrite/daily.csv');
    // The verified temp file is kept after the intent: the evidence the retry needs.
    expect((await readPartnerDir(dir)).temps).toEqual([tempNameFor('daily.csv', id)]);

    expect(await retryFailed('overwrite', 'overwrite/daily.csv')).toMatchObject({ outcome: 'delivered' });
    expect(sha256(await readFile(join(dir, 'daily.csv')))).toBe(object!.sha256);
    expect((await pipeline.receiptOf('overwrite', id)).sha256).toBe(object!.sha256);
    expect(await pipeline.finals('overwrite')).toEqual(['daily.csv']);
  });

  it('case 2: onExisting fail, nothing on the partner, a transient error after the intent: the retry delivers (no permanent hold)', async () => {
    const [object] = await pipeline.put([{ key: 'failnew/a.csv', size: 2000 }]);
    await sweepFailingAt('failnew', 'after_intent=throw');
    expect(await retryFailed('failnew', 'failnew/a.csv')).toMatchObject({ outcome: 'delivered', bytes: 0 });
    const dir = pipeline.fixture.partnerDirs.failnew!;
    expect(sha256(await readFile(join(dir, 'a.csv')))).toBe(object!.sha256);
    expect(await pipeline.finals('failnew')).toEqual(['a.csv']);
  });

  it('case 3: the partner takes the file at once and the receipt write fails: the retry concludes it was published', async () => {
    const dir = pipeline.fixture.partnerDirs.pickup!;
    const [object] = await pipeline.put([{ key: 'pickup/b.csv', size: 3000 }]);
    await sweepFailingAt('pickup', 'after_sidecars=throw'); // the receipt write fails
    await rename(join(dir, 'b.csv'), join(dir, '..', 'pickup-taken-b.csv')); // the partner's pickup
    const result = await retryFailed('pickup', 'pickup/b.csv');
    expect(result).toMatchObject({ outcome: 'delivered', bytes: 0 });
    const id = await pipeline.deliveryIdOf('pickup', 'pickup/b.csv');
    expect(await pipeline.ledger.get(id)).toMatchObject({ status: 'delivered', sha256: object!.sha256 });
    expect((await readPartnerDir(dir)).finals.size).toBe(0); // nothing sent twice
  });

  it('case 5: the partner consumes the done file at once and the receipt write fails: the done file is never written again', async () => {
    const dir = pipeline.fixture.partnerDirs.donefile!;
    await pipeline.put([{ key: 'donefile/c.csv', size: 1000 }]);
    const observer = await observePartnerDir(dir);
    try {
      await sweepFailingAt('donefile', 'after_sidecars=throw'); // the receipt write fails
      await rename(join(dir, 'c.csv.done'), join(dir, '..', 'donefile-taken.done'));
      expect(await retryFailed('donefile', 'donefile/c.csv')).toMatchObject({ outcome: 'delivered' });
      await observer.sync();
      const doneAppeared = observer
        .events()
        .filter((e) => e.name === 'c.csv.done' && (e.event === 'MOVED_TO' || e.event === 'CREATE'));
      expect(doneAppeared).toHaveLength(1);
      expect(await pipeline.finals('donefile')).toEqual(['c.csv', 'c.csv.sha256']);
    } finally {
      await observer.stop();
    }
  });

  it("case 7: publish: direct, a fragment left by a dead attempt, the object re-exported: the old version is superseded and the new one replaces Ferry's fragment whatever onExisting says", async () => {
    const dir = pipeline.fixture.partnerDirs.direct!;
    await pipeline.put([{ key: 'direct/d.csv', size: 8000 }]);
    const v1 = await pipeline.deliveryIdOf('direct', 'direct/d.csv');
    // Dies after the bytes were written in place, before they were verified: nothing cleans up.
    await sweepFailingAt('direct', 'after_temp_upload=crash');
    expect((await readPartnerDir(dir)).finals.has('d.csv')).toBe(true);

    const [v2] = await pipeline.put([{ key: 'direct/d.csv', size: 5000 }]);
    expect(await retryFailed('direct', 'direct/d.csv', v1)).toMatchObject({ outcome: 'superseded' });
    expect(await pipeline.ledger.get(v1)).toMatchObject({ status: 'superseded' });
    expect((await pipeline.sweep('direct')).summary).toMatch(/^delivered 1/);
    expect(sha256(await readFile(join(dir, 'd.csv')))).toBe(v2!.sha256);
  });

  it('case 4: v1 stopped after its intent, the key re-exported as v2: v1 is superseded, never renamed over v2, and the partner ends with v2', async () => {
    const dir = pipeline.fixture.partnerDirs.versions!;
    await pipeline.put([{ key: 'versions/e.csv', size: 6000 }]);
    const v1 = await pipeline.deliveryIdOf('versions', 'versions/e.csv');
    await sweepFailingAt('versions', 'after_intent=crash');
    const [v2] = await pipeline.put([{ key: 'versions/e.csv', size: 7000 }]);
    const observer = await observePartnerDir(dir);
    try {
      expect(await retryFailed('versions', 'versions/e.csv', v1)).toMatchObject({ outcome: 'superseded' });
      expect((await pipeline.sweep('versions')).summary).toMatch(/^delivered 1/);
      await observer.sync();
      const published = observer
        .events()
        .filter((e) => e.name === 'e.csv' && (e.event === 'MOVED_TO' || e.event === 'CREATE'));
      expect(published).toHaveLength(1); // v2 only
    } finally {
      await observer.stop();
    }
    expect(sha256(await readFile(join(dir, 'e.csv')))).toBe(v2!.sha256);
    expect(await pipeline.finals('versions')).toEqual(['e.csv']);
    expect(await pipeline.ledger.get(v1)).toMatchObject({ status: 'superseded' });
    // Its witness in S3, beside the receipts (never taken for a delivery receipt by a ledger rebuild).
    const receipts = createReceiptStore(createS3Source(pipeline.testFerry.s3), {
      bucket: pipeline.fixture.receiptsBucket,
      prefix: 'ferry/receipts/',
    });
    expect(await receipts.readSuperseded('versions', v1)).toMatchObject({
      outcome: 'superseded',
      supersededBy: 'source-replaced',
      target: { path: expect.stringMatching(/\/e\.csv$/) },
    });
    expect(await receipts.read('versions', v1)).toBeUndefined();
  });

  it("case 10: the janitor removes Ferry's orphans, never a failed delivery's evidence nor an intent recorded before temps were registered", async () => {
    const dir = pipeline.fixture.partnerDirs.leftovers!;
    const hoursAgo = async (name: string, hours: number) => {
      const at = Date.now() / 1000 - hours * 3600;
      await utimes(join(dir, name), at, at);
    };
    // An intent recorded by a version that did not register temps (no phase, no registration),
    // before the janitor's first pass for the partner (the sweep below runs it).
    const legacyId = 'dlv-leftovers-0123456789abcdef0123456789abcdef';
    const legacy = tempNameFor('legacy.csv', legacyId);
    await pipeline.ledger.record({
      deliveryId: legacyId,
      partnerId: 'leftovers',
      bucket: pipeline.fixture.bucket,
      key: 'leftovers/legacy.csv',
      etag: 'e',
      status: 'failed',
      size: 3,
      sha256: 'a'.repeat(64),
      remotePath: join(pipeline.config().partners.get('leftovers')!.target.directory, 'legacy.csv'),
    });
    // A delivery that failed for good after its intent: its verified temp file is evidence.
    await pipeline.put([{ key: 'leftovers/kept.csv', size: 1500 }]);
    await sweepFailingAt('leftovers', 'after_intent=throw');
    const kept = tempNameFor('kept.csv', await pipeline.deliveryIdOf('leftovers', 'leftovers/kept.csv'));
    // An attempt that will never resume, and the aside a crash left in a non-atomic overwrite.
    const orphan = tempNameFor('gone.csv', 'dlv-leftovers-ffffffffffffffffffffffffffffffff');
    const aside = orphan.replace(/\.part$/, '.old');
    const owner = await stat(dir);
    for (const name of [legacy, orphan, aside]) {
      await writeFile(join(dir, name), 'abc');
      await chown(join(dir, name), owner.uid, owner.gid);
    }
    for (const name of [kept, legacy, orphan, aside]) await hoursAgo(name, 3);

    const out: string[] = [];
    const code = await runJanitorCommand({
      config: pipeline.config(),
      partnerId: 'leftovers',
      dryRun: false,
      env: process.env,
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      logger: pipeline.logs.logger,
    });
    expect(code, out.join('\n')).toBe(0);
    expect((await readdir(dir)).sort()).toEqual([kept, legacy].sort());
    // The evidence still works: the operator's retry publishes the kept temp file without sending again.
    expect(await retryFailed('leftovers', 'leftovers/kept.csv')).toMatchObject({
      outcome: 'delivered',
      bytes: 0,
    });
  });
});
