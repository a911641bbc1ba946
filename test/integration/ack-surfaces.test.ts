// What operators see of partners' answers (`ack:`), against the real pipeline (redis-server, sshd,
// s3rver): answers are written into the ledger through the ack index (as the poller does), then read
// back through `ferry deliveries --status …`, `ferry deliveries show`, the API (filters, detail,
// partners' unmatched answers), the metrics endpoint and the web UI in headless Chromium.
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAckIndex, type AckIndex } from '../../src/ledger/ack-index.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { useHeadlessChromium, withDashboardPage } from '../support/headless-chromium.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { waitFor } from '../support/pipeline.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';

const ADMIN = { user: 'admin', password: 'ack-surfaces-admin-canary-51c3' };
const ACK_AT = '2026-11-25T03:10:00.000Z';
const REASON = 'line 3: unknown SKU 9912\nline 7: quantity missing';
const GAUGE = 'ferry_ack_oldest_waiting_age_seconds';

const pipeline = usePartnerPipeline({
  adminPassword: ADMIN.password,
  partners: [{ id: 'acme', extraYaml: 'ack: { directory: /outbound/acks, within: 2h }' }, { id: 'plain' }],
  beforeStart: async ({ fixture }) => {
    await appendFile(join(fixture.dir, 'ferry.yaml'), 'metrics: { port: 0 }\n');
  },
});

/** acme's deliveries by file: one acknowledged, one rejected, one overdue, one unanswered. */
const ids: Record<'ok' | 'bad' | 'late' | 'waiting', string> = { ok: '', bad: '', late: '', waiting: '' };
let plainId = '';
let ackIndex: AckIndex;
let deliveredAtMs = 0;

const base = () => `http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}`;
const authorization = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;

async function api<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(base() + path, { headers: { authorization } });
  return { status: res.status, body: (await res.json()) as T };
}
interface Item {
  id: string;
  ack?: string;
  ackAt?: string;
  ackFile?: string;
  ackReason?: string;
  status: string;
}
const listed = async (query: string) =>
  (await api<{ items: Item[] }>(`/api/deliveries?${query}`)).body.items.map((d) => d.id).sort();

const ferry = (...args: string[]) => runFerryInProcess([...args, '--config', pipeline.fixture.dir]);

beforeAll(async () => {
  await pipeline.put(
    ['ok', 'bad', 'late', 'waiting'].map((n) => ({ key: `acme/orders-${n}.csv`, size: 300 })),
  );
  await pipeline.put([{ key: 'plain/stock.csv', size: 200 }]);
  expect((await pipeline.sweep('acme')).code).toBe(0);
  expect((await pipeline.sweep('plain')).code).toBe(0);
  for (const n of Object.keys(ids) as (keyof typeof ids)[]) {
    ids[n] = await pipeline.deliveryIdOf('acme', `acme/orders-${n}.csv`);
  }
  plainId = await pipeline.deliveryIdOf('plain', 'plain/stock.csv');

  ackIndex = createAckIndex(pipeline.testFerry.redis, createRedisKeys('{ferry}'));
  deliveredAtMs = Date.now() - 3 * 3600_000;
  // Each delivery of the partner (ack:) started waiting when it was delivered; the waits are moved
  // back in time here: `late` was delivered first, it is the oldest waiting once the others are answered.
  const keys = createRedisKeys('{ferry}');
  expect((await ackIndex.waiting('acme')).map((w) => w.deliveryId).sort()).toEqual(Object.values(ids).sort());
  await pipeline.testFerry.redis.zadd(keys.ackPending('acme'), 'XX', deliveredAtMs, ids.late);
  for (const n of ['ok', 'bad', 'waiting'] as const) {
    await pipeline.testFerry.redis.zadd(keys.ackPending('acme'), 'XX', deliveredAtMs + 60_000, ids[n]);
  }
  const at = new Date(ACK_AT);
  expect(
    await ackIndex.answer('acme', ids.ok, { result: 'acknowledged', at, file: 'orders-ok.csv.ack' }),
  ).toBe(true);
  expect(
    await ackIndex.answer('acme', ids.bad, {
      result: 'rejected',
      at,
      file: 'orders-bad.csv.nack',
      reason: REASON,
    }),
  ).toBe(true);
  expect(await ackIndex.markOverdue('acme', deliveredAtMs + 1, at)).toEqual([ids.late]);
  await ackIndex.setUnmatched('acme', [{ name: 'orders-9999.csv.nack', size: 42 }], at);
});

describe('GET /api/deliveries with answer filters', () => {
  it('filters on the answer; the ledger status stays delivered', async () => {
    expect(await listed('status=acknowledged')).toEqual([ids.ok]);
    expect(await listed('status=rejected')).toEqual([ids.bad]);
    expect(await listed('status=overdue')).toEqual([ids.late]);
    expect(await listed('status=unanswered')).toEqual([ids.waiting]);
    expect(await listed('status=rejected&partner=plain')).toEqual([]);
    expect(await listed('status=delivered')).toEqual([...Object.values(ids), plainId].sort());
    const refused = await api<{ error: string }>('/api/deliveries?status=pending');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toContain('acknowledged, rejected, overdue, unanswered');
  });

  it('shows the answer in the listing and the detail', async () => {
    const [item] = (await api<{ items: Item[] }>('/api/deliveries?status=rejected')).body.items;
    expect(item).toMatchObject({ status: 'delivered', ack: 'rejected', ackAt: ACK_AT });
    const detail = (await api<Item>(`/api/deliveries/${ids.bad}`)).body;
    expect(detail).toMatchObject({
      status: 'delivered',
      ack: 'rejected',
      ackAt: ACK_AT,
      ackFile: 'orders-bad.csv.nack',
      ackReason: REASON,
    });
    expect((await api<Item>(`/api/deliveries/${plainId}`)).body.ack).toBeUndefined();
  });
});

