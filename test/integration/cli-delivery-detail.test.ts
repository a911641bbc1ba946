// `ferry deliveries show <id>` through the CLI entry point (argv → exit code) on the real pipeline
// (redis-server, sshd, s3rver): a delivered file's receipt facts and contract, a quarantined CSV's row
// and column, a redelivery's who and why with the audit trail, a job still waiting, the API's object
// under --json, and exit 1 / 2 for an unknown id and usage errors.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runRedeliverCommand } from '../../src/commands/redeliver-command.js';
import { runSweepCommand } from '../../src/commands/sweep-command.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { captureLogger, jobsOfPartner, waitFor, waitForJobState } from '../support/pipeline.js';
import { runFerryInProcess } from '../support/run-cli-in-process.js';

const ADMIN_PASSWORD = 'delivery-detail-admin-canary';

const pipeline = usePartnerPipeline({
  adminPassword: ADMIN_PASSWORD,
  partners: [
    {
      id: 'acme',
      onExisting: 'overwrite',
      extraYaml: 'transform: { compress: gzip }\nnaming: { checksumFile: md5, doneFile: "{filename}.done" }',
    },
    { id: 'checked', extraYaml: 'validate: { csv: { header: [order_id, sku, qty], allowEmpty: false } }' },
    { id: 'held', extraYaml: 'paused: true' },
  ],
});

/** Runs `ferry <args>` in this process, capturing what it writes. */
const ferry = (...args: string[]) => runFerryInProcess(args);

const show = (id: string, ...more: string[]) =>
  ferry('deliveries', 'show', id, '--config', pipeline.fixture.dir, ...more);

/** The value printed after `label` on its own line ("label   value"). */
function valueOf(lines: string[], label: string): string | undefined {
  const line = lines.find((l) => l.startsWith(`${label.padEnd(15)}  `));
  return line?.slice(17);
}

afterEach(() => vi.restoreAllMocks());

