// naming.filename on the real pipeline (redis-server, sshd, s3rver): the partner receives the
// templated name (date = the object's LastModified in the schedule timezone), a second sweep and a
// retried job add no second file, two objects rendering to one name deliver only the first one
// listed (`name-collision`), and `ferry plan` shows the templated remote path. `{seq}`: numbers per
// day, kept by a retry after a crash and by a redelivery; the transform suffix counts toward the
// 255-byte limit; a redelivery carries the object's LastModified for `{date}`.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createS3Source } from '../../src/adapters/s3-source.js';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { runRedeliverCommand } from '../../src/commands/redeliver-command.js';
import { configureFailpoints } from '../../src/failpoints.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { jobsOfPartner, readPartnerDir, sweepAndWait, waitForJobState } from '../support/pipeline.js';

const TIMEZONE = 'America/New_York';

const pipeline = usePartnerPipeline({
  partners: [
    {
      id: 'acme',
      timezone: TIMEZONE,
      include: ['**'],
      extraYaml: 'naming: { filename: "ACME_{date:yyyyMMdd}_{name}{ext}" }',
    },
    {
      id: 'seq',
      timezone: TIMEZONE,
      extraYaml: 'naming: { filename: "ACME_{date:yyyyMMdd}_{seq:3}.csv" }',
    },
    {
      id: 'gz',
      // 245 + "_" + "abc.csv" = 253 bytes; 256 with ".gz". (A long key would not do: s3rver keeps
      // each object in a file named after its key, and the file system refuses such a name.)
      extraYaml: `naming: { filename: "${'x'.repeat(245)}_{name}{ext}" }\ntransform: { compress: gzip }`,
    },
  ],
});
const { deliveryIdOf } = pipeline;
const finals = (partnerId = 'acme') => pipeline.finals(partnerId);

async function headOf(key: string) {
  return pipeline.testFerry.s3.send(new HeadObjectCommand({ Bucket: pipeline.fixture.bucket, Key: key }));
}

/** yyyyMMdd of the object's LastModified in the partner's timezone ("en-CA" prints yyyy-MM-dd). */
async function dateOf(key: string): Promise<string> {
  const head = await headOf(key);
  return head.LastModified!.toLocaleDateString('en-CA', { timeZone: TIMEZONE }).replaceAll('-', '');
}

/** `ferry redeliver` in-process; resolves with the redelivery's completed job. */
async function redeliver(partnerId: string, key: string) {
  const errors: string[] = [];
  const code = await runRedeliverCommand({
    config: pipeline.config(),
    partnerId,
    key,
    reason: 'partner lost the file, ticket OPS-7',
    by: 'ops',
    out: () => undefined,
    err: (l) => errors.push(l),
    audit: pipeline.logs.logger,
  });
  expect(code, errors.join('\n')).toBe(0);
  return waitForJobState(
    pipeline.testFerry.deliverQueue,
    `${await deliveryIdOf(partnerId, key)}-r1`,
    'completed',
  );
}

describe('naming.filename', () => {
  it('delivers under the templated name once, across sweeps and a retried job', async () => {
    const config = pipeline.config();
    await pipeline.put([{ key: 'acme/orders.csv', size: 300 }]);
    const expected = `ACME_${await dateOf('acme/orders.csv')}_orders.csv`;

    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(await runPlanCommand({ config, partnerId: 'acme', ...plan })).toBe(0);
    expect(out.some((l) => l.startsWith('deliver  acme/orders.csv → ') && l.endsWith(`/${expected}`))).toBe(
      true,
    );

    expect((await sweepAndWait(config, 'acme')).summary).toMatch(/^delivered 1,/);
    expect(await finals()).toEqual([expected]);
    const [job] = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'acme');
    expect(job?.data).toMatchObject({ key: 'acme/orders.csv', lastModified: expect.any(String) });

    // A second sweep finds it delivered; an operator's retry of the completed job sends nothing.
    expect((await sweepAndWait(config, 'acme')).summary).toMatch(/^delivered 0, already delivered 1,/);
    await job!.retry('completed');
    await expect.poll(() => job!.getState()).toBe('completed');
    expect(await finals()).toEqual([expected]);
  });

  it('delivers only the first of two objects that render to one name (name-collision)', async () => {
    const config = pipeline.config();
    await pipeline.put([
      { key: 'acme/east/totals.csv', size: 100 },
      { key: 'acme/west/totals.csv', size: 100 },
    ]);
    const name = `ACME_${await dateOf('acme/east/totals.csv')}_totals.csv`;
    expect(await dateOf('acme/west/totals.csv')).toBe(name.slice(5, 13)); // same day: same name
    await sweepAndWait(config, 'acme');
    expect(await finals()).toContain(name);
    const collision = pipeline.logs.lines().find((l) => l.msg?.toString().startsWith('name-collision'));
    expect(collision).toMatchObject({
      key: 'acme/west/totals.csv',
      firstKey: 'acme/east/totals.csv',
      alert: true,
    });

    // Later sweeps keep holding it back: the delivered object keeps the name.
    await sweepAndWait(config, 'acme');
    const collisions = pipeline.logs.lines().filter((l) => l.msg?.toString().startsWith('name-collision'));
    expect(collisions).toHaveLength(2);
    expect((await finals()).filter((f) => f.includes('totals'))).toEqual([name]);
  });
});

