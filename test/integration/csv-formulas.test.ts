// validate.csv.neutralizeFormulas on the real pipeline (redis-server, sshd, s3rver): `quarantine`
// fails a file with a formula cell; `escape` delivers it with a `'` before each formula cell (alone
// and under gzip + OpenPGP). Also the inline CSV check under OpenPGP: a good file decrypts to the
// source; a bad row deep in the file (bytes already sent) is quarantined and nothing is published.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { observePartnerDir } from '../support/partner-observer.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { writeTestKeyFiles, type TestKeyFiles } from '../support/pgp-keys.js';
import { readPartnerDir, sha256 } from '../support/pipeline.js';

const HEADER = 'csv: { header: [order_id, sku, qty, amount], allowEmpty: false';

let keys: TestKeyFiles;

const pipeline = usePartnerPipeline({
  partners: async () => {
    keys = await writeTestKeyFiles('formula-keys');
    const pgp = `pgp: { recipientKeysFile: ${keys.recipientKeysFile} }`;
    return [
      { id: 'strict', extraYaml: `validate: { ${HEADER}, neutralizeFormulas: true } }` },
      {
        id: 'strictinline',
        extraYaml: `validate: { prevalidateMaxBytes: 0, ${HEADER}, neutralizeFormulas: quarantine } }`,
      },
      { id: 'escaped', extraYaml: `validate: { ${HEADER}, neutralizeFormulas: escape } }` },
      {
        id: 'escapedsealed',
        extraYaml: `validate: { ${HEADER}, neutralizeFormulas: escape } }\ntransform: { compress: gzip, ${pgp} }`,
      },
      {
        id: 'sealedinline',
        extraYaml: `validate: { prevalidateMaxBytes: 0, ${HEADER} } }\ntransform: { ${pgp} }`,
      },
    ];
  },
  afterStop: async () => {
    await keys?.remove();
  },
});

