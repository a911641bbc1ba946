// The web UI at `/`, driven in headless Chromium (Debian's chromium through playwright-core) against
// the whole pipeline: real redis-server, sshd and s3rver. An operator finds a failed delivery, follows
// it into Bull Board, retries it there once the cause is fixed and sees it delivered, and retries
// another from its delivery page, and sends a stale object from the partners page; a viewer gets no write
// controls and a direct write is refused. FERRY_SCREENSHOTS=1 rewrites docs/screenshots/*.png.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { chown, mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WEB_UI_CSP } from '../../src/http/ui/web-ui.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  deliveryIdOf,
  putObjects,
  readPartnerDir,
  startTestFerry,
  sweepAndWait,
  waitForJobState,
  type TestFerry,
} from '../support/pipeline.js';
import { launchHeadlessChromium } from '../support/headless-chromium.js';
import { startServices, type Services } from '../support/services.js';

const SCREENSHOTS = process.env.FERRY_SCREENSHOTS === '1';
const screenshotPath = (name: string) =>
  fileURLToPath(new URL(`../../docs/screenshots/${name}`, import.meta.url));

const OPERATOR = { username: 'admin', password: 'web-ui-operator-canary-7e21' };
const VIEWER = { username: 'auditor', password: 'web-ui-viewer-canary-40bd' };
const FAILING_KEY = 'acme/orders_0001.csv';
const HOSTILE_KEY = 'globex/<img src=x onerror=alert(document.domain)>.csv';
const STALE_KEY = 'hooli/2026-01-01.csv';
/** How far ahead of the real clock sweeps select (an object written now is then old to hooli). */
let sweepClockAheadMs = 0;

let services: Services;
let fixture: FerryFixture;
let testFerry: TestFerry;
let browser: Browser;
let base: string;
const logs = captureLogger();

/** A browser context logged in as `login`, and every script error, console error or dialog of its UI pages. */
async function loginAs(login: { username: string; password: string }): Promise<{
  context: BrowserContext;
  page: Page;
  problems: string[];
}> {
  const context = await browser.newContext({
    httpCredentials: { ...login, origin: base },
    viewport: { width: 1280, height: 720 },
  });
  const page = await context.newPage();
  const problems: string[] = [];
  const onUi = () => !new URL(page.url()).pathname.startsWith('/admin');
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    const serious = msg.type() === 'error' || msg.type() === 'warning';
    // Bull Board's own console noise is not ours, but a policy it breaks is (security-headers.ts).
    const policy = msg.text().includes('Content Security Policy');
    if (serious && (onUi() || policy)) problems.push(`console: ${msg.text()}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { context, page, problems };
}

/** Bull Board's retry button on a job page: an icon, its name only in a tooltip. */
const retryButton = (page: Page) => page.locator('button:has(svg.lucide-refresh-cw)');

/** The deliveries table row of one key, after searching for it in the UI. */
async function searchDeliveries(page: Page, key: string) {
  await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
  await page.getByLabel('Search key or delivery id').fill(key);
  await page.getByRole('button', { name: 'Search' }).click();
  // The count line names the search, so the old table is never mistaken for the result.
  await page
    .locator('#result-count')
    .filter({ hasText: `matching “${key}”` })
    .waitFor();
  return page.getByRole('row').filter({ hasText: key });
}

beforeAll(async () => {
  browser = await launchHeadlessChromium(); // first: says how to install it when it is missing
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = OPERATOR.password;
  process.env.FERRY_VIEWER_USER = VIEWER.username;
  process.env.FERRY_VIEWER_PASSWORD = VIEWER.password;
  fixture = await writeFerryConfig(services, {
    adminUser: OPERATOR.username,
    partners: [
      { id: 'acme', cron: '0 2 * * *', timezone: 'America/New_York', attempts: 3 },
      { id: 'globex', cron: '*/15 * * * *', timezone: 'Europe/Berlin' },
      // Nothing to deliver; shows a delivery window and an SLA on the partners page.
      {
        id: 'initech',
        cron: '30 0 * * *',
        extraYaml: "window: { start: '01:00', end: '05:00' }\nexpect: { by: '06:00', atLeast: 1 }",
      },
      { id: 'hooli', cron: '0 3 * * *', maxAgeDays: 2 },
    ],
  });
  // acme's directory is missing on the SFTP server: a permanent failure an operator can fix.
  await rmdir(fixture.partnerDirs.acme!);
  testFerry = await startTestFerry(services, fixture.dir, logs.logger, {
    sweepNow: () => new Date(Date.now() + sweepClockAheadMs),
  });
  base = `http://127.0.0.1:${testFerry.ferry.httpPort}`;

  await putObjects(testFerry.s3, fixture.bucket, [
    { key: 'globex/orders_0001.csv', size: 2048 },
    { key: 'globex/orders_0002.csv', size: 4096 },
    { key: HOSTILE_KEY, size: 10 },
    { key: FAILING_KEY, size: 2048 },
  ]);
  const globex = await sweepAndWait(testFerry.ferry.getConfig(), 'globex');
  expect(globex.summary).toMatch(/delivered 2, .* quarantined 1/);
  const acme = await sweepAndWait(testFerry.ferry.getConfig(), 'acme');
  expect(acme.summary).toMatch(/failed 1$/);
});

