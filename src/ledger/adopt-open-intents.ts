// Once per partner: the temp files of publish intents recorded before deliveries registered their
// temps (src/ledger/temp-registry.ts) are registered now, so the janitor never takes the evidence of a
// delivery that was publishing, or failed with its intent kept, when Ferry was upgraded.
import { posix } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { tempNameFor } from '../core/delivery-id.js';
import type { RedisKeys } from './redis-keys.js';
import type { TempRegistry } from './temp-registry.js';

const BATCH = 500;

/** Registers the temp path of every open intent of the partner, the first time it is asked; returns how many. */
export async function adoptOpenIntents(
  redis: Redis | Cluster,
  keys: RedisKeys,
  temps: Pick<TempRegistry, 'register'>,
  partnerId: string,
): Promise<number> {
  const flag = keys.openIntentsAdopted(partnerId);
  if ((await redis.exists(flag)) === 1) return 0;
  let adopted = 0;
  let cursor = '0';
  do {
    const [next, flat] = await redis.zscan(keys.partnerDeliveries(partnerId), cursor, 'COUNT', BATCH);
    cursor = next;
    const ids = flat.filter((_, i) => i % 2 === 0);
    const pipeline = redis.pipeline();
    for (const id of ids) {
      pipeline.hmget(keys.delivery(id), 'status', 'phase', 'sha256', 'remotePath', 'tempPath');
    }
    const replies = (await pipeline.exec()) ?? [];
    for (const [i, id] of ids.entries()) {
      const [status = null, phase = null, sha256 = null, remotePath = null, tempPath = null] = (replies[
        i
      ]?.[1] ?? []) as (string | null)[];
      const open = status === 'publishing' || status === 'failed';
      // A record without a phase predates phases: its digest marks an intent (src/core/publish-protocol.ts phaseOf).
      const intent = phase === 'intent' || (phase === null && sha256 !== null);
      if (!open || !intent || remotePath === null) continue;
      const temp =
        tempPath ?? posix.join(posix.dirname(remotePath), tempNameFor(posix.basename(remotePath), id));
      await temps.register(partnerId, temp, id);
      adopted += 1;
    }
  } while (cursor !== '0');
  await redis.set(flag, new Date().toISOString());
  return adopted;
}
