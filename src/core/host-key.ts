// Host-key pinning: Ferry trusts a partner's server only if its key matches a configured fingerprint,
// checked before authentication so an impostor never sees our credentials.
import { createHash, timingSafeEqual } from 'node:crypto';

const PREFIX = 'SHA256:';
// Base64 of a 32-byte digest without padding is always 43 characters.
const SHA256_BASE64 = /^[A-Za-z0-9+/]{43}$/;

/**
 * Fingerprint of an SSH public key blob (the wire-format key ssh2 hands to hostVerifier):
 * `SHA256:` + unpadded base64 of its sha256, exactly what `ssh-keygen -lf` prints.
 */
export function fingerprintOfKey(keyBlob: Buffer): string {
  return PREFIX + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/**
 * Puts a configured fingerprint in canonical form: trimmed, with the `SHA256:` prefix (added if
 * missing, any case accepted) and without base64 '=' padding. The base64 body is case-sensitive and
 * kept as is.
 */
export function normalizeFingerprint(fp: string): string {
  const trimmed = fp.trim();
  const body = trimmed.toUpperCase().startsWith(PREFIX) ? trimmed.slice(PREFIX.length) : trimmed;
  return PREFIX + body.trim().replace(/=+$/, '');
}

/** True when `fp` normalises to a well-formed SHA256 fingerprint (for config validation). */
export function isValidFingerprint(fp: string): boolean {
  return SHA256_BASE64.test(normalizeFingerprint(fp).slice(PREFIX.length));
}

/**
 * True when `fingerprint` equals one of `pins` (several pins allow key rotation). Both sides are
 * normalised; every pin is compared in constant time so timing does not reveal how close a key came.
 */
export function isPinned(fingerprint: string, pins: readonly string[]): boolean {
  const presented = Buffer.from(normalizeFingerprint(fingerprint), 'utf8');
  let matched = false;
  for (const pin of pins) {
    const expected = Buffer.from(normalizeFingerprint(pin), 'utf8');
    // timingSafeEqual needs equal lengths; a length difference says nothing secret.
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) matched = true;
  }
  return matched;
}
