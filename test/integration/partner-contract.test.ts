// The whole partner file contract at once, on the real pipeline (redis-server, sshd, s3rver): one partner
// with requireMarker + exclude, validate.csv (header, allowEmpty: false, neutralizeFormulas: escape),
// gzip + signed OpenPGP, a {date}/{seq} filename, md5 + done sidecars and after.source move. Each option
// has its own test file; this one proves they compose: what arrives decrypts, verifies and gunzips to the
// escaped source, sidecars and the receipt describe the delivered bytes, sources move only once
// delivered, and a bad file (held by its own directory's marker) is quarantined and stays where it is.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { observePartnerDir } from '../support/partner-observer.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { decryptSigned, writeTestKeyFiles, type TestKeyFiles } from '../support/pgp-keys.js';
import { jobsOfPartner, readPartnerDir, sha256, type SeededObject } from '../support/pipeline.js';

const ID = 'acme';
const HEADER = 'order_id,sku,qty,amount';
const SIGN_PASSPHRASE = 'contract-sign-pass';

let keys: TestKeyFiles;

const pipeline = usePartnerPipeline({
  adminPassword: 'partner-contract-admin',
  env: { ACME_SIGN_PASSPHRASE: SIGN_PASSPHRASE },
  partners: async () => {
    keys = await writeTestKeyFiles('contract-keys', { partnerName: ID, passphrase: SIGN_PASSPHRASE });
    return [
      {
        id: ID,
        // Objects directly under acme/, and one more directory (late/) with a marker of its own.
        include: ['*', 'late/*'],
        exclude: ['*.tmp'],
        requireMarker: '_SUCCESS',
        extraYaml: [
          'validate:',
          '  csv:',
          '    header: [order_id, sku, qty, amount]',
          '    allowEmpty: false',
          '    neutralizeFormulas: escape',
          'transform:',
          '  compress: gzip',
          '  pgp:',
          `    recipientKeysFile: ${keys.recipientKeysFile}`,
          `    signingKeyFile: ${keys.signingKeyFile}`,
          '    passphraseEnv: ACME_SIGN_PASSPHRASE',
          'naming:',
          '  filename: "ACME_{date:yyyyMMdd}_{seq:3}{ext}"',
          '  checksumFile: md5',
          '  doneFile: "{filename}.done"',
          'after:',
          "  source: { move: 'archive/{key}' }",
        ].join('\n'),
      },
    ];
  },
  afterStop: async () => {
    await keys?.remove();
  },
});
const partnerDir = () => pipeline.fixture.partnerDirs[ID]!;
const lastSweepLog = () => pipeline.lastSweepLog(ID);
const finals = () => pipeline.finals(ID);
const receipts = () => pipeline.receipts(ID);
const { exists } = pipeline;
/** yyyyMMdd of the object's LastModified in UTC (the partner's schedule timezone). */
const dateOf = (key: string) => pipeline.dayOf(key);

/** Decrypts with the partner's key, requiring Ferry's valid signature; returns the gunzipped plain text. */
async function openDelivered(arrived: Buffer): Promise<string> {
  const decrypted = await decryptSigned(keys, arrived);
  await expect(decrypted.signatures[0]!.verified).resolves.toBe(true);
  return gunzipSync(decrypted.data as Uint8Array).toString('utf8');
}

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

