// The publish protocol (PROTOCOL.md): from what the ledger recorded and what the partner shows, the
// next step of one delivery. Pure; the delivery steps (jobs/delivery/) gather the facts, carry the
// step out and ask again, until the data file is published or the delivery settles otherwise.
//
//   none ──upload──► intent ──rename──► published ──sidecars──► receipt ──► delivered
//    │  (rename mode: temp      │ (temp gone ⇒ the rename happened)
//    │   verified, then intent) └─ final appeared meanwhile: onExisting (overwrite / skip / fail)
//    └──write──► writing ──verified──► published          (direct mode: the final name is written in place)
//
// Evidence rules: after the intent, only the rename consumes the verified temp file (a failure keeps
// it; giving up withdraws the intent *before* removing it), so temp absent ⇒ published; a final file
// is never proof by its size: where it could be ours it is read back and hashed (check-final).

/** Where a delivery's data file stands, as the ledger records it (independent of the record's status). */
export type PublishPhase = 'none' | 'writing' | 'intent' | 'published';

export type PublishMode = 'rename' | 'direct';
export type OnExisting = 'fail' | 'overwrite' | 'skip';

/** A remote file as stat() shows it. */
export interface RemoteFile {
  size: number;
}

export interface PublishFacts {
  mode: PublishMode;
  onExisting: OnExisting;
  phase: PublishPhase;
  /**
   * Size of the verified bytes, recorded with the intent (phase `intent`); direct mode, phase
   * `writing`: the size expected in place, recorded only when the bytes are sent as stored.
   */
  recordedSize?: number;
  /** Rename mode: this delivery's temp file, absent when undefined. */
  temp?: RemoteFile;
  /** The file at the final name, absent when undefined. */
  final?: RemoteFile;
  /** The final file read back and hashed: true when it holds the recorded bytes (undefined: not checked). */
  finalIsOurs?: boolean;
  /** Direct mode: the file at the final name is a fragment Ferry wrote for another delivery of this path. */
  finalIsFerryFragment?: boolean;
  /** The name carries a `{seq}` number just given: a file already there means a number was given twice. */
  freshName?: boolean;
  /**
   * An operator's redelivery with `--replace`: a partner's file at the final name is replaced as
   * `onExisting: overwrite` would (rename mode only: direct would truncate it before the new one is verified).
   */
  replace?: boolean;
  /** A newer version of the object was published to this path, or S3 holds another version now. */
  superseded?: SupersededBy;
  /** S3 no longer holds the object at all (checked when an earlier attempt's intent is resumed). */
  sourceGone?: boolean;
}

export type SupersededBy = 'newer-published' | 'source-replaced';

/** What the partner's file at the final name makes of a delivery that would replace it. */
export type SettleWithoutPublishing =
  | { kind: 'superseded'; by: SupersededBy }
  | { kind: 'skipped'; reason: 'remote-exists' | 'source-gone' }
  | { kind: 'failed'; code: 'ERR_REMOTE_EXISTS'; message: string };

export type PublishStep =
  /** Write the bytes: rename mode to the temp file (then verify, record the intent), direct mode in place. */
  | { step: 'upload'; why: 'new' | 'torn-temp' | 'own-fragment' | 'replace' }
  /** Move the verified temp file to the final name, honouring onExisting. */
  | { step: 'rename'; replace: boolean }
  /** Read the final file back and hash it, then ask again with `finalIsOurs`. */
  | { step: 'check-final' }
  /** The data file is published: record it (and remove the temp file left by a half-done link + unlink). */
  | { step: 'published'; removeTemp: boolean }
  /** Never publish: withdraw the intent (if any), then remove this delivery's temp file, then settle. */
  | { step: 'settle'; outcome: SettleWithoutPublishing };

/**
 * The next step of the data file's publish. Call again after each step with fresh facts; `published`
 * and `settle` end the loop. Every row of PROTOCOL.md's decision table is one branch here.
 */
