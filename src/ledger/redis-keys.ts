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
  };
}

export type RedisKeys = ReturnType<typeof createRedisKeys>;
