// Which listed objects a sweep should consider delivering. Pure: the listing and the clock come in.
import picomatch from 'picomatch';
import { prefixOfKey, type PrefixTemplate } from './prefix-template.js';

/** The fields selection needs from a listed object (the adapters' SourceObject fits). */
export interface ListedObject {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  lastModified: Date;
}

/** Why an object was left out; checked in this order, the first that applies wins. */
export type SkipReason =
  | 'outside-prefix'
  | 'directory-marker'
  | 'marker'
  | 'zero-byte'
  | 'not-included'
  | 'excluded'
  | 'stale'
  | 'settling'
  | 'no-marker';

export interface SelectionRules {
  /** Every key is under it (a dated prefix's static part). */
  prefix: string;
  /** A dated prefix: keys must be under one of its partitions, and globs are relative to it. */
  prefixTemplate?: PrefixTemplate | undefined;
  /** Globs matched against the key relative to the prefix (or partition). Empty means every object. */
  include: readonly string[];
  /** Objects younger than this may still be being written; the next sweep picks them up. */
  minAgeSeconds: number;
  /** Globs (same rules as `include`) of objects never delivered, checked after `include`. */
  exclude?: readonly string[];
  /** Objects last modified more than this many days ago are `stale`: sent only on request (redeliver). */
  maxAgeDays?: number | undefined;
  /** File name of the object that must exist in an object's directory before it is delivered. */
  requireMarker?: string | undefined;
}

/** Which directories (see directoryOf) have their `requireMarker` object. */
export interface MarkerIndex {
  has(directory: string): boolean;
}

export interface Selection<T extends ListedObject> {
  eligible: T[];
  skipped: { object: T; reason: SkipReason }[];
}

/**
 * Splits a listing into objects eligible for delivery and skipped ones with their reason.
 * Order is kept. Hostile names are deliberately not filtered here: the deliver step quarantines them
 * so that they are visible to operators instead of silently ignored.
 *
 * With `requireMarker`, `markers` says which directories have their marker; by default, those whose
 * marker is in `objects` itself (right when `objects` is the whole listing; a sweep sees one page at a
 * time and passes what src/adapters/marker-lookup.ts found).
 */
export function selectObjects<T extends ListedObject>(
  objects: readonly T[],
  rules: SelectionRules,
  now: Date,
  markers: MarkerIndex = markersIn(objects, rules),
): Selection<T> {
  const check = compileRules(rules, now);
  const selection: Selection<T> = { eligible: [], skipped: [] };
  for (const object of objects) {
    const reason = check(object, markers);
    if (reason === undefined) selection.eligible.push(object);
    else selection.skipped.push({ object, reason });
  }
  return selection;
}

/** The directory of a key: everything up to and including its last "/" ("" for a top-level key). */
export function directoryOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/** The marker key of a directory (`requireMarker` is one file name, without "/"). */
export function markerKeyOf(directory: string, marker: string): string {
  return `${directory}${marker}`;
}

/** Whether `key` is itself a marker object under the rules. */
export function isMarkerKey(key: string, rules: SelectionRules): boolean {
  return (
    rules.requireMarker !== undefined &&
    key.startsWith(rules.prefix) &&
    markerKeyOf(directoryOf(key), rules.requireMarker) === key
  );
}

/** The directories whose marker object is among `objects`. */
export function markersIn(objects: readonly ListedObject[], rules: SelectionRules): Set<string> {
  const found = new Set<string>();
  for (const o of objects) if (isMarkerKey(o.key, rules)) found.add(directoryOf(o.key));
  return found;
}

/**
 * The distinct directories of the objects that only their marker could still hold back: the ones a
 * sweep must know the marker of. Empty without `requireMarker`.
 */
export function directoriesAwaitingMarker(
  objects: readonly ListedObject[],
  rules: SelectionRules,
  now: Date,
): string[] {
  if (rules.requireMarker === undefined) return [];
  const check = compileRules(rules, now);
  const all: MarkerIndex = { has: () => true };
  const dirs = new Set<string>();
  for (const o of objects) if (check(o, all) === undefined) dirs.add(directoryOf(o.key));
  return [...dirs];
}

const DAY_MS = 86_400_000;

type Check = (object: ListedObject, markers: MarkerIndex) => SkipReason | undefined;

// dot: false so "*.csv" never picks up hidden files; windows: false so "\" is never a separator.
const GLOB_OPTIONS = { dot: false, windows: false };

/**
 * Why a glob is malformed, or undefined: picomatch reads an unbalanced "{", "[" or "(" literally,
 * so `*.{tmp` would silently match nothing; at config load that is an error instead.
 */
export function globSyntaxProblem(glob: string): string | undefined {
  if (glob === '') return undefined; // the config's own "must not be empty" says it
  try {
    picomatch.makeRe(glob, { ...GLOB_OPTIONS, strictBrackets: true });
    return undefined;
  } catch (err) {
    return `malformed glob: ${(err as Error).message}`;
  }
}

function compileRules(rules: SelectionRules, now: Date): Check {
  const isIncluded = rules.include.length === 0 ? () => true : picomatch([...rules.include], GLOB_OPTIONS);
  const exclude = rules.exclude ?? [];
  const isExcluded = exclude.length === 0 ? () => false : picomatch([...exclude], GLOB_OPTIONS);
  const settledBefore = now.getTime() - rules.minAgeSeconds * 1000;
  const staleBefore = rules.maxAgeDays === undefined ? -Infinity : now.getTime() - rules.maxAgeDays * DAY_MS;
  const { requireMarker } = rules;

  return (object, markers) => {
    const under = prefixOfKey(rules, object.key);
    if (under === undefined) return 'outside-prefix';
    if (object.key.endsWith('/')) return 'directory-marker';
    if (isMarkerKey(object.key, rules)) return 'marker';
    if (object.size === 0) return 'zero-byte';
    const relative = object.key.slice(under.length);
    if (!isIncluded(relative)) return 'not-included';
    if (isExcluded(relative)) return 'excluded';
    if (object.lastModified.getTime() < staleBefore) return 'stale';
    if (object.lastModified.getTime() > settledBefore) return 'settling';
    // Last, so that only objects otherwise ready cost a marker lookup.
    if (requireMarker !== undefined && !markers.has(directoryOf(object.key))) return 'no-marker';
    return undefined;
  };
}
