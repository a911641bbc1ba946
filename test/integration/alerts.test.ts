// Webhook alerts from the real pipeline (redis-server, sshd, s3rver) to a real HTTP receiver on loopback:
// kinds, signatures (checked by the documented verifier), replays refused, dedup across processes,
// retries against a failing receiver, no secret in logs.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { appendFile, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAlertSignature, type AlertBody } from '../../src/core/alert-message.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { startFerry, type RunningFerry } from '../../src/main.js';
import { writeFerryConfig, type FerryFixture } from '../support/ferry-fixture.js';
import { getFreePort } from '../support/free-port.js';
import { installS3Faults } from '../support/s3-faults.js';
import {
  captureLogger,
  dumpRedisAsText,
  jobsOfPartner,
  loadConfigOrThrow,
  putObjects,
  startTestFerry,
  sweepAndWait,
  waitFor,
  type TestFerry,
} from '../support/pipeline.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';

const RUN = Date.now().toString(36);
// A Slack-like URL whose path is the credential: it must never reach a log line or Redis.
const URL_TOKEN = `T0${RUN}X/B0${RUN}Y/urlTokenCanary${RUN}7f3e`;
const SECRET = `alert-hmac-canary-${RUN}-41d9`;
const OPS_SECRET = `ops-hmac-canary-${RUN}-92c0`;
const WRONG_PIN = `SHA256:${'A'.repeat(43)}`;
const DEDUP_MINUTES = 0.1; // 6 s windows keep the test short
// Not the default, so the alerts prove ferry.yaml's alerts.runbookBaseUrl is what they link under.
const RUNBOOKS = 'https://runbooks.example.com/ferry/';
const keys = createRedisKeys('{ferry}');

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: AlertBody & { sentAt: string };
  at: number;
  /** What the documented verifier said, with the key for the path and the receiver's clock. */
  verified: boolean;
}

type VerifyFerryAlert = (
  rawBody: string,
  headers: IncomingHttpHeaders,
  key: string,
  options?: { now?: number; toleranceSeconds?: number },
) => boolean;

