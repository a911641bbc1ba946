// Partner runtime controls against the real pipeline (redis-server, sshd, s3rver): an operator pause
// holds queued deliveries without using attempts, a closed delivery window delays them until it opens,
// and a missed SLA or a missing export reaches a real webhook receiver (held back while paused, sent
// after a same-day resume if it still stands). Ferry runs on a shifted clock (a fixed day in 2030) so
// windows and deadlines are seconds away, not hours.
import { userInfo } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertBody } from '../../src/core/alert-message.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger } from '../../src/ledger/redis-ledger.js';
import { createPartnerControls, type PartnerControls } from '../../src/partners/partner-controls.js';
import { startSlaChecker, type SlaTracker } from '../../src/partners/sla-tracker.js';
import type { AlertEvent } from '../../src/observability/alerter.js';
import { main } from '../../src/cli.js';
import { runSweepCommand } from '../../src/commands/sweep-command.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import {
  captureLogger,
  jobsOfPartner,
  putObjects,
  readPartnerDir,
  startTestFerry,
  waitFor,
  waitForJobState,
  type TestFerry,
} from '../support/pipeline.js';
import { startServices, type Services } from '../support/services.js';

const keys = createRedisKeys('{ferry}');
let services: Services;
let fixture: FerryFixture;
let testFerry: TestFerry;
let controls: PartnerControls;
let sweepQueue: Queue;
const logs = captureLogger();
const alerts: AlertBody[] = [];
let receiver: Server;

// Ferry's clock: real time shifted so that it reads `fakeNow` when set.
let shiftMs = 0;
const clock = () => new Date(Date.now() + shiftMs);
const setClock = (iso: string) => {
  shiftMs = Date.parse(iso) - Date.now();
};

/** Queues a manual sweep (it runs even for a paused partner; its deliveries then wait). */
async function sweep(partnerId: string): Promise<void> {
  const code = await runSweepCommand({
    config: testFerry.ferry.getConfig(),
    partnerId,
    wait: false,
    timeoutSeconds: 30,
    out: () => undefined,
    err: () => undefined,
  });
  expect(code).toBe(0);
}

async function delayedJobs(partnerId: string, count: number) {
  return waitFor(async () => {
    const jobs = await jobsOfPartner(testFerry.deliverQueue, partnerId);
    const states = await Promise.all(jobs.map((j) => j.getState()));
    return jobs.length === count && states.every((s) => s === 'delayed') ? jobs : undefined;
  }, `${count} delayed deliveries of ${partnerId}`);
}

const alertOf = (partnerId: string, kind: string) =>
  waitFor(
    () => alerts.find((a) => a.partnerId === partnerId && a.kind === kind),
    `a ${kind} alert for ${partnerId}`,
  );

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      alerts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AlertBody);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webhook = `alerts: { webhook: "http://127.0.0.1:${(receiver.address() as AddressInfo).port}/sla" }`;

  process.env.FERRY_ADMIN_PASSWORD = 'partner-controls-admin';
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'held' },
      { id: 'windowed', extraYaml: "window: { start: '01:00', end: '01:30' }" },
      { id: 'slaparty', extraYaml: `expect: { by: '06:00', atLeast: 1, warnBeforeMinutes: 30 }\n${webhook}` },
      { id: 'quiet', extraYaml: `expect: { by: '06:00', atLeast: 1 }\n${webhook}` },
      // Not paused, but its 01:00-01:30 window is closed at the deadline: the SLA still applies that day.
      {
        id: 'slawindow',
        extraYaml: `window: { start: '01:00', end: '01:30' }\nexpect: { by: '06:00', atLeast: 1, warnBeforeMinutes: 30 }\n${webhook}`,
      },
      // Paused in its config and nothing exported: its missing-export is held back too.
      { id: 'slapaused', extraYaml: `paused: true\nexpect: { by: '06:00', atLeast: 1 }\n${webhook}` },
    ],
  });
  setClock('2030-01-07T03:00:00Z'); // a Monday, well before any deadline
  testFerry = await startTestFerry(services, fixture.dir, logs.logger, {
    now: clock,
    partnerControls: { pauseRecheckMs: 300, jitterMs: 0, slaIntervalMs: 200 },
  });
  await testFerry.ferry.ledgerTrusted();
  controls = createPartnerControls(testFerry.redis, keys);
  sweepQueue = new Queue('sweep', { connection: testFerry.redis, prefix: '{ferry}' });
}, 120_000);