describe('a partner with the whole file contract', () => {
  let seeded: SeededObject[];
  let day: string;

  it('delivers nothing while the directory has no marker', async () => {
    seeded = await pipeline.put([
      { key: 'acme/orders.csv', body: Buffer.from(`${HEADER}\n1,SKU-1,2,-12.50\n2,SKU-2,1,3.00\n`) },
      {
        key: 'acme/returns.csv',
        body: Buffer.from(`${HEADER}\r\n7,"=HYPERLINK(""http://x"")",1,-1.50\r\n8,SKU-8,1,+2\r\n`),
      },
      { key: 'acme/orders.csv.tmp', body: Buffer.from('half written') },
      // Its own directory, its own marker (added later): waits too.
      { key: 'acme/late/bad.csv', body: Buffer.from(`${HEADER}\n1,SKU-1,2,3\n2,SKU-2\n`) },
    ]);
    day = await dateOf('acme/orders.csv');
    expect(await dateOf('acme/returns.csv')).toBe(day); // one day: one {seq} counter

    const { code } = await pipeline.sweep(ID);
    expect(code).toBe(0);
    expect(lastSweepLog()).toMatchObject({
      listed: 4,
      enqueued: 0,
      skipped: { 'no-marker': 3, excluded: 1 },
    });
    expect(await finals()).toEqual([]);
    expect(await jobsOfPartner(pipeline.testFerry.deliverQueue, ID)).toEqual([]);
  });

  it('once the marker exists: exactly the two CSVs, numbered, gzipped, signed+encrypted, each with .md5 and .done', async () => {
    await pipeline.put([{ key: 'acme/_SUCCESS', body: Buffer.alloc(0) }]);
    const observer = await observePartnerDir(partnerDir());
    let swept: Awaited<ReturnType<typeof pipeline.sweep>>;
    try {
      swept = await pipeline.sweep(ID);
    } finally {
      await observer.stop();
    }
    const { code, summary } = swept;
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 2,/);
    expect(lastSweepLog()).toMatchObject({
      enqueued: 2,
      skipped: { marker: 1, excluded: 1, 'no-marker': 1 },
    });

    // Which file gets 001 follows delivery order: the names are a set.
    const names = [1, 2].map((n) => `ACME_${day}_00${n}.csv.gz.pgp`);
    expect(await finals()).toEqual(names.flatMap((n) => [n, `${n}.done`, `${n}.md5`]).sort());

    // Each set appears data file first, then its .md5, then its .done (a plain SFTP rename shows as CREATE).
    const appeared = observer
      .events()
      .filter((e) => (e.event === 'CREATE' || e.event === 'MOVED_TO') && !e.name.startsWith('.'))
      .map((e) => e.name);
    for (const name of names) {
      expect(appeared.filter((n) => n.startsWith(name))).toEqual([name, `${name}.md5`, `${name}.done`]);
    }

    const { finals: files } = await readPartnerDir(partnerDir());
    const bySource = new Map<string, { name: string; arrived: Buffer }>();
    for (const name of names) {
      const arrived = await readFile(join(partnerDir(), name));
      // md5sum -c: the line names the data file and holds the md5 of the bytes that arrived.
      const line = await readFile(join(partnerDir(), `${name}.md5`), 'utf8');
      expect(line).toBe(`${md5(arrived)}  ${name}\n`);
      expect(files.get(`${name}.done`)?.size).toBe(0);
      const plain = await openDelivered(arrived);
      bySource.set(plain.includes('HYPERLINK') ? 'acme/returns.csv' : 'acme/orders.csv', { name, arrived });
      if (plain.includes('HYPERLINK')) {
        // Only the formula cell changed; "+2" and "-1.50" are numbers and stay as they are.
        expect(plain).toBe(`${HEADER}\r\n7,"'=HYPERLINK(""http://x"")",1,-1.50\r\n8,SKU-8,1,+2\r\n`);
      } else {
        expect(plain).toBe(seeded[0]!.body.toString('utf8'));
      }
    }
    expect([...bySource.keys()].sort()).toEqual(['acme/orders.csv', 'acme/returns.csv']);

    // Sources moved to archive/{key} once delivered; the marker, the .tmp and the waiting file stay.
    for (const { key, body } of seeded.slice(0, 2)) {
      expect(await exists(key)).toBe(false);
      const moved = await pipeline.testFerry.s3.send(
        new GetObjectCommand({ Bucket: pipeline.fixture.bucket, Key: `archive/${key}` }),
      );
      expect(Buffer.from(await moved.Body!.transformToByteArray()).equals(body)).toBe(true);
    }
    for (const key of ['acme/_SUCCESS', 'acme/orders.csv.tmp', 'acme/late/bad.csv']) {
      expect(await exists(key)).toBe(true);
    }
    expect(await exists('archive/acme/_SUCCESS')).toBe(false);
    expect(await exists('archive/acme/orders.csv.tmp')).toBe(false);

    const got = await receipts();
    expect(got).toHaveLength(2);
    for (const receipt of got) {
      const source = seeded.find((s) => s.key === receipt.source.key)!;
      const { name, arrived } = bySource.get(source.key)!;
      expect(receipt).toMatchObject({
        source: { key: source.key, size: source.body.length, sha256: source.sha256 },
        target: { path: `${partnerDir()}/${name}` },
        sha256: sha256(arrived),
        md5: md5(arrived),
        bytes: arrived.length,
        // csvEscape records the setting (escape was on), for the unchanged file too.
        transform: {
          compress: 'gzip',
          csvEscape: true,
          pgp: { recipients: [keys.partnerKey.fingerprint], signed: true, armor: false },
        },
        sidecars: [
          { path: `${partnerDir()}/${name}.md5`, kind: 'checksum' },
          { path: `${partnerDir()}/${name}.done`, kind: 'done' },
        ],
      });
    }
    expect(pipeline.logs.lines().filter((l) => l.errCode === 'ERR_SOURCE_HOUSEKEEPING')).toEqual([]);
  });

  it('a second sweep delivers nothing more', async () => {
    const jobsBefore = (await jobsOfPartner(pipeline.testFerry.deliverQueue, ID)).length;
    const { code, summary } = await pipeline.sweep(ID);
    expect(code).toBe(0);
    expect(summary).toMatch(/^delivered 0,/);
    expect(lastSweepLog()).toMatchObject({ enqueued: 0 });
    expect((await jobsOfPartner(pipeline.testFerry.deliverQueue, ID)).length).toBe(jobsBefore);
    expect(await finals()).toHaveLength(6);
    expect(await receipts()).toHaveLength(2);
  });

  it('a bad row in a directory whose marker arrives later is quarantined: never at the partner, source not moved', async () => {
    const before = await finals();
    await pipeline.put([{ key: 'acme/late/_SUCCESS', body: Buffer.alloc(0) }]);
    const { summary } = await pipeline.sweep(ID);
    expect(summary).toMatch(/^delivered 0,.*quarantined 1, failed 0$/);
    expect(await finals()).toEqual(before);

    const { job, record } = await pipeline.failedDelivery(ID, 'acme/late/bad.csv');
    expect(job?.failedReason).toBe(
      'ERR_CSV_INVALID: csv: row 3, column 3: missing column: the row has 2, at least 4 expected',
    );
    expect(job?.attemptsMade).toBe(1);
    expect(record).toMatchObject({
      status: 'quarantined',
      reason: 'csv: row 3, column 3: missing column: the row has 2, at least 4 expected',
    });

    expect(await exists('acme/late/bad.csv')).toBe(true);
    expect(await exists('archive/acme/late/bad.csv')).toBe(false);
    expect(await receipts()).toHaveLength(2);
  });
});
