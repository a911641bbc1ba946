// A dated source prefix on the real services: a scheduled sweep lists only today's and lookbackDays
// days' partitions, `ferry sweep --since` reaches further back, names are relative to the partition,
// and intake refuses a key under the static part but in no partition.
import { describe, expect, it } from 'vitest';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { runSweepCommand } from '../../src/commands/sweep-command.js';
import { computeDeliveryId } from '../../src/core/delivery-id.js';
import { addDays, zonedParts } from '../../src/core/zoned-time.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { waitForJobState } from '../support/pipeline.js';

// A zone where it is about noon now, so no midnight falls between the test's dates and the sweeps'.
const offset = 12 - new Date().getUTCHours();
const NOON_ZONE = offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
const today = zonedParts(new Date(), NOON_ZONE).date;
const partition = (daysBack: number) => `initech/exports/${addDays(today, -daysBack)}/`;

const pipeline = usePartnerPipeline({
  partners: [
    {
      id: 'initech',
      prefix: 'initech/exports/{date:yyyy-MM-dd}/',
      lookbackDays: 1,
      timezone: NOON_ZONE,
      include: ['*.csv'],
    },
    { id: 'plain' },
  ],
});

describe('a dated source prefix', () => {
  it("delivers today's and yesterday's partitions under names relative to the partition, and lists nothing older", async () => {
    await pipeline.put([
      { key: `${partition(0)}part-0001.csv` },
      { key: `${partition(1)}part-0002.csv` },
      { key: `${partition(5)}part-0003.csv` },
      { key: 'initech/exports/loose.csv' },
    ]);
    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(await runPlanCommand({ config: pipeline.config(), partnerId: 'initech', ...plan })).toBe(0);
    const bucket = pipeline.fixture.bucket;
    expect(out).toContain(
      `  lists s3://${bucket}/${partition(1)}, s3://${bucket}/${partition(0)} (initech/exports/{date:yyyy-MM-dd}/, lookbackDays 1; older: ferry sweep initech --since 30d)`,
    );
    expect(out.filter((l) => l.startsWith('deliver  ')).map((l) => l.split(' → ')[0])).toEqual([
      `deliver  ${partition(1)}part-0002.csv`,
      `deliver  ${partition(0)}part-0001.csv`,
    ]);
    const swept = await pipeline.sweep('initech');
    expect(swept.code).toBe(0);
    expect(await pipeline.finals('initech')).toEqual(['part-0001.csv', 'part-0002.csv']);
    expect(pipeline.lastSweepLog('initech')).toMatchObject({ listed: 2, enqueued: 2 });
  });

  it('delivers an older partition on a sweep asked to look further back (--since)', async () => {
    const swept = await pipeline.sweep('initech', { sinceDays: 30 });
    expect(swept.code).toBe(0);
    expect(await pipeline.finals('initech')).toEqual(['part-0001.csv', 'part-0002.csv', 'part-0003.csv']);
    // 31 partitions listed; the static part's own loose key is in none of them.
    expect(pipeline.lastSweepLog('initech')).toMatchObject({ listed: 3, enqueued: 1 });
    const receipt = await pipeline.receiptOf(
      'initech',
      await pipeline.deliveryIdOf('initech', `${partition(5)}part-0003.csv`),
    );
    expect(receipt.source.key).toBe(`${partition(5)}part-0003.csv`);
    expect(receipt.target.path).toMatch(/\/part-0003\.csv$/);
  });

  it('refuses at intake a key under the static part but in no partition', async () => {
    const queue = pipeline.testFerry.deliverQueue;
    const identity = {
      partnerId: 'initech',
      bucket: pipeline.fixture.bucket,
      key: 'initech/exports/loose.csv',
      etag: 'abc',
    };
    const id = computeDeliveryId(identity);
    await queue.add('deliver', { v: 1, deliveryId: id, ...identity, size: 10 }, { jobId: id, attempts: 3 });
    const job = await waitForJobState(queue, id, 'failed');
    expect(job.failedReason).toMatch(/ERR_KEY_OUTSIDE_PREFIX/);
    expect(job.attemptsMade).toBe(1);
  });

  it('refuses --since for a partner whose prefix has no {date:…}', async () => {
    const err: string[] = [];
    const code = await runSweepCommand({
      config: pipeline.config(),
      partnerId: 'plain',
      wait: false,
      timeoutSeconds: 10,
      sinceDays: 30,
      out: () => undefined,
      err: (l) => err.push(l),
    });
    expect(code).toBe(2);
    expect(err).toEqual([
      "ferry sweep: --since applies to a dated prefix (source.prefix with {date:…}); plain's sweeps list all of plain/ already",
    ]);
  });
});
