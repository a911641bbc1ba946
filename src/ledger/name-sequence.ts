// `{seq}` numbers for `naming.filename`. A number is given once per delivery and kept in Redis, so
// every retry of that delivery (and a run after a worker crash) renders the same name and the
// exactly-once checks (temp name, "already there?") keep working. Numbers count per partner per
// scope (the name with the number masked, src/core/filename-template.ts sequenceScopeFor).
//
// A number once given is never given again, even when its delivery is later quarantined or skipped:
// such a delivery leaves a gap. So the deliver processor asks for it as late as it can: after the
// name's checks with a sample number (sampleRemoteName) and after the CSV check of a file read before
// its upload, so a file those quarantine takes no number. A file checked inline (larger than
// validate.prevalidateMaxBytes) needs its name before the upload, and so its number: its quarantine
// leaves a gap. Numbers follow delivery order, not key order (with concurrency ≥ 2).
// Counters and assignments live as long as the ledger index (no expiry): a redelivery months later
// still finds its original's number. A delivered number is also written to
// the delivery's S3 receipt: when Redis loses data, rebuilding the ledger from the receipts
// (ledger-trust.ts) raises each counter to at least the highest number delivered, and no number is
// given until then (the script refuses while the ledger is not trusted on this Redis server), so a
// later file never reuses a number the partner already has — which `onExisting: overwrite` would
// otherwise turn into replacing that file.
import type { Cluster, Redis } from 'ioredis';
import { classifyError } from '../core/classify-error.js';
import { remoteNameFor, sequenceScopeFor, type NamingPartner } from '../core/filename-template.js';
import type { RemoteNameResult } from '../core/remote-name.js';
import { FerryError } from '../errors.js';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';

export interface NameSequence {
  /**
   * The `{seq}` number of `deliveryId` in `scope`: the one given before, else the scope's next one.
   * A delivery whose scope changed (the template was edited) gets a new number in the new scope.
   */
  numberFor(partnerId: string, scope: string, deliveryId: string): Promise<number>;
  /**
   * From a receipt, after Redis lost data: the scope's counter becomes at least `n`, and `deliveryId`
   * keeps `n` unless it already holds a number. Safe to repeat, in any order.
   */
  restore(partnerId: string, scope: string, deliveryId: string, n: number): Promise<void>;
}

export interface NameSequenceOptions {
  /** How long numberFor waits for the ledger to be trusted before failing (transient, retried). */
  untrustedWaitMs?: number;
}

// KEYS: assignment hash, counter, ledger trust hash. ARGV: scope. Atomic: two runs of one delivery get
// one number. A new number is given only while the ledger is trusted on this very server (trust hash
// written on it, ledger-trust.ts): until the rebuild has raised the counters from the receipts, a
// counter that Redis lost would start again below numbers already delivered. -1 = not trusted yet.
const NUMBER_FOR_LUA = `
if redis.call('HGET', KEYS[1], 'scope') == ARGV[1] then
  return tonumber(redis.call('HGET', KEYS[1], 'n'))
end
local trusted = redis.call('HGET', KEYS[3], 'server')
local runId = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
if not trusted or not runId or not string.find(trusted, runId, 1, true) then return -1 end
local n = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'scope', ARGV[1], 'n', n)
return n
`;

// KEYS: assignment hash, counter. ARGV: scope, n. counter = max(counter, n); the assignment if absent.
const RESTORE_LUA = `
local n = tonumber(ARGV[2])
if (tonumber(redis.call('GET', KEYS[2])) or 0) < n then redis.call('SET', KEYS[2], n) end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'scope', ARGV[1], 'n', n)
end
return 1
`;

const numberForScript = createLuaScript(NUMBER_FOR_LUA);
const restoreScript = createLuaScript(RESTORE_LUA);

/** How long a delivery waiting for a `{seq}` number sits delayed before it asks again. */
export const UNTRUSTED_RECHECK_MS = 5_000;

