// The janitor's side of the protocol (src/ledger/temp-registry.ts): a delivery registers every temp or
// aside file before it writes it, so the janitor never removes evidence a live delivery still needs,
// and releases them once nothing will read them again.
import { posix } from 'node:path';
import { tempNameFor } from '../../src/core/delivery-id.js';
import { asidePathFor } from '../../src/core/janitor.js';
import { overwrites, type Delivery } from './context.js';
import { sidecarsFor } from './sidecars.js';

/** Registers one file this delivery is about to create or truncate (ERR_TEMP_BUSY while the janitor removes it). */
export async function registerTemp(d: Delivery, path: string): Promise<void> {
  await d.deps.temps.register(d.id.partnerId, path, d.id.deliveryId);
}

/**
 * Releases every temp/aside path the delivery may have registered: called when it settled
 * (delivered, superseded, skipped, quarantined) or failed before its intent. Best effort: a left
 * registration only keeps the janitor away from a file that is gone anyway.
 */
export async function releaseTemps(d: Delivery): Promise<void> {
  if (d.partner.target.publish !== 'rename') return;
  const dir = posix.dirname(d.remotePath);
  const paths = [
    d.tempPath,
    ...(overwrites(d) ? [asidePathFor(d.tempPath)] : []),
    ...sidecarsFor(d.partner, d.remotePath).map((s) => posix.join(dir, tempNameFor(s.name, d.id.deliveryId))),
  ];
  try {
    await Promise.all(paths.map((p) => d.deps.temps.release(d.id.partnerId, p, d.id.deliveryId)));
  } catch (err) {
    d.log.warn(
      { err: String(err) },
      'could not release temp-file registrations (the janitor keeps away from them)',
    );
  }
}
