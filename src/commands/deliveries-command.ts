// `ferry deliveries [--partner P] [--status S] [--since ISO|24h] [--q TEXT] [--limit N] [--json]`:
// the ledger, newest first, for the "what happened tonight?" question. --status is a ledger status or
// a partner's answer (acknowledged, rejected, overdue, unanswered: src/core/ack-filter.ts). `ferry deliveries show <id>`:
// one of them in full (what `GET /api/deliveries/:id` and the web UI's detail page show).
import { createReceiptStore } from '../adapters/receipt-store.js';
import { createS3Client, createS3Source } from '../adapters/s3-source.js';
import type { FerryConfig } from '../config/load-config.js';
import { ACK_FILTER_NAMES, ackFilterOf } from '../core/ack-filter.js';
import { parseTimeBound } from '../core/delivery-cursor.js';
import { DELIVERY_ID_FORMAT, isDeliveryId } from '../core/delivery-id.js';
import { toDeliveryView, type DeliveryView } from '../core/delivery-view.js';
import {
  formatDeliveryDetail,
  formatDeliveryTable,
  jsonForTerminal,
  printable,
} from '../core/format-deliveries.js';
import { createAuditLog } from '../ledger/audit-log.js';
import { readDeliveryDetail } from '../ledger/delivery-detail.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../ledger/delivery-record.js';
import { createDeliveryListing } from '../ledger/delivery-listing.js';
import { createRedeliveries } from '../ledger/redeliveries.js';
import { createRedisKeys } from '../ledger/redis-keys.js';
import { createRedisLedger } from '../ledger/redis-ledger.js';
import { createQueues } from '../queues/queues.js';
import { connectProducer } from './connect-producer.js';
import { quoted } from './usage-error.js';

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
  const ack = o.status === undefined ? undefined : ackFilterOf(o.status);
  if (
    o.status !== undefined &&
    ack === undefined &&
    !(DELIVERY_STATUSES as readonly string[]).includes(o.status)
  ) {
    o.err(
      `ferry deliveries: --status must be one of ${DELIVERY_STATUSES.join(', ')} or a partner's answer ${ACK_FILTER_NAMES.join(', ')}, got ${quoted(o.status)} (queued jobs: Bull Board or /api/deliveries?status=queued)`,
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
      o.err(
        `ferry deliveries: --${name} must be an ISO date-time or a duration like 24h, 7d, 30m, got ${quoted(text)}`,
      );
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
        ...(ack !== undefined
          ? { ack }
          : o.status === undefined
            ? {}
            : { status: o.status as DeliveryStatus }),
        ...(o.q === undefined ? {} : { q: o.q }),
        ...bounds,
        limit: o.limit - rows.length,
        ...(cursor === undefined ? {} : { cursor }),
      });
      rows.push(...page.records.map(toDeliveryView));
      cursor = page.next ?? undefined;
    } while (cursor !== undefined && rows.length < o.limit);

    if (o.json) {
      o.out(jsonForTerminal(rows));
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

export interface DeliveryShowCommandOptions {
  config: FerryConfig;
  /** A delivery id (= its BullMQ job id), a redelivery's `<id>-r<n>` included. */
  id: string;
  json: boolean;
  out(line: string): void;
  err(line: string): void;
}

/**
 * `ferry deliveries show <id>`: 0 shown · 1 no such delivery · 2 not a delivery id. Reads what the API
 * reads (readDeliveryDetail), so `--json` prints the very object `GET /api/deliveries/:id` answers.
 */
export async function runDeliveryShowCommand(o: DeliveryShowCommandOptions): Promise<number> {
  if (!isDeliveryId(o.id)) {
    o.err(
      `ferry deliveries show: "${printable(o.id)}" is not a delivery id (${DELIVERY_ID_FORMAT}); find one with ferry deliveries --q TEXT`,
    );
    return 2;
  }
  const svc = o.config.service;
  const redis = await connectProducer(o.config);
  const queues = createQueues(redis, svc.redis.prefix);
  const s3 = createS3Client(svc.s3);
  const source = createS3Source(s3);
  try {
    const keys = createRedisKeys(svc.redis.prefix);
    const ledger = createRedisLedger(redis, keys);
    const receipts = createReceiptStore(source, svc.receipts);
    const audit = createAuditLog(redis, keys);
    const detail = await readDeliveryDetail(
      {
        ledger,
        receipts,
        deliverQueue: queues.deliver,
        audit,
        receiptsLocation: svc.receipts,
        ...(svc.alerts === undefined ? {} : { runbookBaseUrl: svc.alerts.runbookBaseUrl }),
        // Only get() is used: the request side (enqueue) never runs here.
        redeliveries: createRedeliveries({
          redis,
          keys,
          ledger,
          audit,
          receipts,
          getConfig: () => o.config,
          enqueue: () => Promise.reject(new Error('ferry deliveries show does not enqueue')),
        }),
      },
      o.id,
    );
    if (!detail) {
      o.err(
        `ferry deliveries show: no delivery ${o.id} (not in the ledger, and no waiting or running job has that id)`,
      );
      return 1;
    }
    if (o.json) {
      o.out(jsonForTerminal(detail));
      return 0;
    }
    const origin = svc.http.trustedOrigins?.[0];
    const lines = formatDeliveryDetail(detail, {
      ...(detail.receipt === null
        ? {}
        : { receiptUrl: `s3://${svc.receipts.bucket}/${receipts.keyFor(detail.partnerId, detail.id)}` }),
      ...(origin === undefined ? {} : { boardOrigin: origin }),
    });
    for (const line of lines) o.out(line);
    return 0;
  } finally {
    await queues.close();
    await redis.quit().catch(() => undefined);
    s3.destroy();
  }
}