/** The verifier exactly as docs/operations.md prints it (the js block that defines verifyFerryAlert). */
async function loadReadmeVerifier(): Promise<VerifyFerryAlert> {
  const readme = await readFile(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const code = readme
    .split(/^```/m)
    .find((block) => block.startsWith('js\n') && block.includes('export function verifyFerryAlert('))
    ?.slice('js\n'.length);
  if (code === undefined) throw new Error('docs/operations.md has no js block defining verifyFerryAlert');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-readme-verifier-'));
  try {
    await writeFile(join(dir, 'verify.mjs'), code);
    const loaded = (await import(pathToFileURL(join(dir, 'verify.mjs')).href)) as {
      verifyFerryAlert: VerifyFerryAlert;
    };
    return loaded.verifyFerryAlert;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A webhook receiver on a loopback port: checks each POST with the documented verifier and the key for
 * its path (401 when it fails, as a real receiver would), records it, and otherwise answers per path
 * from a script. `skewSeconds` sets its clock ahead: a replay that comes that much later.
 */
async function startReceiver(keyOfPath: (path: string) => string, verify: VerifyFerryAlert) {
  let skewSeconds = 0;
  const received: Received[] = [];
  const waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const scripts = new Map<string, (() => Promise<number> | number)[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const entry: Received = {
        path: req.url ?? '',
        headers: req.headers,
        raw,
        body: JSON.parse(raw) as Received['body'],
        at: Date.now(),
        verified: verify(raw, req.headers, keyOfPath(req.url ?? ''), {
          now: Date.now() + skewSeconds * 1000,
        }),
      };
      received.push(entry);
      for (const w of waiters.filter((w) => w.match(entry))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
      if (!entry.verified) {
        res.writeHead(401).end();
        return;
      }
      void Promise.resolve(scripts.get(entry.path)?.shift()?.() ?? 200).then((status) =>
        res.writeHead(status).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    received,
    setSkewSeconds: (seconds: number) => {
      skewSeconds = seconds;
    },
    /** Scripted answers for the next requests to `path` (then 200). */
    script: (path: string, steps: (() => Promise<number> | number)[]) => scripts.set(path, steps),
    /** The first alert, already received or still to come, that matches. */
    next(match: (r: Received) => boolean, what: string, timeoutMs = 30_000): Promise<Received> {
      const seen = received.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<Received>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no alert ${what} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let services: Services;
let fixture: FerryFixture;
let receiver: Receiver;
let replayTarget: Receiver;
let testFerry: TestFerry;
let secondFerry: RunningFerry | undefined;
const logs = captureLogger();
const latencies: Record<string, number> = {};

const of = (partnerId: string, kind: string) => (r: Received) =>
  r.body.partnerId === partnerId && r.body.kind === kind;

/** Failure → receiver, from the "failed for good" log line to the receiver's clock (same host). */
function latencyOf(alert: Received, partnerId: string): number {
  const failed = logs.lines().find((l) => l.partnerId === partnerId && l.msg === 'delivery failed for good');
  return alert.at - Date.parse(String(failed?.time));
}

/** Waits until the alert's dedup window was flushed (closed) in Redis: nothing more can come for it. */
async function windowClosed(dedupId: string): Promise<void> {
  await waitFor(
    async () => (await testFerry.redis.exists(keys.alertWindow(dedupId))) === 0,
    `dedup window ${dedupId} to close`,
    30_000,
  );
}

beforeAll(async () => {
  services = await startServices({
    buckets: ['warehouse-exports', 'ferry-audit'],
    redis: { persistence: 'none' },
  });
  const verify = await loadReadmeVerifier();
  const keyOfPath = (path: string) => (path === '/ops' ? OPS_SECRET : SECRET);
  receiver = await startReceiver(keyOfPath, verify);
  replayTarget = await startReceiver(keyOfPath, verify);
  const closedPort = await getFreePort();
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.FERRY_ADMIN_PASSWORD = 'alerts-admin';
  process.env.FERRY_ALERT_WEBHOOK = `http://127.0.0.1:${receiver.port}/hooks/${URL_TOKEN}`;
  process.env.FERRY_ALERT_SECRET = SECRET;
  process.env.OPS_ALERT_SECRET = OPS_SECRET;

  fixture = await writeFerryConfig(services, {
    partners: [
      { id: 'mitm', hostKeys: [WRONG_PIN], attempts: 3 },
      { id: 'nodir', attempts: 3 },
      { id: 'opsteam', port: closedPort, attempts: 1 },
      { id: 'steady' },
      { id: 'quar', include: ['**'] },
      { id: 'nobucket' },
      { id: 'denied' },
    ],
    worker: 'concurrency: 4, connectTimeoutSeconds: 5',
  });
  await appendFile(
    join(fixture.dir, 'ferry.yaml'),
    `alerts: { webhookEnv: FERRY_ALERT_WEBHOOK, secretEnv: FERRY_ALERT_SECRET, timeoutSeconds: 2, dedupMinutes: ${DEDUP_MINUTES}, runbookBaseUrl: "${RUNBOOKS}" }\n`,
  );
  // A partner with its own receiver (a literal URL: it holds no token), signed with its own key.
  await appendFile(
    join(fixture.dir, 'partners', 'opsteam.yaml'),
    `alerts: { webhook: "http://127.0.0.1:${receiver.port}/ops", secretEnv: OPS_ALERT_SECRET }\n`,
  );
  await rmdir(fixture.partnerDirs.nodir!); // the partner's directory is missing: a permanent failure
  // Sweeps that fail: a bucket s3rver does not have, and one whose listing S3 denies (403 AccessDenied).
  for (const [id, bucket] of [
    ['nobucket', 'no-such-bucket'],
    ['denied', 'denied-exports'],
  ] as const) {
    const file = join(fixture.dir, 'partners', `${id}.yaml`);
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(`bucket: ${fixture.bucket}`, `bucket: ${bucket}`),
    );
  }
  const s3Client = s3ClientFor(services.s3);
  installS3Faults(s3Client).add({
    match: (call) => call.bucket === 'denied-exports' && call.command === 'ListObjectsV2Command',
    act: () => ({ status: 403, code: 'AccessDenied', message: 'Access Denied' }),
  });
  testFerry = await startTestFerry(services, fixture.dir, logs.logger, { s3Client });
});

afterAll(async () => {
  await secondFerry?.close();
  await testFerry?.close();
  await receiver?.close();
  await replayTarget?.close();
  await services?.stop();
  console.log(`alert latency (failure log line → receiver): ${JSON.stringify(latencies)} ms`);
});

