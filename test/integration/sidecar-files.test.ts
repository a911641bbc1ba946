// naming.checksumFile / naming.doneFile on the real pipeline (redis-server, sshd, s3rver): the partner
// sees the data file, then `<name>.sha256` (`<hex>  <name>`), then the done file, each appearing once
// by rename; a crash right after the data file was published is completed by the retry, every member
// still exactly once, and the receipt lists the set. `checksumFile: md5` writes `<name>.md5` from the
// md5 the writer computed (recorded with the intent, so a crash before the rename needs no re-read);
// publish: direct clears stale sidecars before writing; an over-long sidecar name is quarantined.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempNameFor } from '../../src/core/delivery-id.js';
import { configureFailpoints } from '../../src/failpoints.js';
import { observePartnerDir, type PartnerEvent } from '../support/partner-observer.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { jobsOfPartner, readPartnerDir, sweepAndWait } from '../support/pipeline.js';

const SIDECARS = 'naming: { checksumFile: sha256, doneFile: "{filename}.done" }';
const MD5_SIDECARS = 'naming: { checksumFile: md5, doneFile: "{filename}.done" }';
const LONG_PREFIX = 'x'.repeat(240);

const pipeline = usePartnerPipeline({
  partners: [
    { id: 'acme', extraYaml: SIDECARS },
    { id: 'crashy', attempts: 3, backoffSeconds: 1, extraYaml: SIDECARS },
    { id: 'reexport', onExisting: 'overwrite', extraYaml: SIDECARS },
    { id: 'md5er', extraYaml: MD5_SIDECARS },
    { id: 'md5crash', attempts: 1, extraYaml: MD5_SIDECARS },
    { id: 'md5late', attempts: 3, backoffSeconds: 1, extraYaml: MD5_SIDECARS },
    { id: 'direct', publish: 'direct', extraYaml: SIDECARS },
    { id: 'directretry', publish: 'direct', attempts: 3, backoffSeconds: 1, extraYaml: SIDECARS },
    // A 250-byte data name is fine alone, too long with ".sha256" (s3rver cannot store such a key).
    {
      id: 'longname',
      extraYaml: `naming: { filename: "${LONG_PREFIX}{name}{ext}", checksumFile: sha256 }`,
    },
  ],
});
const { deliveryIdOf } = pipeline;

/**
 * Final names in the order they appeared, from the partner-side observer: a plain SFTP rename shows as
 * CREATE (OpenSSH links the new name, then unlinks the temp one), posix-rename as MOVED_TO.
 */
function published(events: PartnerEvent[]): string[] {
  return events
    .filter((e) => (e.event === 'CREATE' || e.event === 'MOVED_TO') && !e.name.startsWith('.'))
    .map((e) => e.name);
}

async function expectCompleteSet(partnerId: string, name: string, sha256: string): Promise<void> {
  const dir = await readPartnerDir(pipeline.fixture.partnerDirs[partnerId]!);
  expect(dir.temps).toEqual([]);
  expect([...dir.finals.keys()].sort()).toEqual([name, `${name}.done`, `${name}.sha256`]);
  expect(dir.finals.get(name)?.sha256).toBe(sha256);
  const checksum = await readFile(join(pipeline.fixture.partnerDirs[partnerId]!, `${name}.sha256`), 'utf8');
  expect(checksum).toBe(`${sha256}  ${name}\n`);
  expect(dir.finals.get(`${name}.done`)?.size).toBe(0);
}

