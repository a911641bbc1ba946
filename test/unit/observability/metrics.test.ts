import { describe, expect, it, vi } from 'vitest';
import { FerryError } from '../../../src/errors.js';
import { PermanentError, toJobError } from '../../../jobs/job-errors.js';
import {
  createMetrics,
  measureDeliveries,
  type CountableQueue,
  type DeliveryOutcome,
  type Metrics,
} from '../../../src/observability/metrics.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';

const scrape = async (metrics: { render(): Promise<string> }) => parsePrometheusText(await metrics.render());

function fakeQueue(name: string, counts: Record<string, number>): CountableQueue & { calls: number } {
  const queue = {
    name,
    calls: 0,
    getJobCounts: () => {
      queue.calls += 1;
      return Promise.resolve({ ...counts });
    },
  };
  return queue;
}

describe('createMetrics', () => {
  it('counts deliveries by partner and outcome, bytes, and times delivered runs only', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.deliveryFinished('acme', 'delivered', 1000, 0.2);
    metrics.deliveryFinished('acme', 'delivered', 24, 3);
    metrics.deliveryFinished('acme', 'already-delivered', 0, 0.005);
    metrics.deliveryFinished('globex', 'retry', 0, 20);

    const m = await scrape(metrics);
    expect(m.types.get('ferry_deliveries_total')).toBe('counter');
    expect(m.types.get('ferry_delivery_duration_seconds')).toBe('histogram');
    expect(m.value('ferry_deliveries_total', { partner: 'acme', outcome: 'delivered' })).toBe(2);
    expect(m.value('ferry_deliveries_total', { partner: 'acme', outcome: 'already-delivered' })).toBe(1);
    expect(m.value('ferry_deliveries_total', { partner: 'globex', outcome: 'retry' })).toBe(1);
    expect(m.value('ferry_delivered_bytes_total', { partner: 'acme' })).toBe(1024);
    expect(m.value('ferry_delivered_bytes_total', { partner: 'globex' })).toBeUndefined();
    expect(m.value('ferry_delivery_duration_seconds_count', { partner: 'acme' })).toBe(2);
    expect(m.value('ferry_delivery_duration_seconds_sum', { partner: 'acme' })).toBeCloseTo(3.2);
    expect(m.value('ferry_delivery_duration_seconds_bucket', { partner: 'acme', le: '0.25' })).toBe(1);
    expect(m.value('ferry_delivery_duration_seconds_bucket', { partner: 'acme', le: '3600' })).toBe(2);
    expect(m.value('ferry_delivery_duration_seconds_bucket', { partner: 'acme', le: '+Inf' })).toBe(2);
    expect(m.value('ferry_delivery_duration_seconds_count', { partner: 'globex' })).toBeUndefined();
  });

  it('keeps the last sweep per partner: objects seen, oldest undelivered age, when it finished', async () => {
    let now = 1_700_000_000_000;
    const metrics = createMetrics({ processMetrics: false, nowMs: () => now });
    metrics.sweepFinished('acme', { seconds: 0.4, seen: 10, enqueued: 4, oldestUndeliveredAgeSeconds: 3600 });
    now += 60_000;
    metrics.sweepFinished('acme', { seconds: 0.1, seen: 12, enqueued: 2, oldestUndeliveredAgeSeconds: 0 });

    const m = await scrape(metrics);
    expect(m.value('ferry_sweep_objects_seen', { partner: 'acme' })).toBe(12);
    expect(m.value('ferry_sweep_objects_enqueued_total', { partner: 'acme' })).toBe(6);
    expect(m.value('ferry_oldest_undelivered_age_seconds', { partner: 'acme' })).toBe(0);
    expect(m.value('ferry_sweep_duration_seconds_count', { partner: 'acme' })).toBe(2);
    expect(m.value('ferry_sweep_duration_seconds_sum', { partner: 'acme' })).toBeCloseTo(0.5);
    expect(m.value('ferry_sweep_last_finished_timestamp_seconds', { partner: 'acme' })).toBe(now / 1000);
  });

  it('shows both config reload results from the start, then counts them', async () => {
    const metrics = createMetrics({ processMetrics: false });
    let m = await scrape(metrics);
    expect(m.value('ferry_config_reloads_total', { result: 'applied' })).toBe(0);
    expect(m.value('ferry_config_reloads_total', { result: 'rejected' })).toBe(0);
    metrics.configReloaded('rejected');
    metrics.configReloaded('applied');
    metrics.configReloaded('applied');
    m = await scrape(metrics);
    expect(m.value('ferry_config_reloads_total', { result: 'applied' })).toBe(2);
    expect(m.value('ferry_config_reloads_total', { result: 'rejected' })).toBe(1);
  });

  it('counts lost connection-slot leases by partner and reason', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.slotLeaseLost('acme', 'unconfirmed');
    metrics.slotLeaseLost('acme', 'unconfirmed');
    metrics.slotLeaseLost('acme', 'not-held');
    const m = await scrape(metrics);
    expect(m.value('ferry_slot_leases_lost_total', { partner: 'acme', reason: 'unconfirmed' })).toBe(2);
    expect(m.value('ferry_slot_leases_lost_total', { partner: 'acme', reason: 'not-held' })).toBe(1);
  });

  it('reads queue counts at scrape time, once per cache period however many scrapes', async () => {
    let now = 0;
    const deliver = fakeQueue('deliver', { waiting: 5, active: 2, delayed: 1, failed: 3, completed: 40 });
    const sweep = fakeQueue('sweep', { completed: 7 });
    const metrics = createMetrics({
      processMetrics: false,
      queues: [sweep, deliver],
      queueCountsTtlMs: 5000,
      nowMs: () => now,
    });

    const [m] = await Promise.all([scrape(metrics), scrape(metrics), scrape(metrics)]);
    expect(m.types.get('ferry_queue_jobs')).toBe('gauge');
    expect(m.value('ferry_queue_jobs', { queue: 'deliver', state: 'waiting' })).toBe(5);
    expect(m.value('ferry_queue_jobs', { queue: 'deliver', state: 'active' })).toBe(2);
    expect(m.value('ferry_queue_jobs', { queue: 'deliver', state: 'delayed' })).toBe(1);
    expect(m.value('ferry_queue_jobs', { queue: 'deliver', state: 'failed' })).toBe(3);
    expect(m.value('ferry_queue_jobs', { queue: 'deliver', state: 'completed' })).toBe(40);
    expect(m.value('ferry_queue_jobs', { queue: 'sweep', state: 'waiting' })).toBe(0);
    expect(deliver.calls).toBe(1);

    now = 4999;
    await scrape(metrics);
    expect(deliver.calls).toBe(1);
    now = 5000;
    await scrape(metrics);
    expect(deliver.calls).toBe(2);
    expect(sweep.calls).toBe(2);
  });

  it('leaves the queue series out, and says why, when Redis does not answer in time', async () => {
    const onCollectError = vi.fn();
    const stuck: CountableQueue = { name: 'deliver', getJobCounts: () => new Promise(() => undefined) };
    const metrics = createMetrics({
      processMetrics: false,
      queues: [stuck],
      queueCountsTimeoutMs: 20,
      onCollectError,
    });
    metrics.deliveryFinished('acme', 'delivered', 1, 1);

    const m = await scrape(metrics);
    expect(m.samples.some((s) => s.name === 'ferry_queue_jobs')).toBe(false);
    expect(m.value('ferry_deliveries_total', { partner: 'acme', outcome: 'delivered' })).toBe(1);
    expect(onCollectError).toHaveBeenCalledWith(
      expect.objectContaining({ message: expect.stringMatching(/longer than 20 ms/) as unknown }),
    );
  });

  it('reports open SFTP connections as the pool has them at each scrape', async () => {
    let open: [string, number][] = [
      ['acme', 2],
      ['globex', 0],
    ];
    const metrics = createMetrics({ processMetrics: false, openConnections: () => open });
    let m = await scrape(metrics);
    expect(m.value('ferry_sftp_connections_open', { partner: 'acme' })).toBe(2);
    expect(m.value('ferry_sftp_connections_open', { partner: 'globex' })).toBe(0);

    open = [['acme', 1]];
    m = await scrape(metrics);
    expect(m.value('ferry_sftp_connections_open', { partner: 'acme' })).toBe(1);
    expect(m.value('ferry_sftp_connections_open', { partner: 'globex' })).toBeUndefined();
  });

  it('adds the Node.js process metrics with the ferry_ prefix unless turned off', async () => {
    const m = await scrape(createMetrics());
    expect(m.types.get('ferry_process_cpu_user_seconds_total')).toBe('counter');
    expect(m.types.get('ferry_process_resident_memory_bytes')).toBe('gauge');
    expect(m.types.get('ferry_nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect([...m.types.keys()].every((name) => name.startsWith('ferry_'))).toBe(true);

    const bare = await scrape(createMetrics({ processMetrics: false }));
    expect([...bare.types.keys()].some((name) => name.startsWith('ferry_process_'))).toBe(false);
  });

  it('keeps separate registries: two instances in one process count apart', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.deliveryFinished('acme', 'delivered', 1, 1);
    expect((await scrape(a)).value('ferry_deliveries_total', { partner: 'acme', outcome: 'delivered' })).toBe(
      1,
    );
    expect(
      (await scrape(b)).value('ferry_deliveries_total', { partner: 'acme', outcome: 'delivered' }),
    ).toBeUndefined();
  });

  it('escapes label values so the output stays parseable', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.deliveryFinished('we"ird\\name\n', 'delivered', 1, 1);
    const m = await scrape(metrics);
    expect(m.value('ferry_deliveries_total', { partner: 'we"ird\\name\n', outcome: 'delivered' })).toBe(1);
  });
});