describe('webhook alerts', () => {
  it('sends exactly one signed host-key-mismatch alert for a wrong pin', async () => {
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'mitm/orders.csv', size: 2000 }]);
    const { summary } = await sweepAndWait(testFerry.ferry.getConfig(), 'mitm');
    expect(summary).toMatch(/failed 1/);
    const [job] = await jobsOfPartner(testFerry.deliverQueue, 'mitm');

    const alert = await receiver.next(of('mitm', 'host-key-mismatch'), 'for mitm');
    latencies['host-key-mismatch'] = latencyOf(alert, 'mitm');
    expect(alert.path).toBe(`/hooks/${URL_TOKEN}`);
    expect(alert.body).toMatchObject({
      kind: 'host-key-mismatch',
      severity: 'critical',
      partnerId: 'mitm',
      errCode: 'ERR_HOST_KEY_MISMATCH',
      deliveryId: job!.id,
      trackingId: job!.id,
      s3Key: 'mitm/orders.csv',
      count: 1,
      summary: false,
      attempts: 1,
      runbookUrl: `${RUNBOOKS}host-key-mismatch.md`,
      ferry: { version: expect.any(String) as string, host: expect.any(String) as string },
    });
    expect(alert.body.message).toContain(WRONG_PIN);
    expect(alert.body.text).toMatch(
      /^\[ferry\] CRITICAL host-key-mismatch · partner mitm · ERR_HOST_KEY_MISMATCH: /,
    );
    expect(alert.headers['content-type']).toBe('application/json');
    expect(alert.verified).toBe(true);
    const t = Math.floor(Date.parse(alert.body.sentAt) / 1000);
    expect(alert.headers['x-ferry-signature']).toMatch(new RegExp(`^t=${t},v1=[0-9a-f]{64}$`));
    expect(alert.headers['x-ferry-timestamp']).toBe(String(t));
    const signature = alert.headers['x-ferry-signature'] as string;
    const now = new Date(alert.at);
    expect(verifyAlertSignature(alert.raw, signature, SECRET, { now })).toBe(true);
    expect(verifyAlertSignature(alert.raw, signature, OPS_SECRET, { now })).toBe(false);

    await windowClosed('host-key-mismatch:mitm:ERR_HOST_KEY_MISMATCH');
    expect(receiver.received.filter((r) => r.body.partnerId === 'mitm')).toHaveLength(1);
  });

  it('sends the first of three failures with the same cause at once and the two repeats as one count later', async () => {
    await putObjects(
      testFerry.s3,
      fixture.bucket,
      ['a', 'b', 'c'].map((n) => ({ key: `nodir/${n}.csv`, size: 1000 })),
    );
    const { summary } = await sweepAndWait(testFerry.ferry.getConfig(), 'nodir');
    expect(summary).toMatch(/failed 3/);

    const first = await receiver.next((r) => of('nodir', 'delivery-failed')(r) && !r.body.summary, 'first');
    latencies['delivery-failed'] = latencyOf(first, 'nodir');
    expect(first.body).toMatchObject({
      errCode: 'ERR_SFTP_NO_SUCH_PATH',
      severity: 'error',
      count: 1,
      runbookUrl: `${RUNBOOKS}sftp-remote-path.md`,
    });
    const later = await receiver.next((r) => of('nodir', 'delivery-failed')(r) && r.body.summary, 'summary');
    expect(later.body).toMatchObject({ errCode: 'ERR_SFTP_NO_SUCH_PATH', count: 2, summary: true });
    expect(later.body.text).toMatch(/ · 2 times since /);
    expect(Date.parse(later.body.firstAt)).toBeGreaterThanOrEqual(Date.parse(first.body.lastAt));
    expect(Date.parse(later.body.lastAt)).toBeGreaterThanOrEqual(Date.parse(later.body.firstAt));
    expect(later.body.alertId).not.toBe(first.body.alertId);
    expect(later.verified).toBe(true);
    console.log(
      `dedup: summary sent ${later.at - Date.parse(later.body.lastAt)} ms after the last repeat (window ${DEDUP_MINUTES * 60} s)`,
    );

    await windowClosed('delivery-failed:nodir:ERR_SFTP_NO_SUCH_PATH');
    expect(receiver.received.filter((r) => r.body.partnerId === 'nodir')).toHaveLength(2);
  });

  it("retries a partner's own receiver (500, 500, then 200) while another partner's deliveries keep flowing", async () => {
    let accept!: () => void;
    const accepted = new Promise<number>((resolve) => {
      accept = () => resolve(200);
    });
    receiver.script('/ops', [() => 500, () => 500, () => accepted]);
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'opsteam/orders.csv', size: 1000 }]);
    const failed = await sweepAndWait(testFerry.ferry.getConfig(), 'opsteam');
    expect(failed.summary).toMatch(/failed 1/);

    // The third try is held open by the receiver: the alert is still in flight while steady delivers.
    await waitFor(() => receiver.received.filter((r) => r.path === '/ops').length === 3, 'the third try');
    await putObjects(
      testFerry.s3,
      fixture.bucket,
      [1, 2, 3, 4, 5].map((n) => ({ key: `steady/file-${n}.csv`, size: 4000 })),
    );
    const steady = await sweepAndWait(testFerry.ferry.getConfig(), 'steady');
    expect(steady.summary).toMatch(/^delivered 5, .*failed 0$/);
    accept();
    await waitFor(
      () => logs.lines().find((l) => l.msg === 'alert sent' && l.partnerId === 'opsteam'),
      'the alert to be accepted',
    );

    const tries = receiver.received.filter((r) => r.path === '/ops');
    latencies['retries-exhausted (2 failed tries + backoff)'] = latencyOf(tries[2]!, 'opsteam');
    expect(tries).toHaveLength(3);
    expect(new Set(tries.map((t) => t.body.alertId)).size).toBe(1);
    for (const t of tries) {
      expect(t.body).toMatchObject({
        kind: 'retries-exhausted',
        partnerId: 'opsteam',
        errCode: 'ERR_SFTP_UNREACHABLE',
        attempts: 1,
        // The partner's own receiver; the runbook base is ferry.yaml's, for every alert.
        runbookUrl: `${RUNBOOKS}sftp-connection.md`,
      });
      expect(t.verified).toBe(true);
    }
    expect(
      logs.lines().filter((l) => l.msg === 'alert webhook failed; will retry' && l.partnerId === 'opsteam'),
    ).toHaveLength(2);
    expect(logs.lines().find((l) => l.msg === 'alert sent' && l.partnerId === 'opsteam')).toMatchObject({
      receiver: `http://127.0.0.1:${receiver.port}`,
      try: 3,
    });
    // The partner's receiver replaces the global one.
    expect(receiver.received.filter((r) => r.path !== '/ops' && r.body.partnerId === 'opsteam')).toEqual([]);
  });

  it('alerts a quarantined key', async () => {
    await putObjects(testFerry.s3, fixture.bucket, [{ key: 'quar/nested/orders.csv', size: 100 }]);
    await sweepAndWait(testFerry.ferry.getConfig(), 'quar');
    const alert = await receiver.next(of('quar', 'key-quarantined'), 'for quar');
    expect(alert.body).toMatchObject({
      severity: 'warning',
      errCode: 'ERR_KEY_HOSTILE',
      s3Key: 'quar/nested/orders.csv',
      count: 1,
      runbookUrl: `${RUNBOOKS}key-quarantined.md`,
    });
  });

  it('sends one alert for a rejected reload seen by two processes, and the second as a count', async () => {
    secondFerry = await startFerry({
      config: await loadConfigOrThrow(fixture.dir),
      role: 'scheduler',
      env: process.env,
      logger: logs.logger,
    });
    const broken = join(fixture.dir, 'partners', 'broken.yaml');
    // A complete partner file with one bad field: every process that watches the directory rejects it.
    const steady = await readFile(join(fixture.dir, 'partners', 'steady.yaml'), 'utf8');
    await writeFile(
      broken,
      steady.replace('id: steady', 'id: broken').replace(/cron: "[^"]*"/, 'cron: "every day"'),
    );
    try {
      const first = await receiver.next(
        (r) => r.body.kind === 'config-reload-rejected' && !r.body.summary,
        'for the rejected reload',
      );
      expect(first.body).toMatchObject({ partnerId: null, errCode: 'ERR_CONFIG_INVALID', severity: 'error' });
      expect(first.body.message).toContain('broken.yaml');
      const repeat = await receiver.next(
        (r) => r.body.kind === 'config-reload-rejected' && r.body.summary,
        'summary for the second process',
      );
      expect(repeat.body.count).toBe(1);
      await windowClosed('config-reload-rejected:-:ERR_CONFIG_INVALID');
      expect(receiver.received.filter((r) => r.body.kind === 'config-reload-rejected')).toHaveLength(2);
    } finally {
      await rm(broken, { force: true });
    }
  });

  it('sends one sweep-failed alert per dedup window for a partner whose bucket does not exist', async () => {
    const config = testFerry.ferry.getConfig();
    expect((await sweepAndWait(config, 'nobucket')).code).toBe(1);
    const first = await receiver.next(
      (r) => of('nobucket', 'sweep-failed')(r) && !r.body.summary,
      'for the failed sweep',
    );
    expect(first.body).toMatchObject({
      kind: 'sweep-failed',
      severity: 'error',
      partnerId: 'nobucket',
      errCode: 'ERR_CONFIG_INVALID',
      count: 1,
      summary: false,
      runbookUrl: `${RUNBOOKS}sweep-failed.md`,
    });
    expect(first.body.message).toContain('nothing new is delivered until a sweep succeeds');
    expect(first.body.text).toMatch(
      /^\[ferry\] ERROR sweep-failed · partner nobucket · ERR_CONFIG_INVALID: /,
    );
    expect(first.verified).toBe(true);

    // The same failure twice more within the window (a sweep every minute, say): held back, then one count.
    expect((await sweepAndWait(config, 'nobucket')).code).toBe(1);
    expect((await sweepAndWait(config, 'nobucket')).code).toBe(1);
    const later = await receiver.next((r) => of('nobucket', 'sweep-failed')(r) && r.body.summary, 'summary');
    expect(later.body).toMatchObject({ errCode: 'ERR_CONFIG_INVALID', count: 2, summary: true });
    await windowClosed('sweep-failed:nobucket:ERR_CONFIG_INVALID');
    expect(receiver.received.filter((r) => r.body.partnerId === 'nobucket')).toHaveLength(2);
  });

  it('sends sweep-failed with ERR_S3_ACCESS_DENIED when S3 denies listing the partner prefix', async () => {
    expect((await sweepAndWait(testFerry.ferry.getConfig(), 'denied')).code).toBe(1);
    const alert = await receiver.next(of('denied', 'sweep-failed'), 'for the denied listing');
    expect(alert.body).toMatchObject({
      severity: 'error',
      partnerId: 'denied',
      errCode: 'ERR_S3_ACCESS_DENIED',
      count: 1,
    });
    await windowClosed('sweep-failed:denied:ERR_S3_ACCESS_DENIED');
    expect(receiver.received.filter((r) => r.body.partnerId === 'denied')).toHaveLength(1);
  });

  it('refuses a captured alert replayed later, whatever its timestamps say', async () => {
    expect(receiver.received.filter((r) => !r.verified).map((r) => r.body.kind)).toEqual([]);
    const captured = await receiver.next(of('mitm', 'host-key-mismatch'), 'to capture');
    const t = Number(captured.headers['x-ferry-timestamp']);
    const signature = captured.headers['x-ferry-signature'] as string;
    const replay = async (timestamp: number, signatureHeader: string) => {
      const answer = await fetch(`http://127.0.0.1:${replayTarget.port}/hooks/${URL_TOKEN}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-ferry-alert-id': captured.body.alertId,
          'x-ferry-timestamp': String(timestamp),
          'x-ferry-signature': signatureHeader,
        },
        body: captured.raw,
      });
      return answer.status;
    };

    // At the moment it was sent, the copy passes: the replays below are faithful but for what they change.
    replayTarget.setSkewSeconds(t - Date.now() / 1000);
    expect(await replay(t, signature)).toBe(200);
    // Ten minutes later: as captured (stale), with a fresh X-Ferry-Timestamp (unsigned, so ignored), and
    // with the signed t rewritten too (then the HMAC no longer matches).
    replayTarget.setSkewSeconds(t + 600 - Date.now() / 1000);
    expect(await replay(t, signature)).toBe(401);
    expect(await replay(t + 600, signature)).toBe(401);
    expect(await replay(t + 600, signature.replace(`t=${t},`, `t=${t + 600},`))).toBe(401);
    expect(replayTarget.received.map((r) => r.verified)).toEqual([true, false, false, false]);
  });

  it('never writes a webhook URL path or a signing key to the logs or Redis', async () => {
    const text = logs.text();
    expect(text).toContain('"alert sent"');
    for (const canary of [URL_TOKEN, `urlTokenCanary${RUN}`, SECRET, OPS_SECRET, '/ops"']) {
      expect(text).not.toContain(canary);
    }
    const dump = await dumpRedisAsText(testFerry.redis);
    for (const canary of [`urlTokenCanary${RUN}`, SECRET, OPS_SECRET]) expect(dump).not.toContain(canary);
  });
});
