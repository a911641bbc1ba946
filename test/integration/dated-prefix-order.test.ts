// Dated prefixes whose partition names do not sort by date (`{date:dd-MM-yyyy}`, `{date:MM}/{date:dd}`),
// on the real pipeline (redis-server, sshd, s3rver), across a month and a year end: the sweeps' clock
// is fixed at noon on 1 January 2027 (the `sweepNow` seam), lookbackDays 3, so 29-12-2026 … 01-01-2027
// are listed, oldest first, while byte order puts 01-01-2027 (01/01) first. Pages of one key, so each
// marker is decided on a page of its own partition, and a partition's marker releases its objects only.
// s3rver stamps LastModified with the real time: every object is weeks "old" to the fixed clock (settled).
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';

const YEAR_END = new Date('2027-01-01T12:00:00Z');

const pipeline = usePartnerPipeline({
  partners: [
    { id: 'dmy', prefix: 'dmy/{date:dd-MM-yyyy}/', lookbackDays: 3, requireMarker: '_SUCCESS' },
    { id: 'md', prefix: 'md/{date:MM}/{date:dd}/', lookbackDays: 3, requireMarker: '_SUCCESS' },
    { id: 'dmy-all', prefix: 'dmy-all/{date:dd-MM-yyyy}/', lookbackDays: 3 },
  ],
  beforeStart: async ({ fixture }) => {
    await appendFile(join(fixture.dir, 'ferry.yaml'), 'sweep: { pageSize: 1 }\n');
    return { sweepNow: () => YEAR_END };
  },
});

/** The partition of each day, in the partner's layout: d28 is outside the lookback. */
const layouts = {
  dmy: {
    d28: 'dmy/28-12-2026/',
    d29: 'dmy/29-12-2026/',
    d30: 'dmy/30-12-2026/',
    d31: 'dmy/31-12-2026/',
    d01: 'dmy/01-01-2027/',
  },
  md: { d28: 'md/12/28/', d29: 'md/12/29/', d30: 'md/12/30/', d31: 'md/12/31/', d01: 'md/01/01/' },
};

const marker = (partition: string) => ({ key: `${partition}_SUCCESS`, body: Buffer.alloc(0) });

describe('a dated prefix whose partitions do not sort by date', () => {
  for (const partnerId of ['dmy', 'md'] as const) {
    it(`${partnerId}: each partition's marker releases its own files only, across the year end`, async () => {
      const { d28, d29, d30, d31, d01 } = layouts[partnerId];
      // Names differ per partition: remote names are relative to the partition.
      await pipeline.put([
        marker(d28),
        { key: `${d28}part-28.csv` },
        { key: `${d29}A-29.csv` }, // "A-…" sorts before "_SUCCESS": the marker is on a later page
        marker(d29),
        { key: `${d30}part-30.csv` },
        marker(d31), // "_SUCCESS" sorts before "part-…": known without a request
        { key: `${d31}part-31.csv` },
        { key: `${d01}A-01.csv` },
        { key: `${d01}part-01.csv` },
      ]);

      const out: string[] = [];
      const plan = { out: (l: string) => out.push(l), err: () => undefined };
      expect(await runPlanCommand({ config: pipeline.config(), partnerId, now: YEAR_END, ...plan })).toBe(0);
      const bucket = pipeline.fixture.bucket;
      expect(out.find((l) => l.startsWith('  lists '))).toMatch(
        `  lists ${[d29, d30, d31, d01].map((p) => `s3://${bucket}/${p}`).join(', ')} (`,
      );

      expect((await pipeline.sweep(partnerId)).code).toBe(0);
      expect(await pipeline.finals(partnerId)).toEqual(['A-29.csv', 'part-31.csv']);
      expect(pipeline.lastSweepLog(partnerId)).toMatchObject({
        listed: 7,
        enqueued: 2,
        skipped: { marker: 2, 'no-marker': 3 },
      });

      // Today's marker (first in byte order) releases today's files, not 30 December's.
      await pipeline.put([marker(d01)]);
      expect((await pipeline.sweep(partnerId)).code).toBe(0);
      expect(await pipeline.finals(partnerId)).toEqual([
        'A-01.csv',
        'A-29.csv',
        'part-01.csv',
        'part-31.csv',
      ]);
      expect(pipeline.lastSweepLog(partnerId)).toMatchObject({ enqueued: 2, skipped: { 'no-marker': 1 } });

      await pipeline.put([marker(d30)]);
      expect((await pipeline.sweep(partnerId)).code).toBe(0);
      expect(await pipeline.finals(partnerId)).toEqual([
        'A-01.csv',
        'A-29.csv',
        'part-01.csv',
        'part-30.csv',
        'part-31.csv',
      ]);

      // 28 December (with its marker) only on a sweep asked to look further back.
      expect((await pipeline.sweep(partnerId, { sinceDays: 30 })).code).toBe(0);
      expect(await pipeline.finals(partnerId)).toEqual([
        'A-01.csv',
        'A-29.csv',
        'part-01.csv',
        'part-28.csv',
        'part-30.csv',
        'part-31.csv',
      ]);
      expect(pipeline.lastSweepLog(partnerId)).toMatchObject({ enqueued: 1 });
    });
  }

  it('without requireMarker, delivers exactly the files of the listed partitions', async () => {
    await pipeline.put([
      { key: 'dmy-all/28-12-2026/part-28.csv' },
      { key: 'dmy-all/29-12-2026/part-29.csv' },
      { key: 'dmy-all/31-12-2026/part-31.csv' },
      { key: 'dmy-all/01-01-2027/part-01.csv' },
      { key: 'dmy-all/02-01-2027/part-02.csv' }, // tomorrow's: not listed yet
    ]);
    expect((await pipeline.sweep('dmy-all')).code).toBe(0);
    expect(await pipeline.finals('dmy-all')).toEqual(['part-01.csv', 'part-29.csv', 'part-31.csv']);
    expect(pipeline.lastSweepLog('dmy-all')).toMatchObject({ listed: 3, enqueued: 3 });
  });
});
