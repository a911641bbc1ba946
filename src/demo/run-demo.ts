// `ferry demo`: the whole pipeline on private local services (redis-server, OpenSSH sshd, s3rver),
// started by the same code the integration tests use (src/local-services/).
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chown, mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { Job, QueueEvents } from 'bullmq';
import { loadConfig, formatProblem } from '../config/load-config.js';
import { partnerOfDeliveryId } from '../core/delivery-id.js';
import { demoRefusal } from '../core/demo-refusal.js';
import { lookUpS3rver } from '../local-services/s3rver.js';
import { s3ClientFor, startServices, type Services } from '../local-services/start-services.js';
import { writeFerryConfig } from '../local-services/write-ferry-config.js';
import { startFerry, type RunningFerry } from '../main.js';
import { createManifestBatches } from '../ledger/manifest-batches.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createRedisLedger } from '../ledger/redis-ledger.js';
import { createLogger } from '../observability/logger.js';
import { QUEUE, JOB } from '../queues/names.js';
import type { DeliverResult } from '../queues/payloads.js';
import { createQueues, type FerryQueues } from '../queues/queues.js';
import { createRedisConnection } from '../queues/redis-connection.js';

export interface DemoOptions {
  filesPerPartner: number;
  fileSize: number;
  /** Exit after every seeded file is delivered (used by CI's smoke test). */
  once: boolean;
  /** Keep the temp dir (config, partner files, logs) after exit. */
  keep: boolean;
  out(line: string): void;
  /** The refusal line (`ferry demo` outside a source checkout). */
  err(line: string): void;
  env: NodeJS.ProcessEnv;
}

const BUCKET = 'warehouse-exports';
const HEADER = 'order_id,sku,qty,amount';
/**
 * The partner that shows the file contract: marker, CSV checks, formula escaping, its own CSV shape,
 * gzip, {date}/{seq}, sidecars.
 */
const CONTRACT = 'initech';
/**
 * The partner that takes S3 events (`events: true`): once its seeded files are delivered, the demo
 * writes one more file for it and posts the S3 notification MinIO's webhook would send.
 */
const EVENT_PARTNER = 'acme';
/** The env var holding the events endpoint's token (http.events.tokenEnv), set for the demo's own Ferry. */
const EVENTS_TOKEN_ENV = 'FERRY_EVENTS_TOKEN';
const PARTNERS = [
  { id: 'acme', prefix: 'acme/daily/', timezone: 'America/New_York' },
  { id: 'globex', prefix: 'globex/exports/', timezone: 'Europe/Berlin' },
  { id: CONTRACT, prefix: 'initech/exports/', timezone: 'America/Chicago' },
] as const;
/** initech's control file, one after each sweep that delivered something (per sweep: {date} has seconds). */
const MANIFEST_FILENAME = 'INITECH_{date:yyyyMMdd-HHmmss}_manifest.csv';
/** A name MANIFEST_FILENAME renders; never a data file's (`INITECH_<yyyyMMdd>_<seq>.csv.gz`) nor a sidecar's. */
const MANIFEST_NAME = /^INITECH_\d{8}-\d{6}_manifest\.csv$/;
/** How long `--once` waits for the manifest once the answers are read (its check runs in that sweep). */
const MANIFEST_WAIT_MS = 90_000;
const CONTRACT_YAML = [
  'validate:',
  '  csv:',
  `    header: [${HEADER.split(',').join(', ')}]`,
  '    neutralizeFormulas: escape',
  'shape:',
  '  columns:',
  '    - { from: order_id, as: OrderID }',
  '    - { from: sku, as: SKU }',
  '    - { from: qty, as: Quantity }',
  '    - { from: amount, as: Amount }',
  '    - { value: "{partner}", as: Partner }',
  '    - { value: "{date:yyyy-MM-dd}", as: ExportDate }',
  '  delimiter: ";"',
  '  lineEnding: crlf',
  '  trailer: "TRL|{rows}"',
  'transform:',
  '  compress: gzip',
  'naming:',
  '  filename: "INITECH_{date:yyyyMMdd}_{seq:3}{ext}"',
  '  checksumFile: sha256',
  '  doneFile: "{filename}.done"',
  'manifest:',
  `  filename: "${MANIFEST_FILENAME}"`,
  '  checkEveryMinutes: 1',
].join('\n');
/** Seeded into initech's first export: delivered as `'=HYPERLINK(…)` (neutralizeFormulas: escape). */
const FORMULA_CELL = '"=HYPERLINK(""http://x"")"';

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function row(partner: string, index: number, i: number): string {
  return `${partner}-${index}-${i},SKU-${(i * 7919) % 10_000},${(i % 9) + 1},${((i * 37) % 10_000) / 100}\n`;
}

