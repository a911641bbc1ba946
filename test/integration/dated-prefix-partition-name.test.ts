// naming.filename's {partition:…} on the real pipeline (redis-server, sshd, s3rver): a warehouse that
// writes the same file name into every daily partition (Snowflake's data_0_0_0.csv.gz) gets one remote
// name per partition, taken from the partition's date in the key (not the LastModified, which is
// today for both). The sweeps' clock is fixed at noon on 1 January 2027 (the `sweepNow` seam),
// lookbackDays 1, so 2026-12-31/ and 2027-01-01/ are listed: the names cross a year end. A partner
// with key-derived names shows the collision the token avoids (onExisting: fail).
import { describe, expect, it } from 'vitest';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';

const YEAR_END = new Date('2027-01-01T12:00:00Z');

const pipeline = usePartnerPipeline({
  partners: [
    {
      id: 'initech',
      prefix: 'initech/exports/{date:yyyy-MM-dd}/',
      lookbackDays: 1,
      extraYaml: 'naming: { filename: "INITECH_{partition:yyyyMMdd}_{name}{ext}" }',
    },
    { id: 'samename', prefix: 'samename/{date:yyyy-MM-dd}/', lookbackDays: 1 },
    {
      id: 'templated',
      prefix: 'templated/{date:yyyy-MM-dd}/',
      lookbackDays: 1,
      extraYaml: 'naming: { filename: "T_{name}{ext}" }',
    },
  ],
  beforeStart: () => Promise.resolve({ sweepNow: () => YEAR_END }),
});

describe('{partition:…} in naming.filename', () => {
  it('delivers data_0.csv of two partitions under two names, each dated by its partition', async () => {
    await pipeline.put([
      { key: 'initech/exports/2026-12-31/data_0.csv' },
      { key: 'initech/exports/2027-01-01/data_0.csv' },
    ]);
    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(
      await runPlanCommand({ config: pipeline.config(), partnerId: 'initech', now: YEAR_END, ...plan }),
    ).toBe(0);
    expect(out.filter((l) => l.startsWith('deliver  '))).toEqual([
      expect.stringMatching(
        /^deliver {2}initech\/exports\/2026-12-31\/data_0\.csv → .*\/INITECH_20261231_data_0\.csv$/,
      ),
      expect.stringMatching(
        /^deliver {2}initech\/exports\/2027-01-01\/data_0\.csv → .*\/INITECH_20270101_data_0\.csv$/,
      ),
    ]);

    expect((await pipeline.sweep('initech')).code).toBe(0);
    expect(await pipeline.finals('initech')).toEqual([
      'INITECH_20261231_data_0.csv',
      'INITECH_20270101_data_0.csv',
    ]);
    const receipt = await pipeline.receiptOf(
      'initech',
      await pipeline.deliveryIdOf('initech', 'initech/exports/2026-12-31/data_0.csv'),
    );
    expect(receipt.target.path).toMatch(/\/INITECH_20261231_data_0\.csv$/);
  });

  it("without it, the second partition's data_0.csv finds the first one's name taken (ERR_REMOTE_EXISTS)", async () => {
    await pipeline.put([
      { key: 'samename/2026-12-31/data_0.csv' },
      { key: 'samename/2027-01-01/data_0.csv' },
    ]);
    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(
      await runPlanCommand({ config: pipeline.config(), partnerId: 'samename', now: YEAR_END, ...plan }),
    ).toBe(0);
    expect(out.filter((l) => l.startsWith('deliver  '))).toEqual([
      expect.stringMatching(/^deliver {2}samename\/2026-12-31\/data_0\.csv → \S+\/data_0\.csv$/),
      expect.stringMatching(
        /^deliver {2}samename\/2027-01-01\/data_0\.csv → \S+\/data_0\.csv {2}\(same remote name as samename\/2026-12-31\/data_0\.csv: the later one fails with ERR_REMOTE_EXISTS \(target\.onExisting: fail\); names repeating across partitions are told apart by \{partition:…\} in naming\.filename\)$/,
      ),
    ]);

    expect((await pipeline.sweep('samename')).code).not.toBe(0);
    expect(await pipeline.finals('samename')).toEqual(['data_0.csv']);
    const records = await Promise.all(
      ['samename/2026-12-31/data_0.csv', 'samename/2027-01-01/data_0.csv'].map(async (key) =>
        pipeline.ledger.get(await pipeline.deliveryIdOf('samename', key)),
      ),
    );
    expect(records.map((r) => r?.status).sort()).toEqual(['delivered', 'failed']);
    expect(records.find((r) => r?.status === 'failed')?.lastErrorCode).toBe('ERR_REMOTE_EXISTS');
  });

  it('with a template that leaves it out, plan and sweep leave the second one out as name-collision', async () => {
    await pipeline.put([
      { key: 'templated/2026-12-31/data_0.csv' },
      { key: 'templated/2027-01-01/data_0.csv' },
    ]);
    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(
      await runPlanCommand({ config: pipeline.config(), partnerId: 'templated', now: YEAR_END, ...plan }),
    ).toBe(0);
    expect(out).toContain(
      'skip     templated/2027-01-01/data_0.csv  (name collision: same remote name as templated/2026-12-31/data_0.csv; names repeating across partitions are told apart by {partition:…} in naming.filename)',
    );
    await pipeline.sweep('templated');
    expect(await pipeline.finals('templated')).toEqual(['T_data_0.csv']);
    expect(pipeline.lastSweepLog('templated')).toMatchObject({ skipped: { 'name-collision': 1 } });
  });
});
