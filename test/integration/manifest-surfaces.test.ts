// What operators see of `manifest:`, against the real pipeline (redis-server, sshd, s3rver): the
// partners API (the newest manifest and its delivery's status, files waiting for the next one),
// `ferry plan`'s manifest line, `ferry deliveries show` and the API detail of a listed data file and of
// the manifest's own delivery, and the web UI's partners page and delivery page in headless Chromium.
import { beforeAll, describe, expect, it } from 'vitest';
import { createManifestBatches, type ListedManifest } from '../../src/ledger/manifest-batches.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { useHeadlessChromium, withDashboardPage } from '../support/headless-chromium.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { waitFor } from '../support/pipeline.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';

const ADMIN = { user: 'admin', password: 'manifest-surfaces-admin-canary-7d20' };

// A window around now (UTC, whole minutes) that stays open for the whole test: its manifest waits.
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const WINDOW = `window: { start: "${hhmm(Date.now() - 60 * 60_000)}", end: "${hhmm(Date.now() + 60 * 60_000)}" }`;

const pipeline = usePartnerPipeline({
  adminPassword: ADMIN.password,
  partners: [
    { id: 'each', extraYaml: 'manifest: { filename: "EACH_{date:yyyyMMdd-HHmmss}.csv" }' },
    { id: 'nightly', extraYaml: `${WINDOW}\nmanifest: { filename: "NIGHTLY_{date:yyyyMMdd}.csv" }` },
    { id: 'plain' },
  ],
});

const base = () => `http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}`;
const authorization = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
async function api<T>(path: string): Promise<T> {
  const res = await fetch(base() + path, { headers: { authorization } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}
const ferry = (...args: string[]) => runFerryInProcess([...args, '--config', pipeline.fixture.dir]);

interface PartnerItem {
  id: string;
  manifest?: {
    per: string;
    filesWaiting: number;
    last?: { scope: string; name: string; files: number; deliveryId?: string; status?: string };
  };
}

let manifest: ListedManifest;
let dataId = '';

beforeAll(async () => {
  await pipeline.put([
    { key: 'each/a.csv', size: 120 },
    { key: 'each/b.csv', size: 140 },
    { key: 'nightly/one.csv', size: 100 },
    { key: 'nightly/two.csv', size: 100 },
    { key: 'nightly/three.csv', size: 100 },
  ]);
  expect((await pipeline.sweep('each')).summary).toMatch(/^delivered 2,/);
  expect((await pipeline.sweep('nightly')).summary).toMatch(/^delivered 3,/);
  const batches = createManifestBatches(pipeline.testFerry.redis, createRedisKeys('{ferry}'));
  // each's manifest follows its sweep: wait until its delivery is recorded delivered.
  manifest = await waitFor(async () => {
    const [m] = await batches.recent('each', 1);
    if (m?.deliveryId === undefined) return undefined;
    return (await pipeline.ledger.get(m.deliveryId))?.status === 'delivered' ? m : undefined;
  }, "each's delivered manifest");
  dataId = await pipeline.deliveryIdOf('each', 'each/a.csv');
});

describe('GET /api/partners', () => {
  it("shows the newest manifest with its delivery's status, and the files waiting for the next one", async () => {
    const { partners } = await api<{ partners: PartnerItem[] }>('/api/partners');
    const by = new Map(partners.map((p) => [p.id, p]));
    expect(by.get('each')!.manifest).toEqual({
      per: 'sweep',
      filesWaiting: 0,
      last: {
        scope: manifest.record.scope,
        name: manifest.record.name,
        files: 2,
        createdAt: manifest.record.createdAt,
        deliveryId: manifest.deliveryId,
        status: 'delivered',
      },
    });
    // The window is still open: its three files wait, no manifest yet.
    expect(by.get('nightly')!.manifest).toEqual({ per: 'window', filesWaiting: 3 });
    expect('manifest' in by.get('plain')!).toBe(false);
  });
});

describe('delivery detail', () => {
  it('names the manifest that lists a data file, and which manifest its own delivery sends', async () => {
    const scope = manifest.record.scope;
    const data = await ferry('deliveries', 'show', dataId);
    expect(data.code).toBe(0);
    expect(data.out).toContain(`manifest         listed in ${scope}`);
    const own = await ferry('deliveries', 'show', manifest.deliveryId!);
    expect(own.code).toBe(0);
    expect(own.out).toContain(`manifest         this file is the manifest ${scope}`);

    expect(await api(`/api/deliveries/${dataId}`)).toMatchObject({ manifest: scope });
    expect(await api(`/api/deliveries/${manifest.deliveryId!}`)).toMatchObject({ sendsManifest: scope });
    const unlisted = await api<object>(
      `/api/deliveries/${await pipeline.deliveryIdOf('nightly', 'nightly/one.csv')}`,
    );
    expect('manifest' in unlisted || 'sendsManifest' in unlisted).toBe(false);
  });
});

describe('ferry plan', () => {
  it("prints each partner's manifest setting under its heading", async () => {
    const each = await ferry('plan', 'each');
    expect(each.code).toBe(0);
    expect(each.out[1]).toBe(
      `  manifest: EACH_{date:yyyyMMdd-HHmmss}.csv per sweep (after each sweep that delivered something), csv, into ${pipeline.config().partners.get('each')!.target.directory}`,
    );
    const nightly = await ferry('plan', 'nightly');
    expect(nightly.out[1]).toMatch(
      /^ {2}manifest: NIGHTLY_\{date:yyyyMMdd\}\.csv per window \(after each opening closes\), csv, into /,
    );
    const plain = await ferry('plan', 'plain');
    expect(plain.out.some((l) => l.includes('manifest:'))).toBe(false);
  });
});

describe('the web UI', () => {
  const browser = useHeadlessChromium();

  it('shows the manifest on the partners page and on the delivery pages', async () => {
    await withDashboardPage(
      browser(),
      base(),
      { user: ADMIN.user, password: ADMIN.password },
      async (page, problems) => {
        await page.goto(`${base()}/`);
        const cell = page.locator('td[data-manifest="each"]');
        await cell.waitFor();
        const text = (await cell.textContent()) ?? '';
        expect(text).toContain(manifest.record.name);
        expect(text).toContain('delivered');
        expect(text).toContain('per sweep, 0 files waiting');
        const nightly = (await page.locator('td[data-manifest="nightly"]').textContent()) ?? '';
        expect(nightly).toContain('none yet');
        expect(nightly).toContain('per window, 3 files waiting');

        await cell.getByRole('link', { name: manifest.record.name }).click();
        await page.getByRole('heading', { name: 'Delivery', exact: true }).waitFor();
        expect(await page.locator('dl').textContent()).toContain(
          `this file is the manifest ${manifest.record.scope}`,
        );

        // Only the hash changes: wait for the data file's page, not the manifest's still shown.
        await page.goto(`${base()}/#/deliveries/${dataId}`);
        await page.locator('p.lead', { hasText: 'each/a.csv' }).waitFor();
        expect(await page.locator('dl').textContent()).toContain(`listed in ${manifest.record.scope}`);
        expect(problems).toEqual([]);
      },
    );
  });
});