function csv(partner: string, index: number, size: number): Buffer {
  const header = `${HEADER}\n`;
  const rows: string[] = [header];
  let length = header.length;
  for (let i = 0; length < size; i += 1) {
    const r = row(partner, index, i);
    rows.push(r);
    length += r.length;
  }
  return Buffer.from(rows.join('')).subarray(0, Math.max(size, header.length));
}

/**
 * An export that passes initech's `validate.csv`: whole rows only (a cut last row would be quarantined),
 * so up to `size` bytes but at least one row; the first file's first row carries a formula cell.
 */
function contractCsv(index: number, size: number): Buffer {
  const rows = [`${HEADER}\n`];
  let length = rows[0]!.length;
  for (let i = 0; ; i += 1) {
    let r = row(CONTRACT, index, i);
    if (index === 1 && i === 0) r = r.replace(/,SKU-\d+,/, `,${FORMULA_CELL},`);
    if (i > 0 && length + r.length > size) break;
    rows.push(r);
    length += r.length;
  }
  return Buffer.from(rows.join(''));
}

/**
 * The files a CSV manifest lists (header `filename,bytes,sha256,rows`) and their rows, summed. bytes,
 * sha256 and rows never hold a comma, so the name is what comes before them (quoted when it has one).
 */
function readManifestCsv(text: string): { names: string[]; rows: number } {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== 'filename,bytes,sha256,rows') {
    throw new Error(`not a CSV manifest: its first line is ${JSON.stringify(lines[0] ?? '')}`);
  }
  const names: string[] = [];
  let rows = 0;
  for (const line of lines.slice(1)) {
    const fields = line.split(',');
    const [, , rowCount] = fields.splice(-3);
    const name = fields.join(',');
    names.push(name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name);
    rows += Number(rowCount ?? '') || 0;
  }
  return { names, rows };
}

/** The first bytes of a delivered .gz, gunzipped (a truncated stream is fine with Z_SYNC_FLUSH). */
async function gunzippedHead(path: string, bytes = 65_536): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(bytes), 0, bytes, 0);
    return gunzipSync(buffer.subarray(0, bytesRead), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString(
      'utf8',
    );
  } finally {
    await file.close();
  }
}

