// `ferry pause <partner> --reason …` / `ferry resume <partner> --reason …`: the operator's pause flag.
import type { FerryConfig } from '../config/load-config.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import type { Logger } from '../observability/logger.js';
import { createPartnerControls } from '../partners/partner-controls.js';
import { connectProducer } from './connect-producer.js';

export interface PauseCommandOptions {
  config: FerryConfig;
  action: 'pause' | 'resume';
  partnerId: string;
  by: string;
  reason: string;
  out(line: string): void;
  err(line: string): void;
  /** Where the audit line goes (one JSON line per change). */
  audit: Logger;
}

export async function runPauseCommand(o: PauseCommandOptions): Promise<number> {
  const partner = o.config.partners.get(o.partnerId);
  if (!partner) {
    o.err(
      `ferry ${o.action}: unknown partner "${o.partnerId}" (configured: ${[...o.config.partners.keys()].join(', ')})`,
    );
    return 2;
  }
  const svc = o.config.service;
  const redis = await connectProducer(o.config);
  try {
    const controls = createPartnerControls(redis, createRedisKeys(svc.redis.prefix));
    if (o.action === 'pause') await controls.pause(partner.id, o.by, o.reason);
    else await controls.resume(partner.id, o.by, o.reason);
    o.audit.info(
      { audit: true, action: o.action, partnerId: partner.id, by: o.by, reason: o.reason },
      `partner ${o.action === 'pause' ? 'paused' : 'resumed'} by operator`,
    );
    const state = await controls.pauseState(partner);
    if (o.action === 'pause') {
      o.out(
        `${partner.id} paused by ${o.by}: scheduled sweeps skip it, queued deliveries wait (checked every minute)`,
      );
    } else if (state.paused) {
      o.out(
        `${partner.id}: operator pause cleared, but its config says paused: true; it stays paused until that changes`,
      );
    } else {
      o.out(`${partner.id} resumed by ${o.by}: waiting deliveries start within a minute`);
    }
    return 0;
  } finally {
    await redis.quit().catch(() => undefined);
  }
}
