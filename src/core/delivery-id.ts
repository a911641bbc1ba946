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
/**
 * The one partner-id rule. A partner id is part of BullMQ job ids (no ':'), Redis keys, S3 receipt
 * paths (`<partner>/<deliveryId>.json`: no '/', no '.', which marks non-receipt files) and remote temp
 * names; lowercase only, so two ids never collide on a case-insensitive file system. The config schema,
 * job payloads, alerts and the ledger all check partner ids with this, so they agree on what is legal.
 */
const PARTNER_ID_SOURCE = '[a-z0-9][a-z0-9_-]{0,62}';
export const PARTNER_ID_PATTERN = new RegExp(`^${PARTNER_ID_SOURCE}$`);
/** The partner-id rule in words, for error messages. */
export const PARTNER_ID_RULE =
  '1-63 characters: lowercase letters, digits, "_" and "-", starting with a letter or digit';
/** The delivery-id format in words, for error messages. */
export const DELIVERY_ID_FORMAT = 'dlv-<partner>-<32 hex>[-r<n>]';
/** Highest redelivery number a delivery id can carry (`-r<n>`, at most six digits). */
export const MAX_REDELIVERY = 999_999;
// `dlv-<partner>-<hash>`, and `-r<n>` for the n-th redelivery (src/core/redelivery.ts). The hash is
// fixed-width hex at the end, so a partner id containing '-' still parses one way only.
const DELIVERY_ID_PATTERN = new RegExp(
  `^dlv-(${PARTNER_ID_SOURCE})-([0-9a-f]{${HASH_HEX_LENGTH}})(?:-r([1-9][0-9]{0,5}))?$`,
);

/** The parts of a delivery id. */
export interface ParsedDeliveryId {
  partnerId: string;
  /** 32 hex of the identity's sha256. */
  hash: string;
  /** n of a redelivery (`-r<n>`); absent on the object version's own delivery. */
  redelivery?: number;
  /** The id of the object version's own delivery (the id without `-r<n>`). */
  baseId: string;
}

/** True when `value` satisfies the partner-id rule (PARTNER_ID_RULE). */
export function isPartnerId(value: unknown): value is string {
  return typeof value === 'string' && PARTNER_ID_PATTERN.test(value);
}

/** Splits a delivery id into its parts; undefined for anything that is not one (job ids are untrusted). */
export function parseDeliveryId(value: unknown): ParsedDeliveryId | undefined {
  if (typeof value !== 'string') return undefined;
  const match = DELIVERY_ID_PATTERN.exec(value);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const baseId = `dlv-${match[1]}-${match[2]}`;
  return match[3] === undefined
    ? { partnerId: match[1], hash: match[2], baseId }
    : { partnerId: match[1], hash: match[2], redelivery: Number(match[3]), baseId };
}

/** Builds a delivery id from its parts (the inverse of parseDeliveryId); throws on parts it would not parse. */
export function formatDeliveryId(parts: {
  partnerId: string;
  hash: string;
  redelivery?: number | undefined;
}): string {
  const id = `dlv-${parts.partnerId}-${parts.hash}${parts.redelivery === undefined ? '' : `-r${parts.redelivery}`}`;
  if (!DELIVERY_ID_PATTERN.test(id)) throw new RangeError(`not delivery-id parts: ${JSON.stringify(parts)}`);
  return id;
}

/** The partner id inside a delivery id, e.g. for a stalled job; undefined for any other job id. */
export function partnerOfDeliveryId(jobId: string | undefined): string | undefined {
  return parseDeliveryId(jobId)?.partnerId;
}

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
  if (!isPartnerId(id.partnerId)) {
    throw new FerryError(
      'ERR_CONFIG_INVALID',
      `partner id ${JSON.stringify(id.partnerId)} is not usable in a delivery id (${PARTNER_ID_RULE})`,
      {
        details: { partnerId: id.partnerId },
      },
    );
  }
  const parts = [id.partnerId, id.bucket, id.key, normalizeEtag(id.etag)];
  if (id.versionTime !== undefined) parts.push(isoOf(id.versionTime));
  const hash = createHash('sha256').update(parts.join('\0'), 'utf8').digest('hex').slice(0, HASH_HEX_LENGTH);
  return formatDeliveryId({ partnerId: id.partnerId, hash });
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
  return parseDeliveryId(value) !== undefined;
}

/** Returns the 32-hex hash part of a delivery id; throws ERR_PAYLOAD_INVALID for anything else. */
export function deliveryHash(deliveryId: string): string {
  const parsed = parseDeliveryId(deliveryId);
  if (parsed === undefined) {
    throw new FerryError('ERR_PAYLOAD_INVALID', `not a delivery id: ${JSON.stringify(deliveryId)}`);
  }
  return parsed.hash;
}

/**
 * The temp name a delivery uploads to before publishing: `.<finalName>.<hash[0..12]>.part`
 * (`.<hash[0..12]>-r<n>.part` for a redelivery, so it never shares the original's temp file).
 * Deterministic, so a retry overwrites its own temp file instead of leaving another one. The final-name
 * part is cut (on a character boundary) so the whole name stays within 255 UTF-8 bytes.
 */
export function tempNameFor(finalName: string, deliveryId: string): string {
  const redelivery = parseDeliveryId(deliveryId)?.redelivery;
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
