// `source.requireMarker` during a page-by-page listing: which directories of a page have their marker.
//
// S3 lists keys in UTF-8 byte order, so a directory's marker may be on a page already seen, on this
// page, or on a later one. Per sweep (one MarkerLookup per listing), for each directory of the page
// whose objects only the marker still holds back:
//   1. a marker seen in the listing so far (this page included) is present: no request;
//   2. a marker key that sorts at or before the last key of this page, and was not seen, is absent
//      (the listing already passed its place): no request. Only this page's last key counts, never the
//      greatest listed: a dated prefix lists its partitions oldest first, not in byte order
//      (`{date:dd-MM-yyyy}`: 31-12-2026 before 01-01-2027), but a page holds one partition's keys in
//      order and its directories are under that partition (list-prefixes.ts);
//   3. otherwise (the marker sorts after this page) one ListObjectsV2 with Prefix=<marker key>,
//      MaxKeys=1, answered once per directory per sweep.
// "_SUCCESS" sorts before lowercase names ("part-00000.csv"), so the usual layouts need no request.
// Memory is bounded: past MAX_REMEMBERED directories the memory is cleared and rule 2 is switched off
// for the rest of the sweep (every unknown directory then costs one request, still correct).
import type { ObjectSource, SourceObject } from '../core/ports.js';
import {
  directoriesAwaitingMarker,
  directoryOf,
  isMarkerKey,
  markerKeyOf,
  type ListedObject,
  type MarkerIndex,
  type SelectionRules,
} from '../core/select-objects.js';

const MAX_REMEMBERED = 100_000;
const LOOKUP_CONCURRENCY = 8;

export interface MarkerLookup {
  /** The markers the page's selection needs; call once per page, in listing order. */
  forPage(page: readonly ListedObject[], now: Date): Promise<MarkerIndex>;
  /** ListObjectsV2 requests made so far for markers (rule 3). */
  readonly requests: number;
}

const ALL: MarkerIndex = { has: () => true };

export function createMarkerLookup(
  source: Pick<ObjectSource, 'listPages'>,
  bucket: string,
  rules: SelectionRules,
  maxRemembered = MAX_REMEMBERED,
): MarkerLookup {
  const known = new Map<string, boolean>();
  let complete = true; // `known` holds every marker listed so far (rule 2 is sound)
  let lastListed: Buffer | undefined;
  let requests = 0;

  function remember(directory: string, present: boolean): void {
    if (known.size >= maxRemembered && !known.has(directory)) {
      known.clear();
      complete = false;
    }
    known.set(directory, present);
  }

  async function exists(key: string): Promise<boolean> {
    requests += 1;
    return objectExists(source, bucket, key);
  }

  return {
    get requests() {
      return requests;
    },
    async forPage(page, now) {
      const marker = rules.requireMarker;
      if (marker === undefined) return ALL;
      const pageMarkers = new Set<string>();
      for (const o of page) if (isMarkerKey(o.key, rules)) pageMarkers.add(directoryOf(o.key));
      for (const dir of pageMarkers) remember(dir, true);
      const last = page.at(-1);
      if (last !== undefined) lastListed = Buffer.from(last.key);
      const unknown: string[] = [];
      for (const dir of directoriesAwaitingMarker(page, rules, now)) {
        if (known.has(dir)) continue;
        const passed =
          complete &&
          lastListed !== undefined &&
          Buffer.compare(Buffer.from(markerKeyOf(dir, marker)), lastListed) <= 0;
        if (passed) remember(dir, false);
        else unknown.push(dir);
      }
      const found = new Map<string, boolean>();
      await runLimited(unknown, LOOKUP_CONCURRENCY, async (dir) => {
        found.set(dir, await exists(markerKeyOf(dir, marker)));
      });
      for (const [dir, present] of found) remember(dir, present);
      // Answer from this page's own results too, in case remembering them cleared the memory.
      return { has: (dir) => pageMarkers.has(dir) || (found.get(dir) ?? known.get(dir) ?? false) };
    },
  };
}

/**
 * The markers of the directories of `objects` that only their marker could still hold back, each asked
 * for (rule 3 alone): for a few objects known without a listing, e.g. from S3 events.
 */
export async function lookUpMarkers(
  source: Pick<ObjectSource, 'listPages'>,
  bucket: string,
  rules: SelectionRules,
  objects: readonly ListedObject[],
  now: Date,
): Promise<MarkerIndex> {
  const marker = rules.requireMarker;
  if (marker === undefined) return ALL;
  const present = new Set<string>();
  await runLimited(directoriesAwaitingMarker(objects, rules, now), LOOKUP_CONCURRENCY, async (dir) => {
    if (await objectExists(source, bucket, markerKeyOf(dir, marker))) present.add(dir);
  });
  return present;
}

async function objectExists(
  source: Pick<ObjectSource, 'listPages'>,
  bucket: string,
  key: string,
): Promise<boolean> {
  return (await findObject(source, bucket, key)) !== undefined;
}

/**
 * One object as a listing gives it (ListObjectsV2 with the key as prefix, one key): its LastModified
 * to the millisecond, which `source.identity: version` builds delivery ids from (HeadObject's is whole
 * seconds). Undefined when the key is not there.
 */
export async function findObject(
  source: Pick<ObjectSource, 'listPages'>,
  bucket: string,
  key: string,
): Promise<SourceObject | undefined> {
  // The exact key is the first one its own prefix lists; stop after the first page.
  for await (const page of source.listPages(bucket, key, 1)) return page.find((o) => o.key === key);
  return undefined;
}

async function runLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
