// The SFTP side of `naming.checksumFile` / `naming.doneFile` (decisions in src/core/sidecar-files.ts).
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { SftpSession } from '../../src/core/ports.js';
import type { PartnerConfig } from '../../src/config/schema.js';
import { classifyError } from '../../src/core/classify-error.js';
import { tempNameFor } from '../../src/core/delivery-id.js';
import {
  missingDigest,
  planSidecars,
  sidecarSize,
  type DeliveredDigests,
  type Sidecar,
} from '../../src/core/sidecar-files.js';
import { FerryError } from '../../src/errors.js';
import { PermanentError } from '../job-errors.js';
import { hitFailpoint } from '../../src/failpoints.js';
import { nextSidecarStep, type SidecarFacts, type SidecarPhase } from '../../src/core/publish-protocol.js';
import type { Delivery } from './context.js';

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
 * Publishes the sidecars of a published data file, in order (checksum, then done), each by the
 * protocol's sidecar steps (src/core/publish-protocol.ts nextSidecarStep): written to its temp name
 * (in place for publish: direct), verified, its intent recorded, renamed, recorded published before
 * the next. A member recorded published is never sent again, even when the partner took it away.
 * Returns the whole set's paths for the receipt.
 */
export async function publishSidecars(
  d: Delivery,
  session: SftpSession,
  digests: DeliveredDigests,
): Promise<{ path: string; kind: Sidecar['kind'] }[]> {
  const { deps, partner, id, remotePath } = d;
  assertDigestRecorded(partner, digests);
  const dir = posix.dirname(remotePath);
  const sidecars = sidecarsFor(partner, remotePath, digests);
  const mode = partner.target.publish;
  const published = [...(d.known?.sidecarsPublished ?? [])];
  let intent = d.known?.sidecarIntent;
  for (const sidecar of sidecars) {
    if (d.superseded === 'newer-published' && !published.includes(sidecar.kind)) {
      // The data file was published, then a newer version replaced it: this one's checksum or done file
      // would describe bytes the partner no longer has. The receipt lists the members that were sent.
      d.log.warn(
        { sidecar: sidecar.kind },
        'sidecar not sent: a newer version was published to the path since',
      );
      continue;
    }
    const finalPath = posix.join(dir, sidecar.name);
    const tempPath =
      mode === 'rename' ? posix.join(dir, tempNameFor(sidecar.name, id.deliveryId)) : finalPath;
    const phase: SidecarPhase = published.includes(sidecar.kind)
      ? 'published'
      : intent === sidecar.kind
        ? 'intent'
        : 'none';
    const size = sidecarSize(sidecar);
    const facts: SidecarFacts = { mode, phase, size };
    if (phase === 'intent' && mode === 'rename') {
      const found = await session.stat(tempPath);
      if (found) facts.temp = { size: found.size };
    }
    for (let i = 0; i < 5; i++) {
      const step = nextSidecarStep(facts);
      if (step.step === 'done') break;
      if (step.step === 'write') {
        if (mode === 'rename') await d.deps.temps.register(id.partnerId, tempPath, id.deliveryId);
        await writeVerified(session, partner, tempPath, sidecar);
        await deps.ledger.record({ ...id, status: 'publishing', sidecarIntent: sidecar.kind });
        intent = sidecar.kind;
        await hitFailpoint('after_sidecar_intent');
        Object.assign(facts, { phase: 'intent', temp: { size } });
      } else if (step.step === 'rename') {
        await renameSidecar(session, tempPath, finalPath);
        await hitFailpoint('after_sidecar');
        delete facts.temp;
      } else {
        published.push(sidecar.kind);
        await deps.ledger.record({ ...id, status: 'publishing', sidecarsPublished: published });
        facts.phase = 'published';
      }
    }
  }
  return sidecars
    .filter((s) => published.includes(s.kind))
    .map((s) => ({ path: posix.join(dir, s.name), kind: s.kind }));
}

async function writeVerified(
  session: SftpSession,
  partner: PartnerConfig,
  path: string,
  sidecar: Sidecar,
): Promise<void> {
  const body = Buffer.from(sidecar.content, 'utf8');
  // Sized on the open handle: a partner may take a done file written in place the moment it is closed.
  const { sizeBeforeClose: size } = await session.upload(path, Readable.from(body.length > 0 ? [body] : []), {
    mode: partner.target.fileMode,
    sizeBeforeClose: true,
    fsync: partner.target.fsync !== false,
  });
  if (size !== sidecarSize(sidecar)) {
    throw new FerryError(
      'ERR_SIZE_MISMATCH',
      `${sidecar.kind} file ${path}: ${size ?? 'no'} bytes on the partner, wrote ${body.length}`,
    );
  }
}

async function renameSidecar(session: SftpSession, from: string, to: string): Promise<void> {
  try {
    if (session.supportsPosixRename) {
      await session.posixRename(from, to);
    } else {
      // Stale members were cleared before the data file was published: one there now is an earlier
      // attempt's of this delivery (a plain rename cannot replace it).
      if (await session.stat(to)) await session.remove(to);
      await session.rename(from, to);
    }
  } catch (err) {
    throw classifyError(err, 'sftp');
  }
}