describe('measureDeliveries', () => {
  type Job = { data: unknown; attemptsMade: number; opts: { attempts?: number } };
  const job = (over: Partial<Job> = {}): Job => ({
    data: { partnerId: 'acme' },
    attemptsMade: 0,
    opts: { attempts: 3 },
    ...over,
  });

  function recorder(): Pick<Metrics, 'deliveryFinished'> & { calls: unknown[][] } {
    const calls: unknown[][] = [];
    return { calls, deliveryFinished: (...args) => void calls.push(args) };
  }

  async function run(processor: (j: Job) => Promise<{ outcome: DeliveryOutcome; bytes: number }>, j = job()) {
    const metrics = recorder();
    let clock = 1000;
    const measured = measureDeliveries(
      processor,
      metrics,
      (id) => id === 'acme',
      () => (clock += 250),
    );
    const settled = await measured(j).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    return { settled, calls: metrics.calls };
  }

  it("reports a result's outcome, bytes and the run's duration, and returns the result", async () => {
    const result = { outcome: 'delivered' as const, bytes: 42 };
    const { settled, calls } = await run(() => Promise.resolve(result));
    expect(settled).toEqual({ value: result });
    expect(calls).toEqual([['acme', 'delivered', 42, 0.25]]);
  });

  it.each([
    ['a permanent error', new PermanentError('ERR_SFTP_AUTH', 'refused'), 0, 'failed'],
    ['a transient error with tries left', toJobError(new FerryError('ERR_SFTP_FAILURE', 'x')), 0, 'retry'],
    ['a transient error on the last try', toJobError(new FerryError('ERR_SFTP_FAILURE', 'x')), 2, 'failed'],
    ['an unclassified error on the last try', new Error('boom'), 2, 'failed'],
    ['a quarantined key', new PermanentError('ERR_KEY_HOSTILE', 'separator'), 0, 'quarantined'],
  ] as const)('reports %s as %s and rethrows it', async (_what, error, attemptsMade, outcome) => {
    const { settled, calls } = await run(() => Promise.reject(error), job({ attemptsMade }));
    expect(settled).toEqual({ error });
    expect(calls).toEqual([['acme', outcome, 0, 0.25]]);
  });

  it('reports nothing for a run that lost its job lock (the run that owns the job reports it)', async () => {
    const error = toJobError(new FerryError('ERR_JOB_LOCK_LOST', 'lost'));
    const { settled, calls } = await run(() => Promise.reject(error));
    expect(settled).toEqual({ error });
    expect(calls).toEqual([]);
  });

  it('labels jobs naming no configured partner "unknown" (job data is untrusted)', async () => {
    const ok = () => Promise.resolve({ outcome: 'skipped' as const, bytes: 0 });
    for (const data of [{ partnerId: 'forged-partner' }, { partnerId: 7 }, null, 'junk']) {
      const { calls } = await run(ok, job({ data }));
      expect(calls).toEqual([['unknown', 'skipped', 0, 0.25]]);
    }
  });
});
