// A file an operator uploads from the web UI lands in the partner's source prefix, where the next sweep
// picks it up. Its name must pass the same rules as any exported key, or it would only be quarantined.
import picomatch from 'picomatch';
import { deriveRemoteName } from './remote-name.js';

export type UploadKeyResult = { ok: true; key: string } | { ok: false; message: string };

/**
 * The S3 key for an uploaded file `name` under `source.prefix`: the name must be a safe remote name
 * (src/core/remote-name.ts) and match the partner's include globs, so the upload is really delivered.
 */
export function uploadKeyFor(
  name: string,
  source: { prefix: string; include: readonly string[] },
): UploadKeyResult {
  const key = `${source.prefix}${name}`;
  const named = deriveRemoteName(key, source.prefix);
  if (!named.ok) return { ok: false, message: `file name refused: ${named.reason}` };
  if (source.include.length > 0 && !picomatch([...source.include], { dot: false, windows: false })(name)) {
    return {
      ok: false,
      message: `file name matches none of the partner's include globs (${source.include.join(', ')}): it would never be delivered`,
    };
  }
  return { ok: true, key };
}
