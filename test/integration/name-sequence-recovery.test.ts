// `{seq}` numbers survive a Redis that lost its data (src/ledger/name-sequence.ts, ledger-trust.ts):
// each receipt records the number its name took, the rebuild from receipts raises the counter past
// it, and no number is given before that rebuild made the ledger trusted again. Real redis-server,
// sshd and s3rver; `onExisting: overwrite`, where a reused number would replace the partner's file.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createNameSequence, isLedgerUntrusted } from '../../src/ledger/name-sequence.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { usePartnerPipeline } from '../support/partner-pipeline.js';

const PARTNER = 'numbered';
const pipeline = usePartnerPipeline({
  adminPassword: 'name-sequence-recovery-admin',
  partners: [
    {
      id: PARTNER,
      timezone: 'UTC',
      onExisting: 'overwrite',
      extraYaml: 'naming: { filename: "DAILY_{date:yyyyMMdd}_{seq:3}.csv" }',
    },
  ],
});
const keys = createRedisKeys('{ferry}');
// A counter's scope is the name with the number masked by a NUL (src/core/filename-template.ts).
const scopeOf = (day: string) => `DAILY_${day}_\u0000.csv`;
const dayOf = (key: string) => pipeline.dayOf(key);
const deliveryIdOf = (key: string) => pipeline.deliveryIdOf(PARTNER, key);

/** name → content of every file the partner has. */
async function partnerFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await pipeline.finals(PARTNER)) {
    files.set(name, await readFile(join(pipeline.fixture.partnerDirs[PARTNER]!, name), 'utf8'));
  }
  return files;
}

describe('{seq} after Redis lost its data', () => {
  it('records the number in the receipt and gives the next file 004, not 001, after FLUSHALL', async () => {
    const first = ['numbered/a.csv', 'numbered/b.csv', 'numbered/c.csv'];
    await pipeline.put(first.map((key) => ({ key, size: 200 })));
    const day = await dayOf(first[0]!);
    expect((await pipeline.sweep(PARTNER)).summary).toMatch(/^delivered 3,/);
    const before = await partnerFiles();
    expect([...before.keys()]).toEqual([
      `DAILY_${day}_001.csv`,
      `DAILY_${day}_002.csv`,
      `DAILY_${day}_003.csv`,
    ]);
    const ids = await Promise.all(first.map(deliveryIdOf));
    const numbers: number[] = [];
    for (const id of ids) {
      const receipt = await pipeline.receiptOf(PARTNER, id);
      expect(receipt.naming).toEqual({ seqScope: scopeOf(day), seq: expect.any(Number) });
      expect(receipt.target.path.endsWith(`_${String(receipt.naming!.seq).padStart(3, '0')}.csv`)).toBe(true);
      numbers.push(receipt.naming!.seq);
    }
    expect(numbers.sort()).toEqual([1, 2, 3]);

    // The delivered exports leave the prefix (as with `after.source` move), so no redelivery check
    // of theirs reads a receipt: only the rebuild from receipts knows their numbers. Then Redis loses
    // everything (a restart without persistence), and a new file of the same day is swept at once,
    // while the ledger is not trusted yet.
    await pipeline.testFerry.s3.send(
      new DeleteObjectsCommand({
        Bucket: pipeline.fixture.bucket,
        Delete: { Objects: first.map((Key) => ({ Key })) },
      }),
    );
    await pipeline.testFerry.redis.flushall();
    await pipeline.put([{ key: 'numbered/d.csv', size: 300 }]);
    expect(await dayOf('numbered/d.csv')).toBe(day);
    const { code, summary } = await pipeline.sweep(PARTNER);
    expect(summary).toMatch(/^delivered 1, already delivered 0, skipped 0, quarantined 0, failed 0/);
    expect(code).toBe(0);

    const after = await partnerFiles();
    expect([...after.keys()]).toEqual([...before.keys(), `DAILY_${day}_004.csv`]);
    for (const [name, content] of before) expect(after.get(name)).toBe(content); // nothing replaced
    expect(await pipeline.testFerry.redis.get(keys.nameSequence(PARTNER, scopeOf(day)))).toBe('4');
    // The assignments came back too: each earlier delivery keeps its number.
    for (const id of ids) {
      const assigned = await pipeline.testFerry.redis.hgetall(keys.nameSequenceOf(id));
      expect(assigned.scope).toBe(scopeOf(day));
    }
  });

  it('never overwrites a numbered name the partner already has, even with onExisting: overwrite', async () => {
    // A counter that lost its last increment (a crash-plus-loss no receipt could restore).
    const key = 'numbered/e.csv';
    await pipeline.put([{ key, size: 250 }]);
    const day = await dayOf(key);
    await pipeline.testFerry.redis.set(keys.nameSequence(PARTNER, scopeOf(day)), '3');
    const before = await partnerFiles();
    const { summary } = await pipeline.sweep(PARTNER);
    expect(summary).toMatch(/failed 1$/);
    expect(await partnerFiles()).toEqual(before);
    const { record } = await pipeline.failedDelivery(PARTNER, key);
    expect(record).toMatchObject({ status: 'failed', lastErrorCode: 'ERR_REMOTE_EXISTS' });
    expect(record?.lastError).toContain(`DAILY_${day}_004.csv already exists`);
  });
});

