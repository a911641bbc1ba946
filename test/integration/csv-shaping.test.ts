// shape on the real pipeline (redis-server, sshd, s3rver): the partner receives the reshaped CSV
// (columns chosen, renamed and added, another delimiter, quoting, line ending, encoding, a trailer),
// the receipt records the shaping and the rows; a file that cannot be shaped is quarantined with its
// row and column and nothing reaches the partner, checked first (small files) or while uploading.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { configureFailpoints } from '../../src/failpoints.js';
import { observePartnerDir } from '../support/partner-observer.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { readPartnerDir } from '../support/pipeline.js';

const SHAPE = `shape:
  columns:
    - { from: order_id, as: OrderID }
    - { from: amount, as: Amount }
    - { from: note, as: Note }
    - { value: "{partner}", as: Partner }
    - { value: "{date:yyyy-MM-dd}", as: ExportDate }
  delimiter: ";"
  lineEnding: crlf
  encoding: windows-1252
  trailer: "TRL|{rows}"`;

const pipeline = usePartnerPipeline({
  partners: [
    { id: 'shaped', extraYaml: SHAPE },
    { id: 'shapedre', extraYaml: SHAPE, attempts: 2, backoffSeconds: 1 },
    {
      id: 'shapedgz',
      extraYaml: `${SHAPE.replace('windows-1252', 'utf-8\n  quote: all')}
transform: { compress: gzip }
validate: { prevalidateMaxBytes: 0 }`,
    },
  ],
});

const SOURCE = [
  'order_id,sku,amount,note',
  '1,A-1,10.50,plain',
  '2,A-2,-3,"semi;colon"',
  '3,A-3,7,"Café ""Zürich"", 5 €"',
  '',
].join('\n');

