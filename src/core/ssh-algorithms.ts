// Which SSH algorithms Ferry may negotiate, which it negotiates unless a partner says otherwise, and how
// host-key pins name their key type. Pure data and functions: the schema validates with them, the SFTP
// adapter builds ssh2's `algorithms` from them.

export const ALGORITHM_CATEGORIES = ['kex', 'cipher', 'hmac', 'serverHostKey'] as const;
export type AlgorithmCategory = (typeof ALGORITHM_CATEGORIES)[number];

/** One list of algorithm names per category, most preferred first. */
export type AlgorithmLists = Readonly<Record<AlgorithmCategory, readonly string[]>>;

/** A partner's `target.algorithms`: each category given replaces the default list for that category. */
export type AlgorithmOverrides = Readonly<Partial<Record<AlgorithmCategory, readonly string[]>>>;

/**
 * Every name ssh2 1.17 can negotiate on Node 20 (OpenSSL 3 without the legacy provider, so no
 * blowfish/cast128/arcfour). A unit test compares this table with ssh2's own lists, so an ssh2
 * upgrade that changes them fails loudly instead of turning a config error into a connect-time error.
 */
export const SUPPORTED_ALGORITHMS: AlgorithmLists = Object.freeze({
  kex: Object.freeze([
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group15-sha512',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group17-sha512',
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha1',
    'diffie-hellman-group14-sha1',
    'diffie-hellman-group1-sha1',
  ]),
  cipher: Object.freeze([
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-ctr',
    'aes192-ctr',
    'aes256-ctr',
    'chacha20-poly1305@openssh.com',
    'aes128-gcm',
    'aes256-gcm',
    'aes128-cbc',
    'aes192-cbc',
    'aes256-cbc',
    '3des-cbc',
  ]),
  hmac: Object.freeze([
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com',
    'hmac-sha1-etm@openssh.com',
    'hmac-sha2-256',
    'hmac-sha2-512',
    'hmac-sha1',
    'hmac-md5',
    'hmac-sha2-256-96',
    'hmac-sha2-512-96',
    'hmac-ripemd160',
    'hmac-sha1-96',
    'hmac-md5-96',
  ]),
  serverHostKey: Object.freeze([
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
    'ssh-dss',
  ]),
});

/**
 * What Ferry negotiates by default (reliability-anchors §6.2, after the ssh-audit client hardening
 * guide): no SHA-1, no CBC, no ssh-rsa/ssh-dss signatures, no NIST-curve kex. Anything else in
 * SUPPORTED_ALGORITHMS is "legacy": allowed only when a partner names it, with a validation warning
 * and a WARN log line on every connect.
 */
export const MODERN_ALGORITHMS: AlgorithmLists = Object.freeze({
  kex: Object.freeze([
    'curve25519-sha256',
    'curve25519-sha256@libssh.org',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha256',
  ]),
  cipher: Object.freeze([
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-ctr',
    'aes192-ctr',
    'aes256-ctr',
    'chacha20-poly1305@openssh.com',
  ]),
  hmac: Object.freeze([
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com',
    'hmac-sha2-256',
    'hmac-sha2-512',
  ]),
  serverHostKey: Object.freeze([
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
  ]),
});

/** True when ssh2 can negotiate `name` in that category. */
export function isSupportedAlgorithm(category: AlgorithmCategory, name: string): boolean {
  return SUPPORTED_ALGORITHMS[category].includes(name);
}

/** True when `name` is supported but outside Ferry's modern defaults. */
export function isLegacyAlgorithm(category: AlgorithmCategory, name: string): boolean {
  return isSupportedAlgorithm(category, name) && !MODERN_ALGORITHMS[category].includes(name);
}

/** The lists to offer: each category the partner configured replaces the modern default for it. */
export function effectiveAlgorithms(overrides: AlgorithmOverrides | undefined): AlgorithmLists {
  const out = {} as Record<AlgorithmCategory, readonly string[]>;
  for (const category of ALGORITHM_CATEGORIES) {
    out[category] = overrides?.[category] ?? MODERN_ALGORITHMS[category];
  }
  return out;
}

/** The legacy names a partner's overrides allow, as `category:name` (for warnings and logs). */
export function legacyAlgorithmsIn(overrides: AlgorithmOverrides | undefined): string[] {
  const found: string[] = [];
  for (const category of ALGORITHM_CATEGORIES) {
    for (const name of overrides?.[category] ?? []) {
      if (isLegacyAlgorithm(category, name)) found.push(`${category}:${name}`);
    }
  }
  return found;
}

/**
 * Key types a pin may name (as in known_hosts and `.pub` files), and the host-key algorithms that
 * prove possession of such a key. An RSA key signs with rsa-sha2-* (or SHA-1 ssh-rsa, legacy).
 */
export const HOST_KEY_TYPES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
});

export interface HostKeyPin {
  /** The key type the pin names ("ssh-ed25519"), or undefined for a bare fingerprint (any type). */
  keyType?: string;
  /** `SHA256:` + 43 base64 characters, without padding. */
  fingerprint: string;
}

// "[<key type> ]SHA256:<43 base64 chars>[=]", the fingerprint as `ssh-keygen -lf` prints it.
const PIN = /^(?:([a-z0-9@.-]+) +)?SHA256:([A-Za-z0-9+/]{43})=?$/;

/** Parses a configured pin; undefined when it is malformed or names an unknown key type. */
export function parseHostKeyPin(pin: string): HostKeyPin | undefined {
  const match = PIN.exec(pin.trim());
  if (!match) return undefined;
  const [, keyType, body] = match;
  if (keyType !== undefined && !Object.hasOwn(HOST_KEY_TYPES, keyType)) return undefined;
  return keyType === undefined
    ? { fingerprint: `SHA256:${body}` }
    : { keyType, fingerprint: `SHA256:${body}` };
}

/** The canonical text of a pin: "SHA256:…" or "ssh-ed25519 SHA256:…" (single space, no padding). */
export function formatHostKeyPin(pin: HostKeyPin): string {
  return pin.keyType === undefined ? pin.fingerprint : `${pin.keyType} ${pin.fingerprint}`;
}

/**
 * The server host-key algorithms to offer: when every pin names its key type, only the algorithms of
 * those types (in the allow-list's order), so a server cannot negotiate a key type nobody pinned.
 * One bare fingerprint means "any type" and leaves the allow-list as it is.
 */
export function hostKeyAlgorithmsFor(pins: readonly string[], allowed: readonly string[]): string[] {
  const parsed = pins.map(parseHostKeyPin);
  if (parsed.length === 0 || parsed.some((p) => p?.keyType === undefined)) return [...allowed];
  const wanted = new Set(parsed.flatMap((p) => HOST_KEY_TYPES[p!.keyType!] ?? []));
  return allowed.filter((name) => wanted.has(name));
}
