// events: issue 16's event-driven delivery on loopback, against one `ferry start` (all roles: web, scheduler,
// worker) child process. (a) put → published latency of 1 KiB files, p50 and p99: a partner with
// `events: true` (the bench POSTs an S3 event notification right after each PutObject, as MinIO's
// webhook target would) against a partner swept every second (cron "* * * * * *", six fields, seconds
// first). Published = the file's final name appears in the partner's SFTP directory (polled every 10 ms);
// the clock starts when PutObject returns. Files are put one every --interval-ms, so a sweep's second
// is sampled evenly. (b) a burst of 10,000 events for 1,000 keys (each key 10 times, shuffled, several
// POSTs at once) must give exactly 1,000 deliveries: files, receipts and "delivered" log lines are counted.
import { PutObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFerryConfig } from '../test/support/ferry-fixture.js';
import { spawnFerry, type FerryProcess } from '../test/support/ferry-process.js';
import { s3ClientFor, startServices } from '../test/support/services.js';
import { stopFerryWorker, verdict } from './baselines.js';

const TOKEN = randomBytes(16).toString('hex');
const TARGET_P50_S = 1;
const EVENTS = { id: 'ev-latency', prefix: 'ev-latency/' };
const SWEPT = { id: 'sweep-latency', prefix: 'sweep-latency/' };
const BURST = { id: 'ev-burst', prefix: 'ev-burst/' };

/** `npm run bench -- events [--files N] [--interval-ms MS] [--burst-keys N] [--burst-repeats N] [--concurrency N]`. */
export async function runEventsBench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      files: { type: 'string', default: '200' },
      size: { type: 'string', default: '1024' },
      'interval-ms': { type: 'string', default: '50' },
      'burst-keys': { type: 'string', default: '1000' },
      'burst-repeats': { type: 'string', default: '10' },
      // Records per POST and POSTs in flight at once.
      'per-request': { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '8' },
    },
  });
  const files = Number(values.files);
  const size = Number(values.size);
  const intervalMs = Number(values['interval-ms']);
  const burstKeys = Number(values['burst-keys']);
  const repeats = Number(values['burst-repeats']);
  const perRequest = Number(values['per-request']);
  const concurrency = Number(values.concurrency);
  const progress = (line: string) => process.stderr.write(`bench events: ${line}\n`);

  const services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  const s3 = s3ClientFor(services.s3);
  let ferry: FerryProcess | undefined;
  try {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: services.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
      FERRY_ADMIN_PASSWORD: randomBytes(8).toString('hex'),
      FERRY_EVENTS_TOKEN: TOKEN,
    };
    const fixture = await writeFerryConfig(services, {
      partners: [
        // Its cron never fires during the bench: only events deliver its files.
        { ...EVENTS, extraYaml: 'events: true' },
        { ...SWEPT, cron: '* * * * * *' },
        { ...BURST, extraYaml: 'events: true', maxConnections: 4 },
      ],
      worker: 'concurrency: 16',
      logLevel: 'info',
    });
    const yamlPath = join(fixture.dir, 'ferry.yaml');
    const yaml = await readFile(yamlPath, 'utf8');
    const withEvents = yaml.replace(
      'adminPasswordEnv: FERRY_ADMIN_PASSWORD }',
      'adminPasswordEnv: FERRY_ADMIN_PASSWORD, events: { tokenEnv: FERRY_EVENTS_TOKEN } }',
    );
    if (withEvents === yaml) throw new Error('bench events: could not add http.events to ferry.yaml');
    await writeFile(yamlPath, withEvents);

    ferry = spawnFerry(['start', '--config', fixture.dir], env);
    await ferry.waitForLine(/"msg":"ferry started"/, 60_000);
    const port = /"url":"http:\/\/127\.0\.0\.1:(\d+)\/admin"/.exec(ferry.output())?.[1];
    if (port === undefined) throw new Error('bench events: no "Bull Board listening" line with a port');
    const endpoint = `http://127.0.0.1:${port}/api/events/s3`;
    const post = async (records: EventRecord[]) => {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(notification(fixture.bucket, records)),
      });
      if (res.status !== 202) {
        throw new Error(`POST /api/events/s3 answered ${res.status}: ${await res.text()}`);
      }
      await res.arrayBuffer();
    };

    // (a) latency, events first, then the sweep.
    const label = `events put → published ${files}×${size} B, one put every ${intervalMs} ms`;
    progress(`latency with events (${files} files)…`);
    const byEvent = await measureLatency(s3, fixture.bucket, fixture.partnerDirs[EVENTS.id]!, EVENTS.prefix, {
      files,
      size,
      intervalMs,
      afterPut: (key, etag) => post([{ key, etag }]),
    });
    progress(`latency with a sweep every second (${files} files)…`);
    const bySweep = await measureLatency(s3, fixture.bucket, fixture.partnerDirs[SWEPT.id]!, SWEPT.prefix, {
      files,
      size,
      intervalMs,
      afterPut: () => Promise.resolve(),
    });
    const p50 = percentile(byEvent, 50);
    console.log(
      `${label}: with events p50 ${ms(p50)}, p99 ${ms(percentile(byEvent, 99))}, max ${ms(Math.max(...byEvent))} (target p50 ≤ ${TARGET_P50_S} s: ${verdict(p50 <= TARGET_P50_S * 1000)})`,
    );
    console.log(
      `${label}: with the sweep (cron "* * * * * *") p50 ${ms(percentile(bySweep, 50))}, p99 ${ms(percentile(bySweep, 99))}, max ${ms(Math.max(...bySweep))}`,
    );

    // (b) the burst.
    progress(`burst: putting ${burstKeys} objects…`);
    const keys = Array.from(
      { length: burstKeys },
      (_, i) => `${BURST.prefix}b-${String(i).padStart(5, '0')}.csv`,
    );
    const etags = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(
        keys.slice(i, i + 16).map(async (key) => {
          const body = randomBytes(64);
          await s3.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: key, Body: body }));
          etags.set(key, createHash('md5').update(body).digest('hex'));
        }),
      );
    }
    // Every key `repeats` times, shuffled (so duplicates land in different requests, out of key order).
    const records = shuffle(
      keys.flatMap((key) => Array.from({ length: repeats }, () => ({ key, etag: etags.get(key)! }))),
    );
    const batches: EventRecord[][] = [];
    for (let i = 0; i < records.length; i += perRequest) batches.push(records.slice(i, i + perRequest));
    progress(`burst: ${records.length} events in ${batches.length} POSTs, ${concurrency} at once…`);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < batches.length) await post(batches[next++]!);
      }),
    );
    const postedS = (performance.now() - t0) / 1000;
    const names = new Set(keys.map((k) => k.slice(BURST.prefix.length)));
    const burstDir = fixture.partnerDirs[BURST.id]!;
    await pollUntil(
      async () => (await finals(burstDir)).filter((n) => names.has(n)).length >= names.size,
      300_000,
    );
    const publishedS = (performance.now() - t0) / 1000;
    // Anything a duplicate could still have started ends within a few job runs: let it, then count.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const arrived = (await finals(burstDir)).length;
    const receipts = await countKeys(s3, fixture.receiptsBucket, `ferry/receipts/${BURST.id}/`);
    const delivered = ferry
      .output()
      .split('\n')
      .filter((l) => l.includes('"outcome":"delivered"') && l.includes(`"${BURST.id}"`)).length;
    const exact = arrived === burstKeys && receipts === burstKeys && delivered === burstKeys;
    console.log(
      `events burst ${records.length} events for ${burstKeys} keys (${repeats} each, shuffled, ${perRequest} per POST, ${concurrency} POSTs at once): POSTs answered in ${postedS.toFixed(2)} s, last file published ${publishedS.toFixed(2)} s after the first POST; files ${arrived}, receipts ${receipts}, "delivered" log lines ${delivered} (exactly ${burstKeys}: ${verdict(exact)})`,
    );
    return exact && p50 <= TARGET_P50_S * 1000 ? 0 : 1;
  } finally {
    if (ferry) await stopFerryWorker(ferry);
    s3.destroy();
    await services.stop();
  }
}