/** Runs the demo until Ctrl-C (or, with `once`, until every good file is delivered and the bad one quarantined). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const refusal = demoRefusal(lookUpS3rver());
  if (refusal !== undefined) {
    o.err(refusal);
    return 2;
  }
  const started = Date.now();
  o.out('ferry demo: starting redis-server, OpenSSH sshd and s3rver on free loopback ports…');
  const services: Services = await startServices({ buckets: [BUCKET, 'ferry-audit'] });
  // Ferry's JSON log lines (a ledger-trust warning, the quarantine error, …) go to a file beside the
  // services' logs: the console keeps to the demo's own lines.
  const logFile = join(services.dir, 'ferry-demo.log');
  const logStream = createWriteStream(logFile, { flags: 'a' });
  logStream.once('error', (err) => o.out(`demo: cannot write ${logFile}: ${err.message}`));
  o.out(`logs: ${logFile}`);
  let ferry: RunningFerry | undefined;
  let events: QueueEvents | undefined;
  let queues: FerryQueues | undefined;
  let redisConn: ReturnType<typeof createRedisConnection> | undefined;
  try {
    const { redis, sshd, s3 } = services;
    const httpPort = (await portIsFree(3000)) ? 3000 : 0;
    const password = randomBytes(12).toString('base64url');
    const eventsToken = randomBytes(32).toString('hex');
    // initech's system answers each file in …/initech-acks (the demo plays that part below).
    const ackDir = join(sshd.inbound, `${CONTRACT}-acks`);
    const fixture = await writeFerryConfig(services, {
      bucket: BUCKET,
      httpPort,
      logLevel: 'info', // to the log file, not the console
      worker: 'concurrency: 8, idleTimeoutSeconds: 10',
      eventsTokenEnv: EVENTS_TOKEN_ENV,
      partners: PARTNERS.map((p) => ({
        id: p.id,
        prefix: p.prefix,
        cron: '*/1 * * * *',
        timezone: p.timezone,
        attempts: 5,
        backoffSeconds: 2,
        // initech's warehouse job writes one dated directory per run, `_SUCCESS` last.
        ...(p.id === CONTRACT
          ? {
              include: ['*/*.csv'],
              requireMarker: '_SUCCESS',
              extraYaml: `${CONTRACT_YAML}\nack: { directory: "${ackDir}", within: 1h }`,
            }
          : { include: ['*.csv'], ...(p.id === EVENT_PARTNER ? { extraYaml: 'events: true' } : {}) }),
      })),
    });
    await mkdir(ackDir);
    const inboundOwner = await stat(sshd.inbound);
    await chown(ackDir, inboundOwner.uid, inboundOwner.gid);
    const configDir = fixture.dir;
    const env: NodeJS.ProcessEnv = {
      ...o.env,
      FERRY_ADMIN_PASSWORD: password,
      [EVENTS_TOKEN_ENV]: eventsToken,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    // The AWS SDK's default credential chain reads process.env.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    const loaded = await loadConfig(configDir, { ...env, FERRY_HTTP_PORT: undefined, REDIS_URL: undefined });
    if (!loaded.ok) {
      for (const p of loaded.problems) o.out(formatProblem(p));
      return 1;
    }

    const client = s3ClientFor(s3);
    // `total` counts good data files: a quarantined file is reported, never counted as delivered or missing.
    // The last is EVENT_PARTNER's file written later, announced by an S3 event.
    const seeded = o.filesPerPartner * PARTNERS.length;
    const total = seeded + 1;
    const eventPartner = PARTNERS.find((p) => p.id === EVENT_PARTNER)!;
    const eventFile = `orders_${String(o.filesPerPartner + 1).padStart(4, '0')}.csv`;
    const eventKey = `${eventPartner.prefix}${eventFile}`;
    // One directory per warehouse run, dated in initech's timezone (as its {date:yyyyMMdd} names are).
    const contract = PARTNERS.find((p) => p.id === CONTRACT)!;
    const runDate = new Intl.DateTimeFormat('en-CA', { timeZone: contract.timezone }).format(new Date());
    const runDir = `${contract.prefix}${runDate}/`;
    const put = (key: string, body: Buffer) =>
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    o.out(
      `seeding ${seeded} CSV exports (${o.fileSize} bytes each) into s3://${BUCKET}/, plus one bad CSV for ${CONTRACT}; ${EVENT_PARTNER}'s ${eventFile} comes later, announced by an S3 event`,
    );
    for (const p of PARTNERS) {
      for (let i = 1; i <= o.filesPerPartner; i += 1) {
        const name = `orders_${String(i).padStart(4, '0')}.csv`;
        if (p.id === CONTRACT) await put(`${runDir}${name}`, contractCsv(i, o.fileSize));
        else await put(`${p.prefix}${name}`, csv(p.id, i, o.fileSize));
      }
    }
    // Row 3 has 3 of the header's 4 columns: quarantined before a byte reaches the partner.
    await put(
      `${runDir}orders_short.csv`,
      Buffer.from(`${HEADER}\n${row(CONTRACT, 0, 0)}${CONTRACT}-0-1,SKU-1,3\n`),
    );
    await put(`${runDir}_SUCCESS`, Buffer.alloc(0)); // last: until now nothing in the directory was eligible
    client.destroy();

    const logger = createLogger({ level: loaded.config.service.log.level, name: 'demo' }, logStream);
    ferry = await startFerry({ config: loaded.config, role: 'all', env, logger });
    const url = `http://127.0.0.1:${ferry.httpPort ?? httpPort}/admin`;
    o.out('');
    o.out(`Bull Board: ${url}   user: admin   password: ${password}`);
    o.out(
      `config:     ${configDir}   (partners sweep every minute; try: REDIS_URL=${redis.url} npx ferry sweep acme --wait --config ${configDir})`,
    );
    o.out(
      `partners:   ${PARTNERS.map((p) => `${p.id} → sftp://${sshd.username}@127.0.0.1:${sshd.port}${fixture.partnerDirs[p.id] ?? ''}`).join('\n            ')}`,
    );
    o.out(
      `${CONTRACT}:    s3://${BUCKET}/${runDir} once _SUCCESS is there; CSV header checked, formula cells escaped, reshaped (its column names, ";", CRLF, Partner and ExportDate columns, a TRL|rows trailer), gzip, named INITECH_{date:yyyyMMdd}_{seq:3}.csv.gz with .sha256 and .done files, then a manifest ${MANIFEST_FILENAME} listing each sweep's files; its answers are read from ${ackDir}`,
    );
    o.out(`services:   redis-server pid ${redis.pid}, sshd pid ${sshd.pid}, s3rver pid ${s3.pid}`);
    o.out(o.once ? 'delivering…' : 'delivering… (Ctrl-C stops everything the demo started)');
    o.out('');

    const svc = loaded.config.service;
    events = new QueueEvents(QUEUE.deliver, { connection: { url: redis.url }, prefix: svc.redis.prefix });
    await events.waitUntilReady();
    redisConn = createRedisConnection({ url: redis.url }, 'producer');
    await redisConn.connect();
    queues = createQueues(redisConn, svc.redis.prefix);
    const deliverQueue = queues.deliver;
    const contractDir = fixture.partnerDirs[CONTRACT] ?? '';
    const pad = ' '.repeat(26);
    let delivered = 0;
    let quarantined = 0;
    let failed = 0;
    let finish: (() => void) | undefined;
    const allSettled = new Promise<void>((resolve) => {
      finish = resolve;
    });
    // With --once the demo waits for every seeded file to settle: the good ones delivered, initech's
    // bad one quarantined (or anything failed for good, which then fails the final check). A file
    // counts once its lines are out, so the summary comes last.
    let settled = 0;
    const stamp = () => new Date().toISOString();
    // Lines come out in event order, each delivery's extra lines right under it.
    let printed = Promise.resolve();
    const print = (lines: Promise<string[]>, settles: boolean) => {
      printed = printed
        .then(async () => o.out((await lines).join('\n')))
        .catch((err: unknown) => o.out(`demo: ${String(err)}`))
        .finally(() => {
          if (settles) settled += 1;
          if (settled >= total + 1) finish?.();
        });
    };
    /** Lines under an initech delivery: its sidecars as found on the partner server, an escaped cell. */
    const contractLines = async (remotePath: string, sha256: string): Promise<string[]> => {
      const name = basename(remotePath);
      const local = join(contractDir, name);
      const read = (sidecar: string) => readFile(join(contractDir, sidecar), 'utf8').catch(() => undefined);
      const checksum = await read(`${name}.sha256`);
      const done = await read(`${name}.done`);
      const hex = checksum?.split(' ')[0] ?? '';
      const lines = [
        `${pad}+ ${name}.sha256 ${checksum === undefined ? 'MISSING' : `(${hex === sha256 ? 'matches the delivered sha256' : `${hex.slice(0, 12)}: DOES NOT MATCH`})`}` +
          `, ${name}.done ${done === undefined ? 'MISSING' : `(${done === '' ? 'empty' : 'NOT EMPTY'})`}`,
      ];
      const head = (await gunzippedHead(local)).split('\r\n');
      lines.push(`${pad}gunzipped, shaped for initech: ${head[0] ?? ''} / ${head[1] ?? ''} / …`);
      const escaped = head.find((l) => l.includes(`;"'=`));
      if (escaped !== undefined) lines.push(`${pad}the formula cell arrived escaped: ${escaped}`);
      return lines;
    };
    /** initech's delivered files (delivery id → file name), for its answers. */
    const contractFiles = new Map<string, string>();
    /** initech's manifests as they arrive (file names); never answered, never counted as data. */
    const manifests: string[] = [];
    let manifestSeen: (() => void) | undefined;
    const manifestArrived = new Promise<void>((resolve) => {
      manifestSeen = resolve;
    });
    /** The manifest's line: what it lists, read from the partner's directory as initech would. */
    const manifestLines = async (r: DeliverResult & { remotePath: string }): Promise<string[]> => {
      const line = `${stamp()}  ${'manifest'.padEnd(17)} ${r.remotePath}  ${r.bytes} bytes  sha256 ${(r.sha256 ?? '').slice(0, 12)}`;
      const text = await readFile(join(contractDir, basename(r.remotePath)), 'utf8');
      const { names, rows } = readManifestCsv(text);
      const [header, first] = text.split('\n');
      return [
        line,
        `${pad}lists ${names.length} files and ${rows} rows, in delivery order: ${header ?? ''} / ${first ?? ''} / …`,
      ];
    };
    /**
     * Writes EVENT_PARTNER's extra file and posts its S3 notification (as MinIO's webhook target sends it)
     * to Ferry's own listener. `byEvent` when the event is what enqueued the delivery: answered 202 with
     * enqueued ≥ 1, and no sweep of the partner ran between the PUT and the answer (the answer counts an
     * enqueue that an existing job made a no-op, so a sweep that listed the file first would hide there).
     */
    const postEvent = async (): Promise<{ line: string; byEvent: boolean }> => {
      const putAt = Date.now();
      const s3c = s3ClientFor(s3);
      try {
        await s3c.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: eventKey,
            Body: csv(EVENT_PARTNER, o.filesPerPartner + 1, o.fileSize),
          }),
        );
      } finally {
        s3c.destroy();
      }
      const notification = {
        EventName: 's3:ObjectCreated:Put',
        Key: `${BUCKET}/${eventKey}`,
        Records: [
          {
            eventVersion: '2.0',
            eventSource: 'minio:s3',
            eventName: 's3:ObjectCreated:Put',
            s3: {
              s3SchemaVersion: '1.0',
              bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` },
              object: { key: encodeURIComponent(eventKey), size: o.fileSize },
            },
          },
        ],
      };
      const res = await fetch(`http://127.0.0.1:${ferry!.httpPort ?? httpPort}/api/events/s3`, {
        method: 'POST',
        headers: { authorization: `Bearer ${eventsToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(notification),
      });
      const answeredAt = Date.now();
      const answer = (await res.json()) as { enqueued?: number };
      const sweeps = await queues!.sweep.getJobs(['active', 'completed', 'failed']);
      const raced = sweeps.some(
        (j) =>
          (j.data as { partnerId?: string }).partnerId === EVENT_PARTNER &&
          j.processedOn !== undefined &&
          j.processedOn <= answeredAt &&
          (j.finishedOn ?? Infinity) >= putAt,
      );
      eventAccepted = res.status === 202 && (answer.enqueued ?? 0) >= 1;
      return {
        line:
          `${new Date(putAt).toISOString()}  ${'event'.padEnd(17)} s3://${BUCKET}/${eventKey} written, its S3 notification posted to /api/events/s3: ${res.status} ${JSON.stringify(answer)}` +
          (raced
            ? `  (a sweep of ${EVENT_PARTNER} ran meanwhile: its delivery is not counted as by event)`
            : ''),
        byEvent: eventAccepted && !raced,
      };
    };
    let eventAccepted = false;
    let eventDelivered = 0;
    let byEvent = 0;
    let eventVerdict: Promise<boolean> | undefined;
    events.on('completed', ({ jobId, returnvalue }) => {
      const r = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as DeliverResult;
      const remotePath = r.remotePath;
      if (
        r.outcome === 'delivered' &&
        remotePath !== undefined &&
        partnerOfDeliveryId(jobId) === CONTRACT &&
        MANIFEST_NAME.test(basename(remotePath))
      ) {
        manifests.push(basename(remotePath));
        print(
          manifestLines({ ...r, remotePath })
            .catch((err: unknown) => [
              `${stamp()}  manifest          ${remotePath}  (could not be read: ${String(err)})`,
            ])
            .finally(() => manifestSeen?.()),
          false,
        );
        return;
      }
      if (r.outcome === 'delivered') delivered += 1;
      const isEventPartner = r.outcome === 'delivered' && partnerOfDeliveryId(jobId) === EVENT_PARTNER;
      const isEventFile = isEventPartner && basename(r.remotePath ?? '') === eventFile;
      if (
        r.outcome === 'delivered' &&
        r.remotePath !== undefined &&
        partnerOfDeliveryId(jobId) === CONTRACT
      ) {
        contractFiles.set(jobId, basename(r.remotePath));
      }
      const line = `${stamp()}  ${r.outcome.padEnd(17)} ${r.remotePath ?? jobId}  ${r.bytes} bytes  sha256 ${(r.sha256 ?? '').slice(0, 12)}  (${delivered}/${total})`;
      // The event file's line says whether the event brought it (its verdict is in before the line prints).
      const labelled = isEventFile
        ? (eventVerdict ?? Promise.resolve(false)).then((yes) => {
            if (yes) byEvent += 1;
            return yes ? `${line}  (by event)` : line;
          })
        : Promise.resolve(line);
      const withSidecars =
        r.outcome === 'delivered' && r.remotePath !== undefined && partnerOfDeliveryId(jobId) === CONTRACT;
      print(
        (withSidecars ? contractLines(r.remotePath!, r.sha256 ?? '') : Promise.resolve([]))
          .catch((err: unknown) => [`${pad}(could not read the delivered file: ${String(err)})`])
          .then(async (extra) => [await labelled, ...extra]),
        r.outcome === 'delivered',
      );
      // EVENT_PARTNER's seeded files are all delivered: its first sweep has listed, so the new file is news.
      // The event's line is queued now, before the file exists, so it prints before the file's delivery.
      if (isEventPartner && !isEventFile && (eventDelivered += 1) === o.filesPerPartner) {
        const sent = postEvent().catch((err: unknown) => ({
          line: `demo: the S3 event was not posted: ${String(err)}`,
          byEvent: false,
        }));
        print(
          sent.then((e) => [e.line]),
          false,
        );
        eventVerdict = sent.then((e) => e.byEvent);
      }
    });
    events.on('failed', ({ jobId, failedReason }) => {
      // A file that failed validate.csv is quarantined by design: reported with its source key, not a failure.
      const csvProblem = /^ERR_CSV_INVALID: (.*)$/s.exec(failedReason)?.[1];
      if (csvProblem === undefined) failed += 1;
      else quarantined += 1;
      const at = stamp();
      print(
        Job.fromId(deliverQueue, jobId)
          .then((job) => (job?.data as { key?: string } | undefined)?.key ?? jobId)
          .catch(() => jobId)
          .then((source) => [
            csvProblem === undefined
              ? `${at}  failed            ${source}: ${failedReason}`
              : `${at}  quarantined       s3://${BUCKET}/${source}: ${csvProblem}`,
          ]),
        true,
      );
    });

    // Sweep right away instead of waiting for the first cron tick.
    for (const p of PARTNERS) {
      await queues.sweep.add(
        JOB.sweep,
        { v: 1, partnerId: p.id, reason: 'manual' },
        { jobId: `sweep-demo-${p.id}-${Date.now()}` },
      );
    }

    /**
     * Plays initech's loader: it accepts every file but the last, which it rejects, then asks for a
     * sweep (which reads the answers) and prints what Ferry recorded. Resolves with the counts.
     */
    const answerAsInitech = async (): Promise<{ acknowledged: number; rejected: number }> => {
      const files = [...contractFiles.entries()].sort((a, b) => a[1].localeCompare(b[1]));
      for (const [i, [, name]] of files.entries()) {
        if (i < files.length - 1) await writeFile(join(ackDir, `${name}.ack`), '');
        else await writeFile(join(ackDir, `${name}.nack`), 'line 3: SKU unknown to our catalogue\n');
      }
      await queues!.sweep.add(
        JOB.sweep,
        { v: 1, partnerId: CONTRACT, reason: 'manual' },
        { jobId: `sweep-demo-${CONTRACT}-answers-${Date.now()}` },
      );
      const ledger = createRedisLedger(redisConn!, createRedisKeys(svc.redis.prefix));
      const counts = { acknowledged: 0, rejected: 0 };
      for (const [id, name] of files) {
        const deadline = Date.now() + 60_000;
        let record = await ledger.get(id);
        // Polled: the answer is read by the sweep just queued, in the Ferry this demo started.
        while ((record?.ack === 'pending' || record?.ack === undefined) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          record = await ledger.get(id);
        }
        if (record?.ack === 'acknowledged') counts.acknowledged += 1;
        if (record?.ack === 'rejected') counts.rejected += 1;
        const what = record?.ack ?? 'no answer';
        o.out(
          `${stamp()}  ${what.padEnd(17)} ${name}  (initech's answer ${record?.ackFile ?? '—'}${record?.ackReason ? `: "${record.ackReason}"` : ''})`,
        );
        if (record?.ack === 'rejected') {
          o.out(
            `${pad}redeliver it: ferry redeliver ${CONTRACT} ${record.key} --reason "…" --config ${configDir}`,
          );
        }
      }
      return counts;
    };
    const answered = allSettled.then(answerAsInitech);
    answered.catch((err: unknown) => o.out(`demo: initech's answers were not read: ${String(err)}`));

    if (o.once) {
      await allSettled;
      const answers = await answered;
      // The manifest is checked when initech's last awaited delivery ends, at the latest by the answers'
      // listing sweep or manifest.checkEveryMinutes: it may still be on its way.
      let timer: NodeJS.Timeout | undefined;
      const arrivedInTime = await Promise.race([
        manifestArrived.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), MANIFEST_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      await printed;
      let listed = 0;
      /** Exactly one manifest, in initech's directory and in Ferry's records, listing every data file it got. */
      const checkManifest = async (
        arrived: boolean,
        onDisk: string[],
        received: string[],
      ): Promise<string | undefined> => {
        const dir = fixture.partnerDirs[CONTRACT] ?? '';
        if (!arrived) {
          return `no manifest (${MANIFEST_FILENAME}) arrived in ${dir} within ${MANIFEST_WAIT_MS / 1000} s of initech's answers`;
        }
        if (onDisk.length !== 1 || manifests.length !== 1) {
          return `expected exactly one manifest in ${dir}, found ${onDisk.length} there (${onDisk.join(', ')}), ${manifests.length} delivered`;
        }
        const batches = createManifestBatches(redisConn!, createRedisKeys(svc.redis.prefix));
        const taken = await batches.recent(CONTRACT, 2);
        if (taken.length !== 1) {
          return `expected Ferry to take exactly one manifest for ${CONTRACT}, it took ${taken.length}`;
        }
        const { names } = readManifestCsv(await readFile(join(dir, onDisk[0]!), 'utf8'));
        listed = names.length;
        const missing = received.filter((n) => !names.includes(n));
        const extra = names.filter((n) => !received.includes(n));
        if (missing.length > 0 || extra.length > 0 || names.length !== received.length) {
          return `${onDisk[0]} lists ${names.length} files, initech received ${received.length}; not listed: ${missing.join(', ') || 'none'}; listed but not received: ${extra.join(', ') || 'none'}`;
        }
        return undefined;
      };
      const byPartner = await Promise.all(
        PARTNERS.map(async (p) => ({ id: p.id, names: await readdir(fixture.partnerDirs[p.id] ?? '') })),
      );
      const onDisk = byPartner.flatMap((p) => p.names);
      const temps = onDisk.filter((n) => n.startsWith('.')).length;
      const isSidecar = (n: string) => n.endsWith('.sha256') || n.endsWith('.done');
      const isData = (n: string) => !n.startsWith('.') && !isSidecar(n) && !MANIFEST_NAME.test(n);
      const data = onDisk.filter(isData);
      const sidecars = onDisk.filter((n) => !n.startsWith('.') && isSidecar(n));
      const contractNames = byPartner.find((p) => p.id === CONTRACT)!.names;
      // Every initech data file needs both sidecars; nothing else may have any.
      const contractData = contractNames.filter(isData);
      const complete = contractData.every(
        (n) => sidecars.includes(`${n}.sha256`) && sidecars.includes(`${n}.done`),
      );
      const problem = await checkManifest(
        arrivedInTime,
        contractNames.filter((n) => MANIFEST_NAME.test(n)),
        contractData,
      );
      o.out(
        `demo: ${data.length} data files (${byEvent} by S3 event) and ${sidecars.length} sidecar files on the partner servers, ${manifests.length} manifest${manifests.length === 1 ? '' : 's'} (listing ${listed} of ${CONTRACT}'s files), ${quarantined} quarantined, ${temps} temp files, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      if (problem !== undefined) o.out(`demo: manifest check failed: ${problem}`);
      const ok =
        problem === undefined &&
        data.length === total &&
        complete &&
        sidecars.length === 2 * contractData.length &&
        quarantined === 1 &&
        failed === 0 &&
        temps === 0 &&
        eventAccepted &&
        answers.rejected === 1 &&
        answers.acknowledged === contractData.length - 1;
      return ok ? 0 : 1;
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    o.out('\nstopping: finishing in-flight deliveries, then the demo services…');
    return 0;
  } finally {
    await events?.close();
    await queues?.close();
    await redisConn?.quit();
    await ferry?.close();
    await new Promise<void>((resolve) => logStream.end(resolve));
    await services.stop({ keepDir: o.keep ? true : undefined });
  }
}
