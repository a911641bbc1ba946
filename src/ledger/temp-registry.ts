// Which of Ferry's temp and aside files on a partner's server a live delivery still needs, and the
// janitor's claims on the ones it removes. After a delivery records its publish intent, its temp file
// is evidence (present ⇒ not published, absent ⇒ renamed), so the janitor must never remove a file a
// delivery may still need. Registering and claiming exclude each other in Redis, in one script each:
// a delivery registers a path before it creates or truncates the file there, and the janitor claims
// a path before it removes the file; whichever comes first makes the other fail.
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { FerryError } from '../errors.js';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';
import { redisCall } from './redis-call.js';

/** The janitor's hold on one path: register() of that path is refused until it is released or expires. */
export interface RemovalClaim {
  partnerId: string;
  remotePath: string;
  token: string;
}

export type ClaimResult =
  | { ok: true; claim: RemovalClaim }
  /** `registered`: a live delivery needs the file; `claimed`: another janitor run is removing it. */
  | { ok: false; reason: 'registered' | 'claimed' };

export interface TempRegistry {
  /**
   * Records that `deliveryId` needs the file at `remotePath` (a temp file or an overwrite's aside).
   * Call it before creating or truncating that file. Idempotent. Throws FerryError ERR_TEMP_BUSY
   * (transient) while the janitor holds a removal claim on the path: the file must not be written
   * until that removal is over.
   */
  register(partnerId: string, remotePath: string, deliveryId: string): Promise<void>;
  /**
   * Forgets the registration once the delivery no longer needs the file (terminal, file consumed or
   * removed). Only `deliveryId`'s own registration is removed; returns whether there was one.
   */
  release(partnerId: string, remotePath: string, deliveryId: string): Promise<boolean>;
  /** Every registered path of the partner → the delivery that registered it. */
  listRegistered(partnerId: string): Promise<Map<string, string>>;
  /** Claims the path for removal, only when no delivery registered it and no other claim holds it. */
  claimForRemoval(partnerId: string, remotePath: string, ttlMs: number): Promise<ClaimResult>;
  /**
   * True, with the claim's expiry pushed to `ttlMs` from now, while the claim is still this one; call
   * it right before the removal, so the removal is sent with a whole TTL ahead of it.
   */
  confirmClaim(claim: RemovalClaim, ttlMs: number): Promise<boolean>;
  /** Ends the claim (only this one: a claim that expired and was taken by another run is left alone). */
  releaseClaim(claim: RemovalClaim): Promise<void>;
  /** True for the first caller per partner and interval (SET NX with expiry): the janitor may run now. */
  startJanitorRun(partnerId: string, intervalMs: number): Promise<boolean>;
}

// KEYS: registry hash, claim key. ARGV: path, deliveryId.
const REGISTER_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

// KEYS: registry hash. ARGV: path, deliveryId.
const RELEASE_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
`;

// KEYS: registry hash, claim key. ARGV: path, token, ttlMs. 1 claimed, 0 registered, -1 claimed already.
const CLAIM_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return -1
`;

// KEYS: claim key. ARGV: token, ttlMs.
const CONFIRM_CLAIM_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

// KEYS: claim key. ARGV: token.
const RELEASE_CLAIM_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

const registerScript = createLuaScript(REGISTER_LUA);
const releaseScript = createLuaScript(RELEASE_LUA);
const claimScript = createLuaScript(CLAIM_LUA);
const confirmClaimScript = createLuaScript(CONFIRM_CLAIM_LUA);
const releaseClaimScript = createLuaScript(RELEASE_CLAIM_LUA);

export function createTempRegistry(redis: Redis | Cluster, keys: RedisKeys): TempRegistry {
  return {
    async register(partnerId, remotePath, deliveryId) {
      const done = await redisCall(() =>
        registerScript.run(
          redis,
          [keys.tempRegistry(partnerId), keys.tempRemovalClaim(partnerId, remotePath)],
          [remotePath, deliveryId],
        ),
      );
      if (done !== 1) {
        throw new FerryError(
          'ERR_TEMP_BUSY',
          `the janitor is removing an old file at ${remotePath}; it is not written until that is over`,
          { details: { partnerId, remotePath, deliveryId } },
        );
      }
    },

    async release(partnerId, remotePath, deliveryId) {
      const removed = await redisCall(() =>
        releaseScript.run(redis, [keys.tempRegistry(partnerId)], [remotePath, deliveryId]),
      );
      return removed === 1;
    },

    async listRegistered(partnerId) {
      return new Map(Object.entries(await redisCall(() => redis.hgetall(keys.tempRegistry(partnerId)))));
    },

    async claimForRemoval(partnerId, remotePath, ttlMs) {
      const claim: RemovalClaim = { partnerId, remotePath, token: randomUUID() };
      const reply = await redisCall(() =>
        claimScript.run(
          redis,
          [keys.tempRegistry(partnerId), keys.tempRemovalClaim(partnerId, remotePath)],
          [remotePath, claim.token, Math.max(1, Math.round(ttlMs))],
        ),
      );
      if (reply === 1) return { ok: true, claim };
      return { ok: false, reason: reply === 0 ? 'registered' : 'claimed' };
    },

    async confirmClaim(claim, ttlMs) {
      const reply = await redisCall(() =>
        confirmClaimScript.run(
          redis,
          [keys.tempRemovalClaim(claim.partnerId, claim.remotePath)],
          [claim.token, Math.max(1, Math.round(ttlMs))],
        ),
      );
      return reply === 1;
    },

    async releaseClaim(claim) {
      await redisCall(() =>
        releaseClaimScript.run(
          redis,
          [keys.tempRemovalClaim(claim.partnerId, claim.remotePath)],
          [claim.token],
        ),
      );
    },

    async startJanitorRun(partnerId, intervalMs) {
      const reply = await redisCall(() =>
        redis.set(keys.janitorRan(partnerId), new Date().toISOString(), 'PX', Math.max(1, intervalMs), 'NX'),
      );
      return reply === 'OK';
    },
  };
}
