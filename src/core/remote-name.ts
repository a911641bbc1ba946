// The remote file name comes from an S3 key, which anyone who can write to the bucket controls.
// Every rule here exists so that a hostile key can never name a file outside the partner's
// directory, hide among other files, or pass for a different name.

/** Which rule rejected a name; stable, so logs, metrics and alerts can group on it. */
export type RemoteNameRule =
  | 'outside-prefix'
  // naming.filename's {partition:…} for a key whose partition has no date (in none, or 2026-02-30/).
  | 'no-partition-date'
  | 'empty'
  | 'too-long'
  | 'control-character'
  | 'bidi-control'
  | 'dot-dot'
  | 'separator'
  | 'lookalike-separator'
  | 'percent-encoded'
  | 'leading-dot'
  | 'trailing-dot'
  | 'leading-dash'
  | 'surrounding-whitespace'
  | 'not-nfc'
  | 'disallowed-character';

export type RemoteNameResult =
  { ok: true; name: string } | { ok: false; reason: string; rule: RemoteNameRule };

const MAX_NAME_BYTES = 255;

// C0 controls (incl. NUL, CR, LF, TAB), DEL and C1 controls.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// Explicit embeddings/overrides, isolates, LRM/RLM: they make a name display differently from its bytes.
const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
// Characters that look like "." or "/" or "\" and that some servers or tools fold into the real thing.
const LOOKALIKE = /[\uff0e\uff0f\u2215\u2044\u29f8\uff3c]/u;
const PERCENT_ENCODED = /%(?:2e|2f|5c)/iu;
// Letters, marks, decimal digits and a few punctuation characters that are safe in shells and URLs.
const ALLOWED = /^[\p{L}\p{M}\p{Nd} ._\-+=,@~()[\]#&]+$/u;

/**
 * Derives the name a delivered file gets on the partner's server: the S3 key with the partner's
 * prefix removed, which must be one safe path segment (Ferry writes into one flat directory).
 * Never throws; a rejected key comes back with the rule it broke, for quarantine and alerts.
 */
export function deriveRemoteName(key: string, prefix: string): RemoteNameResult {
  if (!key.startsWith(prefix)) {
    return reject('outside-prefix', `key is not under the partner prefix ${JSON.stringify(prefix)}`);
  }
  const name = key.slice(prefix.length);
  if (name.length === 0) return reject('empty', 'name is empty (the key equals the prefix)');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    return reject('too-long', `name is longer than ${MAX_NAME_BYTES} bytes in UTF-8`);
  }
  if (CONTROL.test(name)) return reject('control-character', 'name contains NUL or a control character');
  if (BIDI.test(name)) {
    return reject(
      'bidi-control',
      'name contains a bidirectional control character (it would display misleadingly)',
    );
  }
  if (name.includes('..')) return reject('dot-dot', 'name contains ".." (path traversal)');
  if (name.includes('/') || name.includes('\\')) {
    return reject(
      'separator',
      'name contains "/" or "\\" (nested keys are not delivered; Ferry writes one flat directory)',
    );
  }
  if (LOOKALIKE.test(name)) {
    return reject('lookalike-separator', 'name contains a character that looks like ".", "/" or "\\"');
  }
  if (PERCENT_ENCODED.test(name)) {
    return reject('percent-encoded', 'name contains a percent-encoded ".", "/" or "\\" (%2e, %2f, %5c)');
  }
  if (name.startsWith('.')) return reject('leading-dot', 'name starts with "." (hidden file, or "." itself)');
  // Windows-backed SFTP servers drop a trailing dot, so "x.csv." would land on "x.csv".
  if (name.endsWith('.')) return reject('trailing-dot', 'name ends with "."');
  if (name.startsWith('-')) return reject('leading-dash', 'name starts with "-" (read as an option)');
  if (/^\s|\s$/u.test(name)) return reject('surrounding-whitespace', 'name starts or ends with whitespace');
  // Two visually equal names (composed vs decomposed) must not become two different files.
  if (name.normalize('NFC') !== name) return reject('not-nfc', 'name is not in Unicode NFC form');
  if (!ALLOWED.test(name)) {
    return reject(
      'disallowed-character',
      'name contains a character outside letters, digits, marks and " ._-+=,@~()[]#&"',
    );
  }
  return { ok: true, name };
}

function reject(rule: RemoteNameRule, reason: string): RemoteNameResult {
  return { ok: false, rule, reason: `${rule}: ${reason}` };
}