afterAll(async () => {
  await sweepQueue?.close();
  await testFerry?.close();
  await services?.stop();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

describe('partner runtime controls', () => {
  it('a paused partner: scheduled sweeps do nothing, queued deliveries wait without using attempts, and flow after resume', async () => {
    const config = testFerry.ferry.getConfig();
    const partner = config.partners.get('held')!;
    await controls.pause('held', 'alice', 'partner maintenance until 14:00');
    expect(await controls.pauseState(partner)).toMatchObject({
      paused: true,
      source: 'operator',
      by: 'alice',
      reason: 'partner maintenance until 14:00',
    });

    await putObjects(testFerry.s3, fixture.bucket, [
      { key: 'held/a.csv', body: Buffer.from('a,1\n') },
      { key: 'held/b.csv', body: Buffer.from('b,2\n') },
    ]);
    const scheduled = await sweepQueue.add('sweep', { v: 1, partnerId: 'held', reason: 'schedule' });
    const skipped = await waitForJobState(sweepQueue, scheduled.id!, 'completed');
    expect(skipped.returnvalue).toMatchObject({ listed: 0, enqueued: 0 });
    expect(logs.lines().some((l) => l.msg?.toString().startsWith('sweep skipped: partner paused'))).toBe(
      true,
    );

    await sweep('held');
    await delayedJobs('held', 2);
    // Held and looked at again several times (every 300 ms here): no attempt is used.
    await waitFor(
      () => logs.lines().filter((l) => l.partnerId === 'held' && l.hold === 'paused').length >= 6,
      'held deliveries to be looked at again',
    );
    const waiting = await delayedJobs('held', 2);
    expect(waiting.map((j) => j.attemptsMade)).toEqual([0, 0]);
    expect((await readPartnerDir(fixture.partnerDirs['held']!)).finals.size).toBe(0);
    const runtime = (await controls.runtime(config, clock())).find((p) => p.id === 'held');
    expect(runtime?.pause).toMatchObject({ paused: true, source: 'operator', by: 'alice' });

    await controls.resume('held', 'alice', 'maintenance over');
    for (const job of waiting) {
      const done = await waitForJobState(testFerry.deliverQueue, job.id!, 'completed');
      expect(done.returnvalue).toMatchObject({ outcome: 'delivered' });
      expect(done.attemptsMade).toBeLessThanOrEqual(1);
    }
    expect([...(await readPartnerDir(fixture.partnerDirs['held']!)).finals.keys()].sort()).toEqual([
      'a.csv',
      'b.csv',
    ]);
    expect((await controls.pauseState(partner)).paused).toBe(false);
  });

  it('ferry pause and ferry resume set and clear the operator pause with who and why; a missing reason is a usage error', async () => {
    const { main } = await import('../../src/cli.js');
    const partner = testFerry.ferry.getConfig().partners.get('held')!;
    const cli = (args: string[]) => main([...args, '--config', fixture.dir], process.env);
    expect(await cli(['pause', 'held', '--by', 'bob'])).toBe(2);
    expect((await controls.pauseState(partner)).paused).toBe(false);

    expect(await cli(['pause', 'held', '--reason', 'partner asked, OPS-7', '--by', 'bob'])).toBe(0);
    expect(await controls.pauseState(partner)).toMatchObject({
      paused: true,
      source: 'operator',
      by: 'bob',
      reason: 'partner asked, OPS-7',
    });
    expect(await cli(['resume', 'held', '--reason', 'back on', '--by', 'bob'])).toBe(0);
    expect((await controls.pauseState(partner)).paused).toBe(false);
    expect(await cli(['pause', 'nobody', '--reason', 'typo check', '--by', 'bob'])).toBe(2);
  });

  it('outside its window a delivery waits (delayed, no attempt used) and is delivered when the window opens', async () => {
    setClock('2030-01-08T00:59:57Z'); // the 01:00-01:30 window opens in 3 s
    const config = testFerry.ferry.getConfig();
    expect((await controls.runtime(config, clock())).find((p) => p.id === 'windowed')?.window).toEqual({
      configured: true,
      open: false,
      nextOpen: '2030-01-08T01:00:00.000Z',
    });
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'windowed/w.csv', body: Buffer.from('w\n') }]);
    await sweep('windowed');

    const [job] = await delayedJobs('windowed', 1);
    expect(job!.attemptsMade).toBe(0);
    const held = logs.lines().find((l) => l.partnerId === 'windowed' && l.hold === 'window');
    expect(held).toMatchObject({ trackingId: job!.id, msg: 'delivery held until the window opens' });

    const done = await waitForJobState(testFerry.deliverQueue, job!.id!, 'completed');
    expect(done.returnvalue).toMatchObject({ outcome: 'delivered' });
    const record = await createRedisLedger(testFerry.redis, keys).get(job!.id!);
    expect(Date.parse(record!.deliveredAt!)).toBeGreaterThanOrEqual(Date.parse('2030-01-08T01:00:00Z'));
    expect([...(await readPartnerDir(fixture.partnerDirs['windowed']!)).finals.keys()]).toEqual(['w.csv']);
  });

  it('a file not delivered by `expect.by` raises sla-warning then sla-missed; no export at all raises missing-export; a paused partner raises none until resumed', async () => {
    setClock('2030-01-08T05:59:50Z'); // inside the 30-minute warning, 10 s before the deadline
    // slaparty is paused by an operator (its delivery waits on purpose); slawindow's window is closed.
    await controls.pause('slaparty', 'bob', 'hold to test the SLA');
    await putObjects(testFerry.s3, fixture.bucket, [
      { key: 'slaparty/s.csv', body: Buffer.from('s\n') },
      { key: 'slawindow/s.csv', body: Buffer.from('s\n') },
    ]);
    await sweep('slaparty');
    await sweep('slawindow');
    await delayedJobs('slaparty', 1);
    await delayedJobs('slawindow', 1);
    // The sweeps recorded the files for the day's SLA (after enqueueing them).
    for (const id of ['slaparty', 'slawindow']) {
      await waitFor(
        async () => (await testFerry.redis.zcard(keys.slaFound(id, '2030-01-08'))) === 1,
        `the file found for ${id} to be recorded for 2030-01-08`,
      );
    }

    const warning = await alertOf('slawindow', 'sla-warning');
    // Raised as soon as the clock is in the warning period: the export may not even be found yet.
    expect(warning.message).toContain('deadline 06:00 UTC (2030-01-08) is near');
    expect(alerts.find((a) => a.partnerId === 'slawindow' && a.kind === 'sla-missed')).toBeUndefined();
    // `quiet` found nothing: it warns too, while the export can still arrive.
    await alertOf('quiet', 'sla-warning');
    const suppressed = (partnerId: string, kind: string) =>
      waitFor(
        () =>
          logs.lines().find((l) => l.partnerId === partnerId && l.kind === kind && l.suppressed === 'paused'),
        `${kind} of ${partnerId} to be logged as suppressed`,
      );
    expect(await suppressed('slaparty', 'sla-warning')).toMatchObject({
      level: 'info',
      msg: expect.stringMatching(
        /^sla-warning alert suppressed: the partner is paused \(deadline 06:00 UTC/,
      ) as string,
    });
    await suppressed('slapaused', 'sla-warning');

    setClock('2030-01-08T06:00:30Z');
    const missed = await alertOf('slawindow', 'sla-missed');
    expect(missed).toMatchObject({ severity: 'error', partnerId: 'slawindow' });
    expect(missed.message).toContain('missed: 0 of 1 found file(s) delivered');
    const missing = await alertOf('quiet', 'missing-export');
    expect(missing.message).toContain('found 0 new object(s), expected at least 1');
    await suppressed('slaparty', 'sla-missed');
    await suppressed('slapaused', 'missing-export');
    expect(alerts.filter((a) => a.partnerId === 'slaparty' || a.partnerId === 'slapaused')).toEqual([]);

    const runtime = await controls.runtime(testFerry.ferry.getConfig(), clock());
    expect(runtime.find((p) => p.id === 'slaparty')?.sla).toEqual({
      status: 'missed',
      by: '2030-01-08T06:00:00.000Z',
      expected: 1,
      found: 1,
      delivered: 0,
    });
    expect(runtime.find((p) => p.id === 'quiet')?.sla.status).toBe('missing-export');
    // Paused: the state is still evaluated and shown, only the alerts are held back.
    expect(runtime.find((p) => p.id === 'slapaused')?.sla.status).toBe('missing-export');
    expect(runtime.find((p) => p.id === 'held')?.sla).toEqual({ status: 'none' });

    // Evaluated every 200 ms while the held delivery is resumed and sent: the miss that was held back
    // while paused still stands after the resume, so it alerts now (the pause claimed no alert mark).
    await controls.resume('slaparty', 'bob', 'done');
    const afterResume = await alertOf('slaparty', 'sla-missed');
    expect(afterResume).toMatchObject({ severity: 'error', partnerId: 'slaparty' });
    expect(afterResume.message).toContain(
      'deadline 06:00 UTC (2030-01-08) missed: 0 of 1 found file(s) delivered',
    );
    const [job] = await jobsOfPartner(testFerry.deliverQueue, 'slaparty');
    await waitForJobState(testFerry.deliverQueue, job!.id!, 'completed');
    // Past the deadline the warning is over: only the miss went out, once.
    expect(alerts.filter((a) => a.partnerId === 'slaparty').map((a) => a.kind)).toEqual(['sla-missed']);
    const kinds = alerts.filter((a) => a.partnerId === 'slawindow').map((a) => a.kind);
    expect(kinds).toEqual(['sla-warning', 'sla-missed']);
    // Delivered after the deadline: the day stays missed.
    const after = await controls.runtime(testFerry.ferry.getConfig(), clock());
    expect(after.find((p) => p.id === 'slaparty')?.sla).toMatchObject({ status: 'missed', delivered: 0 });
  });

  it('a paused partner logs each held-back SLA alert once per day and kind, and a same-day resume still alerts', async () => {
    // A checker of its own on the real Redis, checked by hand: every evaluation is counted, none is timed.
    const base = testFerry.ferry.getConfig();
    const partner = { ...base.partners.get('quiet')!, id: 'slaonce' };
    const deadline = new Date('2030-01-09T06:00:00Z');
    const tracker: SlaTracker = {
      recordFound: () => Promise.resolve(),
      read: () =>
        Promise.resolve({
          status: 'missed',
          by: deadline.toISOString(),
          expected: 1,
          found: 1,
          delivered: 0,
          day: { day: '2030-01-09', deadline, evaluation: { status: 'missed', late: 1, shortBy: 0 } },
        }),
    };
    const sent: AlertEvent[] = [];
    const own = captureLogger();
    let paused = true;
    const startChecker = () =>
      startSlaChecker({
        getConfig: () => ({ ...base, partners: new Map([[partner.id, partner]]) }),
        tracker,
        redis: testFerry.redis,
        keys,
        alerts: { notify: (event) => void sent.push(event) },
        logger: own.logger,
        now: () => new Date('2030-01-09T06:05:00Z'),
        isPaused: () => Promise.resolve(paused),
        intervalMs: 3_600_000,
      });
    // Two checkers stand for two scheduler processes: the suppression is logged once between them.
    const checkers = [startChecker(), startChecker()];
    try {
      for (let n = 0; n < 3; n++) for (const c of checkers) await c.check();
      const held = own.lines().filter((l) => l.partnerId === 'slaonce' && l.suppressed === 'paused');
      expect(held).toEqual([
        expect.objectContaining({
          kind: 'sla-missed',
          msg: expect.stringMatching(/^sla-missed alert suppressed/),
        }),
      ]);
      expect(sent).toEqual([]);
      expect(await testFerry.redis.exists(keys.slaAlerted('slaonce', '2030-01-09', 'sla-missed'))).toBe(0);

      paused = false;
      for (let n = 0; n < 3; n++) for (const c of checkers) await c.check();
      expect(sent).toEqual([expect.objectContaining({ kind: 'sla-missed', partnerId: 'slaonce' })]);

      // Paused again after the alert went out: nothing left to hold back, so nothing more is logged.
      paused = true;
      for (const c of checkers) await c.check();
      expect(own.lines().filter((l) => l.suppressed === 'paused')).toHaveLength(1);
      expect(sent).toHaveLength(1);
    } finally {
      for (const c of checkers) await c.close();
    }
  });

  it('ferry pause / ferry resume set and clear the operator flag, with who and why ($USER by default)', async () => {
    const env = { ...process.env, USER: 'carol' };
    const partner = testFerry.ferry.getConfig().partners.get('quiet')!;
    expect(await main(['pause', 'quiet', '--config', fixture.dir], env)).toBe(2); // --reason is required
    expect(
      await main(['pause', 'quiet', '--reason', 'disk full at partner', '--config', fixture.dir], env),
    ).toBe(0);
    expect(await controls.pauseState(partner)).toMatchObject({
      paused: true,
      source: 'operator',
      by: 'carol',
      reason: 'disk full at partner',
    });
    const resumed = ['resume', 'quiet', '--reason', 'fixed', '--by', 'dave', '--config', fixture.dir];
    expect(await main(resumed, env)).toBe(0);
    expect(await controls.pauseState(partner)).toEqual({ paused: false });
    expect(await main(['pause', 'nobody', '--reason', 'typo', '--config', fixture.dir], env)).toBe(2);
  });

  it('ferry pause records the OS account name when $USER is unset (cron, containers)', async () => {
    const { USER: _unset, ...env } = process.env;
    const partner = testFerry.ferry.getConfig().partners.get('quiet')!;
    expect(await main(['pause', 'quiet', '--reason', 'from a cron job', '--config', fixture.dir], env)).toBe(
      0,
    );
    expect(await controls.pauseState(partner)).toMatchObject({ paused: true, by: userInfo().username });
    expect(await main(['resume', 'quiet', '--reason', 'done', '--config', fixture.dir], env)).toBe(0);
  });
});