interface EventRecord {
  key: string;
  etag: string;
}

/** An S3 event notification as MinIO's webhook target sends it (keys URL-encoded, a space as "+"). */
function notification(bucket: string, records: EventRecord[]) {
  return {
    EventName: 's3:ObjectCreated:Put',
    Key: `${bucket}/${records[0]?.key ?? ''}`,
    Records: records.map((r) => ({
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      eventName: 's3:ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
        object: { key: encodeURIComponent(r.key).replace(/%20/g, '+'), eTag: r.etag },
      },
    })),
  };
}

/**
 * Puts `files` objects one every `intervalMs` (afterPut right after each PutObject returns) while polling
 * the partner's directory every 10 ms; returns each file's put → final-name latency in ms.
 */
async function measureLatency(
  s3: S3Client,
  bucket: string,
  dir: string,
  prefix: string,
  o: {
    files: number;
    size: number;
    intervalMs: number;
    afterPut: (key: string, etag: string) => Promise<void>;
  },
): Promise<number[]> {
  const putAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const now = performance.now();
      for (const name of await finals(dir)) if (putAt.has(name) && !seenAt.has(name)) seenAt.set(name, now);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const puts: Promise<void>[] = [];
  for (let i = 0; i < o.files; i++) {
    const name = `f-${String(i).padStart(5, '0')}.csv`;
    puts.push(
      (async () => {
        const body = randomBytes(o.size);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + name, Body: body }));
        putAt.set(name, performance.now());
        await o.afterPut(prefix + name, createHash('md5').update(body).digest('hex'));
      })(),
    );
    await new Promise((resolve) => setTimeout(resolve, o.intervalMs));
  }
  await Promise.all(puts);
  try {
    await pollUntil(() => Promise.resolve(seenAt.size >= o.files), 120_000);
  } finally {
    polling = false;
    await poller;
  }
  return [...putAt].map(([name, at]) => seenAt.get(name)! - at);
}

/** Final names in a partner directory (Ferry's temporary files start with "."). */
async function finals(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.'));
}

async function pollUntil(done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`bench events: not done within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function countKeys(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let n = 0;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    n += page.Contents?.length ?? 0;
  }
  return n;
}

/** Fisher–Yates with a fixed seed (mulberry32), so every run posts the same order. */
function shuffle<T>(items: T[]): T[] {
  let seed = 0x16e7;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);
