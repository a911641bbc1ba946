import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectSource, SourceObject } from '../../src/core/ports.js';
import { createReceiptStore, type DeliveryReceipt } from '../../src/adapters/receipt-store.js';
import { createS3Client, createS3Source } from '../../src/adapters/s3-source.js';
import { FerryError } from '../../src/errors.js';
import { startS3rver, type S3rverHandle } from '../support/s3rver.js';
import { s3ClientFor } from '../support/services.js';

const BUCKET = 'exports';
const RECEIPTS = 'receipts';
const CREDENTIAL_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

let s3: S3rverHandle;
let seeder: S3Client;
let client: S3Client;
let source: ObjectSource;
const savedEnv: Partial<Record<string, string>> = {};

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [BUCKET, RECEIPTS] });
  seeder = s3ClientFor(s3);
  // The production factory takes credentials from the standard chain only: give it s3rver's via env.
  for (const name of CREDENTIAL_ENV) savedEnv[name] = process.env[name];
  process.env['AWS_ACCESS_KEY_ID'] = s3.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = s3.secretAccessKey;
  client = createS3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true });
  source = createS3Source(client);
});

afterAll(async () => {
  client?.destroy();
  seeder?.destroy();
  for (const name of CREDENTIAL_ENV) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  await s3?.stop();
  if (s3) await rm(s3.dir, { recursive: true, force: true });
});

/** PutObject for every key, at most `parallel` requests in flight. */
async function seed(keys: readonly string[], body: (key: string) => string = (key) => key, parallel = 16) {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await seeder.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body(key) }));
      }
    }),
  );
}

async function collect(prefix: string, pageSize?: number) {
  const pages: string[][] = [];
  for await (const page of source.listPages(BUCKET, prefix, pageSize)) pages.push(page.map((o) => o.key));
  return pages;
}

async function listObjects(prefix: string): Promise<SourceObject[]> {
  const objects: SourceObject[] = [];
  for await (const page of source.listPages(BUCKET, prefix)) objects.push(...page);
  return objects;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function makeReceipt(overrides: Partial<DeliveryReceipt> = {}): DeliveryReceipt {
  return {
    version: 1,
    deliveryId: 'd-0123456789abcdef',
    trackingId: 'd-0123456789abcdef',
    partnerId: 'acme',
    source: { bucket: BUCKET, key: 'exports/acme/a.csv', etag: 'abc123', size: 42 },
    target: { host: 'sftp.acme.test', port: 22, path: '/inbox/a.csv', mode: '0640' },
    sha256: 'f'.repeat(64),
    bytes: 42,
    attempts: 1,
    publish: 'rename',
    startedAt: '2030-01-01T00:00:00.000Z',
    deliveredAt: '2030-01-01T00:00:01.000Z',
    durationMs: 1000,
    ferryVersion: '0.1.0',
    ...overrides,
  };
}

describe('s3 source listing', () => {
  it('streams 1,005 objects in two pages with every key exactly once', async () => {
    const keys = Array.from({ length: 1_005 }, (_, i) => `big/part-${String(i).padStart(4, '0')}.csv`);
    await seed(keys);

    const pages = await collect('big/');

    expect(pages.map((p) => p.length)).toEqual([1_000, 5]);
    const listed = pages.flat();
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...keys].sort());
  });

  it('honours the page size: 7 keys in pages of 2 arrive as 4 pages', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `small/file-${i}.csv`);
    await seed(keys);

    const pages = await collect('small/', 2);

    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flat().sort()).toEqual([...keys].sort());
  });

  it('reports each object with its bucket, size, date and an unquoted ETag', async () => {
    await seed(['meta/one.csv'], () => 'hello');

    const [object] = await listObjects('meta/');

    expect(object).toMatchObject({ bucket: BUCKET, key: 'meta/one.csv', size: 5 });
    expect(object!.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(object!.lastModified).toBeInstanceOf(Date);
  });

  it('yields nothing for an empty prefix', async () => {
    expect(await collect('nothing-here/')).toEqual([]);
  });
});

