// The `ferry_source_housekeeping_pending{partner}` gauge against the real pipeline (redis-server, sshd,
// s3rver): failed after.source steps recorded in Redis are counted on scrape, per partner that tags or
// moves; a partner without after.source is never asked (its count is not read, so not shown).
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createHousekeepingPending,
  type HousekeepingFailure,
} from '../../src/ledger/housekeeping-pending.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { waitFor } from '../support/pipeline.js';
import { parsePrometheusText, type PromExposition } from '../support/prometheus-text.js';

// Never due during the test: no sweep retries (and so drops) the entries recorded here.
const CRON = '0 0 1 1 *';
const GAUGE = 'ferry_source_housekeeping_pending';

const pipeline = usePartnerPipeline({
  partners: [
    { id: 'tagger', cron: CRON, extraYaml: 'after: { source: tag }' },
    { id: 'mover', cron: CRON, extraYaml: "after: { source: { move: 'archive/{key}' } }" },
    { id: 'plain', cron: CRON },
  ],
  beforeStart: async ({ fixture }) => {
    await appendFile(join(fixture.dir, 'ferry.yaml'), 'metrics: { port: 0 }\n');
  },
});

async function scrape(): Promise<PromExposition> {
  const res = await fetch(`http://127.0.0.1:${pipeline.testFerry.ferry.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

function failure(partnerId: string, deliveryId: string): HousekeepingFailure {
  return {
    deliveryId,
    partnerId,
    bucket: pipeline.fixture.bucket,
    key: `${partnerId}/${deliveryId}.csv`,
    etag: '"0123456789abcdef0123456789abcdef"',
    size: 10,
    mark: '2026-11-26T02:00:00.000Z',
    lastErrCode: 'ERR_S3_ACCESS_DENIED',
    step: 'tag',
  };
}

describe('ferry_source_housekeeping_pending', () => {
  it('counts the pending after.source retries per partner that tags or moves, read on scrape', async () => {
    const before = await scrape();
    expect(before.types.get(GAUGE)).toBe('gauge');
    expect(before.value(GAUGE, { partner: 'tagger' })).toBe(0);
    expect(before.value(GAUGE, { partner: 'mover' })).toBe(0);
    expect(before.value(GAUGE, { partner: 'plain' })).toBeUndefined();

    const store = createHousekeepingPending(pipeline.testFerry.redis, createRedisKeys('{ferry}'));
    const at = new Date();
    await store.recordFailure(failure('tagger', 'd-tag-1'), at);
    await store.recordFailure(failure('tagger', 'd-tag-2'), at);
    await store.recordFailure(failure('tagger', 'd-tag-2'), at); // the same delivery again: still one entry
    await store.recordFailure({ ...failure('mover', 'd-move-1'), step: 'move' }, at);
    // Left there by an earlier after.source: plain no longer asks for one, so it is not counted.
    await store.recordFailure(failure('plain', 'd-plain-1'), at);

    // Counts are cached for a few seconds between scrapes: poll until this scrape reads the new ones.
    const after = await waitFor(async () => {
      const m = await scrape();
      return m.value(GAUGE, { partner: 'tagger' }) === 2 ? m : undefined;
    }, 'tagger at 2 pending');
    expect(after.value(GAUGE, { partner: 'mover' })).toBe(1);
    expect(after.value(GAUGE, { partner: 'plain' })).toBeUndefined();

    expect(await store.resolve('tagger', 'd-tag-1')).toBe(true);
    await waitFor(
      async () => (await scrape()).value(GAUGE, { partner: 'tagger' }) === 1,
      'tagger at 1 pending after one entry was resolved',
    );
  });
});
