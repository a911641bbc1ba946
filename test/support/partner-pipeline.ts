// One test file's Ferry on the harness services, partners given per file: the beforeAll/afterAll every
// partner-feature integration test (naming, sidecars, transforms, CSV checks, source housekeeping) needs,
// and the reads those tests share.
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, expect } from 'vitest';
import type { DeliveryReceipt } from '../../src/adapters/receipt-store.js';
import type { FerryConfig } from '../../src/config/load-config.js';
import { computeDeliveryId } from '../../src/core/delivery-id.js';
import { configureFailpoints } from '../../src/failpoints.js';
import type { DeliveryRecord } from '../../src/ledger/delivery-record.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger, type Ledger } from '../../src/ledger/redis-ledger.js';
import type { StartOptions } from '../../src/main.js';
import type { SweepResult } from '../../src/queues/payloads.js';
import { writeFerryConfig, type FerryFixture, type PartnerFixture } from './ferry-fixture.js';
import {
  captureLogger,
  deliveryIdOf,
  putObjects,
  readPartnerDir,
  readReceipt,
  startTestFerry,
  sweepAndWait,
  type SeededObject,
  type TestFerry,
} from './pipeline.js';
import { startServices, type Services } from './services.js';

type StartOverrides = NonNullable<StartOptions['overrides']>;

export interface PartnerPipelineOptions {
  /** The partners, or a function run in beforeAll that returns them (e.g. after writing key files). */
  partners: PartnerFixture[] | (() => Promise<PartnerFixture[]>);
  /** FERRY_ADMIN_PASSWORD for this file's Ferry (the fixture's Bull Board user is `admin`). */
  adminPassword?: string;
  buckets?: string[];
  /** `janitor:` settings for ferry.yaml (the fixture's default: off). */
  janitor?: string;
  /** More environment for Ferry, set in beforeAll and restored in afterAll. */
  env?: Record<string, string>;
  /** After the config dir is written, before Ferry starts: edit the config, start a receiver, hook S3. */
  beforeStart?: (ready: { services: Services; fixture: FerryFixture }) => Promise<StartOverrides | void>;
  /** After Ferry and the services stopped: remove what `partners`/`beforeStart` made. */
  afterStop?: () => Promise<void>;
}

export interface PartnerPipeline {
  readonly services: Services;
  readonly fixture: FerryFixture;
  readonly testFerry: TestFerry;
  /** The ledger Ferry writes (default prefix). */
  readonly ledger: Ledger;
  readonly logs: ReturnType<typeof captureLogger>;
  /** The config Ferry runs now (hot reload may replace it). */
  config: () => FerryConfig;
  /** Puts objects into the fixture's source bucket. */
  put: (objects: { key: string; size?: number; body?: Buffer }[]) => Promise<SeededObject[]>;
  /** `ferry sweep <partner> --wait [--since <sinceDays>d]` with the config Ferry runs now. */
  sweep: (partnerId: string, options?: { sinceDays?: number }) => Promise<{ code: number; summary: string }>;
  /** The partner's final file names, sorted; expects no temp file left unless `allowTemps`. */
  finals: (partnerId: string, options?: { allowTemps?: boolean }) => Promise<string[]>;
  /** The delivery id of an object as it is in the source bucket now. */
  deliveryIdOf: (partnerId: string, key: string) => Promise<string>;
  /** The receipt of one delivery (or redelivery) id. */
  receiptOf: (partnerId: string, deliveryId: string) => Promise<DeliveryReceipt>;
  /** The partner's one receipt; expects exactly one stored. */
  onlyReceipt: (partnerId: string) => Promise<DeliveryReceipt>;
  /** The failed deliver job of `key`, with the delivery id its data gives and that id's ledger record. */
  failedDelivery: (
    partnerId: string,
    key: string,
  ) => Promise<{ job?: Job; id?: string; record?: DeliveryRecord }>;
  /** Every receipt stored for the partner, in listing order. */
  receipts: (partnerId: string) => Promise<DeliveryReceipt[]>;
  /** Whether `key` is in the fixture's source bucket now. */
  exists: (key: string) => Promise<boolean>;
  /** yyyyMMdd of the source object's LastModified in `timeZone` (the `{date}` a name gets). */
  dayOf: (key: string, timeZone?: string) => Promise<string>;
  /** The last finished sweep's log line for the partner (listed, skipped by reason, marker requests). */
  lastSweepLog: (partnerId: string) => Partial<SweepResult> & { markerRequests?: number };
}

/**
 * Registers beforeAll/afterAll that start redis-server, sshd and s3rver, write a config with `partners`,
 * and run Ferry (every role) in this process until the file ends; failpoints are reset at the end.
 */
