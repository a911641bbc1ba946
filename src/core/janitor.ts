// Which files in a partner's directory are Ferry's own leftovers: temp files of attempts that will
// never resume (`tempNameFor` in delivery-id.ts) and the `.old` file a crash leaves inside the
// non-atomic overwrite. Pure: the job lists the directory and asks the temp registry; this decides.
import { posix } from 'node:path';
import { deriveRemoteName } from './remote-name.js';

/** `part`: an upload's temp file; `old`: the partner's previous file moved aside by an overwrite. */
export type LeftoverKind = 'part' | 'old';

/** One directory entry as an SFTP listing reports it. */
export interface ListedEntry {
  name: string;
  size: number;
  /** Modification time (the server's clock, whole seconds over SFTP v3). */
  mtime: Date;
  /** POSIX mode bits (file type included). */
  mode: number;
}

/** What a name that follows Ferry's temp pattern tells. */
export interface LeftoverName {
  kind: LeftoverKind;
  /** The final name the temp was for, possibly cut to fit 255 bytes. */
  finalName: string;
  /** The first 12 hex digits of the delivery hash. */
  deliveryHashPrefix: string;
  /** The redelivery number (`-r<n>`), when the temp belonged to a redelivery. */
  redelivery?: number;
}

/** Why a Ferry-pattern entry is kept; entries that do not follow the pattern are never looked at. */
export type KeepReason = 'registered' | 'too-young' | 'not-a-file';

export interface LeftoverDecision {
  name: string;
  /** Directory + name, joined like the delivery path joins it (the registry's key). */
  path: string;
  kind: LeftoverKind;
  size: number;
  /** now − mtime, in ms (negative when the server's clock is ahead). */
  ageMs: number;
  action: 'remove' | 'keep';
  /** `orphan`: old enough and registered to no live delivery; else why it is kept. */
  reason: 'orphan' | KeepReason;
}

export interface SelectLeftoversInput {
  /** The partner's target directory, as the delivery path joins it. */
  directory: string;
  entries: readonly ListedEntry[];
  now: Date;
  /** Only files at least this old are removed. */
  minAgeMs: number;
  /** Paths a live delivery registered (temp-registry.ts): never removed, whatever their age. */
  registered: ReadonlySet<string>;
}

// `.<final>.<12 hex>[-r<n>].part` or `.old`: exactly what tempNameFor and the overwrite's aside produce.
const LEFTOVER_PATTERN = /^\.(.+)\.([0-9a-f]{12})(?:-r([1-9][0-9]{0,5}))?\.(part|old)$/;
// A name tempNameFor had to cut: its final-name part may then end in "." or whitespace.
const CUT_NAME_BYTES = 255 - 4;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/**
 * Parses a file name as one of Ferry's temp or aside names; undefined for anything else. The
 * final-name part must itself be a name Ferry could have published (the safe-name rules of
 * remote-name.ts, which forbid a leading "."), so a partner's dotfile or a hostile name never
 * qualifies. A name cut by tempNameFor may end in "." or whitespace, which the rules otherwise refuse.
 */
export function parseLeftoverName(name: string): LeftoverName | undefined {
  const match = LEFTOVER_PATTERN.exec(name);
  if (match === null) return undefined;
  const [, finalName = '', hash = '', redelivery, ext] = match;
  const checked = deriveRemoteName(finalName, '');
  if (!checked.ok) {
    const cut = Buffer.byteLength(name, 'utf8') >= CUT_NAME_BYTES;
    if (!cut || (checked.rule !== 'trailing-dot' && checked.rule !== 'surrounding-whitespace')) {
      return undefined;
    }
    // Only the end may have been cut; the start follows every rule.
    if (finalName.startsWith('.') || finalName.startsWith('-') || /^\s/u.test(finalName)) return undefined;
    if (!deriveRemoteName(finalName.replace(/[.\s]+$/u, ''), '').ok) return undefined;
  }
  return {
    kind: ext === 'old' ? 'old' : 'part',
    finalName,
    deliveryHashPrefix: hash,
    ...(redelivery === undefined ? {} : { redelivery: Number(redelivery) }),
  };
}

/** The aside name the non-atomic overwrite moves the partner's file to, from the temp path. */
export function asidePathFor(tempPath: string): string {
  return `${tempPath.replace(/\.part$/, '')}.old`;
}

/**
 * Decides, for every entry whose name follows Ferry's temp/aside pattern, whether it is a leftover
 * to remove: a regular file, at least `minAgeMs` old, and registered to no live delivery. Entries
 * that do not follow the pattern (the partner's files, final names, other dotfiles) are left out of
 * the result entirely. Removals come first, oldest first.
 */
export function selectLeftovers(input: SelectLeftoversInput): LeftoverDecision[] {
  const decisions: LeftoverDecision[] = [];
  for (const entry of input.entries) {
    const parsed = parseLeftoverName(entry.name);
    if (parsed === undefined) continue;
    const path = posix.join(input.directory, entry.name);
    const ageMs = input.now.getTime() - entry.mtime.getTime();
    // False for an mtime the server did not report (NaN): unknown age counts as young, never as old.
    const oldEnough = ageMs >= input.minAgeMs;
    const reason: LeftoverDecision['reason'] = !isRegularFile(entry.mode)
      ? 'not-a-file'
      : input.registered.has(path)
        ? 'registered'
        : oldEnough
          ? 'orphan'
          : 'too-young';
    decisions.push({
      name: entry.name,
      path,
      kind: parsed.kind,
      size: entry.size,
      ageMs,
      action: reason === 'orphan' ? 'remove' : 'keep',
      reason,
    });
  }
  return decisions.sort(
    (a, b) => Number(a.action === 'keep') - Number(b.action === 'keep') || b.ageMs - a.ageMs,
  );
}

/**
 * The re-check after the removal claim is held: the entry as listed again must still be there, still
 * a regular file and still old enough (a write since the first listing makes it young again).
 */
export function stillRemovable(entry: ListedEntry | undefined, now: Date, minAgeMs: number): boolean {
  return (
    entry !== undefined &&
    isRegularFile(entry.mode) &&
    parseLeftoverName(entry.name) !== undefined &&
    now.getTime() - entry.mtime.getTime() >= minAgeMs
  );
}

/** A regular file (not a directory, link or device), from a listing's POSIX mode bits. */
export function isRegularFile(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}

/**
 * One line of `ferry janitor`: `remove  part  <size> B  <age>  <name>`, or `keep …  (<reason>)`.
 * The names printed all follow Ferry's pattern, which admits no control or bidi characters.
 */
export function formatLeftoverLine(d: LeftoverDecision): string {
  const age = d.ageMs < 0 ? 'in the future' : `${formatAge(d.ageMs)} old`;
  const head = `${d.action.padEnd(6)} ${d.kind.padEnd(4)} ${`${d.size} B`.padStart(12)}  ${age.padEnd(14)} ${d.name}`;
  return d.action === 'keep' ? `${head}  (${d.reason})` : head;
}

function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.floor(hours / 24)} d`;
}
