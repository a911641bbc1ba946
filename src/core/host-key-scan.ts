// `ferry host-key` and the host-key step of `ferry test-connection`: which key types to ask a server
// for, whether a presented key matches the pins, and how to print what a server offered as pins.
import { HOST_KEY_TYPES, MODERN_ALGORITHMS, formatHostKeyPin, parseHostKeyPin } from './ssh-algorithms.js';
import { FerryError, type ErrorCode } from '../errors.js';
import { isPinned } from './host-key.js';

/** Where an SSH server listens. */
export interface HostAddress {
  host: string;
  port: number;
}

/** A host key as the server presented it: its type (from the key blob) and its SHA256 fingerprint. */
export interface PresentedHostKey {
  keyType: string;
  fingerprint: string;
}

/** What one handshake for one key type gave: the key, or why there is none. */
export interface KeyTypeScan {
  keyType: string;
  key?: PresentedHostKey;
  error?: { code: ErrorCode; message: string };
}

// eslint-disable-next-line no-control-regex
const BAD_HOST_CHARS = /[\s\u0000-\u001f\u007f/@[\]]/;

/**
 * Parses `host`, `host:port`, `[IPv6]`, `[IPv6]:port` or a bare IPv6 literal (which takes the default
 * port; write `[::1]:2222` for another). Undefined when the text is no usable address.
 */
export function parseHostAddress(text: string, defaultPort = 22): HostAddress | undefined {
  const input = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(input);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if ((input.match(/:/g) ?? []).length > 1) {
    host = input; // a bare IPv6 literal: every ":" belongs to the address
  } else {
    const at = input.lastIndexOf(':');
    host = at < 0 ? input : input.slice(0, at);
    portText = at < 0 ? undefined : input.slice(at + 1);
  }
  if (host === '' || (!bracketed && BAD_HOST_CHARS.test(host))) return undefined;
  if (portText === undefined) return { host, port: defaultPort };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port >= 1 && port <= 65535 ? { host, port } : undefined;
}

/** "host:port", with IPv6 literals in brackets. */
export function formatHostAddress({ host, port }: HostAddress): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * One handshake per key type, in Ferry's order of preference: the host-key algorithms that make a
 * server present its key of that type (an RSA key answers to rsa-sha2-512, rsa-sha2-256 and ssh-rsa).
 * ssh2 negotiates one host-key algorithm per connection, so a server's keys are read one type at a time.
 */
export const SCAN_KEY_TYPES: readonly { keyType: string; algorithms: readonly string[] }[] = Object.freeze(
  Object.entries(HOST_KEY_TYPES).map(([keyType, algorithms]) => Object.freeze({ keyType, algorithms })),
);

/** True when Ferry's default algorithms never negotiate this key type (a partner must name one). */
export function isLegacyKeyType(keyType: string): boolean {
  const algorithms = HOST_KEY_TYPES[keyType] ?? [];
  return !algorithms.some((name) => MODERN_ALGORITHMS.serverHostKey.includes(name));
}

/** The key type at the start of an SSH public key blob (uint32 length + name), e.g. "ssh-ed25519". */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/**
 * True when the presented key matches one of `pins` the way the SFTP adapter checks it: a typed pin
 * ("ssh-ed25519 SHA256:…") only vouches for a key of that type, a bare "SHA256:…" for any type.
 */
export function matchesPins(presented: PresentedHostKey, pins: readonly string[]): boolean {
  const candidates = pins
    .flatMap((pin) => parseHostKeyPin(pin) ?? [])
    .filter((pin) => pin.keyType === undefined || pin.keyType === presented.keyType)
    .map((pin) => pin.fingerprint);
  return isPinned(presented.fingerprint, candidates);
}

/** The pin text for a presented key, exactly as `target.hostKeys` takes it: "ssh-ed25519 SHA256:…". */
export function pinFor(key: PresentedHostKey): string {
  return Object.hasOwn(HOST_KEY_TYPES, key.keyType)
    ? formatHostKeyPin({ keyType: key.keyType, fingerprint: key.fingerprint })
    : key.fingerprint;
}

/** Printed on stderr with every scan: a key read over the network proves nothing until confirmed. */
export const TOFU_WARNING: readonly string[] = Object.freeze([
  'WARNING: these fingerprints were read over the network and are NOT verified: anyone between you and',
  'the server (a DNS or routing hijack, a hostile proxy) could have answered instead. Before pinning them,',
  'confirm them with the partner out of band (phone, a signed email, their onboarding document): ask them',
  'to run `ssh-keygen -lf <host key>.pub` on the server for each key and compare every character.',
]);

/**
 * stdout of `ferry host-key`: one pin line per key the server presented (the lines without "#", ready
 * for `target.hostKeys`), the key types it did not offer, then a YAML snippet for the partner file.
 */
export function formatHostKeyScan(address: HostAddress, scans: readonly KeyTypeScan[]): string[] {
  const keys = scans.flatMap((scan) => (scan.key === undefined ? [] : [scan.key]));
  const missing = scans.filter((scan) => scan.key === undefined);
  const lines = [`# host keys offered by ${formatHostAddress(address)} (unverified: see the warning)`];
  for (const key of keys) lines.push(pinFor(key));
  const notOffered = missing.filter((scan) => scan.error?.code === 'ERR_SFTP_ALGORITHMS');
  if (notOffered.length > 0) {
    lines.push(`# not offered: ${notOffered.map((scan) => scan.keyType).join(', ')}`);
  }
  for (const scan of missing.filter((s) => s.error !== undefined && s.error.code !== 'ERR_SFTP_ALGORITHMS')) {
    lines.push(`# ${scan.keyType}: not read (${scan.error!.code}: ${scan.error!.message})`);
  }
  if (keys.length === 0) return lines;

  const host = /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(address.host) ? address.host : JSON.stringify(address.host);
  lines.push(
    '',
    '# partners/<partner>.yaml, once the partner confirmed every fingerprint out of band:',
    'target:',
    `  host: ${host}`,
    `  port: ${address.port}`,
    '  hostKeys:',
  );
  for (const key of keys) {
    const legacy = isLegacyKeyType(key.keyType)
      ? `  # legacy: also list ${HOST_KEY_TYPES[key.keyType]?.join(', ') ?? key.keyType} in target.algorithms.serverHostKey`
      : '';
    lines.push(`    - ${JSON.stringify(pinFor(key))}${legacy}`);
  }
  return lines;
}

/**
 * The error `ferry host-key` ends with when no key could be read: the first failure that is not a
 * missing key type (unreachable, timeout, a proxy refusal…) explains more than "no common algorithm".
 */
export function scanFailure(address: HostAddress, scans: readonly KeyTypeScan[]): FerryError {
  const where = formatHostAddress(address);
  const errors = scans.flatMap((scan) => (scan.error === undefined ? [] : [scan.error]));
  const telling = errors.find((e) => e.code !== 'ERR_SFTP_ALGORITHMS');
  if (telling !== undefined) {
    return new FerryError(telling.code, `no host key read from ${where}: ${telling.message}`);
  }
  return new FerryError(
    'ERR_SFTP_ALGORITHMS',
    `${where} offered none of the host key types Ferry can read (${SCAN_KEY_TYPES.map((t) => t.keyType).join(', ')}), or no key exchange, cipher or MAC in common`,
  );
}