export function usePartnerPipeline(options: PartnerPipelineOptions): PartnerPipeline {
  const logs = captureLogger();
  let services: Services | undefined;
  let fixture: FerryFixture | undefined;
  let testFerry: TestFerry | undefined;
  let ledger: Ledger | undefined;
  const savedEnv = new Map<string, string | undefined>();

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`usePartnerPipeline: ${what} is read before beforeAll ran`);
    return value;
  };
  const setEnv = (name: string, value: string) => {
    if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
    process.env[name] = value;
  };

  beforeAll(async () => {
    setEnv('FERRY_ADMIN_PASSWORD', options.adminPassword ?? 'partner-pipeline-admin');
    for (const [name, value] of Object.entries(options.env ?? {})) setEnv(name, value);
    services = await startServices({ buckets: options.buckets ?? ['warehouse-exports', 'ferry-audit'] });
    setEnv('AWS_ACCESS_KEY_ID', services.s3.accessKeyId);
    setEnv('AWS_SECRET_ACCESS_KEY', services.s3.secretAccessKey);
    const partners = typeof options.partners === 'function' ? await options.partners() : options.partners;
    fixture = await writeFerryConfig(services, {
      partners,
      ...(options.janitor === undefined ? {} : { janitor: options.janitor }),
    });
    const overrides = (await options.beforeStart?.({ services, fixture })) ?? undefined;
    testFerry = await startTestFerry(services, fixture.dir, logs.logger, overrides);
    await testFerry.ferry.ledgerTrusted();
    ledger = createRedisLedger(testFerry.redis, createRedisKeys('{ferry}'));
  }, 120_000);

  afterAll(async () => {
    configureFailpoints(undefined);
    await testFerry?.close();
    await services?.stop();
    await options.afterStop?.();
    for (const [name, value] of savedEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  const pipeline: PartnerPipeline = {
    get services() {
      return started(services, 'services');
    },
    get fixture() {
      return started(fixture, 'fixture');
    },
    get testFerry() {
      return started(testFerry, 'testFerry');
    },
    get ledger() {
      return started(ledger, 'ledger');
    },
    logs,
    config: () => pipeline.testFerry.ferry.getConfig(),
    put: (objects) => putObjects(pipeline.testFerry.s3, pipeline.fixture.bucket, objects),
    sweep: (partnerId, options) => sweepAndWait(pipeline.config(), partnerId, 60, options),
    async finals(partnerId, { allowTemps = false } = {}) {
      const dir = await readPartnerDir(pipeline.fixture.partnerDirs[partnerId]!);
      if (!allowTemps) expect(dir.temps).toEqual([]);
      return [...dir.finals.keys()].sort();
    },
    deliveryIdOf: (partnerId, key) =>
      deliveryIdOf(pipeline.testFerry.s3, pipeline.fixture.bucket, partnerId, key),
    receiptOf: (partnerId, deliveryId) =>
      readReceipt(
        pipeline.testFerry.s3,
        pipeline.fixture.receiptsBucket,
        `ferry/receipts/${partnerId}/${deliveryId}.json`,
      ),
    async onlyReceipt(partnerId) {
      const { s3 } = pipeline.testFerry;
      const bucket = pipeline.fixture.receiptsBucket;
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `ferry/receipts/${partnerId}/` }),
      );
      expect(listed.Contents).toHaveLength(1);
      return readReceipt(s3, bucket, listed.Contents![0]!.Key!);
    },
    async failedDelivery(partnerId, key) {
      const failed = await pipeline.testFerry.deliverQueue.getJobs(['failed']);
      const job = failed.find((j) => (j.data as { key?: string }).key === key);
      if (!job) return {};
      const data = job.data as { bucket: string; etag: string };
      const id = computeDeliveryId({ partnerId, bucket: data.bucket, key, etag: data.etag });
      return { job, id, record: await pipeline.ledger.get(id) };
    },
    async receipts(partnerId) {
      const { s3 } = pipeline.testFerry;
      const bucket = pipeline.fixture.receiptsBucket;
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `ferry/receipts/${partnerId}/` }),
      );
      return Promise.all((listed.Contents ?? []).map((o) => readReceipt(s3, bucket, o.Key!)));
    },
    async exists(key) {
      try {
        await pipeline.testFerry.s3.send(
          new HeadObjectCommand({ Bucket: pipeline.fixture.bucket, Key: key }),
        );
        return true;
      } catch {
        return false;
      }
    },
    async dayOf(key, timeZone = 'UTC') {
      const head = await pipeline.testFerry.s3.send(
        new HeadObjectCommand({ Bucket: pipeline.fixture.bucket, Key: key }),
      );
      // "en-CA" prints yyyy-MM-dd.
      return head.LastModified!.toLocaleDateString('en-CA', { timeZone }).replaceAll('-', '');
    },
    lastSweepLog(partnerId) {
      const lines = logs
        .lines()
        .filter((l) => l.partnerId === partnerId && l.msg?.toString().startsWith('sweep found'));
      return lines[lines.length - 1] as unknown as Partial<SweepResult> & { markerRequests?: number };
    },
  };
  return pipeline;
}
