// A file an operator uploads from the web UI lands in the partner's source prefix, where the next sweep
// picks it up. Its name must pass the same rules as any exported key, or it would only be quarantined,
// and the partner's selection rules, or it would sit in S3 and never be delivered.
import { deriveRemoteName } from './remote-name.js';
import { selectObjects } from './select-objects.js';

export type UploadKeyResult = { ok: true; key: string } | { ok: false; message: string };

/** The partner's source fields an upload is checked against (PartnerConfig['source'] fits). */
export interface UploadSource {
  prefix: string;
  include: readonly string[];
  exclude?: readonly string[] | undefined;
  requireMarker?: string | undefined;
}

/**
 * The S3 key for an uploaded file `name` under `source.prefix`: the name must be a safe remote name
 * (src/core/remote-name.ts) and be selected by the partner's include and exclude globs (the sweep's
 * own matcher, src/core/select-objects.ts), so the upload is really delivered. A partner with
 * `requireMarker` takes no uploads: the upload would wait for a marker, and writing that marker would
 * also release every other file waiting in the same directory.
 */
export function uploadKeyFor(name: string, source: UploadSource): UploadKeyResult {
  const key = `${source.prefix}${name}`;
  const named = deriveRemoteName(key, source.prefix);
  if (!named.ok) return { ok: false, message: `file name refused: ${named.reason}` };
  if (source.requireMarker !== undefined) {
    return {
      ok: false,
      message: `this partner delivers only files whose directory holds the marker ${source.requireMarker} (source.requireMarker); uploads are refused because writing that marker would also release every other file waiting in ${source.prefix || 'the bucket root'}: put the file and its marker in S3 instead`,
    };
  }
  // Settle age and size do not apply to a file being uploaded now; only the globs decide.
  const listed = { bucket: '', key, etag: '', size: 1, lastModified: new Date(0) };
  const rules = { prefix: source.prefix, include: source.include, minAgeSeconds: 0 };
  const { skipped } = selectObjects([listed], { ...rules, exclude: source.exclude ?? [] }, new Date(0));
  const reason = skipped[0]?.reason;
  if (reason === 'not-included') {
    return {
      ok: false,
      message: `file name matches none of the partner's include globs (${source.include.join(', ')}): it would never be delivered`,
    };
  }
  if (reason === 'excluded') {
    return {
      ok: false,
      message: `file name matches the partner's exclude globs (${(source.exclude ?? []).join(', ')}): it would never be delivered`,
    };
  }
  if (reason !== undefined) return { ok: false, message: `file name refused: ${reason}` };
  return { ok: true, key };
}