describe('sidecar files', () => {
  it('publishes the data file, then its checksum file, then the done file, and lists them in the receipt', async () => {
    const observer = await observePartnerDir(pipeline.fixture.partnerDirs.acme!);
    const [object] = await pipeline.put([{ key: 'acme/orders.csv', size: 4096 }]);
    try {
      expect((await pipeline.sweep('acme')).summary).toMatch(/^delivered 1,/);
    } finally {
      await observer.stop();
    }
    expect(published(observer.events())).toEqual(['orders.csv', 'orders.csv.sha256', 'orders.csv.done']);
    await expectCompleteSet('acme', 'orders.csv', object!.sha256);

    const [job] = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'acme');
    // md5 is computed only for partners that ask for it.
    expect(await pipeline.ledger.get(job!.id!)).not.toHaveProperty('md5');
    const receipt = await pipeline.receiptOf('acme', job!.id!);
    expect(receipt).not.toHaveProperty('md5');
    expect(receipt.sidecars).toEqual([
      { path: expect.stringMatching(/\/orders\.csv\.sha256$/), kind: 'checksum' },
      { path: expect.stringMatching(/\/orders\.csv\.done$/), kind: 'done' },
    ]);
  });

  it('completes the set after a crash right after the data file was published, each member once', async () => {
    const observer = await observePartnerDir(pipeline.fixture.partnerDirs.crashy!);
    const [object] = await pipeline.put([{ key: 'crashy/orders.csv', size: 64 * 1024 }]);
    configureFailpoints('after_rename=throw');
    try {
      expect((await pipeline.sweep('crashy')).summary).toMatch(/^delivered 1,/);
    } finally {
      configureFailpoints(undefined);
      await observer.stop();
    }
    const [job] = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'crashy');
    expect(job!.attemptsMade).toBe(2);
    expect(job!.returnvalue).toMatchObject({ outcome: 'delivered', bytes: 0 });
    expect(pipeline.logs.lines().some((l) => l.partnerId === 'crashy' && l.recovered === true)).toBe(true);

    const events = observer.events();
    expect(published(events)).toEqual(['orders.csv', 'orders.csv.sha256', 'orders.csv.done']);
    // One upload of the data file; each sidecar's temp file created once.
    const created = events
      .filter((e) => e.event === 'CREATE' && e.name.startsWith('.'))
      .map((e) => e.name.replace(/\.\w{12}\.part$/, ''));
    expect(created).toEqual(['.orders.csv', '.orders.csv.sha256', '.orders.csv.done']);
    await expectCompleteSet('crashy', 'orders.csv', object!.sha256);

    // A second sweep sends nothing more.
    expect((await pipeline.sweep('crashy')).summary).toMatch(/^delivered 0, already delivered 1,/);
    expect([...(await readPartnerDir(pipeline.fixture.partnerDirs.crashy!)).finals.keys()]).toHaveLength(3);
  });

  it('replaces the whole set when a re-exported object overwrites the data file (onExisting: overwrite)', async () => {
    const config = pipeline.config();
    await pipeline.put([{ key: 'reexport/totals.csv', size: 1000 }]);
    expect((await sweepAndWait(config, 'reexport')).summary).toMatch(/^delivered 1,/);
    // Same key, same size, new bytes: a stale checksum file would have the expected size.
    const [second] = await pipeline.put([{ key: 'reexport/totals.csv', size: 1000 }]);
    expect((await sweepAndWait(config, 'reexport')).summary).toMatch(/^delivered 1,/);
    await expectCompleteSet('reexport', 'totals.csv', second!.sha256);
  });
});

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/**
 * What `md5sum -c <name>.md5` checks, done on the partner's files: the line names the data file and
 * holds the md5 of the bytes that arrived. Returns that md5.
 */
async function expectMd5SidecarVerifies(partnerId: string, name: string): Promise<string> {
  const dir = pipeline.fixture.partnerDirs[partnerId]!;
  const line = await readFile(join(dir, `${name}.md5`), 'utf8');
  const match = /^([0-9a-f]{32}) {2}(.+)\n$/.exec(line);
  expect(match?.[2]).toBe(name);
  expect(match?.[1]).toBe(md5(await readFile(join(dir, match![2]!))));
  return match![1]!;
}

