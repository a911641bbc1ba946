/**
 * Every Redis key Ferry writes outside BullMQ, built in one place. The prefix carries one hash tag
 * (default `{ferry}`), so all keys land in the same Redis Cluster slot and Lua scripts may touch several.
 */
export function createRedisKeys(prefix: string) {
  return {
    /** Hash: one delivery's ledger record. */
    delivery: (deliveryId: string): string => `${prefix}:delivery:${deliveryId}`,
    /** Sorted set: deliveryId → updatedAt (ms), one per partner, for listings and rebuilds. */
    partnerDeliveries: (partnerId: string): string => `${prefix}:deliveries:${partnerId}`,
    /** Sorted set: lease holder → lease expiry (ms, Redis clock), one per partner. */
    slots: (partnerId: string): string => `${prefix}:slots:${partnerId}`,
    /** String with a short expiry: some process is waiting for one of this partner's slots. */
    slotsWanted: (partnerId: string): string => `${prefix}:slots-wanted:${partnerId}`,
    /** Hash: epoch, server, seenAt — when the ledger is known to hold a record for every receipt. */
    ledgerTrust: `${prefix}:ledger:trust`,
    /** String: the worker rebuilding the ledger from receipts (NX, with expiry). */
    ledgerRebuildLock: `${prefix}:ledger:rebuild-lock`,
    /** Hash: one alert dedup window (windowEnd, suppressed, firstAt, lastAt, event), with expiry. */
    alertWindow: (dedupId: string): string => `${prefix}:alert:${dedupId}`,
    /** Sorted set: dedupId → window end (ms, Redis clock), so any process can flush ended windows. */
    alertWindows: `${prefix}:alerts:windows`,
  };
}

export type RedisKeys = ReturnType<typeof createRedisKeys>;
