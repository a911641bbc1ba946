// The policy `ferry iam-policy` generates, judged against what Ferry really asks of S3. s3rver enforces no
// IAM, so Ferry (redis-server, sshd, s3rver) runs behind a recording proxy through everything that
// touches S3 — sweeps and deliveries of two partners (one moving its exports and taking uploads, one
// tagging them behind a marker with `{seq}` names), receipts written and read, a redelivery, a partner
// disabled, and a ledger rebuilt from receipts after Redis lost everything — and every recorded request
// is evaluated (test/support/iam-evaluator.ts) against the policy generated for the config that was
// running: each must be allowed, and each grant of the final policy must have been used.
import { GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIamPolicy } from '../../src/commands/iam-policy-command.js';
import type { FerryConfig } from '../../src/config/load-config.js';
import { createManifestBatches } from '../../src/ledger/manifest-batches.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { writePartnerFile, type PartnerFixture } from '../support/ferry-fixture.js';
import { evaluateIam, unusedGrants, type IamDecision } from '../support/iam-evaluator.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { waitFor, waitForJobState } from '../support/pipeline.js';
import {
  startS3RecordingProxy,
  type S3RecordingProxy,
  type S3RequestRecord,
} from '../support/s3-recording-proxy.js';

const ADMIN = { user: 'admin', password: 'iam-coverage-operator-5c1e' };
const keys = createRedisKeys('{ferry}');
const MOVER: PartnerFixture = {
  id: 'mover',
  extraYaml: [
    "after: { source: { move: 'archive/{key}' } }",
    "manifest: { filename: 'MOVER_{date:yyyyMMdd-HHmmss}.csv' }",
  ].join('\n'),
};
const MARKED: PartnerFixture = {
  id: 'marked',
  requireMarker: '_SUCCESS',
  extraYaml: ['after: { source: tag }', "naming: { filename: 'T_{seq:3}{ext}' }"].join('\n'),
};
const RETIRED: PartnerFixture = { id: 'retired' };
let proxy: S3RecordingProxy | undefined;

const pipeline = usePartnerPipeline({
  partners: [MOVER, MARKED, RETIRED],
  adminPassword: ADMIN.password,
  // Ferry's own S3 traffic (every role, and the commands run with its config) goes through the proxy;
  // the test's own client talks to s3rver directly, so its setup is not recorded.
  beforeStart: async ({ services, fixture }) => {
    proxy = await startS3RecordingProxy(services.s3.endpoint);
    const file = join(fixture.dir, 'ferry.yaml');
    const yaml = await readFile(file, 'utf8');
    const endpoint = /endpoint: "[^"]*"/;
    expect(yaml).toMatch(endpoint);
    await writeFile(file, yaml.replace(endpoint, `endpoint: "${proxy.endpoint}"`));
  },
  afterStop: async () => {
    await proxy?.close();
  },
});

const recorded = () => proxy!.records();

