// The operators' audit trail in Redis: who did what to which delivery or partner, and why.
import type { Cluster, Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

export type AuditAction = 'redeliver' | 'pause' | 'resume' | 'upload' | 'retry';

export interface AuditEntry {
  /** ISO time. */
  at: string;
  user: string;
  action: AuditAction;
  reason?: string;
  deliveryId?: string;
  partnerId?: string;
  /** A redelivery that replaces the partner's file (`--replace`). */
  replace?: true;
}

export interface AuditLog {
  /**
   * Appends to the global trail (newest first, the last `globalMax` kept) and, when the entry names
   * deliveries, to each of their trails (oldest first). One round trip.
   */
  append(entry: AuditEntry, deliveryIds?: readonly string[]): Promise<void>;
  /** One delivery's trail, oldest first (at most the last 200 entries). */
  forDelivery(deliveryId: string): Promise<AuditEntry[]>;
  /** The newest entries of the global trail. */
  recent(limit?: number): Promise<AuditEntry[]>;
}

const ACTIONS: ReadonlySet<string> = new Set<AuditAction>([
  'redeliver',
  'pause',
  'resume',
  'upload',
  'retry',
]);
const PER_DELIVERY_MAX = 200;

export function createAuditLog(
  redis: Redis | Cluster,
  keys: RedisKeys,
  options: { globalMax?: number } = {},
): AuditLog {
  const globalMax = options.globalMax ?? 10_000;
  return {
    async append(entry, deliveryIds = entry.deliveryId === undefined ? [] : [entry.deliveryId]) {
      const json = JSON.stringify(entry);
      const pipeline = redis.multi();
      pipeline.lpush(keys.auditLog, json).ltrim(keys.auditLog, 0, globalMax - 1);
      for (const id of new Set(deliveryIds)) {
        pipeline.rpush(keys.deliveryAudit(id), json).ltrim(keys.deliveryAudit(id), -PER_DELIVERY_MAX, -1);
      }
      await redisCall(() => pipeline.exec());
    },
    async forDelivery(deliveryId) {
      return parseEntries(await redisCall(() => redis.lrange(keys.deliveryAudit(deliveryId), 0, -1)));
    },
    async recent(limit = 100) {
      return parseEntries(await redisCall(() => redis.lrange(keys.auditLog, 0, Math.max(0, limit - 1))));
    },
  };
}

/** Entries as stored; anything unreadable (edited by hand) is left out rather than shown half-parsed. */
function parseEntries(values: readonly string[]): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const value of values) {
    try {
      const e = JSON.parse(value) as Partial<AuditEntry>;
      if (typeof e.at !== 'string' || typeof e.user !== 'string' || !ACTIONS.has(String(e.action))) continue;
      out.push({
        at: e.at,
        user: e.user,
        action: e.action as AuditAction,
        ...(typeof e.reason === 'string' ? { reason: e.reason } : {}),
        ...(typeof e.deliveryId === 'string' ? { deliveryId: e.deliveryId } : {}),
        ...(typeof e.partnerId === 'string' ? { partnerId: e.partnerId } : {}),
        ...(e.replace === true ? { replace: true as const } : {}),
      });
    } catch {
      continue;
    }
  }
  return out;
}
