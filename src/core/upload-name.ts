// A file an operator uploads from the web UI lands in the partner's source prefix, where the next sweep
// picks it up. Its name must pass the same rules as any exported key, or it would only be quarantined,
// and the partner's selection rules, or it would sit in S3 and never be delivered. The name the
// partner would receive (template, transform suffix, sidecars) is checked too: a name that passes
// alone can break the 255-byte rule once `.gz` or `.sha256` is added, and be quarantined at delivery.
import { remoteNameFor, type NamingPartner } from './filename-template.js';
import { renderAt, type PrefixTemplate } from './prefix-template.js';
import { deriveRemoteName } from './remote-name.js';
import { selectObjects } from './select-objects.js';
import { planSidecars, type SidecarNaming } from './sidecar-files.js';

export type UploadKeyResult = { ok: true; key: string } | { ok: false; message: string };

/** The partner's source fields an upload is checked against (PartnerConfig['source'] fits). */
export interface UploadSource {
  prefix: string;
  prefixTemplate?: PrefixTemplate | undefined;
  include: readonly string[];
  exclude?: readonly string[] | undefined;
  requireMarker?: string | undefined;
}

/** The partner's naming (template, transform, sidecars) that turns the upload into a remote name. */
export interface UploadNaming {
  partner: Omit<NamingPartner, 'naming'> & { naming?: NamingPartner['naming'] & SidecarNaming };
  /** The upload's time: the object's LastModified, which `{date:…}` renders. */
  now: Date;
}

/**
 * The S3 key for an uploaded file `name` under `source.prefix`: the name must be a safe remote name
 * (src/core/remote-name.ts) and be selected by the partner's include and exclude globs (the sweep's
 * own matcher, src/core/select-objects.ts), so the upload is really delivered. A partner with
 * `requireMarker` takes no uploads: the upload would wait for a marker, and writing that marker would
 * also release every other file waiting in the same directory. With `naming`, the final remote name
 * (and its sidecars' names) must pass the safe-name rules too; a `{seq}` is checked with a number of
 * the token's width, as the delivery checks it before taking a number. A dated prefix takes the
 * upload into today's partition (`naming.now` in the schedule's timezone), which the next sweep lists.
 */
export function uploadKeyFor(name: string, source: UploadSource, naming?: UploadNaming): UploadKeyResult {
  if (source.prefixTemplate !== undefined && naming === undefined) {
    return { ok: false, message: 'a dated prefix needs the upload time to name its partition' };
  }
  const prefix =
    source.prefixTemplate !== undefined && naming !== undefined
      ? renderAt(source.prefixTemplate, naming.now, naming.partner.schedule.timezone)
      : source.prefix;
  const key = `${prefix}${name}`;
  const named = deriveRemoteName(key, prefix);
  if (!named.ok) return { ok: false, message: `file name refused: ${named.reason}` };
  if (source.requireMarker !== undefined) {
    return {
      ok: false,
      message: `this partner delivers only files whose directory holds the marker ${source.requireMarker} (source.requireMarker); uploads are refused because writing that marker would also release every other file waiting in ${source.prefix || 'the bucket root'}: put the file and its marker in S3 instead`,
    };
  }
  // Settle age and size do not apply to a file being uploaded now; only the globs decide.
  const listed = { bucket: '', key, etag: '', size: 1, lastModified: new Date(0) };
  const rules = { prefix, include: source.include, minAgeSeconds: 0 };
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
  return naming === undefined ? { ok: true, key } : checkFinalName(key, naming);
}

function checkFinalName(key: string, { partner, now }: UploadNaming): UploadKeyResult {
  const width = partner.naming?.filename?.seq?.width;
  const sample = width === undefined ? {} : { seq: 10 ** Math.max(width - 1, 0) };
  const final = remoteNameFor(partner, { key, lastModified: now, ...sample });
  if (!final.ok) {
    return {
      ok: false,
      message: `file name refused: the name the partner would receive (after naming.filename and the transform suffix) breaks a rule: ${final.reason}`,
    };
  }
  const sidecars = planSidecars(partner.naming, final.name, {});
  if (!sidecars.ok) {
    return {
      ok: false,
      message: `file name refused: a sidecar of ${final.name} breaks a rule: ${sidecars.reason}`,
    };
  }
  return { ok: true, key };
}