describe('ferry deliveries show', () => {
  it("prints a delivered file's receipt facts: checksums, what the contract did, sidecars, where the receipt is", async () => {
    const [seeded] = await pipeline.put([{ key: 'acme/orders-1.csv', size: 4000 }]);
    expect((await pipeline.sweep('acme')).code).toBe(0);
    const id = await pipeline.deliveryIdOf('acme', 'acme/orders-1.csv');
    const receipt = await pipeline.receiptOf('acme', id);

    const run = await show(id);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const lines = run.out;
    expect(valueOf(lines, 'delivery')).toBe(id);
    expect(valueOf(lines, 'status')).toBe('delivered');
    expect(valueOf(lines, 'partner')).toBe('acme');
    expect(valueOf(lines, 's3 object')).toBe(`s3://${pipeline.fixture.bucket}/acme/orders-1.csv`);
    expect(valueOf(lines, 'etag')).toBe(receipt.source.etag);
    expect(valueOf(lines, 'size')).toBe(`${receipt.bytes} bytes`);
    expect(valueOf(lines, 'source size')).toBe('4000 bytes');
    expect(valueOf(lines, 'sha256')).toBe(receipt.sha256);
    expect(valueOf(lines, 'md5')).toMatch(/^[0-9a-f]{32}$/);
    expect(valueOf(lines, 'md5')).toBe(receipt.md5);
    expect(valueOf(lines, 'source sha256')).toBe(seeded!.sha256);
    expect(valueOf(lines, 'remote path')).toBe(receipt.target.path);
    expect(receipt.target.path).toMatch(/\/orders-1\.csv\.gz$/);
    expect(valueOf(lines, 'sftp server')).toBe(`127.0.0.1:${pipeline.services.sshd.port}`);
    expect(valueOf(lines, 'attempts')).toBe('1');
    expect(valueOf(lines, 'delivered at')).toBe(receipt.deliveredAt);
    const contract = lines.indexOf(`${'contract'.padEnd(15)}  transform: gzip`);
    expect(contract).toBeGreaterThan(0);
    expect(lines[contract + 1]).toBe(`${' '.repeat(17)}sidecars: .md5, .done`);
    expect(valueOf(lines, 'sidecars')).toBe(`${receipt.target.path}.md5 (checksum)`);
    expect(lines).toContain(`${' '.repeat(17)}${receipt.target.path}.done (done)`);
    expect(valueOf(lines, 'receipt')).toBe(
      `s3://${pipeline.fixture.receiptsBucket}/ferry/receipts/acme/${id}.json`,
    );
    expect(valueOf(lines, 'bull board')).toBe(`/admin/queue/deliver/${id}`);
    expect(valueOf(lines, 'audit trail')).toBe('none');
    expect(valueOf(lines, 'runbook')).toBeUndefined(); // delivered: nothing to act on
  });

  it('--json prints the very object GET /api/deliveries/:id answers', async () => {
    const id = await pipeline.deliveryIdOf('acme', 'acme/orders-1.csv');
    const run = await show(id, '--json');
    expect(run.code).toBe(0);
    const res = await fetch(`http://127.0.0.1:${pipeline.testFerry.ferry.httpPort}/api/deliveries/${id}`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    const api = (await res.json()) as Record<string, unknown>;
    expect(api).toMatchObject({ id, status: 'delivered', receipt: { deliveryId: id } });
    expect(JSON.parse(run.out.join('\n'))).toEqual(api);
  });

  it('shows a quarantined CSV with the row and column of its reason, and no receipt', async () => {
    await pipeline.put([
      { key: 'checked/short.csv', body: Buffer.from('order_id,sku,qty\r\n1,SKU-1,2\r\n2,SKU-2\r\n') },
    ]);
    const { summary } = await pipeline.sweep('checked');
    expect(summary).toMatch(/quarantined 1, failed 0$/);
    const id = await pipeline.deliveryIdOf('checked', 'checked/short.csv');

    const run = await show(id);
    expect(run.code).toBe(0);
    expect(valueOf(run.out, 'status')).toBe('quarantined');
    expect(valueOf(run.out, 'reason')).toBe(
      'csv: row 3, column 3: missing column: the row has 2, at least 3 expected',
    );
    expect(valueOf(run.out, 'receipt')).toBe('none: not delivered');
    expect(valueOf(run.out, 'delivered at')).toBeUndefined();
    expect(valueOf(run.out, 'runbook')).toBe(
      'https://github.com/ferry-dev/ferry/blob/main/docs/runbooks/key-quarantined.md',
    );
  });

  it('shows who asked for a redelivery and why, and the request in both audit trails', async () => {
    const id = await pipeline.deliveryIdOf('acme', 'acme/orders-1.csv');
    const reason = 'partner lost it, OPS-42';
    const redeliver = await runRedeliverCommand({
      config: pipeline.config(),
      partnerId: 'acme',
      key: 'acme/orders-1.csv',
      reason,
      by: 'alice',
      audit: captureLogger().logger,
      out: () => undefined,
      err: () => undefined,
    });
    expect(redeliver).toBe(0);
    await waitForJobState(pipeline.testFerry.deliverQueue, `${id}-r1`, 'completed');

    const again = await show(`${id}-r1`);
    expect(again.code).toBe(0);
    expect(valueOf(again.out, 'status')).toBe('delivered');
    expect(valueOf(again.out, 'redelivery of')).toBe(id);
    expect(valueOf(again.out, 'requested by')).toMatch(/^alice at \d{4}-\d\d-\d\dT/);
    expect(valueOf(again.out, 'request reason')).toBe(reason);
    const trail = (lines: string[]) => lines.slice(lines.indexOf('audit trail (oldest first)') + 1);
    expect(trail(again.out)).toEqual([
      expect.stringMatching(/^ {2}\S+Z {2}alice {2}redeliver {2}partner lost it, OPS-42$/),
    ]);

    const original = await show(id);
    expect(valueOf(original.out, 'redelivery of')).toBeUndefined();
    expect(trail(original.out)).toEqual(trail(again.out));
  });

  it('shows a delivery whose job still waits (paused partner) as queued', async () => {
    await pipeline.put([{ key: 'held/later.csv', size: 100 }]);
    const swept = await runSweepCommand({
      config: pipeline.config(),
      partnerId: 'held',
      wait: false,
      timeoutSeconds: 30,
      out: () => undefined,
      err: () => undefined,
    });
    expect(swept).toBe(0);
    const [job] = await waitFor(async () => {
      const jobs = await jobsOfPartner(pipeline.testFerry.deliverQueue, 'held');
      return jobs.length === 1 && (await jobs[0]!.getState()) === 'delayed' ? jobs : undefined;
    }, 'the held delivery to wait');

    const run = await show(job!.id!);
    expect(run.code).toBe(0);
    expect(valueOf(run.out, 'status')).toBe('queued');
    expect(valueOf(run.out, 's3 object')).toBe(`s3://${pipeline.fixture.bucket}/held/later.csv`);
    expect(valueOf(run.out, 'receipt')).toBe('none: not delivered');
  });

  it('exits 1 naming the id when no delivery has it', async () => {
    const unknown = `dlv-acme-${'0'.repeat(32)}`;
    const run = await show(unknown);
    expect(run.code).toBe(1);
    expect(run.out).toEqual([]);
    expect(run.err).toBe(
      `ferry deliveries show: no delivery ${unknown} (not in the ledger, and no waiting or running job has that id)\n`,
    );
  });

  it('exits 2 for a missing or extra argument, an unknown option, or text that is not a delivery id', async () => {
    const dir = pipeline.fixture.dir;
    const id = await pipeline.deliveryIdOf('acme', 'acme/orders-1.csv');
    for (const args of [
      ['deliveries', 'show', '--config', dir],
      ['deliveries', 'show', id, 'extra', '--config', dir],
      ['deliveries', 'show', id, '--partner', 'acme', '--config', dir],
    ]) {
      const run = await ferry(...args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.out).toEqual([]);
    }
    const key = await show('acme/orders-1.csv\u001b[2J');
    expect(key.code).toBe(2);
    expect(key.err).toContain('"acme/orders-1.csv\\x1b[2J" is not a delivery id');
    // eslint-disable-next-line no-control-regex -- no raw escape reaches the terminal
    expect(key.err).not.toMatch(/\u001b/u);
  });
});
