// validate.csv on the real pipeline (redis-server, sshd, s3rver): a valid file is delivered; a file
// that breaks the rules is quarantined (ledger reason with row and column, alert log, ERR_CSV_INVALID)
// and nothing reaches the partner — checked in a first read (small files) or inline while uploading.
// A delivered file's data rows (as the check counted them) are in its ledger record and receipt.
import { describe, expect, it } from 'vitest';
import { configureFailpoints } from '../../src/failpoints.js';
import { observePartnerDir } from '../support/partner-observer.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { readPartnerDir } from '../support/pipeline.js';

const CSV_RULES = 'csv: { header: [order_id, sku, qty, amount], allowEmpty: false }';

const pipeline = usePartnerPipeline({
  partners: [
    { id: 'checked', extraYaml: `validate: { ${CSV_RULES} }` },
    { id: 'inline', extraYaml: `validate: { prevalidateMaxBytes: 0, ${CSV_RULES} }` },
    { id: 'checkedre', extraYaml: `validate: { ${CSV_RULES} }`, attempts: 2, backoffSeconds: 1 },
  ],
});

/** `rows` valid data rows after the header, then `tail` as is. */
function csvFile(rows: number, tail: string | Buffer = ''): Buffer {
  const lines = ['order_id,sku,qty,amount'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},"SKU-${i}, large",${i % 7},${i}.50`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8'), Buffer.from(tail)]);
}

/** `key` was delivered with `rows` data rows in its ledger record and receipt; returns the receipt. */
async function expectRows(partnerId: string, key: string, rows: number) {
  const id = await pipeline.deliveryIdOf(partnerId, key);
  expect(await pipeline.ledger.get(id)).toMatchObject({ status: 'delivered', rows });
  const receipt = await pipeline.receiptOf(partnerId, id);
  expect(receipt.csv).toEqual({ rows });
  expect(receipt.transform).toBeUndefined(); // sent as stored: the count is validate.csv's
  return receipt;
}

/** Sweeps `partnerId`: `key` ends quarantined (`quarantined` counts this partner's, settled ones too). */
async function expectQuarantined(partnerId: string, key: string, reason: unknown, quarantined = 1) {
  const { summary } = await pipeline.sweep(partnerId);
  expect(summary).toMatch(new RegExp(`quarantined ${quarantined}, failed 0$`));
  expect(await pipeline.finals(partnerId)).not.toContain(key.slice(partnerId.length + 1));

  const { job, id, record } = await pipeline.failedDelivery(partnerId, key);
  expect(job?.failedReason).toMatch(/^ERR_CSV_INVALID: csv: row /);
  expect(job?.attemptsMade).toBe(1);
  expect(record).toMatchObject({ status: 'quarantined', reason });
  const alerts = pipeline.logs
    .lines()
    .filter((l) => l.errCode === 'ERR_CSV_INVALID' && l.alert === true && l.trackingId === id);
  expect(alerts).toHaveLength(1);
}

describe('validate.csv', () => {
  it('delivers a file that follows the rules, byte for byte', async () => {
    const [seeded] = await pipeline.put([
      { key: 'checked/good.csv', body: csvFile(50, '51,"multi\nline ""quoted""",1,2\r\n') },
    ]);
    const { code, summary } = await pipeline.sweep('checked');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 1,/);
    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.checked!);
    expect(dir.finals.get('good.csv')?.sha256).toBe(seeded!.sha256);
    expect(dir.temps).toEqual([]);
  });

  it('quarantines a file with a short row before any byte reaches the partner', async () => {
    await pipeline.put([{ key: 'checked/short.csv', body: csvFile(3, '4,SKU-4,2\r\n5,SKU-5,1,1\r\n') }]);
    const observer = await observePartnerDir(pipeline.fixture.partnerDirs.checked!);
    await expectQuarantined(
      'checked',
      'checked/short.csv',
      'csv: row 5, column 4: missing column: the row has 3, at least 4 expected',
    );
    await observer.stop();
    expect(observer.events().filter((e) => e.name.includes('short'))).toEqual([]);
  });

  it('inline (prevalidateMaxBytes: 0): a bad file found mid-upload is never published, its temp file removed', async () => {
    // ~3 MiB of good rows first, so the upload has written to the temp file before the bad row arrives.
    await pipeline.put([
      {
        key: 'inline/late.csv',
        body: csvFile(100_000, Buffer.from([0x31, 0x2c, 0xff, 0x2c, 0x31, 0x2c, 0x31, 0x0a])),
      },
      { key: 'inline/fine.csv', body: csvFile(10) },
    ]);
    const observer = await observePartnerDir(pipeline.fixture.partnerDirs.inline!);
    await expectQuarantined(
      'inline',
      'inline/late.csv',
      expect.stringMatching(/^csv: row 100002, column 2: invalid utf-8 \(byte offset \d+\)$/),
    );
    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.inline!);
    expect([...dir.finals.keys()]).toEqual(['fine.csv']);
    expect(dir.temps).toEqual([]);
    await observer.stop();
    const late = observer.events().filter((e) => e.name.includes('late.csv'));
    // The upload had started (the temp file existed) when the bad byte arrived; it was removed, never renamed.
    expect(late[0]?.event).toBe('CREATE');
    expect(late.map((e) => e.event)).toContain('DELETE');
    expect(late.filter((e) => e.event.startsWith('MOVED'))).toEqual([]);
    expect(late[0]!.name).toMatch(/^\.late\.csv\..+\.part$/);
  });

  it('inline: a header mismatch is quarantined with its row and column in the ledger', async () => {
    await pipeline.put([
      { key: 'inline/header.csv', body: Buffer.from('order_id,sku,quantity,amount\n1,A,1,1\n') },
    ]);
    await expectQuarantined(
      'inline',
      'inline/header.csv',
      'csv: row 1, column 3: header "quantity" where "qty" is expected',
      2,
    );
  });

  it('records the data rows the first read counted (header aside) in the ledger and the receipt', async () => {
    await pipeline.put([{ key: 'checked/counted.csv', body: csvFile(4, '5,"two\nlines",1,2\r\n') }]);
    expect((await pipeline.sweep('checked')).summary).toMatch(/^delivered 1,/);
    await expectRows('checked', 'checked/counted.csv', 5);
  });

  it('inline (prevalidateMaxBytes: 0): records the data rows counted while the file streamed', async () => {
    await pipeline.put([{ key: 'inline/counted.csv', body: csvFile(7) }]);
    expect((await pipeline.sweep('inline')).summary).toMatch(/^delivered 1,/);
    await expectRows('inline', 'inline/counted.csv', 7);
  });

  it('a retry that finds the file already published keeps the rows recorded with its intent', async () => {
    await pipeline.put([{ key: 'checkedre/two.csv', body: csvFile(2) }]);
    // The first attempt publishes, records it, then fails before the receipt; the retry recovers.
    configureFailpoints('after_published=throw:1');
    try {
      expect((await pipeline.sweep('checkedre')).summary).toMatch(/^delivered 1,.*failed 0$/);
    } finally {
      configureFailpoints(undefined);
    }
    const receipt = await expectRows('checkedre', 'checkedre/two.csv', 2);
    expect(receipt.attempts).toBe(2);
  });
});