describe('naming.filename {seq}', () => {
  const config = () => pipeline.config();

  it('numbers three files of one day 001-003 in one sweep, shown as ### by ferry plan', async () => {
    const keys = ['seq/a.csv', 'seq/b.csv', 'seq/c.csv'];
    await pipeline.put(keys.map((key) => ({ key, size: 200 })));
    const day = await dateOf(keys[0]!);
    for (const key of keys) expect(await dateOf(key)).toBe(day); // one day: one counter

    const out: string[] = [];
    expect(
      await runPlanCommand({
        config: config(),
        partnerId: 'seq',
        out: (l) => out.push(l),
        err: () => undefined,
      }),
    ).toBe(0);
    expect(out).toContain(
      `deliver  seq/a.csv → ${pipeline.fixture.partnerDirs.seq}/ACME_${day}_###.csv  (number given at delivery)`,
    );

    expect((await sweepAndWait(config(), 'seq')).summary).toMatch(/^delivered 3,/);
    expect(await finals('seq')).toEqual([
      `ACME_${day}_001.csv`,
      `ACME_${day}_002.csv`,
      `ACME_${day}_003.csv`,
    ]);
    // Which file got which number is delivery order; each has one, and the bytes match.
    const { finals: files } = await readPartnerDir(pipeline.fixture.partnerDirs.seq!);
    const ledger = pipeline.ledger;
    const paths = await Promise.all(
      keys.map(async (k) => (await ledger.get(await deliveryIdOf('seq', k)))?.remotePath),
    );
    expect(new Set(paths).size).toBe(3);
    expect(files.size).toBe(3);

    expect((await sweepAndWait(config(), 'seq')).summary).toMatch(/^delivered 0, already delivered 3,/);
    expect(await finals('seq')).toHaveLength(3);
  });

  it('keeps its number when the delivery is retried after a crash at the rename', async () => {
    await pipeline.put([{ key: 'seq/d.csv', size: 300 }]);
    const day = await dateOf('seq/d.csv');
    configureFailpoints('after_rename=throw');
    try {
      expect((await sweepAndWait(config(), 'seq')).summary).toMatch(/^delivered 1,/);
    } finally {
      configureFailpoints(undefined);
    }
    const job = await pipeline.testFerry.deliverQueue.getJob(await deliveryIdOf('seq', 'seq/d.csv'));
    expect(job?.attemptsMade).toBe(2);
    // The second attempt found its own file under the same name: recorded, nothing sent again.
    expect(job?.returnvalue).toMatchObject({ outcome: 'delivered', bytes: 0 });
    expect(job?.returnvalue.remotePath).toMatch(new RegExp(`/ACME_${day}_004\\.csv$`));
    expect((await finals('seq')).filter((f) => f.startsWith(`ACME_${day}_`))).toHaveLength(4);
  });

  it('gives a redelivery the name (and number) of its original', async () => {
    const ledger = pipeline.ledger;
    const original = await ledger.get(await deliveryIdOf('seq', 'seq/b.csv'));
    const name = original!.remotePath!.split('/').pop()!;
    await rm(join(pipeline.fixture.partnerDirs.seq!, name)); // the partner consumed it (onExisting: fail)

    const job = await redeliver('seq', 'seq/b.csv');
    expect(job.returnvalue).toMatchObject({ outcome: 'delivered', remotePath: original!.remotePath });
    expect(await finals('seq')).toHaveLength(4); // back under its name, no fifth number
  });

  it('quarantines a name that fits 255 bytes only without its ".gz"', async () => {
    const key = 'gz/abc.csv'; // renders to 253 bytes; 256 with ".gz"
    await pipeline.put([{ key, size: 100 }]);
    await sweepAndWait(config(), 'gz');
    const record = await pipeline.ledger.get(await deliveryIdOf('gz', key));
    expect(record).toMatchObject({ status: 'quarantined', reason: expect.stringContaining('255 bytes') });
    expect(await finals('gz')).toEqual([]);
  });

  it("renders a redelivery's {date} from the object's LastModified, carried in its job", async () => {
    const name = `ACME_${await dateOf('acme/orders.csv')}_orders.csv`;
    await rm(join(pipeline.fixture.partnerDirs.acme!, name));
    const job = await redeliver('acme', 'acme/orders.csv');
    expect(job.data).toMatchObject({
      redelivery: 1,
      lastModified: (await headOf('acme/orders.csv')).LastModified!.toISOString(),
    });
    expect(job.returnvalue.remotePath).toMatch(new RegExp(`/${name}$`));
    // The read it comes from: HeadObject, undefined for a key S3 does not hold.
    expect(
      await createS3Source(pipeline.testFerry.s3).head(pipeline.fixture.bucket, 'acme/no-such.csv'),
    ).toBeUndefined();
    expect(await finals()).toContain(name);
  });
});
