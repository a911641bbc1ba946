// naming.checksumFile / naming.doneFile on the real pipeline (redis-server, sshd, s3rver): the partner
// sees the data file, then `<name>.sha256` (`<hex>  <name>`), then the done file, each appearing once
// by rename; a crash right after the data file was published is completed by the retry, every member
// still exactly once, and the receipt lists the set.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureFailpoints } from '../../src/failpoints.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { observePartnerDir, type PartnerEvent } from '../support/partner-observer.js';
import {
  captureLogger,
  jobsOfPartner,
  putObjects,
  readPartnerDir,
  startTestFerry,
  sweepAndWait,
  type TestFerry,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';

let services: Services;
let fixture: FerryFixture;
let testFerry: TestFerry;
const logs = captureLogger();
const SIDECARS = 'naming: { checksumFile: sha256, doneFile: "{filename}.done" }';

beforeAll(async () => {
  process.env.FERRY_ADMIN_PASSWORD = 'sidecar-files-admin';
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'acme', extraYaml: SIDECARS },
      { id: 'crashy', attempts: 3, backoffSeconds: 1, extraYaml: SIDECARS },
      { id: 'reexport', onExisting: 'overwrite', extraYaml: SIDECARS },
    ],
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  await testFerry.ferry.ledgerTrusted();
}, 120_000);

afterAll(async () => {
  configureFailpoints(undefined);
  await testFerry?.close();
  await services?.stop();
});

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
  const dir = await readPartnerDir(fixture.partnerDirs[partnerId]!);
  expect(dir.temps).toEqual([]);
  expect([...dir.finals.keys()].sort()).toEqual([name, `${name}.done`, `${name}.sha256`]);
  expect(dir.finals.get(name)?.sha256).toBe(sha256);
  const checksum = await readFile(join(fixture.partnerDirs[partnerId]!, `${name}.sha256`), 'utf8');
  expect(checksum).toBe(`${sha256}  ${name}\n`);
  expect(dir.finals.get(`${name}.done`)?.size).toBe(0);
}

describe('sidecar files', () => {
  it('publishes the data file, then its checksum file, then the done file, and lists them in the receipt', async () => {
    const observer = await observePartnerDir(fixture.partnerDirs.acme!);
    const [object] = await putObjects(testFerry.s3, fixture.bucket, [{ key: 'acme/orders.csv', size: 4096 }]);
    try {
      expect((await sweepAndWait(testFerry.ferry.getConfig(), 'acme')).summary).toMatch(/^delivered 1,/);
    } finally {
      await observer.stop();
    }
    expect(published(observer.events())).toEqual(['orders.csv', 'orders.csv.sha256', 'orders.csv.done']);
    await expectCompleteSet('acme', 'orders.csv', object!.sha256);

    const [job] = await jobsOfPartner(testFerry.deliverQueue, 'acme');
    const stored = await testFerry.s3.send(
      new GetObjectCommand({ Bucket: fixture.receiptsBucket, Key: `ferry/receipts/acme/${job!.id}.json` }),
    );
    const receipt = JSON.parse(await stored.Body!.transformToString()) as { sidecars?: unknown };
    expect(receipt.sidecars).toEqual([
      { path: expect.stringMatching(/\/orders\.csv\.sha256$/), kind: 'checksum' },
      { path: expect.stringMatching(/\/orders\.csv\.done$/), kind: 'done' },
    ]);
  });

  it('completes the set after a crash right after the data file was published, each member once', async () => {
    const observer = await observePartnerDir(fixture.partnerDirs.crashy!);
    const [object] = await putObjects(testFerry.s3, fixture.bucket, [
      { key: 'crashy/orders.csv', size: 64 * 1024 },
    ]);
    configureFailpoints('after_rename=throw');
    try {
      expect((await sweepAndWait(testFerry.ferry.getConfig(), 'crashy')).summary).toMatch(/^delivered 1,/);
    } finally {
      configureFailpoints(undefined);
      await observer.stop();
    }
    const [job] = await jobsOfPartner(testFerry.deliverQueue, 'crashy');
    expect(job!.attemptsMade).toBe(2);
    expect(job!.returnvalue).toMatchObject({ outcome: 'delivered', bytes: 0 });
    expect(logs.lines().some((l) => l.partnerId === 'crashy' && l.recovered === true)).toBe(true);

    const events = observer.events();
    expect(published(events)).toEqual(['orders.csv', 'orders.csv.sha256', 'orders.csv.done']);
    // One upload of the data file; each sidecar's temp file created once.
    const created = events
      .filter((e) => e.event === 'CREATE' && e.name.startsWith('.'))
      .map((e) => e.name.replace(/\.\w{12}\.part$/, ''));
    expect(created).toEqual(['.orders.csv', '.orders.csv.sha256', '.orders.csv.done']);
    await expectCompleteSet('crashy', 'orders.csv', object!.sha256);

    // A second sweep sends nothing more.
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'crashy')).summary).toMatch(
      /^delivered 0, already delivered 1,/,
    );
    expect([...(await readPartnerDir(fixture.partnerDirs.crashy!)).finals.keys()]).toHaveLength(3);
  });

  it('replaces the whole set when a re-exported object overwrites the data file (onExisting: overwrite)', async () => {
    const config = testFerry.ferry.getConfig();
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'reexport/totals.csv', size: 1000 }]);
    expect((await sweepAndWait(config, 'reexport')).summary).toMatch(/^delivered 1,/);
    // Same key, same size, new bytes: a stale checksum file would have the expected size.
    const [second] = await putObjects(testFerry.s3, fixture.bucket, [
      { key: 'reexport/totals.csv', size: 1000 },
    ]);
    expect((await sweepAndWait(config, 'reexport')).summary).toMatch(/^delivered 1,/);
    await expectCompleteSet('reexport', 'totals.csv', second!.sha256);
  });
});