describe('name sequence on a real Redis', () => {
  // Its own key prefix: the running Ferry's trust checks never touch these keys.
  const own = createRedisKeys('{seq-test}');

  it('gives no new number until the ledger is trusted on this server; a given number is read back', async () => {
    const sequence = createNameSequence(pipeline.testFerry.redis, own, { untrustedWaitMs: 0 });
    const untrusted = await sequence.numberFor('p', 'S_###', 'd1').catch((err: unknown) => err);
    expect(untrusted).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    expect(isLedgerUntrusted(untrusted)).toBe(true); // the deliver job then waits delayed, no attempt used
    // Trust established on another server (this one restarted since): still no number.
    await pipeline.testFerry.redis.hset(own.ledgerTrust, { epoch: 'e', server: 'f'.repeat(40), seenAt: '1' });
    await expect(sequence.numberFor('p', 'S_###', 'd1')).rejects.toMatchObject({
      code: 'ERR_REDIS_UNAVAILABLE',
    });
    const runId = /run_id:(\w+)/.exec(await pipeline.testFerry.redis.info('server'))![1]!;
    await pipeline.testFerry.redis.hset(own.ledgerTrust, 'server', runId);
    expect(await sequence.numberFor('p', 'S_###', 'd1')).toBe(1);
    // Trust lost again: the number already given is still read back, a new one is not given.
    await pipeline.testFerry.redis.del(own.ledgerTrust);
    expect(await sequence.numberFor('p', 'S_###', 'd1')).toBe(1);
    await expect(sequence.numberFor('p', 'S_###', 'd2')).rejects.toMatchObject({
      code: 'ERR_REDIS_UNAVAILABLE',
    });
  });

  it('restore raises a counter to at least n and keeps an assignment already there', async () => {
    const sequence = createNameSequence(pipeline.testFerry.redis, own);
    await sequence.restore('p', 'R_###', 'r1', 7);
    expect(await pipeline.testFerry.redis.get(own.nameSequence('p', 'R_###'))).toBe('7');
    await sequence.restore('p', 'R_###', 'r2', 5); // older receipt read later: counter stays
    expect(await pipeline.testFerry.redis.get(own.nameSequence('p', 'R_###'))).toBe('7');
    expect(await pipeline.testFerry.redis.hgetall(own.nameSequenceOf('r2'))).toEqual({
      scope: 'R_###',
      n: '5',
    });
    await sequence.restore('p', 'R_###', 'r1', 9); // r1 already holds 7
    expect(await pipeline.testFerry.redis.hgetall(own.nameSequenceOf('r1'))).toEqual({
      scope: 'R_###',
      n: '7',
    });
    expect(await pipeline.testFerry.redis.get(own.nameSequence('p', 'R_###'))).toBe('9');
  });
});
