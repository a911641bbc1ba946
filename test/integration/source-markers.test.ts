// source.requireMarker and source.exclude on the real pipeline (redis-server, sshd, s3rver): objects
// wait for their directory's marker across sweeps, the marker and excluded objects are never delivered,
// and `ferry plan` names the reasons. Pages of 2 keys, so a marker sorting after its objects ("A.csv" <
// "_SUCCESS") is on a later page and is looked up, and one sorting before them ("part-…") is not.
// Uploads (POST /api/upload) are checked against the same rules: an excluded name, or any name for a
// partner with requireMarker, is refused with 400; `defaults.source.exclude` applies like a partner's own.
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlanCommand } from '../../src/commands/plan-command.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { sweepAndWait } from '../support/pipeline.js';

const pipeline = usePartnerPipeline({
  adminPassword: 'source-markers-admin',
  partners: [
    { id: 'marked', exclude: ['*.tmp'], requireMarker: '_SUCCESS' },
    { id: 'spark', exclude: ['*.tmp'], requireMarker: '_SUCCESS' },
    { id: 'manual', include: ['*.csv'] },
  ],
  beforeStart: async ({ fixture }) => {
    // `manual` sets no exclude of its own: it gets the default; marked and spark replace it with theirs.
    await appendFile(
      join(fixture.dir, 'ferry.yaml'),
      "sweep: { pageSize: 2 }\ndefaults: { source: { exclude: ['draft-*'] } }\n",
    );
  },
});
const { finals, lastSweepLog } = pipeline;

describe('source.requireMarker and source.exclude', () => {
  it('holds a directory until its marker exists, then delivers it; never the marker or excluded files', async () => {
    const config = pipeline.config();
    await pipeline.put([
      { key: 'marked/A.csv', size: 100 },
      { key: 'marked/B.csv', size: 100 },
      { key: 'marked/b.tmp', size: 100 },
    ]);
    expect((await sweepAndWait(config, 'marked')).code).toBe(0);
    expect(lastSweepLog('marked')).toMatchObject({
      listed: 3,
      enqueued: 0,
      skipped: { 'no-marker': 2, excluded: 1 },
      markerRequests: 1,
    });
    expect(await finals('marked')).toEqual([]);

    const out: string[] = [];
    const plan = { out: (l: string) => out.push(l), err: () => undefined };
    expect(await runPlanCommand({ config, partnerId: 'marked', ...plan })).toBe(0);
    expect(out).toContain('skip     marked/A.csv  (waiting for its directory marker (requireMarker))');
    expect(out).toContain('skip     marked/b.tmp  (filter (an exclude glob matches))');

    // The marker sorts after "A.csv" and "B.csv": on a later page than they are.
    await pipeline.put([{ key: 'marked/_SUCCESS', body: Buffer.alloc(0) }]);
    const after = await sweepAndWait(config, 'marked');
    expect(after.code).toBe(0);
    expect(after.summary).toMatch(/^delivered 2,/);
    expect(lastSweepLog('marked')).toMatchObject({ skipped: { marker: 1, excluded: 1 }, markerRequests: 1 });
    expect(await finals('marked')).toEqual(['A.csv', 'B.csv']);

    out.length = 0;
    await runPlanCommand({ config, partnerId: 'marked', ...plan });
    expect(out).toContain('skip     marked/_SUCCESS  (marker object (requireMarker))');
    expect(out).toContain('skip     marked/A.csv  (already delivered)');
  });

  it('a marker listed before its objects ("_SUCCESS" < "part-…") costs no extra request', async () => {
    const config = pipeline.config();
    await pipeline.put([
      { key: 'spark/part-00000.csv', size: 50 },
      { key: 'spark/part-00001.csv', size: 50 },
      { key: 'spark/part-00002.tmp', size: 50 },
    ]);
    expect((await sweepAndWait(config, 'spark')).code).toBe(0);
    // No marker: the listing passed its place, so it is known absent without a request.
    expect(lastSweepLog('spark')).toMatchObject({ enqueued: 0, skipped: { 'no-marker': 2, excluded: 1 } });
    expect(lastSweepLog('spark').markerRequests).toBeUndefined();

    await pipeline.put([{ key: 'spark/_SUCCESS', body: Buffer.alloc(0) }]);
    expect((await sweepAndWait(config, 'spark')).summary).toMatch(/^delivered 2,/);
    expect(lastSweepLog('spark').markerRequests).toBeUndefined();
    expect(await finals('spark')).toEqual(['part-00000.csv', 'part-00001.csv']);
  });
});

describe('uploads and the selection rules', () => {
  const OPERATOR = { user: 'admin', password: 'source-markers-admin' };
  const upload = async (partner: string, name: string) => {
    const res = await fetch(
      `http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}/api/upload?partner=${partner}&name=${encodeURIComponent(name)}`,
      {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}`,
          'content-type': 'text/csv',
        },
        body: Buffer.from('id,qty\n1,2\n'),
      },
    );
    return { status: res.status, body: (await res.json()) as { error?: string; key?: string } };
  };

  it('refuses a name the (default) exclude globs match with 400, stores nothing, delivers the rest', async () => {
    expect(pipeline.config().partners.get('manual')?.source.exclude).toEqual(['draft-*']);
    const refused = await upload('manual', 'draft-orders.csv');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe(
      "file name matches the partner's exclude globs (draft-*): it would never be delivered",
    );
    const accepted = await upload('manual', 'orders.csv');
    expect(accepted).toEqual({
      status: 201,
      body: { bucket: pipeline.fixture.bucket, key: 'manual/orders.csv' },
    });

    expect((await pipeline.sweep('manual')).code).toBe(0);
    expect(lastSweepLog('manual')).toMatchObject({ listed: 1, enqueued: 1 });
    expect(await finals('manual')).toEqual(['orders.csv']);
  });

  it('refuses every upload for a partner with requireMarker, saying why', async () => {
    const refused = await upload('marked', 'C.csv');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/marker _SUCCESS \(source\.requireMarker\); uploads are refused/);
    expect(refused.body.error).toMatch(/put the file and its marker in S3 instead/);
  });
});