/** numberFor gave up because the ledger is still being rebuilt (no new number can be given yet). */
export function isLedgerUntrusted(err: unknown): boolean {
  return err instanceof FerryError && err.details?.ledgerUntrusted === true;
}

/** The Redis `{seq}` counters (keys under the ledger's hash tag: one Cluster slot for the script). */
export function createNameSequence(
  redis: Redis | Cluster,
  keys: RedisKeys,
  options: NameSequenceOptions = {},
): NameSequence {
  const waitMs = options.untrustedWaitMs ?? 5_000;
  return {
    async numberFor(partnerId, scope, deliveryId) {
      const deadline = Date.now() + waitMs;
      for (let pauseMs = 100; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
        let reply: unknown;
        try {
          reply = await numberForScript.run(
            redis,
            [keys.nameSequenceOf(deliveryId), keys.nameSequence(partnerId, scope), keys.ledgerTrust],
            [scope],
          );
        } catch (err) {
          throw classifyError(err, 'redis');
        }
        if (reply === -1) {
          // The ledger is being rebuilt from receipts (Redis restarted or lost data): wait, then retry.
          if (Date.now() + pauseMs > deadline) {
            throw new FerryError(
              'ERR_REDIS_UNAVAILABLE',
              'no {seq} number given: the ledger is not trusted yet (being rebuilt from S3 receipts)',
              { details: { ledgerUntrusted: true } },
            );
          }
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
          continue;
        }
        if (typeof reply !== 'number' || !Number.isSafeInteger(reply) || reply < 1) {
          throw classifyError(new Error(`unexpected {seq} reply ${String(reply)}`), 'redis');
        }
        return reply;
      }
    },

    async restore(partnerId, scope, deliveryId, n) {
      if (!Number.isSafeInteger(n) || n < 1) return; // a hand-edited receipt: nothing to raise
      try {
        await restoreScript.run(
          redis,
          [keys.nameSequenceOf(deliveryId), keys.nameSequence(partnerId, scope)],
          [scope, n],
        );
      } catch (err) {
        throw classifyError(err, 'redis');
      }
    },
  };
}

/** A delivery's final name, and the `{seq}` number it took (recorded in its receipt). */
export type DeliveryRemoteName =
  Exclude<RemoteNameResult, { ok: true }> | { ok: true; name: string; seq?: { scope: string; n: number } };

/**
 * A `{seq}` partner's name with a sample number of the token's width — the check sequenceScopeFor
 * makes before a number is given — so a name (or a sidecar's) breaking a safe-name rule is quarantined
 * before the file is read and takes no number. `undefined` when the template has no `{seq}`.
 */
export function sampleRemoteName(
  partner: NamingPartner,
  object: { key: string; lastModified: Date },
): RemoteNameResult | undefined {
  const width = partner.naming?.filename?.seq?.width;
  if (width === undefined) return undefined;
  const { key, lastModified } = object;
  return remoteNameFor(partner, { key, lastModified, seq: 10 ** Math.max(width - 1, 0) });
}

/**
 * The final remote name of one delivery. Without `{seq}` it is remoteNameFor's; with it, the number
 * is taken (or read back) under `numberedAs`: the object version's delivery id, which a redelivery
 * shares with its original (same number, same name, like a key-derived name). A name that breaks a
 * safe-name rule gets no number.
 */
export async function deliveryRemoteName(
  sequence: NameSequence | undefined,
  partner: NamingPartner,
  object: { key: string; lastModified: Date; numberedAs: string },
): Promise<DeliveryRemoteName> {
  const scoped = sequenceScopeFor(partner, object);
  if (scoped === undefined || !scoped.ok) return scoped ?? remoteNameFor(partner, object);
  if (!sequence) {
    throw new FerryError('ERR_CONFIG_INVALID', 'naming.filename uses {seq} but no name sequence is wired');
  }
  const seq = await sequence.numberFor(partner.id, scoped.scope, object.numberedAs);
  const named = remoteNameFor(partner, { key: object.key, lastModified: object.lastModified, seq });
  return named.ok ? { ...named, seq: { scope: scoped.scope, n: seq } } : named;
}