describe('checksumFile: md5', () => {
  it('publishes <name>.md5 over the delivered bytes and records the md5 in the ledger and receipt', async () => {
    const [object] = await pipeline.put([{ key: 'md5er/orders.csv', size: 70_000 }]);
    expect((await pipeline.sweep('md5er')).summary).toMatch(/^delivered 1,/);

    const dir = await readPartnerDir(pipeline.fixture.partnerDirs.md5er!);
    expect(dir.temps).toEqual([]);
    expect([...dir.finals.keys()].sort()).toEqual(['orders.csv', 'orders.csv.done', 'orders.csv.md5']);
    const hex = await expectMd5SidecarVerifies('md5er', 'orders.csv');
    expect(hex).toBe(md5(object!.body));

    const id = await deliveryIdOf('md5er', 'md5er/orders.csv');
    expect(await pipeline.ledger.get(id)).toMatchObject({
      status: 'delivered',
      sha256: object!.sha256,
      md5: hex,
    });
    const receipt = await pipeline.receiptOf('md5er', id);
    expect(receipt).toMatchObject({
      sha256: object!.sha256,
      md5: hex,
      sidecars: [
        { path: expect.stringMatching(/\/orders\.csv\.md5$/), kind: 'checksum' },
        { path: expect.stringMatching(/\/orders\.csv\.done$/), kind: 'done' },
      ],
    });
  });

  it('completes the set with the md5 recorded with the intent after a crash before the rename', async () => {
    const key = 'md5crash/orders.csv';
    const [object] = await pipeline.put([{ key, size: 64 * 1024 }]);
    const id = await deliveryIdOf('md5crash', key);
    // One attempt (attempts: 1), stopped right after the intent was recorded.
    configureFailpoints('after_intent=throw');
    try {
      expect((await pipeline.sweep('md5crash')).summary).toMatch(/failed 1$/);
    } finally {
      configureFailpoints(undefined);
    }
    // The writer's md5 went into the intent (a failed record keeps the intent's fields).
    expect(await pipeline.ledger.get(id)).toMatchObject({ sha256: object!.sha256, md5: md5(object!.body) });
    // A failure after the intent keeps the verified temp file: it is the evidence the retry publishes.
    const dir = pipeline.fixture.partnerDirs.md5crash!;
    expect((await readPartnerDir(dir)).temps).toEqual([tempNameFor('orders.csv', id)]);

    const [job] = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'md5crash');
    await job!.retry('failed');
    await expect.poll(() => job!.getState(), { timeout: 30_000 }).toBe('completed');
    const done = await pipeline.testFerry.deliverQueue.getJob(id);
    // The retry published the temp file: no byte read or sent again, the md5 came from the intent.
    expect(done!.returnvalue).toMatchObject({ outcome: 'delivered', bytes: 0 });
    expect(pipeline.logs.lines().some((l) => l.partnerId === 'md5crash' && l.recovered === true)).toBe(true);
    expect(await expectMd5SidecarVerifies('md5crash', 'orders.csv')).toBe(md5(object!.body));
    const after = await readPartnerDir(dir);
    expect(after.temps).toEqual([]);
    expect([...after.finals.keys()].sort()).toEqual(['orders.csv', 'orders.csv.done', 'orders.csv.md5']);
  });

  it('fails for good, publishing nothing, when the intent was recorded before md5 was configured', async () => {
    // An attempt made under checksumFile: sha256 recorded its intent (sha256 only) and left the
    // verified temp file; the partner then switched to md5.
    const key = 'md5late/orders.csv';
    const [object] = await pipeline.put([{ key, size: 5000 }]);
    const id = await deliveryIdOf('md5late', key);
    const head = await pipeline.testFerry.s3.send(
      new HeadObjectCommand({ Bucket: pipeline.fixture.bucket, Key: key }),
    );
    const dir = pipeline.fixture.partnerDirs.md5late!;
    await writeFile(join(dir, tempNameFor('orders.csv', id)), object!.body);
    await pipeline.ledger.record({
      deliveryId: id,
      partnerId: 'md5late',
      bucket: pipeline.fixture.bucket,
      key,
      etag: head.ETag!.replace(/"/g, ''),
      status: 'publishing',
      size: object!.body.length,
      sha256: object!.sha256,
      remotePath: `${pipeline.config().partners.get('md5late')!.target.directory}/orders.csv`,
    });

    expect((await pipeline.sweep('md5late')).summary).toMatch(/failed 1$/);
    const [job] = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'md5late');
    expect(job!.attemptsMade).toBe(1); // permanent: no retry
    expect(job!.failedReason).toMatch(
      /^ERR_CONFIG_INVALID: naming\.checksumFile is md5 but .* without a md5/,
    );
    expect([...(await readPartnerDir(dir)).finals.keys()]).toEqual([]);
    expect(await pipeline.ledger.get(id)).toMatchObject({
      status: 'failed',
      lastErrorCode: 'ERR_CONFIG_INVALID',
    });
  });
});

