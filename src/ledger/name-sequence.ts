// `{seq}` numbers for `naming.filename`. A number is given once per delivery and kept in Redis, so
// every retry of that delivery (and a run after a worker crash) renders the same name and the
// exactly-once checks (temp name, "already there?") keep working. Numbers count per partner per
// scope (the name with the number masked, src/core/filename-template.ts sequenceScopeFor).
//
// A number once given is never given again, even when its delivery is later quarantined or skipped:
// such a delivery leaves a gap. Counters and assignments live as long as the ledger index (no expiry):
// a redelivery months later still finds its original's number. Like the ledger, they are only as
// durable as Redis: a Redis that loses them starts the counters again at 1 (onExisting then guards
// against overwriting a file the partner still has).
import type { Cluster, Redis } from 'ioredis';
import { classifyError } from '../core/classify-error.js';
import { remoteNameFor, sequenceScopeFor, type NamingPartner } from '../core/filename-template.js';
import type { RemoteNameResult } from '../core/remote-name.js';
import { PermanentError } from '../errors.js';
import { createLuaScript } from './lua-script.js';
import type { RedisKeys } from './redis-keys.js';

export interface NameSequence {
  /**
   * The `{seq}` number of `deliveryId` in `scope`: the one given before, else the scope's next one.
   * A delivery whose scope changed (the template was edited) gets a new number in the new scope.
   */
  numberFor(partnerId: string, scope: string, deliveryId: string): Promise<number>;
}

// KEYS: assignment hash, counter. ARGV: scope. Atomic: two runs of one delivery get one number.
const NUMBER_FOR_LUA = `
if redis.call('HGET', KEYS[1], 'scope') == ARGV[1] then
  return tonumber(redis.call('HGET', KEYS[1], 'n'))
end
local n = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'scope', ARGV[1], 'n', n)
return n
`;

const numberForScript = createLuaScript(NUMBER_FOR_LUA);

/** The Redis `{seq}` counters (keys under the ledger's hash tag: one Cluster slot for the script). */
export function createNameSequence(redis: Redis | Cluster, keys: RedisKeys): NameSequence {
  return {
    async numberFor(partnerId, scope, deliveryId) {
      let reply: unknown;
      try {
        reply = await numberForScript.run(
          redis,
          [keys.nameSequenceOf(deliveryId), keys.nameSequence(partnerId, scope)],
          [scope],
        );
      } catch (err) {
        throw classifyError(err, 'redis');
      }
      if (typeof reply !== 'number' || !Number.isSafeInteger(reply) || reply < 1) {
        throw classifyError(new Error(`unexpected {seq} reply ${String(reply)}`), 'redis');
      }
      return reply;
    },
  };
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
): Promise<RemoteNameResult> {
  const scoped = sequenceScopeFor(partner, object);
  if (scoped === undefined || !scoped.ok) return scoped ?? remoteNameFor(partner, object);
  if (!sequence) {
    throw new PermanentError(
      'ERR_CONFIG_INVALID',
      'naming.filename uses {seq} but no name sequence is wired',
    );
  }
  const seq = await sequence.numberFor(partner.id, scoped.scope, object.numberedAs);
  return remoteNameFor(partner, { key: object.key, lastModified: object.lastModified, seq });
}
