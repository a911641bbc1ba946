// /metrics against the real pipeline (redis-server, sshd, s3rver): what a Prometheus scrape sees after
// deliveries, sweeps and config reloads, who may scrape where, and a worker-only process's own listener.
import { appendFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFerry } from '../../src/main.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  loadConfigOrThrow,
  putObjects,
  sweepAndWait,
  waitFor,
  startTestFerry,
  type TestFerry,
} from '../support/pipeline.js';
import { parsePrometheusText, type PromExposition } from '../support/prometheus-text.js';
import { startServices, type Services } from '../support/services.js';

const OPERATOR = { user: 'admin', password: 'metrics-operator-pw-1b7e' };
const VIEWER = { user: 'prometheus', password: 'metrics-viewer-pw-94c2' };

let services: Services;
let fixture: FerryFixture;
let t: TestFerry;
const logs = captureLogger();

const basic = (login: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}`;

async function get(port: number | undefined, path: string, login?: { user: string; password: string }) {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    headers: login ? { authorization: basic(login) } : {},
  });
}

/** A scrape of the metrics listener (no auth), parsed strictly. */
async function scrape(port = t.ferry.metricsPort): Promise<PromExposition> {
  const res = await get(port, '/metrics');
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = OPERATOR.password;
  process.env.FERRY_VIEWER_USER = VIEWER.user;
  process.env.FERRY_VIEWER_PASSWORD = VIEWER.password;
  fixture = await writeFerryConfig(services, { partners: [{ id: 'x', prefix: 'x/' }] });
  await appendFile(join(fixture.dir, 'ferry.yaml'), 'metrics: { port: 0 }\n');
  t = await startTestFerry(services, fixture.dir, logs.logger);
});

afterAll(async () => {
  await t?.close();
  await services?.stop();
});

describe('/metrics', () => {
  const sizes = [1000, 20_000, 300_000];

  it('counts 3 deliveries with their bytes and durations, the queues, the sweep and the open connections', async () => {
    await putObjects(
      t.s3,
      fixture.bucket,
      sizes.map((size, i) => ({ key: `x/export_${i}.csv`, size })),
    );
    const { code } = await sweepAndWait(t.ferry.getConfig(), 'x');
    expect(code).toBe(0);
    // The ledger settles a moment before BullMQ moves the job to completed.
    await waitFor(
      async () => (await t.deliverQueue.getJobCounts('completed')).completed === 3,
      '3 completed deliver jobs',
    );

    const res = await get(t.ferry.metricsPort, '/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
    const m = parsePrometheusText(await res.text());
    expect(m.value('ferry_deliveries_total', { partner: 'x', outcome: 'delivered' })).toBe(3);
    for (const outcome of ['already-delivered', 'skipped', 'quarantined', 'failed', 'retry']) {
      expect(m.value('ferry_deliveries_total', { partner: 'x', outcome })).toBeUndefined();
    }
    expect(m.value('ferry_delivered_bytes_total', { partner: 'x' })).toBe(321_000);
    expect(m.value('ferry_delivery_duration_seconds_count', { partner: 'x' })).toBe(3);
    expect(m.value('ferry_delivery_duration_seconds_bucket', { partner: 'x', le: '+Inf' })).toBe(3);
    expect(m.value('ferry_delivery_duration_seconds_sum', { partner: 'x' })).toBeGreaterThan(0);

    expect(m.value('ferry_queue_jobs', { queue: 'deliver', state: 'completed' })).toBe(3);
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      expect(m.value('ferry_queue_jobs', { queue: 'deliver', state })).toBe(0);
    }
    expect(m.value('ferry_queue_jobs', { queue: 'sweep', state: 'completed' })).toBe(1);

    expect(m.value('ferry_sweep_objects_seen', { partner: 'x' })).toBe(3);
    expect(m.value('ferry_sweep_objects_enqueued_total', { partner: 'x' })).toBe(3);
    expect(m.value('ferry_sweep_duration_seconds_count', { partner: 'x' })).toBe(1);
    expect(m.value('ferry_oldest_undelivered_age_seconds', { partner: 'x' })).toBeGreaterThanOrEqual(0);

    // Idle pooled connections stay open for idleTimeoutSeconds (30 s): at least one, at most the cap.
    const open = m.value('ferry_sftp_connections_open', { partner: 'x' });
    expect(open).toBeGreaterThanOrEqual(1);
    expect(open).toBeLessThanOrEqual(2);

    expect(m.types.get('ferry_process_cpu_user_seconds_total')).toBe('counter');
    expect(m.value('ferry_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect([...m.types.keys()].filter((name) => !name.startsWith('ferry_'))).toEqual([]);
  });

  it('reports 0 undelivered once a later sweep finds everything delivered, without enqueuing again', async () => {
    const { code } = await sweepAndWait(t.ferry.getConfig(), 'x');
    expect(code).toBe(0);
    const m = await scrape();
    expect(m.value('ferry_oldest_undelivered_age_seconds', { partner: 'x' })).toBe(0);
    expect(m.value('ferry_sweep_objects_seen', { partner: 'x' })).toBe(3);
    expect(m.value('ferry_sweep_objects_enqueued_total', { partner: 'x' })).toBe(3);
    expect(m.value('ferry_sweep_duration_seconds_count', { partner: 'x' })).toBe(2);
    expect(m.value('ferry_deliveries_total', { partner: 'x', outcome: 'delivered' })).toBe(3);
  });

  it('counts config reloads: rejected, then applied', async () => {
    const before = await scrape();
    expect(before.value('ferry_config_reloads_total', { result: 'rejected' })).toBe(0);
    expect(before.value('ferry_config_reloads_total', { result: 'applied' })).toBe(0);

    const broken = join(fixture.dir, 'partners', 'broken.yaml');
    await writeFile(broken, 'id: broken\nschedule: [\n');
    // The watcher reloads in another part of this process, after a quiet period: poll the scrape.
    await waitFor(
      async () => ((await scrape()).value('ferry_config_reloads_total', { result: 'rejected' }) ?? 0) >= 1,
      'a rejected reload',
    );
    await rm(broken);
    await waitFor(
      async () => ((await scrape()).value('ferry_config_reloads_total', { result: 'applied' }) ?? 0) >= 1,
      'an applied reload',
    );
  });

  it('asks for a dashboard login on the web port (a viewer may read), and none on the metrics port', async () => {
    const port = t.ferry.httpPort;
    expect((await get(port, '/metrics')).status).toBe(401);
    expect((await get(port, '/metrics', { ...VIEWER, password: 'wrong' })).status).toBe(401);
    for (const login of [VIEWER, OPERATOR]) {
      const res = await get(port, '/metrics', login);
      expect(res.status).toBe(200);
      const m = parsePrometheusText(await res.text());
      expect(m.value('ferry_deliveries_total', { partner: 'x', outcome: 'delivered' })).toBe(3);
    }
    // The metrics listener serves /metrics and /healthz only: no dashboard, no job data.
    expect((await get(t.ferry.metricsPort, '/healthz')).status).toBe(200);
    expect((await get(t.ferry.metricsPort, '/admin')).status).toBe(404);
    expect((await get(t.ferry.metricsPort, '/admin/api/queues')).status).toBe(404);
  });

  it('lets a worker-only process be scraped on its own metrics listener', async () => {
    const worker = await startFerry({
      config: await loadConfigOrThrow(fixture.dir),
      role: 'worker',
      env: process.env,
      logger: logs.logger,
      watch: false,
    });
    try {
      expect(worker.httpPort).toBeUndefined();
      expect(worker.metricsPort).toBeGreaterThan(0);
      expect(worker.metricsPort).not.toBe(t.ferry.metricsPort);
      const m = await scrape(worker.metricsPort);
      // Its own counters (it delivered nothing); the queues are the same for every process.
      expect(m.value('ferry_deliveries_total', { partner: 'x', outcome: 'delivered' })).toBeUndefined();
      expect(m.value('ferry_queue_jobs', { queue: 'deliver', state: 'completed' })).toBe(3);
      expect(m.value('ferry_sftp_connections_open', { partner: 'x' })).toBe(0);
    } finally {
      await worker.close();
    }
  });
});