async function api(
  method: string,
  path: string,
  body?: Buffer | object,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`,
      'content-type': Buffer.isBuffer(body) ? 'text/csv' : 'application/json',
    },
    ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** Each record's IAM requests evaluated against the policy generated for `config`. */
function judge(records: readonly S3RequestRecord[], config: FerryConfig) {
  const policy = buildIamPolicy(config);
  const decisions: IamDecision[] = [];
  const denied: string[] = [];
  for (const r of records) {
    for (const request of r.iam) {
      const decision = evaluateIam(policy, request);
      decisions.push(decision);
      if (!decision.allowed) {
        const prefix = request.context?.['s3:prefix'];
        denied.push(
          `${r.operation} ${r.bucket}/${r.key ?? ''} (${r.status}) needs ${request.action} on ${request.resource}` +
            (prefix === undefined ? '' : ` with s3:prefix "${prefix}"`),
        );
      }
    }
  }
  return { policy, decisions, denied: [...new Set(denied)] };
}

describe('the generated IAM policy against every S3 request Ferry makes', () => {
  let phaseOne: readonly S3RequestRecord[] = [];
  let configOne: FerryConfig;

  it('allows the first trust check, a sweep and a delivery of a partner that is then disabled', async () => {
    await pipeline.put([{ key: 'retired/r1.csv', size: 300 }]);
    expect((await pipeline.sweep('retired')).summary).toMatch(/^delivered 1, .*failed 0/);
    configOne = pipeline.config();
    // Disabled (its receipts stay in S3): the policy is regenerated without it.
    await writePartnerFile(
      pipeline.fixture.dir,
      pipeline.services,
      { ...RETIRED, enabled: false },
      pipeline.fixture.partnerDirs['retired']!,
    );
    await waitFor(() => pipeline.config().partners.get('retired')?.enabled === false, 'retired disabled');
    phaseOne = [...recorded()];
    // The first trust check of a new install lists every receipt (there are none yet).
    expect(
      phaseOne.some((r) => r.operation === 'ListObjectsV2' && r.query['prefix'] === 'ferry/receipts/'),
    ).toBe(true);
    expect(judge(phaseOne, configOne).denied).toEqual([]);
  });

  it('allows sweeps, deliveries, moves, tags, an upload, a redelivery and a rebuild from receipts, and uses every grant', async () => {
    const from = recorded().length;
    const { s3 } = pipeline.testFerry;
    const bucket = pipeline.fixture.bucket;

    // mover: two exports delivered, then each moved to archive/ (CopyObject pinned to the ETag, DeleteObject).
    await pipeline.put([
      { key: 'mover/m1.csv', size: 400 },
      { key: 'mover/m2.csv', size: 500 },
    ]);
    expect((await pipeline.sweep('mover')).summary).toMatch(/^delivered 2, .*failed 0/);
    // An operator's upload lands in mover's prefix and is delivered and moved like an export.
    const upload = await api('POST', '/api/upload?partner=mover&name=u1.csv', Buffer.from('id,qty\n1,2\n'));
    expect(upload).toEqual({ status: 201, body: { bucket, key: 'mover/u1.csv' } });
    expect((await pipeline.sweep('mover')).summary).toMatch(/^delivered 1, .*failed 0/);
    // The disabled partner's prefix has no upload grant, so the API refuses before writing anything.
    const late = await api('POST', '/api/upload?partner=retired&name=late.csv', Buffer.from('id\n1\n'));
    expect(late).toEqual({
      status: 409,
      body: { error: 'partner retired is disabled: enable it before uploading files for it' },
    });
    for (const name of ['m1.csv', 'm2.csv', 'u1.csv']) {
      await waitFor(
        () =>
          s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `archive/mover/${name}` })).then(
            () => true,
            () => false,
          ),
        `archive/mover/${name}`,
      );
    }
    expect(await pipeline.exists('mover/m1.csv')).toBe(false);
    // Its manifests (manifest:) are written beside the receipts, then delivered (never moved).
    await waitFor(async () => {
      const listed = await createManifestBatches(pipeline.testFerry.redis, keys).recent('mover');
      const ids = listed.flatMap((m) => (m.deliveryId === undefined ? [] : [m.deliveryId]));
      const statuses = await pipeline.ledger.getStatuses(ids);
      return listed.length === 2 && ids.length === 2 && ids.every((id) => statuses.get(id) === 'delivered');
    }, "mover's two manifests delivered");

    // marked: delivered once its directory holds the marker (a marker lookup per sweep), then tagged.
    await pipeline.put([{ key: 'marked/t1.csv', size: 200 }]);
    expect((await pipeline.sweep('marked')).summary).toMatch(/^delivered 0, /);
    await pipeline.put([{ key: 'marked/_SUCCESS', size: 0, body: Buffer.alloc(0) }]);
    expect((await pipeline.sweep('marked')).summary).toMatch(/^delivered 1, .*failed 0/);
    expect(await pipeline.finals('marked')).toEqual(['T_001.csv']);
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'marked/t1.csv' }));
    expect(tags.TagSet?.map((t) => t.Key)).toEqual(['ferry-delivered-marked']);

    // A redelivery looks at the source object (HeadObject) and at whether its receipt exists (404).
    const t1 = await pipeline.deliveryIdOf('marked', 'marked/t1.csv');
    await rm(join(pipeline.fixture.partnerDirs['marked']!, 'T_001.csv'));
    const redeliver = await api('POST', `/api/deliveries/${t1}/redeliver`, {
      reason: 'partner lost it, IAM-1',
    });
    expect(redeliver.status).toBe(202);
    await waitForJobState(pipeline.testFerry.deliverQueue, `${t1}-r1`, 'completed');
    expect(await pipeline.finals('marked')).toEqual(['T_001.csv']);

    // Redis loses everything: deliveries read receipts until the rebuild, which lists the whole receipts
    // prefix and restores every receipt, the disabled partner's too, and the {seq} counters.
    const retiredId = await pipeline.deliveryIdOf('retired', 'retired/r1.csv');
    await pipeline.testFerry.redis.flushall();
    await pipeline.put([{ key: 'mover/m3.csv', size: 600 }]);
    expect((await pipeline.sweep('mover')).summary).toMatch(/^delivered 1, .*failed 0/);
    await pipeline.testFerry.ferry.ledgerTrusted();
    expect(await pipeline.testFerry.redis.hget(keys.delivery(retiredId), 'status')).toBe('delivered');
    await pipeline.put([{ key: 'marked/t2.csv', size: 250 }]);
    expect((await pipeline.sweep('marked')).summary).toMatch(/^delivered 1, already delivered 1, .*failed 0/);
    expect(await pipeline.finals('marked')).toEqual(['T_001.csv', 'T_002.csv']);

    const phaseTwo = recorded().slice(from);
    const operations = new Set(phaseTwo.map((r) => r.operation));
    expect([...operations].sort()).toEqual([
      'CopyObject',
      'DeleteObject',
      'GetObject',
      'GetObjectTagging',
      'HeadObject',
      'ListObjectsV2',
      'PutObject',
      'PutObjectTagging',
    ]);
    // The rebuild listed the whole receipts prefix and read the disabled partner's receipt.
    expect(
      phaseTwo.some((r) => r.operation === 'ListObjectsV2' && r.query['prefix'] === 'ferry/receipts/'),
    ).toBe(true);
    expect(
      phaseTwo.some(
        (r) => r.operation === 'GetObject' && r.key === `ferry/receipts/retired/${retiredId}.json`,
      ),
    ).toBe(true);
    // A receipt looked for and not found (the redelivery id's) needs the listing grant, or S3 answers 403.
    expect(phaseTwo.some((r) => r.key?.startsWith('ferry/receipts/') && r.status === 404)).toBe(true);

    const { policy, decisions, denied } = judge(phaseTwo, pipeline.config());
    expect(denied).toEqual([]);
    expect(unusedGrants(policy, decisions)).toEqual([]);
    // Every S3 request Ferry made in both phases was recognised (an unknown one would carry no IAM check).
    expect(recorded().filter((r) => r.iam.length === 0)).toEqual([]);
  });
});
