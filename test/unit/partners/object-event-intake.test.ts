// checkObjectEvents' decisions with an in-memory S3 listing and ledger: which events enqueue, wait,
// start a sweep or are ignored. The same flow on the real services: test/integration/s3-events.test.ts.
import { describe, expect, it } from 'vitest';
import type { FerryConfig } from '../../../src/config/load-config.js';
import { partnerSchema, type PartnerConfig } from '../../../src/config/schema.js';
import { deliveryIdFor } from '../../../src/core/delivery-id.js';
import type { SourceObject } from '../../../src/core/ports.js';
import { checkObjectEvents, type ObjectEventDeps } from '../../../src/partners/object-event-intake.js';
import type { DeliverJobData } from '../../../src/queues/payloads.js';
import { partnerInput } from '../../support/partner-input.js';

const NOW = new Date('2026-12-07T10:00:00.000Z');
const BUCKET = 'warehouse-exports';

function partner(
  id: string,
  extra: Record<string, unknown> = {},
  source: Record<string, unknown> = {},
): PartnerConfig {
  const input = partnerInput();
  return partnerSchema.parse({
    ...input,
    id,
    events: true,
    source: { ...input.source, prefix: 'acme/', minAgeSeconds: 60, ...source },
    ...extra,
  });
}

function object(key: string, ageSeconds = 600, etag = 'e1'): SourceObject {
  return { bucket: BUCKET, key, etag, size: 10, lastModified: new Date(NOW.getTime() - ageSeconds * 1000) };
}

function setup(partners: PartnerConfig[], objects: SourceObject[], delivered: string[] = []) {
  const enqueued: { partnerId: string; jobs: DeliverJobData[]; delayMs: number }[] = [];
  const sweeps: string[] = [];
  const heard: string[] = [];
  const deps: ObjectEventDeps = {
    getConfig: () => ({ partners: new Map(partners.map((p) => [p.id, p])) }) as unknown as FerryConfig,
    source: {
      async *listPages(_bucket, prefix) {
        yield await Promise.resolve(
          objects
            .filter((o) => o.key.startsWith(prefix))
            .sort((a, b) => a.key.localeCompare(b.key))
            .slice(0, 1),
        );
      },
    },
    ledger: {
      get: () => Promise.resolve(undefined),
      getStatuses: (ids) =>
        Promise.resolve(
          new Map(ids.filter((id) => delivered.includes(id)).map((id) => [id, 'delivered' as const])),
        ),
    },
    enqueueDeliveries: (p, jobs, delayMs) => {
      enqueued.push({ partnerId: p.id, jobs, delayMs });
      return Promise.resolve();
    },
    enqueueSweep: (p) => {
      sweeps.push(p.id);
      return Promise.resolve();
    },
    recordEvent: (id) => {
      heard.push(id);
      return Promise.resolve();
    },
    now: () => NOW,
  };
  return { deps, enqueued, sweeps, heard };
}

describe('checkObjectEvents', () => {
  it('enqueues a settled object for every partner that takes events and whose prefix holds it', async () => {
    const quiet = { ...partner('quiet'), events: undefined };
    const other = partner('other', {}, { prefix: 'other/' });
    const t = setup([partner('acme'), quiet, other], [object('acme/a.csv')]);
    const counts = await checkObjectEvents(t.deps, [{ bucket: BUCKET, key: 'acme/a.csv', etag: 'e1' }], 0);
    expect(counts).toEqual({ events: 1, matched: 1, enqueued: 1, delayed: 0, sweeps: 0, ignored: 0 });
    expect(t.enqueued).toEqual([
      { partnerId: 'acme', delayMs: 0, jobs: [expect.objectContaining({ key: 'acme/a.csv', etag: 'e1' })] },
    ]);
    expect(t.heard).toEqual(['acme']);
  });

  it('delays the job of a young object until it has settled, plus a second', async () => {
    const t = setup([partner('acme')], [object('acme/a.csv', 20)]);
    const counts = await checkObjectEvents(t.deps, [{ bucket: BUCKET, key: 'acme/a.csv' }], 0);
    expect(counts).toMatchObject({ enqueued: 1, delayed: 1 });
    expect(t.enqueued[0]?.delayMs).toBe(41_000);
  });

  it('ignores a version S3 no longer holds, a gone key, another bucket, a settled one and repeats', async () => {
    const t = setup([partner('acme')], [object('acme/a.csv'), object('acme/done.csv')]);
    const { deps } = t;
    const doneId = deliveryIdFor(partner('acme'), object('acme/done.csv'));
    const settled = setup([partner('acme')], [object('acme/a.csv'), object('acme/done.csv')], [doneId]);
    expect(
      await checkObjectEvents(
        deps,
        [
          { bucket: BUCKET, key: 'acme/a.csv', etag: 'older' },
          { bucket: BUCKET, key: 'acme/gone.csv' },
          { bucket: 'elsewhere', key: 'acme/a.csv' },
          { bucket: BUCKET, key: 'acme/a.csv' },
          { bucket: BUCKET, key: 'acme/a.csv' },
        ],
        2,
      ),
    ).toEqual({ events: 7, matched: 4, enqueued: 1, delayed: 0, sweeps: 0, ignored: 6 });
    expect(
      await checkObjectEvents(settled.deps, [{ bucket: BUCKET, key: 'acme/done.csv' }], 0),
    ).toMatchObject({
      enqueued: 0,
      ignored: 1,
    });
  });

  it('tells the metrics what came of each event per partner, and of those no partner takes', async () => {
    const t = setup([partner('acme'), partner('beta')], [object('acme/a.csv')]);
    const told: string[] = [];
    t.deps.eventChecked = (partnerId, outcome) => told.push(`${partnerId ?? '-'}:${outcome}`);
    await checkObjectEvents(
      t.deps,
      [
        { bucket: BUCKET, key: 'acme/a.csv' },
        { bucket: BUCKET, key: 'acme/a.csv' },
        { bucket: BUCKET, key: 'acme/gone.csv' },
        { bucket: BUCKET, key: 'elsewhere/x.csv' },
      ],
      1,
    );
    expect(told).toEqual([
      '-:skipped',
      'acme:enqueued',
      'beta:enqueued',
      'acme:ignored', // a repeat in the same request
      'beta:ignored',
      'acme:ignored', // gone from S3
      'beta:ignored',
      '-:unmatched',
    ]);
  });

  it('starts one sweep when a requireMarker marker arrives, and leaves objects without their marker', async () => {
    const acme = partner('acme', {}, { requireMarker: '_SUCCESS' });
    const t = setup([acme], [object('acme/d/_SUCCESS'), object('acme/e/part-0.csv')]);
    const counts = await checkObjectEvents(
      t.deps,
      [
        { bucket: BUCKET, key: 'acme/d/_SUCCESS' },
        { bucket: BUCKET, key: 'acme/d/_SUCCESS' },
        { bucket: BUCKET, key: 'acme/e/part-0.csv' },
      ],
      0,
    );
    expect(counts).toMatchObject({ sweeps: 1, enqueued: 0, ignored: 2 });
    expect(t.sweeps).toEqual(['acme']);
  });

  it('starts a sweep instead for a partner whose naming.filename has no {seq}', async () => {
    const acme = partner('acme', { naming: { filename: '{date:yyyyMMdd}.csv' } });
    const t = setup([acme], [object('acme/a.csv')]);
    expect(await checkObjectEvents(t.deps, [{ bucket: BUCKET, key: 'acme/a.csv' }], 0)).toMatchObject({
      sweeps: 1,
      enqueued: 0,
    });
  });
});
