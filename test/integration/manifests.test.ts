// manifest: on the real pipeline (redis-server, sshd, s3rver). After a sweep's deliveries (per sweep)
// or once a window has closed (per window), one control file lists the data files delivered in it
// (name, bytes, sha256, rows), published last through a temp name with its own ledger record and
// receipt — exactly one, whichever step of taking, storing, queueing or publishing it is cut short.
import { appendFile, chown, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { runRedeliverCommand } from '../../src/commands/redeliver-command.js';
import { configureFailpoints } from '../../src/failpoints.js';
import { createManifestBatches, type ListedManifest } from '../../src/ledger/manifest-batches.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { JOB, QUEUE } from '../../src/queues/names.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { captureLogger, waitFor, waitForJobState } from '../support/pipeline.js';

let offsetMs = 0;
let control = '';

// A window around the time the file runs (UTC, whole minutes), closed later by moving the clock on.
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const windowStart = hhmm(Date.now() - 60 * 60_000);
const windowEnd = hhmm(Date.now() + 60 * 60_000);
// The date the opening started on: the manifest's {date}.
const openedOn = new Date(Date.now() - 60 * 60_000).toISOString().slice(0, 10).replace(/-/g, '');

const pipeline = usePartnerPipeline({
  partners: [
    {
      id: 'nightly',
      extraYaml: [
        `window: { start: "${windowStart}", end: "${windowEnd}" }`,
        'shape: { columns: [{ from: order_id, as: OrderID }] }',
        'manifest: { filename: "NIGHTLY_{date:yyyyMMdd}_manifest.csv" }',
      ].join('\n'),
    },
    { id: 'each' },
  ],
  beforeStart: async ({ services, fixture }) => {
    // Beside the partner's data directory (a test reads that one as files only).
    control = join(dirname(fixture.partnerDirs.each!), 'each-control');
    await mkdir(control);
    const owner = await stat(services.sshd.inbound);
    await chown(control, owner.uid, owner.gid);
    await appendFile(
      join(fixture.dir, 'partners', 'each.yaml'),
      `manifest: { filename: "EACH_{partner}_{date:yyyyMMdd-HHmmss}.json", format: json, directory: "${control}" }\n`,
    );
    return { now: () => new Date(Date.now() + offsetMs) };
  },
});

const batches = () => createManifestBatches(pipeline.testFerry.redis, createRedisKeys('{ferry}'));
let sweepQueue: Queue | undefined;
afterAll(async () => {
  configureFailpoints(undefined);
  await sweepQueue?.close();
});

/** Runs one manifest check of the partner (what the scheduler and the last delivery's end start). */
async function checkManifest(partnerId: string): Promise<'completed' | 'failed'> {
  sweepQueue ??= new Queue(QUEUE.sweep, { connection: pipeline.testFerry.redis, prefix: '{ferry}' });
  const job = await sweepQueue.add(JOB.sweep, { v: 1, partnerId, reason: 'manifest' }, { attempts: 1 });
  const ended = await waitFor(async () => {
    const state = await sweepQueue!.getJobState(job.id!);
    return state === 'completed' || state === 'failed' ? state : undefined;
  }, `manifest check of ${partnerId}`);
  return ended;
}

/** The partner's manifests once each one's delivery is recorded delivered, newest first. */
async function deliveredManifests(partnerId: string, count: number): Promise<ListedManifest[]> {
  return waitFor(async () => {
    const listed = await batches().recent(partnerId);
    if (listed.length !== count) return undefined;
    for (const m of listed) {
      if (m.deliveryId === undefined) return undefined;
      if ((await pipeline.ledger.get(m.deliveryId))?.status !== 'delivered') return undefined;
    }
    return listed;
  }, `${count} delivered manifests of ${partnerId}`);
}

const csv = (rows: number) =>
  Buffer.from(
    ['order_id,amount', ...Array.from({ length: rows }, (_, i) => `${i + 1},${i}.50`)].join('\n') + '\n',
  );

describe('manifest per sweep', () => {
  it('publishes one manifest after the sweep that delivered something, listing what it delivered', async () => {
    await pipeline.put([
      { key: 'each/a.csv', body: csv(2) },
      { key: 'each/b.csv', body: csv(3) },
    ]);
    expect((await pipeline.sweep('each')).summary).toMatch(/^delivered 2,/);
    const [manifest] = await deliveredManifests('each', 1);
    const { record, deliveryId } = manifest!;
    expect(record.name).toMatch(/^EACH_each_\d{8}-\d{6}\.json$/);
    // Published into manifest.directory, nowhere else; no temp file left.
    expect(await readdir(control)).toEqual([record.name]);
    expect(await pipeline.finals('each')).toEqual(['a.csv', 'b.csv']);
    const doc = JSON.parse(await readFile(join(control, record.name), 'utf8')) as {
      files: { name: string; bytes: number; sha256: string }[];
      totals: { files: number; bytes: number };
    };
    const ids = await Promise.all(['a', 'b'].map((n) => pipeline.deliveryIdOf('each', `each/${n}.csv`)));
    const receipts = await Promise.all(ids.map((id) => pipeline.receiptOf('each', id)));
    // Listed in the order they were delivered (sorted here to compare).
    expect(doc.files.sort((x, y) => x.name.localeCompare(y.name))).toEqual(
      receipts.map((r) => ({ name: r.target.path.split('/').pop(), bytes: r.bytes, sha256: r.sha256 })),
    );
    expect(doc.totals).toEqual({ files: 2, bytes: receipts[0]!.bytes + receipts[1]!.bytes });
    // Its own ledger record and receipt; each data file's record names the manifest that lists it.
    const receipt = await pipeline.receiptOf('each', deliveryId!);
    expect(receipt.target.path).toBe(join(control, record.name));
    for (const id of ids) expect(await pipeline.ledger.get(id)).toMatchObject({ manifest: record.scope });

    // A sweep that delivers nothing publishes nothing; the next file gets a manifest of its own.
    expect((await pipeline.sweep('each')).summary).toMatch(/^delivered 0,/);
    expect(await checkManifest('each')).toBe('completed');
    expect(await batches().recent('each')).toHaveLength(1);
    await pipeline.put([{ key: 'each/c.csv', body: csv(1) }]);
    expect((await pipeline.sweep('each')).summary).toMatch(/^delivered 1,/);
    const [newest] = await deliveredManifests('each', 2);
    expect(newest!.record.lines.map((l) => l.name)).toEqual(['c.csv']);
    expect(await readdir(control)).toHaveLength(2);
  });
});

describe('manifest per window', () => {
  it('waits for the window to close, then publishes exactly one manifest through every cut-short step', async () => {
    await pipeline.put([
      { key: 'nightly/one.csv', body: csv(4) },
      { key: 'nightly/two.csv', body: csv(5) },
    ]);
    expect((await pipeline.sweep('nightly')).summary).toMatch(/^delivered 2,/);
    // The window is still open: nothing is taken.
    expect(await checkManifest('nightly')).toBe('completed');
    expect(await batches().recent('nightly')).toEqual([]);

    offsetMs = 2 * 60 * 60_000; // the window has closed
    // Cut short after the files were taken: the record is stored, nothing else.
    configureFailpoints('after_manifest_take=throw:1');
    expect(await checkManifest('nightly')).toBe('failed');
    const [taken] = await batches().recent('nightly');
    // In the order they were delivered (sorted here to compare).
    expect(taken?.record.lines.map((l) => [l.name, l.rows]).sort()).toEqual([
      ['one.csv', 4],
      ['two.csv', 5],
    ]);
    expect(taken?.deliveryId).toBeUndefined();
    // Cut short after the S3 object was written: no delivery queued yet.
    configureFailpoints('after_manifest_put=throw:1');
    expect(await checkManifest('nightly')).toBe('failed');
    // The manifest's delivery fails right after its rename; its retry finds the file published.
    configureFailpoints('after_rename=throw:1');
    expect(await checkManifest('nightly')).toBe('completed');
    const [manifest] = await deliveredManifests('nightly', 1);
    const record = manifest!.record;
    expect(record.name).toBe(`NIGHTLY_${openedOn}_manifest.csv`);
    expect(await pipeline.ledger.get(manifest!.deliveryId!)).toMatchObject({
      status: 'delivered',
      attempts: 2,
    });

    // Checked again: still exactly one manifest, listing both files with their rows, published last.
    expect(await checkManifest('nightly')).toBe('completed');
    expect(await batches().recent('nightly')).toHaveLength(1);
    expect(await pipeline.finals('nightly')).toEqual([record.name, 'one.csv', 'two.csv']);
    const text = await readFile(join(pipeline.fixture.partnerDirs.nightly!, record.name), 'utf8');
    const ids = await Promise.all(
      ['one', 'two'].map((n) => pipeline.deliveryIdOf('nightly', `nightly/${n}.csv`)),
    );
    const receipts = await Promise.all(ids.map((id) => pipeline.receiptOf('nightly', id)));
    const line = (name: string, rows: number) => {
      const r = receipts.find((x) => x.target.path.endsWith(`/${name}`))!;
      return `${name},${r.bytes},${r.sha256},${rows}`;
    };
    // One line per file in the order they were delivered (by time, then delivery id).
    const order = [...receipts]
      .sort((a, b) => a.deliveredAt.localeCompare(b.deliveredAt) || a.deliveryId.localeCompare(b.deliveryId))
      .map((r) => r.target.path.split('/').pop()!);
    expect(text).toBe(
      ['filename,bytes,sha256,rows', ...order.map((n) => line(n, n === 'one.csv' ? 4 : 5)), ''].join('\n'),
    );
    const published = await stat(join(pipeline.fixture.partnerDirs.nightly!, record.name));
    for (const r of receipts) expect(Date.parse(r.deliveredAt)).toBeLessThanOrEqual(published.mtimeMs + 1000);
    configureFailpoints(undefined);

    // Resent on request (`ferry redeliver` with the manifest's key), with the window still closed: the
    // same bytes under the same name, replacing the partner's copy, as its own delivery.
    const key = `ferry/receipts/_manifests/nightly/${record.scope}/${record.name}`;
    const errors: string[] = [];
    const code = await runRedeliverCommand({
      config: pipeline.config(),
      partnerId: 'nightly',
      key,
      reason: 'partner lost the manifest, OPS-7',
      by: 'alice',
      replace: true,
      audit: captureLogger().logger,
      out: () => undefined,
      err: (l) => errors.push(l),
    });
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    await waitForJobState(pipeline.testFerry.deliverQueue, `${manifest!.deliveryId!}-r1`, 'completed');
    expect(await pipeline.finals('nightly')).toEqual([record.name, 'one.csv', 'two.csv']);
    expect(await readFile(join(pipeline.fixture.partnerDirs.nightly!, record.name), 'utf8')).toBe(text);
    expect(await batches().recent('nightly')).toHaveLength(1);
  });
});