/** `rows` valid data rows (negative amounts included) after the header, then `tail` as is. */
function csvFile(rows: number, tail: string | Buffer = ''): Buffer {
  const lines = ['order_id,sku,qty,amount'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},"SKU-${i}, large",${i % 7},-${i}.50`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8'), Buffer.from(tail)]);
}

/** Sweeps `partnerId`: `key` ends quarantined with `reason`, nothing of it on the partner. */
async function expectQuarantined(partnerId: string, key: string, reason: unknown) {
  const { summary } = await pipeline.sweep(partnerId);
  expect(summary).toMatch(/quarantined 1, failed 0$/);
  expect(await pipeline.finals(partnerId)).toEqual([]);
  const { job, record } = await pipeline.failedDelivery(partnerId, key);
  expect(job?.failedReason).toMatch(/^ERR_CSV_INVALID: csv: row /);
  expect(job?.attemptsMade).toBe(1);
  expect(record).toMatchObject({ status: 'quarantined', reason });
}

async function decrypt(arrived: Buffer): Promise<Buffer> {
  const decrypted = await openpgp.decrypt({
    message: await openpgp.readMessage({ binaryMessage: arrived }),
    decryptionKeys: await openpgp.readPrivateKey({ armoredKey: keys.partnerKey.privateKey }),
    format: 'binary',
  });
  return Buffer.from(decrypted.data as Uint8Array);
}

describe('validate.csv.neutralizeFormulas', () => {
  it('quarantine (true): a file with a formula cell is quarantined, nothing reaches the partner', async () => {
    await pipeline.put([
      { key: 'strict/inject.csv', body: csvFile(3, '4,"=HYPERLINK(""http://x"")",1,-1.50\r\n') },
    ]);
    await expectQuarantined(
      'strict',
      'strict/inject.csv',
      'csv: row 5, column 2: cell starts with "=" (formula; neutralizeFormulas: quarantine)',
    );
  });

  it('quarantine inline: a formula cell deep in the file is quarantined mid-upload', async () => {
    await pipeline.put([
      { key: 'strictinline/late.csv', body: csvFile(20_000, '20001,SKU,1,@SUM(A1:A9)\r\n') },
    ]);
    await expectQuarantined(
      'strictinline',
      'strictinline/late.csv',
      'csv: row 20002, column 4: cell starts with "@" (formula; neutralizeFormulas: quarantine)',
    );
  });

  it('escape: what arrives has a quote before each formula cell; the receipt holds both hashes', async () => {
    const body = csvFile(2, '3,=1+2,-1,"-cmd|\' /C calc\'!A0"\r\n4,"+x",+2,-0.5\r\n');
    const [seeded] = await pipeline.put([{ key: 'escaped/orders.csv', body }]);
    const { code, summary } = await pipeline.sweep('escaped');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 1,/);
    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.escaped!);
    expect(dir.temps).toEqual([]);
    expect([...dir.finals.keys()]).toEqual(['orders.csv']);
    const arrived = await readFile(join(pipeline.fixture.partnerDirs.escaped!, 'orders.csv'));
    const expected = csvFile(2, "3,'=1+2,-1,\"'-cmd|' /C calc'!A0\"\r\n4,\"'+x\",+2,-0.5\r\n");
    expect(arrived.toString('utf8')).toBe(expected.toString('utf8'));

    const receipt = await pipeline.onlyReceipt('escaped');
    expect(receipt.source).toMatchObject({ size: body.length, sha256: seeded!.sha256 });
    expect(receipt).toMatchObject({
      sha256: sha256(expected),
      bytes: expected.length,
      transform: { compress: 'none', csvEscape: true },
    });
    expect(receipt.sha256).not.toBe(receipt.source.sha256);
  });

  it('escape composes with gzip + OpenPGP: decrypt, gunzip gives the escaped CSV', async () => {
    // Large enough to span many pipeline chunks, a formula cell in every 1000th row.
    const rows: string[] = [];
    const want: string[] = [];
    for (let i = 1; i <= 30_000; i++) {
      const cell = i % 1000 === 0 ? `=A${i}` : `SKU-${i}`;
      rows.push(`${i},${cell},1,-${i}.25\n`);
      want.push(`${i},${i % 1000 === 0 ? `'=A${i}` : `SKU-${i}`},1,-${i}.25\n`);
    }
    const body = Buffer.from(`order_id,sku,qty,amount\n${rows.join('')}`);
    const [seeded] = await pipeline.put([{ key: 'escapedsealed/o.csv', body }]);
    const { code } = await pipeline.sweep('escapedsealed');
    expect(code).toBe(0);
    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.escapedsealed!);
    expect([...dir.finals.keys()]).toEqual(['o.csv.gz.pgp']);
    const arrived = await readFile(join(pipeline.fixture.partnerDirs.escapedsealed!, 'o.csv.gz.pgp'));
    const plain = gunzipSync(await decrypt(arrived)).toString('utf8');
    expect(plain).toBe(`order_id,sku,qty,amount\n${want.join('')}`);
    const receipt = await pipeline.onlyReceipt('escapedsealed');
    expect(receipt).toMatchObject({
      sha256: sha256(arrived),
      source: { size: body.length, sha256: seeded!.sha256 },
      transform: { compress: 'gzip', csvEscape: true, pgp: { recipients: [keys.partnerKey.fingerprint] } },
    });
  });
});

describe('inline CSV check under OpenPGP (prevalidateMaxBytes: 0)', () => {
  it('a good file arrives and decrypts to the source', async () => {
    const body = csvFile(5_000);
    await pipeline.put([{ key: 'sealedinline/good.csv', body }]);
    const { code, summary } = await pipeline.sweep('sealedinline');
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 1,/);
    const arrived = await readFile(join(pipeline.fixture.partnerDirs.sealedinline!, 'good.csv.pgp'));
    expect((await decrypt(arrived)).equals(body)).toBe(true);
  });

  it('a bad row deep in the file is quarantined with its place; the temp file is removed, nothing published', async () => {
    // ~4 MiB of good rows first: the upload has begun (the temp file exists) before the bad row is read
    // (test/unit/adapters/csv-pgp-pipeline.test.ts shows encrypted bytes flow before the failure).
    const body = csvFile(100_000, '100001,SKU,1\r\n');
    await pipeline.put([{ key: 'sealedinline/late.csv', body }]);
    const observer = await observePartnerDir(pipeline.fixture.partnerDirs.sealedinline!);
    const { summary } = await pipeline.sweep('sealedinline');
    await observer.stop();
    expect(summary).toMatch(/quarantined 1, failed 0$/);
    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.sealedinline!);
    expect([...dir.finals.keys()]).toEqual(['good.csv.pgp']);
    expect(dir.temps).toEqual([]);
    const late = observer.events().filter((e) => e.name.includes('late.csv'));
    expect(late[0]?.event).toBe('CREATE');
    expect(late[0]!.name).toMatch(/^\.late\.csv\.pgp\..+\.part$/);
    expect(late.map((e) => e.event)).toContain('DELETE');
    expect(late.filter((e) => e.event.startsWith('MOVED'))).toEqual([]);

    const { job } = await pipeline.failedDelivery('sealedinline', 'sealedinline/late.csv');
    expect(job?.failedReason).toBe(
      'ERR_CSV_INVALID: csv: row 100002, column 4: missing column: the row has 3, at least 4 expected',
    );
    expect(job?.attemptsMade).toBe(1);
  });
});