afterEach(() => {
  sweepClockAheadMs = 0;
});

afterAll(async () => {
  await browser?.close();
  await testFerry?.close();
  await services?.stop();
});

describe('web UI', () => {
  it('is served behind the dashboard logins with a strict Content-Security-Policy', async () => {
    for (const path of ['/', '/ui/app.js', '/ui/styles.css']) {
      expect((await fetch(`${base}${path}`)).status).toBe(401);
    }
    const auth = `Basic ${Buffer.from(`${VIEWER.username}:${VIEWER.password}`).toString('base64')}`;
    const res = await fetch(`${base}/`, { headers: { authorization: auth } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(WEB_UI_CSP);
    expect(WEB_UI_CSP).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    expect(html).not.toMatch(/\sstyle=/);
  });

  it('lets an operator find a failed delivery, retry it in Bull Board once fixed, and see it delivered', async () => {
    const { context, page, problems } = await loginAs(OPERATOR);

    await page.goto(`${base}/`);
    const acmeRow = page.locator('tr[data-partner="acme"]');
    await acmeRow.getByRole('link', { name: '1', exact: true }).waitFor(); // one failed delivery
    expect(await acmeRow.textContent()).toContain('America/New_York');
    await page
      .locator('tr[data-partner="globex"]')
      .getByRole('link', { name: /globex\/orders_000/ })
      .waitFor();
    if (SCREENSHOTS) await page.screenshot({ path: screenshotPath('partners.png'), fullPage: true });

    await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
    await page.getByRole('row').filter({ hasText: FAILING_KEY }).waitFor();
    // The hostile key is shown as text: no element, no script, no dialog.
    await page.getByRole('row').filter({ hasText: HOSTILE_KEY }).getByText('quarantined').waitFor();
    expect(await page.locator('main img').count()).toBe(0);
    if (SCREENSHOTS) await page.screenshot({ path: screenshotPath('deliveries.png'), fullPage: true });

    const failed = await searchDeliveries(page, FAILING_KEY);
    await failed.getByText('failed', { exact: true }).waitFor();
    expect(await failed.textContent()).toContain('ERR_SFTP_NO_SUCH_PATH');
    expect(await page.getByRole('row').count()).toBe(2); // the header and the one match

    await failed.getByRole('link', { name: FAILING_KEY, exact: true }).click();
    await page.getByRole('heading', { name: 'Delivery', exact: true }).waitFor();
    // Operators may retry a failed delivery (from this page too); redelivering is for delivered ones.
    await page.getByRole('button', { name: 'Retry' }).waitFor();
    expect(await page.getByRole('button', { name: 'Redeliver' }).count()).toBe(0);
    expect(await page.locator('dl').textContent()).toContain('ERR_SFTP_NO_SUCH_PATH');
    // The failure links its runbook (by the error code's family).
    expect(await page.getByRole('link', { name: 'what to check and do' }).getAttribute('href')).toMatch(
      /\/runbooks\/sftp-remote-path\.md$/,
    );
    await page.goBack();

    // Fix the cause, then retry the job in Bull Board, reached through the row's link.
    const owner = await stat(services.sshd.inbound);
    await mkdir(fixture.partnerDirs.acme!);
    await chown(fixture.partnerDirs.acme!, owner.uid, owner.gid);
    const [job] = (await testFerry.deliverQueue.getJobs(['failed'])).filter(
      (j) => (j.data as { key?: string }).key === FAILING_KEY,
    );
    expect(job).toBeDefined();
    await page
      .getByRole('row')
      .filter({ hasText: FAILING_KEY })
      .getByRole('link', { name: `Bull Board job for ${FAILING_KEY}` })
      .click();
    await page.waitForURL((url) => url.pathname.startsWith('/admin/queue/deliver'));
    await page.getByText(job!.id!, { exact: true }).waitFor();
    await retryButton(page).hover(); // the board's icon buttons are named only by their tooltip
    await page.getByText('Retry', { exact: true }).waitFor();
    await retryButton(page).click();
    await page.getByRole('button', { name: 'Confirm' }).click(); // "Confirm job actions" is on by default
    await waitForJobState(testFerry.deliverQueue, job!.id!, 'completed');

    await page.goto(`${base}/`);
    const delivered = await searchDeliveries(page, FAILING_KEY);
    await delivered.getByText('delivered', { exact: true }).waitFor();
    const { finals } = await readPartnerDir(fixture.partnerDirs.acme!);
    expect([...finals.keys()]).toEqual(['orders_0001.csv']);

    expect(problems).toEqual([]);
    await context.close();
  });

  it('lets an operator pause and resume a partner and send a file, with reasons', async () => {
    const { context, page, problems } = await loginAs(OPERATOR);
    await page.goto(`${base}/`);
    const pause = page.getByRole('form', { name: 'Pause globex' });
    await pause.getByLabel('Reason').fill('partner maintenance tonight');
    await pause.getByRole('button', { name: 'Pause' }).click();
    const globex = page.locator('tr[data-partner="globex"]');
    await globex.getByText('by admin: partner maintenance tonight').waitFor();
    const resume = page.getByRole('form', { name: 'Resume globex' });
    await resume.getByLabel('Reason').fill('maintenance over');
    await resume.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('form', { name: 'Pause globex' }).waitFor();
    expect(await globex.textContent()).toContain('enabled');

    await page.getByRole('link', { name: 'Send a file now' }).click();
    await page.getByLabel('Partner', { exact: true }).selectOption('globex');
    await page.getByLabel('CSV file').setInputFiles({
      name: 'orders_0003.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('order_id,qty\n1,2\n'),
    });
    await page.getByRole('button', { name: 'Send' }).click();
    const stored = page.locator('#upload-result code');
    await stored.waitFor();
    const url = (await stored.textContent())!;
    expect(url).toMatch(/^s3:\/\/warehouse-exports\/globex\/.*orders_0003\.csv$/);
    const key = url.slice('s3://warehouse-exports/'.length);
    const head = await testFerry.s3.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
    expect(head.ContentLength).toBe(17);

    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows a viewer no write controls and refuses a viewer’s direct writes with 403', async () => {
    const { context, page, problems } = await loginAs(VIEWER);
    await page.goto(`${base}/`);
    await page.locator('tr[data-partner="acme"]').waitFor();
    expect(await page.getByText(`${VIEWER.username} (viewer)`).count()).toBe(1);
    expect(await page.getByRole('form').count()).toBe(0); // no pause/resume
    expect(await page.getByRole('link', { name: 'Send a file now' }).isVisible()).toBe(false);

    const row = await searchDeliveries(page, FAILING_KEY);
    await row.getByRole('link', { name: FAILING_KEY, exact: true }).click();
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    expect(await page.getByRole('button', { name: 'Redeliver' }).count()).toBe(0);
    const deliveryId = decodeURIComponent(new URL(page.url()).hash.replace('#/deliveries/', ''));
    const [job] = (await testFerry.deliverQueue.getJobs(['completed'])).filter(
      (j) => (j.data as { key?: string }).key === FAILING_KEY,
    );

    expect(problems).toEqual([]);

    // The server enforces it anyway: same-origin writes from the viewer's own page are refused.
    const statuses = await page.evaluate(
      async ({ id, jobId }) => {
        const post = (path: string, method = 'POST') =>
          fetch(path, {
            method,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ reason: 'viewer tries anyway' }),
          }).then((r) => r.status);
        return [
          await post(`/api/deliveries/${encodeURIComponent(id)}/redeliver`),
          await post(`/api/deliveries/${encodeURIComponent(id)}/retry`),
          await post('/api/partners/acme/pause'),
          await post('/api/partners/hooli/redeliver'),
          await post(`/admin/api/queues/deliver/${encodeURIComponent(jobId)}/retry`, 'PUT'),
        ];
      },
      { id: deliveryId, jobId: job!.id! },
    );
    expect(statuses).toEqual([403, 403, 403, 403, 403]);

    // Bull Board shows the viewer the same job without a retry button.
    await page.getByRole('link', { name: /^Bull Board job/ }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/admin/queue/deliver'));
    await page.getByText(job!.id!, { exact: true }).waitFor();
    await page.getByRole('tab', { name: 'Data' }).waitFor(); // the job card, where the actions would be
    expect(await retryButton(page).count()).toBe(0);

    // Only the refusals asked for above (the browser logs each as a failed resource).
    expect(problems.filter((p) => !p.includes('status of 403'))).toEqual([]);
    await context.close();
  });

  it('lets an operator retry a failed delivery from its page once the cause is fixed, then redeliver it replacing the partner’s file; a viewer sees no Retry', async () => {
    // globex has onExisting: fail and still has a file of that name: the delivery fails for good.
    const key = 'globex/orders_0009.csv';
    const partnerFile = join(fixture.partnerDirs.globex!, 'orders_0009.csv');
    await writeFile(partnerFile, 'the partner’s own file\n');
    const [seeded] = await putObjects(testFerry.s3, fixture.bucket, [{ key, size: 1024 }]);
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'globex')).code).toBe(1);
    const id = await deliveryIdOf(testFerry.s3, fixture.bucket, 'globex', key);
    await waitForJobState(testFerry.deliverQueue, id, 'failed');

    const viewer = await loginAs(VIEWER);
    await viewer.page.goto(`${base}/#/deliveries/${encodeURIComponent(id)}`);
    await viewer.page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    expect(await viewer.page.locator('dl').textContent()).toContain('ERR_REMOTE_EXISTS');
    expect(await viewer.page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(viewer.problems).toEqual([]);
    await viewer.context.close();

    const { context, page, problems } = await loginAs(OPERATOR);
    await page.goto(`${base}/`);
    const row = await searchDeliveries(page, key);
    await row.getByText('failed', { exact: true }).waitFor();
    await row.getByRole('link', { name: key, exact: true }).click();
    await page.getByRole('heading', { name: 'Delivery', exact: true }).waitFor();

    await rm(partnerFile); // the partner archived their copy
    const form = page.getByRole('form', { name: 'Retry' });
    await form.getByLabel('Reason').fill('partner archived their copy, ticket OPS-9');
    await form.getByRole('button', { name: 'Retry' }).click();
    await page.getByText(`Retry queued as job ${id}.`).waitFor();
    await waitForJobState(testFerry.deliverQueue, id, 'completed');

    await page.reload();
    await page.locator('dl').getByText('delivered', { exact: true }).waitFor();
    const audit = page.getByRole('row').filter({ hasText: 'partner archived their copy, ticket OPS-9' });
    expect(await audit.textContent()).toMatch(/admin\s*retry/);
    expect(await page.getByRole('button', { name: 'Redeliver' }).count()).toBe(1);
    const { finals } = await readPartnerDir(fixture.partnerDirs.globex!);
    expect(finals.get('orders_0009.csv')?.sha256).toBe(seeded!.sha256);

    // The partner still has the file and globex has onExisting: fail: the redelivery replaces it.
    const redeliver = page.getByRole('form', { name: 'Redeliver' });
    await redeliver.getByLabel('Reason').fill('partner asked for a fresh copy, OPS-10');
    await redeliver.getByLabel("Replace the partner's file if it is still there").check();
    await redeliver.getByRole('button', { name: 'Redeliver' }).click();
    await page.getByText(`Redelivery queued as job ${id}-r1, replacing the partner's file.`).waitFor();
    const redelivered = await waitForJobState(testFerry.deliverQueue, `${id}-r1`, 'completed');
    expect(redelivered.data).toMatchObject({ replace: true });
    expect(redelivered.returnvalue).toMatchObject({ outcome: 'delivered' });
    const replaced = (await readPartnerDir(fixture.partnerDirs.globex!)).finals.get('orders_0009.csv');
    expect(replaced?.ino).not.toBe(finals.get('orders_0009.csv')?.ino);
    await page.reload();
    const asked = page.getByRole('row').filter({ hasText: 'partner asked for a fresh copy, OPS-10' });
    expect(await asked.textContent()).toMatch(/admin\s*redeliver \(replace\)/);

    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows the stale objects of a partner’s last sweep and lets an operator send one, with a reason', async () => {
    await putObjects(testFerry.s3, fixture.bucket, [{ key: STALE_KEY, size: 512 }]);
    // Sweeps and the API judge maxAgeDays by this clock: ahead for the rest of this test.
    sweepClockAheadMs = 3 * 86_400_000;
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'hooli')).code).toBe(0);
    const id = await deliveryIdOf(testFerry.s3, fixture.bucket, 'hooli', STALE_KEY);

    const { context, page, problems } = await loginAs(OPERATOR);
    await page.goto(`${base}/`);
    const hooli = page.locator('tr[data-partner="hooli"]');
    await hooli.getByText(': listed 1, stale 1').waitFor();
    expect(await hooli.textContent()).toContain('older than source.maxAgeDays: sent only on request');
    const send = page.getByRole('form', { name: `Send ${STALE_KEY}` });
    await send.getByLabel('Reason').fill('partner asked for the January file');
    await send.getByRole('button', { name: 'Send' }).click();
    await page.getByText(`${STALE_KEY} queued for hooli as job ${id}.`).waitFor();
    expect((await waitForJobState(testFerry.deliverQueue, id, 'completed')).returnvalue).toMatchObject({
      outcome: 'delivered',
    });
    expect([...(await readPartnerDir(fixture.partnerDirs.hooli!)).finals.keys()]).toEqual(['2026-01-01.csv']);

    expect(problems).toEqual([]);
    await context.close();
  });
});