export function nextPublishStep(f: PublishFacts): PublishStep {
  if (f.phase === 'published') return { step: 'published', removeTemp: false };
  // Only the rename consumes a temp file after the intent: its absence proves the publish.
  const renamed = f.mode === 'rename' && f.phase === 'intent' && f.temp === undefined;
  if (renamed) return { step: 'published', removeTemp: false };
  // Never publish an older version after a newer one (a direct fragment is left for the newer one to replace).
  if (f.superseded !== undefined) return settle({ kind: 'superseded', by: f.superseded });
  if (f.sourceGone === true) return settle({ kind: 'skipped', reason: 'source-gone' });
  if (f.mode === 'direct') {
    if (f.phase === 'writing') {
      // Complete but not yet recorded (a crash between the close and the record)? Read it back where
      // the bytes can be compared (sent as stored, size recorded); else the fragment is Ferry's own to
      // rewrite, whatever onExisting says.
      const maybeComplete = f.final !== undefined && f.final.size === f.recordedSize;
      if (maybeComplete && f.finalIsOurs === undefined) return { step: 'check-final' };
      if (maybeComplete && f.finalIsOurs === true) return { step: 'published', removeTemp: false };
      return { step: 'upload', why: 'own-fragment' };
    }
    if (f.final === undefined) return { step: 'upload', why: 'new' };
    if (f.finalIsFerryFragment === true) return { step: 'upload', why: 'replace' };
    return partnerFileAt(f) ?? { step: 'upload', why: 'replace' };
  }
  if (f.phase === 'intent') {
    if (f.temp === undefined || f.recordedSize === undefined || f.temp.size !== f.recordedSize) {
      return { step: 'upload', why: 'torn-temp' };
    }
    if (f.final === undefined) return { step: 'rename', replace: false };
    // Both names there: a rename done as link + unlink may have stopped half way (same bytes twice).
    if (f.final.size === f.recordedSize && f.finalIsOurs === undefined) return { step: 'check-final' };
    if (f.finalIsOurs === true) return { step: 'published', removeTemp: true };
    return partnerFileAt(f) ?? { step: 'rename', replace: true };
  }
  if (f.final === undefined) return { step: 'upload', why: 'new' };
  return partnerFileAt(f) ?? { step: 'upload', why: 'replace' };
}

/** A partner's file at the final name: undefined when onExisting lets Ferry replace it. */
function partnerFileAt(f: PublishFacts): PublishStep | undefined {
  if (f.freshName === true) {
    return settle({
      kind: 'failed',
      code: 'ERR_REMOTE_EXISTS',
      message:
        'already exists on the partner although its {seq} number was just given (were Redis counters lost?); not overwriting it',
    });
  }
  if (f.replace === true && f.mode === 'rename') return undefined;
  if (f.onExisting === 'skip') return settle({ kind: 'skipped', reason: 'remote-exists' });
  if (f.onExisting === 'fail') {
    return settle({
      kind: 'failed',
      code: 'ERR_REMOTE_EXISTS',
      message: 'already exists on the partner (onExisting: fail)',
    });
  }
  return undefined;
}

function settle(outcome: SettleWithoutPublishing): PublishStep {
  return { step: 'settle', outcome };
}

/** Where one sidecar (checksum or done file) stands, as the ledger records it. */
export type SidecarPhase = 'none' | 'intent' | 'published';

export interface SidecarFacts {
  mode: PublishMode;
  phase: SidecarPhase;
  /** Its content's size (sidecars are a few bytes: the content is known, not recorded). */
  size: number;
  /** Rename mode: the sidecar's temp file. */
  temp?: RemoteFile;
  final?: RemoteFile;
}

export type SidecarStep =
  /** Already published (recorded): never again, even if the partner took it away. */
  | { step: 'done' }
  /** Write it (to its temp name, or in place in direct mode), verify, record its intent. */
  | { step: 'write' }
  | { step: 'rename' }
  /** Record it published (the rename or the write happened). */
  | { step: 'record' };

/** The next step of one sidecar: the data file's rules at the size of a few bytes. */
export function nextSidecarStep(f: SidecarFacts): SidecarStep {
  if (f.phase === 'published') return { step: 'done' };
  if (f.phase === 'none') return { step: 'write' };
  // direct: its intent is recorded after the write in place was verified, so it was published (even
  // if the partner has taken it since).
  if (f.mode === 'direct') return { step: 'record' };
  if (f.temp === undefined) return { step: 'record' };
  if (f.temp.size !== f.size) return { step: 'write' };
  return { step: 'rename' };
}

/**
 * The phase of a record written before phases were recorded (or by this version): an intent is
 * known by its digest. Rename mode: a digest means intent; direct mode: a digest means the file in
 * place was verified (published), a remote path alone that Ferry was writing it.
 */
export function phaseOf(
  record: { phase?: PublishPhase; sha256?: string; remotePath?: string; status?: string } | undefined,
  mode: PublishMode,
): PublishPhase {
  if (record === undefined) return 'none';
  if (record.phase !== undefined) return record.phase;
  const intentKept = record.status === 'publishing' || record.status === 'failed';
  if (!intentKept) return 'none';
  if (record.sha256 !== undefined) return mode === 'rename' ? 'intent' : 'published';
  return mode === 'direct' && record.remotePath !== undefined ? 'writing' : 'none';
}
