// The SFTP side of `naming.checksumFile` / `naming.doneFile` (decisions in src/core/sidecar-files.ts).
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { SftpSession } from '../src/adapters/ports.js';
import type { PartnerConfig } from '../src/config/schema.js';
import { classifyError } from '../src/core/classify-error.js';
import { tempNameFor } from '../src/core/delivery-id.js';
import {
  missingDigest,
  missingSidecars,
  planSidecars,
  sidecarSize,
  type DeliveredDigests,
  type Sidecar,
} from '../src/core/sidecar-files.js';
import { FerryError, PermanentError } from '../src/errors.js';

/**
 * Checks the partner's sidecar names for a data file before anything is uploaded: the reason one
 * breaks a safe-name rule (e.g. `checksum file name: too-long: …`), which quarantines the delivery.
 */
export function checkSidecarNames(
  partner: PartnerConfig,
  remotePath: string,
): { ok: true } | { ok: false; reason: string } {
  const planned = planSidecars(partner.naming, posix.basename(remotePath), {});
  return planned.ok ? { ok: true } : planned;
}

/** The partner's sidecars for a data file; a name breaking a rule is a permanent error. */
export function sidecarsFor(
  partner: PartnerConfig,
  remotePath: string,
  digests: DeliveredDigests = {},
): Sidecar[] {
  const planned = planSidecars(partner.naming, posix.basename(remotePath), digests);
  if (!planned.ok) throw new PermanentError('ERR_KEY_HOSTILE', `sidecar rejected: ${planned.reason}`);
  return planned.sidecars;
}

/**
 * Throws when a recorded publish intent lacks the digest the checksum file needs: its md5 was not
 * computed (the intent predates `checksumFile: md5`) and the delivered bytes are not read again (a
 * transform may not reproduce them). Checked before a recovery publishes anything.
 */
export function assertDigestRecorded(partner: PartnerConfig, digests: DeliveredDigests): void {
  const missing = missingDigest(partner.naming, digests);
  if (missing === undefined) return;
  throw new PermanentError(
    'ERR_CONFIG_INVALID',
    `naming.checksumFile is ${missing} but this delivery's publish intent was recorded without a ${missing} of the uploaded bytes (the setting changed mid-delivery); set checksumFile back and retry the job so it completes (its data file may already be with the partner), then change it again`,
  );
}

/**
 * Removes sidecars left by an earlier file of the same name, before the data file is published: any
 * sidecar present after the publish was then written for this data file, so a retry can trust a
 * final name with the expected size (a stale checksum file has the same size as a fresh one).
 */
export async function clearStaleSidecars(
  session: SftpSession,
  partner: PartnerConfig,
  remotePath: string,
): Promise<void> {
  for (const s of sidecarsFor(partner, remotePath).reverse()) {
    const path = posix.join(posix.dirname(remotePath), s.name);
    if ((await session.stat(path)) === undefined) continue;
    await session.remove(path);
  }
}

/**
 * Writes the sidecars of a published data file that are not there yet, in order (checksum, then
 * done), each through a temp name and a rename (publish: direct writes in place). Returns the full
 * set's paths for the receipt. Safe to repeat: a member already present with its size is kept.
 */
export async function completeSidecars(
  session: SftpSession,
  partner: PartnerConfig,
  remotePath: string,
  deliveryId: string,
  digests: DeliveredDigests,
): Promise<{ path: string; kind: Sidecar['kind'] }[]> {
  assertDigestRecorded(partner, digests);
  const dir = posix.dirname(remotePath);
  const sidecars = sidecarsFor(partner, remotePath, digests);
  const sizes = new Map<string, number>();
  for (const s of sidecars) {
    const stat = await session.stat(posix.join(dir, s.name));
    if (stat) sizes.set(s.name, stat.size);
  }
  for (const s of missingSidecars(sidecars, sizes)) {
    await writeSidecar(session, partner, dir, s, deliveryId, sizes.has(s.name));
  }
  return sidecars.map((s) => ({ path: posix.join(dir, s.name), kind: s.kind }));
}

async function writeSidecar(
  session: SftpSession,
  partner: PartnerConfig,
  dir: string,
  sidecar: Sidecar,
  deliveryId: string,
  exists: boolean,
): Promise<void> {
  const finalPath = posix.join(dir, sidecar.name);
  const rename = partner.target.publish === 'rename';
  const path = rename ? posix.join(dir, tempNameFor(sidecar.name, deliveryId)) : finalPath;
  const body = Buffer.from(sidecar.content, 'utf8');
  await session.upload(path, Readable.from(body.length > 0 ? [body] : []), { mode: partner.target.fileMode });
  const stat = await session.stat(path);
  if (stat?.size !== sidecarSize(sidecar)) {
    throw new FerryError(
      'ERR_SIZE_MISMATCH',
      `${sidecar.kind} file ${path}: ${stat?.size ?? 'no'} bytes on the partner, wrote ${body.length}`,
    );
  }
  if (!rename) return;
  try {
    if (session.supportsPosixRename) {
      await session.posixRename(path, finalPath);
    } else {
      // A wrong-size member is ours (stale ones are cleared before the data file is published).
      if (exists) await session.remove(finalPath);
      await session.rename(path, finalPath);
    }
  } catch (err) {
    await session.remove(path).catch(() => undefined);
    throw classifyError(err, 'sftp');
  }
}
