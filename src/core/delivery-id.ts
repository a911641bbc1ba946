// A delivery is one object version for one partner. Its id is the BullMQ job id, the ledger key, the
// receipt name and the temp-file suffix, so it must be stable, short and safe in all of those places.
import { createHash } from 'node:crypto';
import { FerryError } from '../errors.js';

/** What makes a delivery unique: the partner and the exact object version (the ETag). */
export interface DeliveryIdentity {
  partnerId: string;
  bucket: string;
  key: string;
  etag: string;
  /**
   * `source.identity: version` only: the object's LastModified, so each write is its own delivery (not
   * named `lastModified`, so job data, which carries one for names, never changes a content id).
   */
  versionTime?: Date | string | undefined;
}

/**
 * `source.identity`: `content` (default) names an object version by its ETag, so identical bytes
 * written again under the same key are the same delivery; `version` adds LastModified.
 */
export type IdentityMode = 'content' | 'version';

/** Max bytes of one file name on common file systems (ext4, xfs, NTFS in UTF-16 units). */
const MAX_NAME_BYTES = 255;
const HASH_HEX_LENGTH = 32;
const TEMP_HASH_LENGTH = 12;
// Partner ids end up in job ids (no ':'), Redis keys and S3 receipt paths (no '/').
const PARTNER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// A redelivery (src/core/redelivery.ts) appends `-r<n>` to the id of the delivery it repeats.
const DELIVERY_ID_PATTERN = /^dlv-([A-Za-z0-9][A-Za-z0-9._-]*)-([0-9a-f]{32})(?:-r([1-9][0-9]{0,5}))?$/;

/** Strips the quotes S3 puts around ETags (`"abc"` → `abc`) so listed and fetched ETags compare equal. */
export function normalizeEtag(etag: string): string {
  const trimmed = etag.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1)
    : trimmed;
}

/**
 * Computes the delivery id: `dlv-<partnerId>-<32 hex of sha256(partnerId\0bucket\0key\0etag)>`, with
 * `\0<LastModified as ISO>` appended when `versionTime` is given (identity `version`; content ids stay
 * as they always were). The NUL separators keep `("a", "bc")` and `("ab", "c")` apart. The result never
 * contains ':' and is never all digits (BullMQ job-id rules). Throws ERR_CONFIG_INVALID for a partner id
 * that would break those rules.
 */
export function computeDeliveryId(id: DeliveryIdentity): string {
  if (!PARTNER_ID_PATTERN.test(id.partnerId)) {
    throw new FerryError(
      'ERR_CONFIG_INVALID',
      `partner id ${JSON.stringify(id.partnerId)} is not usable in a delivery id`,
      {
        details: { partnerId: id.partnerId },
      },
    );
  }
  const parts = [id.partnerId, id.bucket, id.key, normalizeEtag(id.etag)];
  if (id.versionTime !== undefined) parts.push(isoOf(id.versionTime));
  const hash = createHash('sha256').update(parts.join('\0'), 'utf8').digest('hex').slice(0, HASH_HEX_LENGTH);
  return `dlv-${id.partnerId}-${hash}`;
}

/**
 * The delivery id of `object` for `partner` under its `source.identity`. With `version`, the object's
 * LastModified is required (as listed: a sweep's, a job's or a ledger record's); without it this throws
 * ERR_PAYLOAD_INVALID, since no id can be rebuilt.
 */
export function deliveryIdFor(
  partner: { id: string; source: { identity?: IdentityMode | undefined } },
  object: { bucket: string; key: string; etag: string; lastModified?: Date | string | undefined },
): string {
  const identity = { partnerId: partner.id, bucket: object.bucket, key: object.key, etag: object.etag };
  if (partner.source.identity !== 'version') return computeDeliveryId(identity);
  if (object.lastModified === undefined) {
    throw new FerryError(
      'ERR_PAYLOAD_INVALID',
      `partner ${partner.id} has source.identity: version, and the LastModified of ${JSON.stringify(object.key)} is not known`,
    );
  }
  return computeDeliveryId({ ...identity, versionTime: object.lastModified });
}

/** One spelling per instant: a Date, or an ISO string read back from a job or the ledger. */
function isoOf(value: Date | string): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) {
    throw new FerryError('ERR_PAYLOAD_INVALID', `not a time: ${JSON.stringify(String(value))}`);
  }
  return date.toISOString();
}

/** True when `value` has the shape computeDeliveryId produces, or a redelivery's (job data is untrusted). */
export function isDeliveryId(value: unknown): value is string {
  return typeof value === 'string' && DELIVERY_ID_PATTERN.test(value);
}

/** Returns the 32-hex hash part of a delivery id; throws ERR_PAYLOAD_INVALID for anything else. */
export function deliveryHash(deliveryId: string): string {
  const match = DELIVERY_ID_PATTERN.exec(deliveryId);
  if (match?.[2] === undefined) {
    throw new FerryError('ERR_PAYLOAD_INVALID', `not a delivery id: ${JSON.stringify(deliveryId)}`);
  }
  return match[2];
}

/**
 * The temp name a delivery uploads to before publishing: `.<finalName>.<hash[0..12]>.part`
 * (`.<hash[0..12]>-r<n>.part` for a redelivery, so it never shares the original's temp file).
 * Deterministic, so a retry overwrites its own temp file instead of leaving another one. The final-name
 * part is cut (on a character boundary) so the whole name stays within 255 UTF-8 bytes.
 */
export function tempNameFor(finalName: string, deliveryId: string): string {
  const redelivery = DELIVERY_ID_PATTERN.exec(deliveryId)?.[3];
  const suffix = `.${deliveryHash(deliveryId).slice(0, TEMP_HASH_LENGTH)}${redelivery === undefined ? '' : `-r${redelivery}`}.part`;
  const budget = MAX_NAME_BYTES - 1 - Buffer.byteLength(suffix, 'utf8');
  return `.${truncateUtf8(finalName, budget)}${suffix}`;
}

/** Longest prefix of `text` that fits in `maxBytes` UTF-8 bytes without splitting a code point. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
