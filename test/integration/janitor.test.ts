// The janitor on real services: redis-server (temp registry, claims), OpenSSH sshd (the partner's
// directory, a local directory the test ages with utimes) and s3rver (the sweep that runs it).
import { chown, mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJanitor, type JanitorDeps } from '../../jobs/janitor.js';
import { runJanitorCommand } from '../../src/commands/janitor-command.js';
import { createSweepProcessor } from '../../jobs/sweep.js';
import { createS3Source } from '../../src/adapters/s3-source.js';
import { type SftpConnection } from '../../src/adapters/sftp-connection.js';
import type { FerryConfig } from '../../src/config/load-config.js';
import type { PartnerConfig } from '../../src/config/schema.js';
import { tempNameFor } from '../../src/core/delivery-id.js';
import { asidePathFor } from '../../src/core/janitor.js';
import { FerryError } from '../../src/errors.js';
import { createRedisKeys } from '../../src/ledger/redis-keys.js';
import { createRedisLedger } from '../../src/ledger/redis-ledger.js';
import { createTempRegistry, type TempRegistry } from '../../src/ledger/temp-registry.js';
import { createMetrics, type FerryMetrics } from '../../src/observability/metrics.js';
import { captureLogger, loadConfigOrThrow } from '../support/pipeline.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { makeTempDir } from '../support/temp-dir.js';
import { connectToSshd } from '../support/sftp-client.js';

const keys = createRedisKeys('{ferry}');
const DELIVERY = 'dlv-acme-30daa40bddbe09035a9be36c0dae6f39';
const OTHER = 'dlv-acme-5b1f0c0e9d7a4e61a3c2b8f9d0e1f2a3';
const HOUR_S = 3600;

let services: Services;
let redis: Redis;
let registry: TempRegistry;
let connection: SftpConnection;
let configDir: string;
let uniq = 0;

beforeAll(async () => {
  services = await startServices({ buckets: ['warehouse-exports', 'ferry-audit'] });
  redis = new Redis(services.redis.url);
  registry = createTempRegistry(redis, keys);
  configDir = await makeTempDir('janitor-config');
  connection = await connect();
});

async function connect(): Promise<SftpConnection> {
  return connectToSshd(services.sshd);
}