describe('sidecars around the data file', () => {
  it('publish: direct removes stale sidecars of an earlier file before writing the data file', async () => {
    const dir = pipeline.fixture.partnerDirs.direct!;
    // Left by an earlier orders.csv the partner has taken: same size as a fresh checksum line.
    await writeFile(join(dir, 'orders.csv.sha256'), `${'0'.repeat(64)}  orders.csv\n`);
    await writeFile(join(dir, 'orders.csv.done'), '');
    const observer = await observePartnerDir(dir);
    const [object] = await pipeline.put([{ key: 'direct/orders.csv', size: 4096 }]);
    try {
      expect((await pipeline.sweep('direct')).summary).toMatch(/^delivered 1,/);
    } finally {
      await observer.stop();
    }
    const events = observer.events().map((e) => `${e.event} ${e.name}`);
    const dataCreated = events.indexOf('CREATE orders.csv');
    expect(dataCreated).toBeGreaterThan(-1);
    expect(events.slice(0, dataCreated)).toEqual(['DELETE orders.csv.done', 'DELETE orders.csv.sha256']);
    await expectCompleteSet('direct', 'orders.csv', object!.sha256);
  });

  it('publish: direct retried after the whole set was written completes it without rewriting or a second done file', async () => {
    const dir = pipeline.fixture.partnerDirs.directretry!;
    const observer = await observePartnerDir(dir);
    const [object] = await pipeline.put([{ key: 'directretry/orders.csv', size: 4096 }]);
    // The first attempt writes data, checksum and done file, then fails before its receipt.
    configureFailpoints('after_sidecars=throw:1');
    try {
      expect((await pipeline.sweep('directretry')).summary).toMatch(/^delivered 1,/);
    } finally {
      configureFailpoints(undefined);
      await observer.stop();
    }
    const [job] = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'directretry');
    expect(job?.attemptsMade).toBe(2);
    expect(job?.returnvalue).toMatchObject({ outcome: 'delivered', bytes: 0 });
    const events = observer.events().map((e) => `${e.event} ${e.name}`);
    expect(events.filter((e) => e === 'CREATE orders.csv.done')).toHaveLength(1);
    expect(events.filter((e) => e.startsWith('DELETE orders.csv'))).toEqual([]);
    expect(events.filter((e) => e === 'CREATE orders.csv')).toHaveLength(1);
    await expectCompleteSet('directretry', 'orders.csv', object!.sha256);
  });

  it('quarantines an object whose sidecar name would break a safe-name rule, with an alert', async () => {
    const key = 'longname/orders.csv';
    expect(`${LONG_PREFIX}orders.csv`).toHaveLength(250);
    await pipeline.put([{ key, size: 100 }]);
    const { summary } = await pipeline.sweep('longname');
    expect(summary).toMatch(/quarantined 1, failed 0$/);
    expect((await readPartnerDir(pipeline.fixture.partnerDirs.longname!)).finals.size).toBe(0);

    const id = await deliveryIdOf('longname', key);
    const reason = 'checksum file name: too-long: name is longer than 255 bytes in UTF-8';
    expect(await pipeline.ledger.get(id)).toMatchObject({ status: 'quarantined', reason });
    const [job] = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'longname');
    expect(job!.attemptsMade).toBe(1);
    expect(job!.failedReason).toBe(`ERR_KEY_HOSTILE: object key quarantined: ${reason}`);
    const alerts = pipeline.logs
      .lines()
      .filter((l) => l.errCode === 'ERR_KEY_HOSTILE' && l.alert === true && l.trackingId === id);
    expect(alerts).toMatchObject([{ outcome: 'quarantined', reason }]);
  });
});
