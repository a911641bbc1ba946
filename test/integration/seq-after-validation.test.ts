// `{seq}` numbers and validate.csv on the real pipeline (redis-server, sshd, s3rver): a file checked
// before its upload takes its number only once it passed the CSV rules, so a bad file quarantined
// between good ones leaves no gap (the partner gets _001, _002, then _003 next sweep) and holds no
// number in Redis; a retried delivery reads its number back; a name (here a sidecar's) breaking a
// safe-name rule is quarantined before the CSV check, numberless. A file checked inline
// (prevalidateMaxBytes: 0) needs its name before the upload: its quarantine leaves a gap (documented).
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { configureFailpoints } from '../../src/failpoints.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';

const CSV_RULES = 'csv: { header: [order_id, sku, qty, amount], allowEmpty: false }';
const SEQ_NAME = 'filename: "ACME_{date:yyyyMMdd}_{seq:3}{ext}"';

const pipeline = usePartnerPipeline({
  partners: [
    {
      id: 'acme',
      attempts: 3,
      backoffSeconds: 1,
      extraYaml: `naming: { ${SEQ_NAME} }\nvalidate: { ${CSV_RULES} }`,
    },
    {
      id: 'inline',
      extraYaml: `naming: { ${SEQ_NAME} }\nvalidate: { prevalidateMaxBytes: 0, ${CSV_RULES} }`,
    },
    {
      // 245 + "_" + "001" + ".csv" = 253 bytes: the data name fits, "<name>.sha256" does not.
      id: 'longname',
      extraYaml: `naming: { filename: "${'x'.repeat(245)}_{seq:3}{ext}", checksumFile: sha256 }\nvalidate: { ${CSV_RULES} }`,
    },
  ],
});

