// Which listed objects a sweep should consider delivering. Pure: the listing and the clock come in.
import picomatch from 'picomatch';

/** The fields selection needs from a listed object (the adapters' SourceObject fits). */
export interface ListedObject {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  lastModified: Date;
}

/** Why an object was left out; checked in this order, the first that applies wins. */
export type SkipReason = 'outside-prefix' | 'directory-marker' | 'zero-byte' | 'not-included' | 'settling';

export interface SelectionRules {
  prefix: string;
  /** Globs matched against the key relative to the prefix. Empty means every object. */
  include: readonly string[];
  /** Objects younger than this may still be being written; the next sweep picks them up. */
  minAgeSeconds: number;
}

export interface Selection<T extends ListedObject> {
  eligible: T[];
  skipped: { object: T; reason: SkipReason }[];
}

/**
 * Splits a listing into objects eligible for delivery and skipped ones with their reason.
 * Order is kept. Hostile names are deliberately not filtered here: the deliver step quarantines them
 * so that they are visible to operators instead of silently ignored.
 */
export function selectObjects<T extends ListedObject>(
  objects: readonly T[],
  rules: SelectionRules,
  now: Date,
): Selection<T> {
  // dot: false so "*.csv" never picks up hidden files; windows: false so "\" is never a separator.
  const isIncluded =
    rules.include.length === 0 ? () => true : picomatch([...rules.include], { dot: false, windows: false });
  const settledBefore = now.getTime() - rules.minAgeSeconds * 1000;
  const selection: Selection<T> = { eligible: [], skipped: [] };

  for (const object of objects) {
    const reason = skipReason(object, rules.prefix, isIncluded, settledBefore);
    if (reason === undefined) selection.eligible.push(object);
    else selection.skipped.push({ object, reason });
  }
  return selection;
}

function skipReason(
  object: ListedObject,
  prefix: string,
  isIncluded: (relativeKey: string) => boolean,
  settledBefore: number,
): SkipReason | undefined {
  if (!object.key.startsWith(prefix)) return 'outside-prefix';
  if (object.key.endsWith('/')) return 'directory-marker';
  if (object.size === 0) return 'zero-byte';
  if (!isIncluded(object.key.slice(prefix.length))) return 'not-included';
  if (object.lastModified.getTime() > settledBefore) return 'settling';
  return undefined;
}
