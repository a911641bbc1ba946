// naming.filename on the real pipeline (redis-server, sshd, s3rver): the partner receives the
// templated name (date = the object's LastModified in the schedule timezone), a second sweep and a
// retried job add no second file, two objects rendering to one name deliver only the first one
// listed (`name-collision`), and `ferry plan` shows the templated remote path.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
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
const TIMEZONE = 'America/New_York';

async function finals(): Promise<string[]> {
  const dir = await readPartnerDir(fixture.partnerDirs.acme!);
  expect(dir.temps).toEqual([]);
  return [...dir.finals.keys()].sort();
}

/** yyyyMMdd of the object's LastModified in the partner's timezone ("en-CA" prints yyyy-MM-dd). */
async function dateOf(key: string): Promise<string> {
  const head = await testFerry.s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
  return head.LastModified!.toLocaleDateString('en-CA', { timeZone: TIMEZONE }).replaceAll('-', '');
}

beforeAll(async () => {
  process.env.FERRY_ADMIN_PASSWORD = 'naming-templates-admin';
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  fixture = await writeFerryConfig(services, {
    partners: [
      {
        id: 'acme',
        timezone: TIMEZONE,
        include: ['**'],
        extraYaml: 'naming: { filename: "ACME_{date:yyyyMMdd}_{name}{ext}" }',
      },
    ],
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger);
  await testFerry.ferry.ledgerTrusted();
}, 120_000);

afterAll(async () => {
  await testFerry?.close();
  await services?.stop();
});

describe('naming.filename', () => {
  it('delivers under the templated name once, across sweeps and a retried job', async () => {
    const config = testFerry.ferry.getConfig();
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'acme/orders.csv', size: 300 }]);
    const expected = `ACME_${await dateOf('acme/orders.csv')}_orders.csv`;

    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(await runPlanCommand({ config, partnerId: 'acme', ...plan })).toBe(0);
    expect(out.some((l) => l.startsWith('deliver  acme/orders.csv → ') && l.endsWith(`/${expected}`))).toBe(
      true,
    );

    expect((await sweepAndWait(config, 'acme')).summary).toMatch(/^delivered 1,/);
    expect(await finals()).toEqual([expected]);
    const [job] = await jobsOfPartner(testFerry.deliverQueue, 'acme');
    expect(job?.data).toMatchObject({ key: 'acme/orders.csv', lastModified: expect.any(String) });

    // A second sweep finds it delivered; an operator's retry of the completed job sends nothing.
    expect((await sweepAndWait(config, 'acme')).summary).toMatch(/^delivered 0, already delivered 1,/);
    await job!.retry('completed');
    await expect.poll(() => job!.getState()).toBe('completed');
    expect(await finals()).toEqual([expected]);
  });

  it('delivers only the first of two objects that render to one name (name-collision)', async () => {
    const config = testFerry.ferry.getConfig();
    await putObjects(testFerry.s3, fixture.bucket, [
      { key: 'acme/east/totals.csv', size: 100 },
      { key: 'acme/west/totals.csv', size: 100 },
    ]);
    const name = `ACME_${await dateOf('acme/east/totals.csv')}_totals.csv`;
    expect(await dateOf('acme/west/totals.csv')).toBe(name.slice(5, 13)); // same day: same name
    await sweepAndWait(config, 'acme');
    expect(await finals()).toContain(name);
    const collision = logs.lines().find((l) => l.msg?.toString().startsWith('name-collision'));
    expect(collision).toMatchObject({
      key: 'acme/west/totals.csv',
      firstKey: 'acme/east/totals.csv',
      alert: true,
    });

    // Later sweeps keep holding it back: the delivered object keeps the name.
    await sweepAndWait(config, 'acme');
    const collisions = logs.lines().filter((l) => l.msg?.toString().startsWith('name-collision'));
    expect(collisions).toHaveLength(2);
    expect((await finals()).filter((f) => f.includes('totals'))).toEqual([name]);
  });
});