describe('s3 source reads', () => {
  it('streams the bytes of the listed version with its content length', async () => {
    const body = 'id,name\n1,alpha\n2,beta\n'.repeat(1_000);
    await seed(['open/data.csv'], () => body);
    const [object] = await listObjects('open/');

    const opened = await source.open(BUCKET, 'open/data.csv', object!.etag);

    expect(opened.contentLength).toBe(Buffer.byteLength(body));
    expect((await readAll(opened.stream)).toString('utf8')).toBe(body);
  });

  it('reports a deleted object as ERR_SOURCE_GONE', async () => {
    await seed(['gone/data.csv']);
    const [object] = await listObjects('gone/');
    await seeder.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'gone/data.csv' }));

    const attempt = source.open(BUCKET, 'gone/data.csv', object!.etag);

    await expect(attempt).rejects.toBeInstanceOf(FerryError);
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_SOURCE_GONE' });
  });

  it('pins the listed ETag with If-Match and reports a 412 as ERR_SOURCE_CHANGED', async () => {
    // s3rver ignores If-Match, so a middleware on a real client answers 412 the way S3 does.
    const pinned = createS3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true });
    const sentIfMatch: unknown[] = [];
    pinned.middlewareStack.add(
      // Innermost in the deserialize step: stands in for the HTTP exchange, so the SDK parses the reply.
      (_next) => (args) => {
        sentIfMatch.push((args.request as { headers: Record<string, string> }).headers['if-match']);
        const xml =
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>' +
          '<Message>At least one of the pre-conditions you specified did not hold</Message></Error>';
        return Promise.resolve({
          response: {
            statusCode: 412,
            reason: 'Precondition Failed',
            headers: { 'content-type': 'application/xml' },
            body: Readable.from([Buffer.from(xml)]),
          },
        });
      },
      { step: 'deserialize', priority: 'low', name: 'answerPreconditionFailed' },
    );

    const attempt = createS3Source(pinned).open(BUCKET, 'open/data.csv', 'etag-listed-earlier');

    await expect(attempt).rejects.toMatchObject({ code: 'ERR_SOURCE_CHANGED' });
    expect(sentIfMatch).toEqual(['"etag-listed-earlier"']);
    pinned.destroy();
  });

  it('rejects with the signal reason when the read is aborted', async () => {
    await seed(['abort/data.csv']);
    const controller = new AbortController();
    const reason = new FerryError('ERR_TRANSFER_STALLED', 'watchdog fired');
    controller.abort(reason);

    await expect(source.open(BUCKET, 'abort/data.csv', 'any', controller.signal)).rejects.toBe(reason);
  });

  it('writes and reads back small text objects, and answers undefined for a missing one', async () => {
    await source.put(BUCKET, 'text/note.txt', 'hello', 'text/plain');

    expect(await source.getText(BUCKET, 'text/note.txt')).toBe('hello');
    expect(await source.getText(BUCKET, 'text/missing.txt')).toBeUndefined();
  });

  it('reads each bucket its own object while reads of two buckets overlap', async () => {
    // One client reads every partner's bucket and the receipts: a context shared between concurrent
    // sends (the SDK's cacheMiddleware) sent half of such reads to the other bucket.
    for (const bucket of [BUCKET, RECEIPTS]) {
      await source.put(bucket, 'both/same-key.txt', bucket, 'text/plain');
    }

    const buckets = Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? BUCKET : RECEIPTS));
    const bodies = await Promise.all(buckets.map((bucket) => source.getText(bucket, 'both/same-key.txt')));

    expect(bodies).toEqual(buckets);
  });

  it('treats a missing bucket as a configuration error, not an absent object', async () => {
    await expect(source.getText('no-such-bucket', 'x.txt')).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
    });
  });
});

describe('receipt store', () => {
  it('writes a receipt under <prefix><partner>/<deliveryId>.json and reads it back', async () => {
    const store = createReceiptStore(source, { bucket: RECEIPTS, prefix: 'ferry/receipts' });
    const receipt = makeReceipt();

    await store.write(receipt);

    expect(store.keyFor('acme', receipt.deliveryId)).toBe(`ferry/receipts/acme/${receipt.deliveryId}.json`);
    expect(await store.read('acme', receipt.deliveryId)).toEqual(receipt);
    const raw = await source.getText(RECEIPTS, store.keyFor('acme', receipt.deliveryId));
    expect(JSON.parse(raw!)).toEqual(receipt);
  });

  it("reads back a receipt's validate.csv row count, and a receipt without one", async () => {
    const store = createReceiptStore(source, { bucket: RECEIPTS, prefix: 'csv-rows/' });
    const counted = makeReceipt({ deliveryId: 'd-csv-rows', trackingId: 'd-csv-rows', csv: { rows: 3 } });
    await store.write(counted);
    expect(await store.read('acme', 'd-csv-rows')).toEqual(counted);
    await store.write(makeReceipt());
    expect(await store.read('acme', makeReceipt().deliveryId)).not.toHaveProperty('csv');
    const bad = { ...makeReceipt({ deliveryId: 'd-bad-rows', trackingId: 'd-bad-rows' }), csv: { rows: -1 } };
    await source.put(RECEIPTS, store.keyFor('acme', 'd-bad-rows'), JSON.stringify(bad));
    await expect(store.read('acme', 'd-bad-rows')).rejects.toMatchObject({ code: 'ERR_RECEIPT_INVALID' });
  });

  it('answers undefined for a delivery without a receipt', async () => {
    const store = createReceiptStore(source, { bucket: RECEIPTS, prefix: 'ferry/receipts/' });

    expect(await store.read('acme', 'd-never-delivered')).toBeUndefined();
  });

  it('refuses a corrupt receipt with ERR_RECEIPT_INVALID rather than reporting it missing', async () => {
    const store = createReceiptStore(source, { bucket: RECEIPTS, prefix: 'corrupt/' });
    await source.put(RECEIPTS, store.keyFor('acme', 'd-corrupt'), '{"version":1,"deliveryId":');
    await source.put(RECEIPTS, store.keyFor('acme', 'd-wrong'), JSON.stringify(makeReceipt()));

    await expect(store.read('acme', 'd-corrupt')).rejects.toMatchObject({ code: 'ERR_RECEIPT_INVALID' });
    await expect(store.read('acme', 'd-wrong')).rejects.toMatchObject({ code: 'ERR_RECEIPT_INVALID' });
  });
});