describe('GET /api/partners', () => {
  it('lists the unmatched answers of partners with ack:, and none for the others', async () => {
    const { body } = await api<{ partners: { id: string; unmatchedAnswers?: unknown }[] }>('/api/partners');
    const acme = body.partners.find((p) => p.id === 'acme')!;
    const plain = body.partners.find((p) => p.id === 'plain')!;
    expect(acme.unmatchedAnswers).toEqual([{ name: 'orders-9999.csv.nack', size: 42, firstSeenAt: ACK_AT }]);
    expect('unmatchedAnswers' in plain).toBe(false);
  });
});

describe('ferry deliveries', () => {
  it('--status rejected lists the rejected file with an ANSWER column; --json carries the fields', async () => {
    const run = await ferry('deliveries', '--status', 'rejected');
    expect(run.code).toBe(0);
    expect(run.out[0]).toMatch(/^UPDATED\s+PARTNER\s+STATUS\s+ANSWER\s+KEY/);
    expect(run.out.slice(1)).toHaveLength(1);
    expect(run.out[1]).toMatch(/acme\s+delivered\s+rejected\s+acme\/orders-bad\.csv/);

    const unanswered = await ferry('deliveries', '--status', 'unanswered', '--json');
    expect(unanswered.code).toBe(0);
    const rows = JSON.parse(unanswered.out.join('\n')) as Item[];
    expect(rows.map((r) => [r.id, r.ack])).toEqual([[ids.waiting, 'pending']]);

    // Without any answer among the listed deliveries, no ANSWER column.
    const plain = await ferry('deliveries', '--partner', 'plain');
    expect(plain.out[0]).not.toContain('ANSWER');
  });

  it('refuses an unknown --status naming the answer filters', async () => {
    const run = await ferry('deliveries', '--status', 'nacked');
    expect(run.code).toBe(2);
    expect(run.err).toContain("or a partner's answer acknowledged, rejected, overdue, unanswered");
  });

  it('show prints the answer with the reject reason', async () => {
    const run = await ferry('deliveries', 'show', ids.bad);
    expect(run.code).toBe(0);
    const at = run.out.findIndex((l) => l.startsWith('answer  '));
    expect(run.out.slice(at, at + 2)).toEqual([
      `answer           rejected at ${ACK_AT} (orders-bad.csv.nack): line 3: unknown SKU 9912`,
      '                 line 7: quantity missing',
    ]);
    const late = await ferry('deliveries', 'show', ids.late);
    expect(late.out).toContain(`answer           overdue since ${ACK_AT}: no answer yet`);
  });
});

describe('ferry_ack_oldest_waiting_age_seconds', () => {
  it('is the age of the oldest delivery still waiting, for partners with ack: only', async () => {
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${pipeline.testFerry.ferry.metricsPort}/metrics`);
      return parsePrometheusText(await res.text());
    };
    const m = await scrape();
    expect(m.types.get(GAUGE)).toBe('gauge');
    // `late` (overdue, still waiting) was delivered three hours ago.
    expect(m.value(GAUGE, { partner: 'acme' })).toBeGreaterThanOrEqual(3 * 3600);
    expect(m.value(GAUGE, { partner: 'plain' })).toBeUndefined();
    expect(m.types.get('ferry_acks_total')).toBe('counter');
  });
});

describe('the web UI', () => {
  const browser = useHeadlessChromium();

  it('shows answers in the list and filter, the reason and Redeliver on a rejected delivery, unmatched answers on the partners page', async () => {
    await withDashboardPage(
      browser(),
      base(),
      { user: ADMIN.user, password: ADMIN.password },
      async (page, problems) => {
        await page.goto(`${base()}/`);
        const unmatched = page.locator('tr[data-unmatched="acme"]');
        await unmatched.waitFor();
        expect(await unmatched.textContent()).toContain('orders-9999.csv.nack');
        expect(await page.locator('tr[data-unmatched="plain"]').count()).toBe(0);

        await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
        await page.getByLabel('Status').selectOption('rejected');
        await page.getByRole('button', { name: 'Search' }).click();
        await waitFor(
          async () => (await page.locator('tr[data-delivery]').count()) === 1,
          'one rejected row',
        );
        const row = page.locator(`tr[data-delivery="${ids.bad}"]`);
        expect(await page.getByRole('columnheader', { name: 'Answer' }).count()).toBe(1);
        expect(await row.textContent()).toContain('rejected');

        await row.getByRole('link', { name: 'acme/orders-bad.csv', exact: true }).click();
        await page.getByRole('heading', { name: 'Delivery', exact: true }).waitFor();
        const fields = (await page.locator('dl').textContent()) ?? '';
        expect(fields).toContain(`rejected at ${ACK_AT} (orders-bad.csv.nack): line 3: unknown SKU 9912`);
        expect(fields).toContain('line 7: quantity missing');
        await page.getByRole('button', { name: 'Redeliver' }).waitFor();
        expect(problems).toEqual([]);
      },
    );
  });
});

afterAll(async () => {
  // Reads back the index the test wrote, so a broken fixture is not mistaken for a passing surface.
  expect((await ackIndex?.waiting('acme'))?.map((w) => w.deliveryId).sort()).toEqual(
    [ids.late, ids.waiting].sort(),
  );
});
