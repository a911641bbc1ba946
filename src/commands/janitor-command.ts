// `ferry janitor <partner> [--dry-run]`: one janitor pass over the partner's directory now, or with
// --dry-run only what it would remove (and what it keeps, and why). Same rules as the sweep's pass.
import { adoptOpenIntents } from '../ledger/adopt-open-intents.js';
import { createJanitor } from '../../jobs/janitor.js';
import type { FerryConfig } from '../config/load-config.js';
import { formatLeftoverLine } from '../core/janitor.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createRedisSemaphore } from '../ledger/redis-semaphore.js';
import { createTempRegistry } from '../ledger/temp-registry.js';
import type { Logger } from '../observability/logger.js';
import { connectProducer } from './connect-producer.js';
import { connectPartner } from './test-connection-command.js';

export interface JanitorCommandOptions {
  config: FerryConfig;
  partnerId: string;
  dryRun: boolean;
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
  /** Where the removal log lines go (one JSON line per removal). */
  logger: Logger;
}

/** How long the command waits for one of the partner's connection slots. */
const SLOT_TIMEOUT_MS = 60_000;

/** Exit 0 after the pass (or the dry run), 1 on an error or a refused run, 2 for an unknown partner. */
export async function runJanitorCommand(o: JanitorCommandOptions): Promise<number> {
  const partner = o.config.partners.get(o.partnerId);
  if (!partner) {
    o.err(
      `ferry janitor: unknown partner "${o.partnerId}" (configured: ${[...o.config.partners.keys()].join(', ')})`,
    );
    return 2;
  }
  const svc = o.config.service;
  if (!o.dryRun && !svc.janitor.enabled) {
    o.err('ferry janitor: janitor.enabled is false in ferry.yaml; use --dry-run to see what it would remove');
    return 1;
  }
  const redis = await connectProducer(o.config);
  const keys = createRedisKeys(svc.redis.prefix);
  // The partner's connection cap holds for this connection too.
  const semaphore = createRedisSemaphore(redis, keys, { leaseMs: svc.worker.slotLeaseSeconds * 1000 });
  try {
    const lease = await semaphore.acquire(partner.id, partner.target.maxConnections, {
      timeoutMs: SLOT_TIMEOUT_MS,
    });
    try {
      const connection = await connectPartner(partner, o.config, o.env);
      try {
        const registry = createTempRegistry(redis, keys);
        const janitor = createJanitor({
          getConfig: () => o.config,
          withSession: (_partner, fn) => fn(connection),
          registry,
          logger: o.logger,
          now: () => new Date(),
          adoptOpenIntents: (partnerId) => adoptOpenIntents(redis, keys, registry, partnerId),
        });
        const result = await janitor.run(partner, { dryRun: o.dryRun });
        o.out(
          `ferry janitor ${partner.id}: ${partner.target.directory} (leftovers at least ${svc.janitor.minAgeMinutes} min old)${o.dryRun ? ', dry run' : ''}`,
        );
        for (const d of result.decisions) o.out(formatLeftoverLine(d));
        const toRemove = result.decisions.filter((d) => d.action === 'remove').length;
        const kept = result.decisions.length - toRemove;
        if (o.dryRun) {
          o.out(`would remove ${toRemove}, keep ${kept}; nothing was removed`);
        } else {
          const spared = result.spared.map((s) => `${s.path} (${s.why})`);
          o.out(
            `removed ${result.removed}, kept ${kept}${spared.length > 0 ? `, spared ${spared.length}: ${spared.join(', ')}` : ''}`,
          );
        }
        return 0;
      } finally {
        await connection.close();
      }
    } finally {
      await lease.release();
    }
  } finally {
    semaphore.close();
    await redis.quit().catch(() => undefined);
  }
}