afterAll(async () => {
  await connection?.close();
  await redis?.quit();
  await services?.stop();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

interface World {
  partner: PartnerConfig;
  config: FerryConfig;
  /** Local path of the partner's SFTP directory. */
  dir: string;
  /** Creates a file there, `ageSeconds` old (mtime set with utimes). */
  put(name: string, ageSeconds: number, content?: string): Promise<void>;
  names(): Promise<string[]>;
}

/** A fresh partner (own SFTP directory and Redis keys) with the janitor settings given. */
async function world(janitorYaml = 'enabled: true, minAgeMinutes: 60, intervalMinutes: 15'): Promise<World> {
  uniq += 1;
  const id = `acme${uniq}`;
  const dir = join(services.sshd.inbound, id);
  await mkdir(dir);
  const owner = await stat(services.sshd.inbound);
  await chown(dir, owner.uid, owner.gid);
  const cfgDir = join(configDir, id);
  await mkdir(join(cfgDir, 'partners'), { recursive: true });
  await writeFile(
    join(cfgDir, 'ferry.yaml'),
    [
      `redis: { url: "${services.redis.url}" }`,
      `s3: { endpoint: "${services.s3.endpoint}", forcePathStyle: true }`,
      'receipts: { bucket: ferry-audit }',
      `janitor: { ${janitorYaml} }`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(cfgDir, 'partners', `${id}.yaml`),
    [
      `id: ${id}`,
      'schedule: { cron: "0 2 * * *", timezone: UTC }',
      `source: { bucket: warehouse-exports, prefix: "${id}/", minAgeSeconds: 0 }`,
      'target:',
      '  host: 127.0.0.1',
      `  port: ${services.sshd.port}`,
      `  username: ${services.sshd.username}`,
      `  hostKeys: ${JSON.stringify([services.sshd.hostKeyFingerprint])}`,
      `  auth: { privateKeyFile: ${services.sshd.privateKeyPath} }`,
      `  directory: ${dir}`,
      '',
    ].join('\n'),
  );
  const config = await loadConfigOrThrow(cfgDir, {});
  const partner = config.partners.get(id)!;
  return {
    partner,
    config,
    dir,
    async put(name, ageSeconds, content = 'x'.repeat(10)) {
      const path = join(dir, name);
      await writeFile(path, content);
      await chown(path, owner.uid, owner.gid);
      const at = Date.now() / 1000 - ageSeconds;
      await utimes(path, at, at);
    },
    names: async () => (await readdir(dir)).sort(),
  };
}

function janitorFor(
  w: World,
  overrides: Partial<JanitorDeps> = {},
): { deps: JanitorDeps; metrics: FerryMetrics; log: ReturnType<typeof captureLogger> } {
  const metrics = createMetrics({ processMetrics: false });
  const log = captureLogger('info');
  const deps: JanitorDeps = {
    getConfig: () => w.config,
    withSession: (_partner, fn) => fn(connection),
    registry,
    logger: log.logger,
    now: () => new Date(),
    metrics,
    ...overrides,
  };
  return { deps, metrics, log };
}

async function removedCounts(metrics: FerryMetrics): Promise<Record<string, number>> {
  const samples = parsePrometheusText(await metrics.render()).samples;
  return Object.fromEntries(
    samples
      .filter((s) => s.name === 'ferry_janitor_removed_total')
      .map((s) => [`${s.labels['partner']}/${s.labels['kind']}`, s.value]),
  );
}

const temp = (name: string, id = DELIVERY) => tempNameFor(name, id);

describe('SftpSession.list', () => {
  it('lists names, sizes, mtimes and file types, without "." and ".."', async () => {
    const w = await world();
    await w.put('orders.csv', 2 * HOUR_S, 'abc');
    await mkdir(join(w.dir, 'sub'));
    const listed = await connection.list(w.partner.target.directory);

    expect(listed.map((e) => e.name).sort()).toEqual(['orders.csv', 'sub']);
    const file = listed.find((e) => e.name === 'orders.csv')!;
    expect(file.size).toBe(3);
    expect(Math.abs(file.mtime.getTime() - (Date.now() - 2 * HOUR_S * 1000))).toBeLessThan(60_000);
    expect(file.mode & 0o170000).toBe(0o100000);
    expect(listed.find((e) => e.name === 'sub')!.mode & 0o170000).toBe(0o040000);
  });

  it('fails with ERR_SFTP_NO_SUCH_PATH for a missing directory', async () => {
    const err = await connection.list('/no/such/dir').catch((e: unknown) => e);
    expect((err as FerryError).code).toBe('ERR_SFTP_NO_SUCH_PATH');
  });
});

describe('janitor', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(async () => {
    await rm(w.dir, { recursive: true, force: true });
  });

  it('removes old orphan .part and .old files and keeps registered, young and partner files', async () => {
    const orphanPart = temp('orders.csv');
    const orphanOld = asidePathFor(temp('prices.csv'));
    const orphanSidecar = temp('orders.csv.sha256');
    const registeredPart = temp('live.csv', OTHER);
    const youngPart = temp('young.csv');
    const partnerFiles = [
      'orders.csv',
      '.bashrc',
      '.orders.csv.part',
      '.orders.csv.30DAA40BDDBE.part',
      'x.part',
    ];
    await w.put(orphanPart, 2 * HOUR_S, 'p'.repeat(1234));
    await w.put(orphanOld, 3 * HOUR_S);
    await w.put(orphanSidecar, 2 * HOUR_S);
    await w.put(registeredPart, 5 * HOUR_S);
    await w.put(youngPart, 10 * 60);
    for (const name of partnerFiles) await w.put(name, 24 * HOUR_S);
    await registry.register(w.partner.id, join(w.dir, registeredPart), OTHER);

    const { deps, metrics, log } = janitorFor(w);
    const result = await createJanitor(deps).run(w.partner);

    expect(result.removed).toBe(3);
    expect(await w.names()).toEqual([...partnerFiles, registeredPart, youngPart].sort());
    expect(await removedCounts(metrics)).toEqual({ [`${w.partner.id}/part`]: 2, [`${w.partner.id}/old`]: 1 });
    const removals = log.lines().filter((l) => String(l['msg']).startsWith('janitor removed'));
    expect(removals).toHaveLength(3);
    expect(removals.find((l) => l['path'] === join(w.dir, orphanPart))).toMatchObject({
      partnerId: w.partner.id,
      kind: 'part',
      size: 1234,
      reason: 'orphan',
    });
    const age = removals.find((l) => l['path'] === join(w.dir, orphanOld))!['ageSeconds'] as number;
    expect(Math.abs(age - 3 * HOUR_S)).toBeLessThan(60);
    expect(result.decisions.filter((d) => d.action === 'keep').map((d) => [d.name, d.reason])).toEqual(
      expect.arrayContaining([
        [registeredPart, 'registered'],
        [youngPart, 'too-young'],
      ]),
    );
    // No claim is left behind: the removed paths can be registered again at once.
    await registry.register(w.partner.id, join(w.dir, orphanPart), DELIVERY);
  });

  it('removes nothing on a dry run and reports what it would remove', async () => {
    const orphan = temp('orders.csv');
    await w.put(orphan, 2 * HOUR_S);
    const { deps, metrics } = janitorFor(w);

    const result = await createJanitor(deps).run(w.partner, { dryRun: true });

    expect(result.decisions).toMatchObject([{ name: orphan, action: 'remove', reason: 'orphan' }]);
    expect(result.removed).toBe(0);
    expect(await w.names()).toEqual([orphan]);
    expect(await removedCounts(metrics)).toEqual({});
  });

  it('spares a file a delivery registers after the listing, before the claim', async () => {
    const orphan = temp('orders.csv');
    await w.put(orphan, 2 * HOUR_S);
    const path = join(w.dir, orphan);
    const { deps } = janitorFor(w, {
      registry: {
        ...registry,
        // The delivery's retry registers right after the janitor read the registry.
        listRegistered: async (partnerId) => {
          const seen = await registry.listRegistered(partnerId);
          await registry.register(partnerId, path, DELIVERY);
          return seen;
        },
      },
    });

    const result = await createJanitor(deps).run(w.partner);

    expect(result.removed).toBe(0);
    expect(result.spared).toEqual([{ path, why: 'registered' }]);
    expect(await w.names()).toEqual([orphan]);
  });

  it('refuses a delivery that wants the path while the janitor holds its claim, and frees the path after', async () => {
    const orphan = temp('orders.csv');
    await w.put(orphan, 2 * HOUR_S);
    const path = join(w.dir, orphan);
    let refused: unknown;
    const { deps } = janitorFor(w, {
      registry: {
        ...registry,
        // The delivery's retry comes while the removal is under way.
        confirmClaim: async (claim, ttlMs) => {
          refused = await registry.register(w.partner.id, path, DELIVERY).catch((err: unknown) => err);
          return registry.confirmClaim(claim, ttlMs);
        },
      },
    });

    const result = await createJanitor(deps).run(w.partner);

    expect(result.removed).toBe(1);
    expect((refused as FerryError).code).toBe('ERR_TEMP_BUSY');
    expect(await w.names()).toEqual([]);
    await registry.register(w.partner.id, path, DELIVERY);
    expect(await registry.listRegistered(w.partner.id)).toEqual(new Map([[path, DELIVERY]]));
  });

  it('spares a file written again between the listing and the claim', async () => {
    const orphan = temp('orders.csv');
    await w.put(orphan, 2 * HOUR_S);
    const path = join(w.dir, orphan);
    const { deps } = janitorFor(w, {
      registry: {
        ...registry,
        claimForRemoval: async (partnerId, remotePath, ttlMs) => {
          const now = Date.now() / 1000;
          await utimes(path, now, now);
          return registry.claimForRemoval(partnerId, remotePath, ttlMs);
        },
      },
    });

    const result = await createJanitor(deps).run(w.partner);

    expect(result.spared).toEqual([{ path, why: 'changed' }]);
    expect(await w.names()).toEqual([orphan]);
    await registry.register(w.partner.id, path, DELIVERY); // the claim was released
  });

  it('keeps the claim until it expires when a removal got no answer (connection lost), so no delivery writes meanwhile', async () => {
    const orphan = temp('orders.csv');
    await w.put(orphan, 2 * HOUR_S);
    const path = join(w.dir, orphan);
    const lost = await connect();
    await lost.close();
    const { deps } = janitorFor(w, {
      withSession: (_partner, fn) =>
        fn({ list: (dir) => connection.list(dir), remove: (p) => lost.remove(p) }),
    });

    const err = await createJanitor(deps)
      .run(w.partner)
      .catch((e: unknown) => e);

    expect((err as FerryError).code).toBe('ERR_SFTP_CONNECTION_LOST');
    expect(await redis.pttl(keys.tempRemovalClaim(w.partner.id, path))).toBeGreaterThan(9 * 60_000);
    const refused = await registry.register(w.partner.id, path, DELIVERY).catch((e: unknown) => e);
    expect((refused as FerryError).code).toBe('ERR_TEMP_BUSY');
  });

  it('leaves a file whose claim another janitor run holds', async () => {
    const orphan = temp('orders.csv');
    await w.put(orphan, 2 * HOUR_S);
    const path = join(w.dir, orphan);
    const other = await registry.claimForRemoval(w.partner.id, path, 60_000);
    expect(other.ok).toBe(true);

    const result = await createJanitor(janitorFor(w).deps).run(w.partner);

    expect(result.spared).toEqual([{ path, why: 'claimed' }]);
    expect(await w.names()).toEqual([orphan]);
  });
});

describe('janitor in the sweep', () => {
  function sweepJob(partnerId: string): Job {
    return { id: `sweep-${partnerId}`, data: { v: 1, partnerId, reason: 'manual' } } as unknown as Job;
  }

  function sweepFor(w: World, janitorDeps: JanitorDeps) {
    const source = createS3Source(s3ClientFor(services.s3));
    return createSweepProcessor({
      getConfig: () => w.config,
      source,
      ledger: createRedisLedger(redis, keys),
      enqueueDeliveries: () => Promise.resolve(),
      logger: janitorDeps.logger,
      now: () => new Date(),
      janitor: createJanitor(janitorDeps),
    });
  }

  it('runs at the end of a sweep at most once per interval per partner', async () => {
    const w = await world('enabled: true, minAgeMinutes: 60, intervalMinutes: 15');
    await w.put(temp('a.csv'), 2 * HOUR_S);
    const { deps, metrics } = janitorFor(w);
    const sweep = sweepFor(w, deps);

    await sweep(sweepJob(w.partner.id));
    expect(await w.names()).toEqual([]);

    await w.put(temp('b.csv'), 2 * HOUR_S);
    await sweep(sweepJob(w.partner.id));
    expect(await w.names()).toEqual([temp('b.csv')]);
    expect(await removedCounts(metrics)).toEqual({ [`${w.partner.id}/part`]: 1 });
    expect(await redis.pttl(keys.janitorRan(w.partner.id))).toBeGreaterThan(14 * 60_000);
  });

  it('does nothing when the janitor is not enabled', async () => {
    const w = await world('enabled: false, minAgeMinutes: 60');
    await w.put(temp('a.csv'), 2 * HOUR_S);
    const { deps } = janitorFor(w);

    await sweepFor(w, deps)(sweepJob(w.partner.id));

    expect(await w.names()).toEqual([temp('a.csv')]);
    expect(await redis.exists(keys.janitorRan(w.partner.id))).toBe(0);
  });

  it('never fails the sweep: a janitor pass that cannot list is logged and left to the next interval', async () => {
    const w = await world();
    const { deps, log } = janitorFor(w, {
      withSession: (_partner, fn) =>
        fn({ list: () => connection.list('/no/such/dir'), remove: (p) => connection.remove(p) }),
    });

    const result = await sweepFor(w, deps)(sweepJob(w.partner.id));

    expect(result.partnerId).toBe(w.partner.id);
    expect(log.lines().find((l) => String(l['msg']).startsWith('janitor pass failed'))).toMatchObject({
      errCode: 'ERR_SFTP_NO_SUCH_PATH',
    });
  });
});

describe('ferry janitor <partner>', () => {
  async function runCommand(w: World, dryRun: boolean) {
    const out: string[] = [];
    const err: string[] = [];
    const log = captureLogger('info');
    const code = await runJanitorCommand({
      config: w.config,
      partnerId: w.partner.id,
      dryRun,
      env: {},
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      logger: log.logger,
    });
    return { code, out, err, log };
  }

  it('with --dry-run lists what it would remove and what it keeps, and removes nothing', async () => {
    const w = await world('minAgeMinutes: 60');
    await w.put(temp('orders.csv'), 90 * 60);
    await w.put(temp('young.csv'), 60);
    await w.put('orders.csv', 2 * HOUR_S);

    const { code, out } = await runCommand(w, true);

    expect(code).toBe(0);
    expect(out[0]).toBe(`ferry janitor ${w.partner.id}: ${w.dir} (leftovers at least 60 min old), dry run`);
    expect(out.slice(1, 3)).toEqual([
      expect.stringMatching(
        new RegExp(`^remove part +10 B  (89|9[01]) min old +${escape(temp('orders.csv'))}$`),
      ),
      expect.stringMatching(
        new RegExp(`^keep +part +10 B  [0-2] min old +${escape(temp('young.csv'))}  \\(too-young\\)$`),
      ),
    ]);
    expect(out[3]).toBe('would remove 1, keep 1; nothing was removed');
    expect(await w.names()).toEqual(['orders.csv', temp('orders.csv'), temp('young.csv')].sort());
  });

  it('refuses to remove anything while janitor.enabled is false', async () => {
    const w = await world('enabled: false, minAgeMinutes: 60');
    await w.put(temp('orders.csv'), 2 * HOUR_S);

    const { code, err } = await runCommand(w, false);

    expect(code).toBe(1);
    expect(err[0]).toContain('janitor.enabled is false');
    expect(await w.names()).toEqual([temp('orders.csv')]);
  });

  it('removes the leftovers and logs each removal when enabled', async () => {
    const w = await world();
    await w.put(temp('orders.csv'), 2 * HOUR_S);
    await w.put(asidePathFor(temp('orders.csv')), 2 * HOUR_S);

    const { code, out, log } = await runCommand(w, false);

    expect(code).toBe(0);
    expect(out.at(-1)).toBe('removed 2, kept 0');
    expect(await w.names()).toEqual([]);
    expect(log.lines().filter((l) => String(l['msg']).startsWith('janitor removed'))).toHaveLength(2);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