async function dayOf(key: string): Promise<string> {
  const d = await pipeline.dayOf(key);
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`;
}

/**
 * Sweeps `partnerId`: `key` ends quarantined with ERR_CSV_INVALID and `reason` (`quarantined` counts the
 * partner's, settled ones too); returns the partner-side events of its name (none expected).
 */
async function expectQuarantined(partnerId: string, key: string, reason: unknown, quarantined = 1) {
  const observer = await observePartnerDir(pipeline.fixture.partnerDirs[partnerId]!);
  const { summary } = await pipeline.sweep(partnerId);
  expect(summary).toMatch(new RegExp(`quarantined ${quarantined}, failed 0$`));
  const { job, record } = await pipeline.failedDelivery(partnerId, key);
  expect(job?.failedReason).toMatch(/^ERR_CSV_INVALID: shape: row /);
  expect(job?.attemptsMade).toBe(1);
  expect(record).toMatchObject({ status: 'quarantined', reason });
  await observer.stop();
  const name = key.slice(key.lastIndexOf('/') + 1, key.lastIndexOf('.'));
  return observer.events().filter((e) => e.name.includes(name));
}

describe('shape', () => {
  it('delivers the reshaped CSV: chosen and added columns, ";", CRLF, windows-1252, a trailer; the receipt records it', async () => {
    const [seeded] = await pipeline.put([{ key: 'shaped/orders.csv', body: Buffer.from(SOURCE, 'utf8') }]);
    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(await runPlanCommand({ config: pipeline.config(), partnerId: 'shaped', ...plan })).toBe(0);
    expect(out).toContain(
      '  shape: OrderID←order_id, Amount←amount, Note←note, Partner="{partner}", ExportDate="{date:yyyy-MM-dd}"; delimiter ";", quote minimal, crlf, windows-1252 (unmappable: fail), header, trailer "TRL|{rows}"',
    );
    const { code, summary } = await pipeline.sweep('shaped');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 1,/);
    const date = await dayOf('shaped/orders.csv');
    const text = [
      'OrderID;Amount;Note;Partner;ExportDate',
      `1;10.50;plain;shaped;${date}`,
      `2;-3;"semi;colon";shaped;${date}`,
      `3;7;"Caf\u00e9 ""Z\u00fcrich"", 5 \u20ac";shaped;${date}`,
      'TRL|3',
      '',
    ].join('\r\n');
    // windows-1252 is latin1 but for 0x80–0x9F, where € is 0x80.
    const expected = Buffer.from(text.replace('\u20ac', '\u0080'), 'latin1');
    const delivered = await readFile(join(pipeline.fixture.partnerDirs.shaped!, 'orders.csv'));
    expect(delivered.toString('latin1')).toBe(expected.toString('latin1'));

    const receipt = await pipeline.onlyReceipt('shaped');
    expect(receipt.source.sha256).toBe(seeded!.sha256);
    expect(receipt.transform).toEqual({
      compress: 'none',
      shape: {
        columns: ['OrderID', 'Amount', 'Note', 'Partner', 'ExportDate'],
        header: true,
        delimiter: ';',
        quote: 'minimal',
        lineEnding: 'crlf',
        encoding: 'windows-1252',
        trailer: 'TRL|{rows}',
        rows: 3,
      },
    });
  });

  it('a retry that finds the file already published writes the receipt with the rows the first attempt counted', async () => {
    await pipeline.put([
      { key: 'shapedre/two.csv', body: Buffer.from('order_id,amount,note\n1,2,a\n2,3,b\n') },
    ]);
    // The first attempt publishes, records it, then fails before the receipt; the retry recovers.
    configureFailpoints('after_published=throw:1');
    try {
      expect((await pipeline.sweep('shapedre')).summary).toMatch(/^delivered 1,.*failed 0$/);
    } finally {
      configureFailpoints(undefined);
    }
    const receipt = await pipeline.onlyReceipt('shapedre');
    expect(receipt.attempts).toBe(2);
    expect(receipt.transform?.shape).toMatchObject({ rows: 2, encoding: 'windows-1252' });
    const id = await pipeline.deliveryIdOf('shapedre', 'shapedre/two.csv');
    expect(await pipeline.ledger.get(id)).toMatchObject({ status: 'delivered', rows: 2 });
  });

  it('quarantines a file whose header lacks a source column before any byte reaches the partner', async () => {
    await pipeline.put([{ key: 'shaped/nonote.csv', body: Buffer.from('order_id,amount\n1,2\n', 'utf8') }]);
    const events = await expectQuarantined(
      'shaped',
      'shaped/nonote.csv',
      'shape: row 1, output column 3 "Note": source column "note" is not in the header (order_id, amount)',
    );
    expect(events).toEqual([]);
  });

  it('quarantines a character windows-1252 lacks (unmappable: fail), naming its row and column', async () => {
    await pipeline.put([
      {
        key: 'shaped/polish.csv',
        body: Buffer.from('order_id,amount,note\n1,2,ok\n2,3,\u0141\u00f3d\u017a\n', 'utf8'),
      },
    ]);
    const events = await expectQuarantined(
      'shaped',
      'shaped/polish.csv',
      expect.stringMatching(/^shape: row 3, output column 3 "Note": .*U\+0141/),
      2,
    );
    expect(events).toEqual([]);
  });

  it('shapes before gzip, quote: all, UTF-8; inline, a row that breaks the shape mid-upload is never published', async () => {
    const rows = ['order_id,amount,note'];
    for (let i = 1; i <= 100_000; i++) rows.push(`${i},${i}.25,"row ${i}"`);
    const good = Buffer.from(`${rows.join('\n')}\n`, 'utf8');
    await pipeline.put([
      { key: 'shapedgz/big.csv', body: good },
      { key: 'shapedgz/broken.csv', body: Buffer.concat([good, Buffer.from('100001,1\n')]) },
    ]);
    const observer = await observePartnerDir(pipeline.fixture.partnerDirs.shapedgz!);
    const { summary } = await pipeline.sweep('shapedgz');
    expect(summary).toMatch(/^delivered 1, .*quarantined 1, failed 0$/);
    await observer.stop();

    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.shapedgz!);
    expect([...dir.finals.keys()]).toEqual(['big.csv.gz']);
    expect(dir.temps).toEqual([]);
    const text = gunzipSync(
      await readFile(join(pipeline.fixture.partnerDirs.shapedgz!, 'big.csv.gz')),
    ).toString('utf8');
    const date = await dayOf('shapedgz/big.csv');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('"OrderID";"Amount";"Note";"Partner";"ExportDate"');
    expect(lines[1]).toBe(`"1";"1.25";"row 1";"shapedgz";"${date}"`);
    expect(lines[100_001]).toBe('TRL|100000'); // a trailer is a line of its own, never quoted
    expect(lines).toHaveLength(100_003); // header, rows, trailer, and the empty string after the last CRLF
    const { record } = await pipeline.failedDelivery('shapedgz', 'shapedgz/broken.csv');
    expect(record).toMatchObject({
      status: 'quarantined',
      reason: expect.stringMatching(/^shape: row 100002, /),
    });
    // It was being written (a temp file) and never got its name.
    expect(observer.events().filter((e) => e.name === 'broken.csv.gz')).toEqual([]);
  });
});
