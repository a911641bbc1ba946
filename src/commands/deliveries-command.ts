// `ferry deliveries [--partner P] [--status S] [--since ISO|24h] [--q TEXT] [--limit N] [--json]`:
// the ledger, newest first, for the "what happened tonight?" question.
import type { FerryConfig } from '../config/load-config.js';
import { parseTimeBound } from '../core/delivery-cursor.js';
import { toDeliveryView, type DeliveryView } from '../core/delivery-view.js';
import { formatDeliveryTable } from '../core/format-deliveries.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../ledger/delivery-record.js';
import { createDeliveryListing } from '../ledger/delivery-listing.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createRedisLedger } from '../ledger/redis-ledger.js';
import { connectProducer } from './connect-producer.js';

export interface DeliveriesCommandOptions {
  config: FerryConfig;
  partnerId?: string;
  status?: string;
  since?: string;
  until?: string;
  q?: string;
  limit: number;
  json: boolean;
  now?: Date;
  out(line: string): void;
  err(line: string): void;
}

export async function runDeliveriesCommand(o: DeliveriesCommandOptions): Promise<number> {
  if (o.partnerId !== undefined && !o.config.partners.has(o.partnerId)) {
    o.err(
      `ferry deliveries: unknown partner "${o.partnerId}" (configured: ${[...o.config.partners.keys()].join(', ')})`,
    );
    return 2;
  }
  if (o.status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(o.status)) {
    o.err(
      `ferry deliveries: --status must be one of ${DELIVERY_STATUSES.join(', ')} (queued jobs: Bull Board or /api/deliveries?status=queued)`,
    );
    return 2;
  }
  const now = o.now ?? new Date();
  const bounds: { since?: number; until?: number } = {};
  for (const name of ['since', 'until'] as const) {
    const text = o[name];
    if (text === undefined) continue;
    const ms = parseTimeBound(text, now);
    if (ms === undefined) {
      o.err(`ferry deliveries: --${name} must be an ISO date-time or a duration like 24h, 7d, 30m`);
      return 2;
    }
    bounds[name] = ms;
  }
  const redis = await connectProducer(o.config);
  try {
    const keys = createRedisKeys(o.config.service.redis.prefix);
    const listing = createDeliveryListing(redis, keys, createRedisLedger(redis, keys));
    const rows: DeliveryView[] = [];
    let cursor;
    do {
      const page = await listing.list({
        partners: o.partnerId === undefined ? [...o.config.partners.keys()] : [o.partnerId],
        ...(o.status === undefined ? {} : { status: o.status as DeliveryStatus }),
        ...(o.q === undefined ? {} : { q: o.q }),
        ...bounds,
        limit: o.limit - rows.length,
        ...(cursor === undefined ? {} : { cursor }),
      });
      rows.push(...page.records.map(toDeliveryView));
      cursor = page.next ?? undefined;
    } while (cursor !== undefined && rows.length < o.limit);

    if (o.json) {
      o.out(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      o.out('no deliveries match');
      return 0;
    }
    for (const line of formatDeliveryTable(rows)) o.out(line);
    if (cursor !== undefined) o.err(`(first ${rows.length} shown; --limit N for more)`);
    return 0;
  } finally {
    await redis.quit().catch(() => undefined);
  }
}
