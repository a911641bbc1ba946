// A sweep of a dated prefix lists several partitions; the page loop reads them as one listing.
import type { ObjectSource, SourceObject } from '../core/ports.js';

/**
 * The pages of each prefix in turn, in the order given (one prefix: exactly its listing). A page never
 * mixes two prefixes: marker-lookup.ts relies on it when the prefixes are not in byte order.
 */
export async function* listPrefixes(
  source: Pick<ObjectSource, 'listPages'>,
  bucket: string,
  prefixes: readonly string[],
  pageSize?: number,
): AsyncGenerator<SourceObject[]> {
  for (const prefix of prefixes) yield* source.listPages(bucket, prefix, pageSize);
}