/** A valid file with `rows` data rows, then `tail` as is. */
function csvFile(rows: number, tail = ''): Buffer {
  const lines = ['order_id,sku,qty,amount'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},SKU-${i},${i % 7},${i}.50`);
  return Buffer.from(`${lines.join('\r\n')}\r\n${tail}`, 'utf8');
}

/** Row 3 has three columns of four. */
const BAD_FILE = csvFile(1, '2,SKU-2,2\r\n');
const BAD_REASON = 'csv: row 3, column 4: missing column: the row has 3, at least 4 expected';

/** yyyyMMdd of the object's LastModified (the partners' timezone is UTC). */
async function dateOf(key: string): Promise<string> {
  const head = await pipeline.testFerry.s3.send(
    new HeadObjectCommand({ Bucket: pipeline.fixture.bucket, Key: key }),
  );
  return head.LastModified!.toISOString().slice(0, 10).replaceAll('-', '');
}

/** Whether Redis holds a `{seq}` number for the object's delivery. */
async function holdsNumber(partnerId: string, key: string): Promise<boolean> {
  const id = await pipeline.deliveryIdOf(partnerId, key);
  return (await pipeline.testFerry.redis.exists(createRedisKeys('{ferry}').nameSequenceOf(id))) === 1;
}

/** The ERR_CSV_INVALID alert lines of one delivery. */
async function csvAlertsOf(partnerId: string, key: string) {
  const id = await pipeline.deliveryIdOf(partnerId, key);
  return pipeline.logs
    .lines()
    .filter((l) => l.errCode === 'ERR_CSV_INVALID' && l.alert === true && l.trackingId === id);
}

describe('{seq} after validate.csv', () => {
  it('numbers two good files 001-002 around a quarantined bad one, then 003: no gap', async () => {
    await pipeline.put([
      { key: 'acme/a.csv', body: csvFile(3) },
      { key: 'acme/b.csv', body: BAD_FILE },
      { key: 'acme/c.csv', body: csvFile(5) },
    ]);
    const day = await dateOf('acme/a.csv');
    for (const key of ['acme/b.csv', 'acme/c.csv']) expect(await dateOf(key)).toBe(day); // one counter

    const { summary } = await pipeline.sweep('acme');
    expect(summary).toMatch(/^delivered 2,/);
    expect(summary).toMatch(/quarantined 1, failed 0$/);
    expect(await pipeline.finals('acme')).toEqual([`ACME_${day}_001.csv`, `ACME_${day}_002.csv`]);

    const { job, id, record } = await pipeline.failedDelivery('acme', 'acme/b.csv');
    expect(job?.failedReason).toBe(`ERR_CSV_INVALID: ${BAD_REASON}`);
    expect(job?.attemptsMade).toBe(1);
    expect(record).toMatchObject({ status: 'quarantined', reason: BAD_REASON });
    expect(id).toBe(await pipeline.deliveryIdOf('acme', 'acme/b.csv'));
    expect(await holdsNumber('acme', 'acme/b.csv')).toBe(false);
    // Logged once, with an alert, and without a remote path: the file never got its name.
    const alerts = await csvAlertsOf('acme', 'acme/b.csv');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ outcome: 'quarantined', reason: BAD_REASON });
    expect(alerts[0]).not.toHaveProperty('remotePath');

    await pipeline.put([{ key: 'acme/d.csv', body: csvFile(2) }]);
    expect(await dateOf('acme/d.csv')).toBe(day);
    expect((await pipeline.sweep('acme')).summary).toMatch(/^delivered 1,/);
    expect(await pipeline.finals('acme')).toEqual([
      `ACME_${day}_001.csv`,
      `ACME_${day}_002.csv`,
      `ACME_${day}_003.csv`,
    ]);
  });

  it('keeps its number when the delivery is retried after a crash at the rename', async () => {
    await pipeline.put([{ key: 'acme/e.csv', body: csvFile(4) }]);
    const day = await dateOf('acme/e.csv');
    configureFailpoints('after_rename=throw');
    try {
      expect((await pipeline.sweep('acme')).summary).toMatch(/^delivered 1,/);
    } finally {
      configureFailpoints(undefined);
    }
    const job = await pipeline.testFerry.deliverQueue.getJob(
      await pipeline.deliveryIdOf('acme', 'acme/e.csv'),
    );
    expect(job?.attemptsMade).toBe(2);
    // The second attempt checked the file again, read back 004 and found its own file there.
    expect(job?.returnvalue).toMatchObject({ outcome: 'delivered', bytes: 0 });
    expect(job?.returnvalue.remotePath).toMatch(new RegExp(`/ACME_${day}_004\\.csv$`));
    expect((await pipeline.finals('acme')).filter((f) => f.startsWith(`ACME_${day}_`))).toHaveLength(4);
    const receipt = await pipeline.receiptOf('acme', job!.id!);
    expect(receipt.naming).toMatchObject({ seq: 4 });
  });

  it('quarantines an over-long sidecar name before the CSV check, without a number', async () => {
    await pipeline.put([{ key: 'longname/bad.csv', body: BAD_FILE }]);
    const { summary } = await pipeline.sweep('longname');
    expect(summary).toMatch(/quarantined 1, failed 0$/);
    const { record } = await pipeline.failedDelivery('longname', 'longname/bad.csv');
    // The name's reason, not the CSV one: the name was checked (with a sample number) first.
    expect(record).toMatchObject({ status: 'quarantined', reason: expect.stringContaining('255 bytes') });
    expect(await csvAlertsOf('longname', 'longname/bad.csv')).toEqual([]);
    expect(await holdsNumber('longname', 'longname/bad.csv')).toBe(false);
    expect(await pipeline.finals('longname')).toEqual([]);
  });

  it('inline (prevalidateMaxBytes: 0): a bad file found during the upload keeps its number, a gap', async () => {
    await pipeline.put([{ key: 'inline/bad.csv', body: BAD_FILE }]);
    const day = await dateOf('inline/bad.csv');
    expect((await pipeline.sweep('inline')).summary).toMatch(/quarantined 1, failed 0$/);
    const { record } = await pipeline.failedDelivery('inline', 'inline/bad.csv');
    expect(record).toMatchObject({ status: 'quarantined', reason: BAD_REASON });
    expect(await holdsNumber('inline', 'inline/bad.csv')).toBe(true);
    const alerts = await csvAlertsOf('inline', 'inline/bad.csv');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.remotePath).toMatch(new RegExp(`/ACME_${day}_001\\.csv$`));

    await pipeline.put([{ key: 'inline/good.csv', body: csvFile(2) }]);
    expect(await dateOf('inline/good.csv')).toBe(day);
    expect((await pipeline.sweep('inline')).summary).toMatch(/^delivered 1,/);
    expect(await pipeline.finals('inline')).toEqual([`ACME_${day}_002.csv`]);
  });
});
