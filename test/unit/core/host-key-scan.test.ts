import { describe, expect, it } from 'vitest';
import {
  SCAN_KEY_TYPES,
  formatHostAddress,
  formatHostKeyScan,
  isLegacyKeyType,
  keyTypeOfBlob,
  matchesPins,
  parseHostAddress,
  pinFor,
  scanFailure,
  type KeyTypeScan,
} from '../../../src/core/host-key-scan.js';
import { parseHostKeyPin } from '../../../src/core/ssh-algorithms.js';

// `ssh-keygen -t ed25519` public key blob and what `ssh-keygen -lf` printed for it.
const ED25519_BLOB = Buffer.from(
  'AAAAC3NzaC1lZDI1NTE5AAAAIIk8ucmoU6dxYQ4bFHEMu/42mhLJYQ/S5zaz7355Ucn+',
  'base64',
);
const ED25519_FP = 'SHA256:i/ccLlfJ0xDEoFXG8cw9btYgv1JH/oMEDE2QZjennVQ';
const OTHER_FP = 'SHA256:1GXC6fGzCZJUMlsrI3L8swh9ZT83EGnDd0BnX/cmLbY';

function scan(keyType: string, overrides: Partial<KeyTypeScan> = {}): KeyTypeScan {
  return { keyType, ...overrides };
}
const notOffered = (keyType: string) =>
  scan(keyType, { error: { code: 'ERR_SFTP_ALGORITHMS', message: 'no matching host key format' } });

describe('parseHostAddress', () => {
  it.each([
    ['sftp.example.com', { host: 'sftp.example.com', port: 22 }],
    ['sftp.example.com:2222', { host: 'sftp.example.com', port: 2222 }],
    ['10.0.0.5:22', { host: '10.0.0.5', port: 22 }],
    ['[2001:db8::1]:2222', { host: '2001:db8::1', port: 2222 }],
    ['[::1]', { host: '::1', port: 22 }],
    ['2001:db8::1', { host: '2001:db8::1', port: 22 }],
  ])('reads %s', (text, expected) => {
    expect(parseHostAddress(text)).toEqual(expected);
  });

  it.each(['', ':22', 'host:', 'host:0', 'host:65536', 'host:22x', 'user@host', 'a b', 'host/x', '[::1]:x'])(
    'refuses %j',
    (text) => {
      expect(parseHostAddress(text)).toBeUndefined();
    },
  );

  it('formats IPv6 literals in brackets', () => {
    expect(formatHostAddress({ host: '::1', port: 2222 })).toBe('[::1]:2222');
    expect(formatHostAddress({ host: 'sftp.example.com', port: 22 })).toBe('sftp.example.com:22');
  });
});

describe('SCAN_KEY_TYPES', () => {
  it('asks for every key type a pin may name, ed25519 first, RSA with all its signature algorithms', () => {
    expect(SCAN_KEY_TYPES[0]?.keyType).toBe('ssh-ed25519');
    expect(SCAN_KEY_TYPES.map((t) => t.keyType)).toEqual(
      expect.arrayContaining(['ecdsa-sha2-nistp256', 'ssh-rsa', 'ssh-dss']),
    );
    expect(SCAN_KEY_TYPES.find((t) => t.keyType === 'ssh-rsa')?.algorithms).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
  });

  it('calls only key types outside the default algorithms legacy', () => {
    expect(isLegacyKeyType('ssh-dss')).toBe(true);
    expect(isLegacyKeyType('ssh-rsa')).toBe(false); // rsa-sha2-* are modern
    expect(isLegacyKeyType('ssh-ed25519')).toBe(false);
  });
});

describe('keyTypeOfBlob', () => {
  it('reads the type name at the start of a key blob', () => {
    expect(keyTypeOfBlob(ED25519_BLOB)).toBe('ssh-ed25519');
  });

  it.each([
    ['too short', Buffer.from([0, 0])],
    ['zero length', Buffer.from([0, 0, 0, 0, 1])],
    ['length past the end', Buffer.from([0, 0, 0, 9, 0x61])],
  ])('gives undefined for a %s blob', (_what, blob) => {
    expect(keyTypeOfBlob(blob)).toBeUndefined();
  });
});

describe('matchesPins', () => {
  const key = { keyType: 'ssh-ed25519', fingerprint: ED25519_FP };

  it('accepts a typed pin of the same type and a bare fingerprint', () => {
    expect(matchesPins(key, [`ssh-ed25519 ${ED25519_FP}`])).toBe(true);
    expect(matchesPins(key, [OTHER_FP, ED25519_FP])).toBe(true);
  });

  it('refuses a typed pin of another type with the same fingerprint, and other fingerprints', () => {
    expect(matchesPins(key, [`ecdsa-sha2-nistp256 ${ED25519_FP}`])).toBe(false);
    expect(matchesPins(key, [`ssh-ed25519 ${OTHER_FP}`])).toBe(false);
    expect(matchesPins(key, [])).toBe(false);
  });
});

describe('formatHostKeyScan', () => {
  const address = { host: 'sftp.example.com', port: 2222 };
  const scans = [
    scan('ssh-ed25519', { key: { keyType: 'ssh-ed25519', fingerprint: ED25519_FP } }),
    notOffered('ecdsa-sha2-nistp256'),
    scan('ssh-rsa', { key: { keyType: 'ssh-rsa', fingerprint: OTHER_FP } }),
    notOffered('ssh-dss'),
  ];

  it('prints one pin per key in the form target.hostKeys accepts, then a YAML snippet', () => {
    const lines = formatHostKeyScan(address, scans);
    // The pin lines: everything before the snippet that is not a comment.
    const pins = lines.slice(0, lines.indexOf('')).filter((l) => !l.startsWith('#'));
    expect(pins).toEqual([`ssh-ed25519 ${ED25519_FP}`, `ssh-rsa ${OTHER_FP}`]);
    for (const pin of pins) expect(parseHostKeyPin(pin)).toBeDefined();
    expect(lines).toContain('# not offered: ecdsa-sha2-nistp256, ssh-dss');
    const snippet = lines.slice(lines.indexOf('target:'));
    expect(snippet).toEqual([
      'target:',
      '  host: sftp.example.com',
      '  port: 2222',
      '  hostKeys:',
      `    - "ssh-ed25519 ${ED25519_FP}"`,
      `    - "ssh-rsa ${OTHER_FP}"`,
    ]);
  });

  it('quotes an IPv6 host and marks a legacy key type in the snippet', () => {
    const lines = formatHostKeyScan({ host: '::1', port: 22 }, [
      scan('ssh-dss', { key: { keyType: 'ssh-dss', fingerprint: OTHER_FP } }),
    ]);
    expect(lines).toContain('  host: "::1"');
    expect(lines.find((l) => l.startsWith('    - "ssh-dss'))).toMatch(/# legacy: .*ssh-dss.*serverHostKey/);
  });

  it('lists key types that could not be read for another reason with their code', () => {
    const lines = formatHostKeyScan(address, [
      scans[0]!,
      scan('ssh-rsa', { error: { code: 'ERR_SFTP_TIMEOUT', message: 'no host key within 10000 ms' } }),
    ]);
    expect(lines).toContain('# ssh-rsa: not read (ERR_SFTP_TIMEOUT: no host key within 10000 ms)');
  });

  it('prints a key of a type pins cannot name as a bare fingerprint', () => {
    expect(pinFor({ keyType: 'sk-ssh-ed25519@openssh.com', fingerprint: ED25519_FP })).toBe(ED25519_FP);
  });
});

describe('scanFailure', () => {
  const address = { host: 'sftp.example.com', port: 22 };

  it('explains with the first failure that is not a missing key type', () => {
    const err = scanFailure(address, [
      notOffered('ssh-ed25519'),
      scan('ssh-rsa', { error: { code: 'ERR_SFTP_UNREACHABLE', message: 'connect ECONNREFUSED' } }),
    ]);
    expect(err.code).toBe('ERR_SFTP_UNREACHABLE');
    expect(err.message).toContain('sftp.example.com:22');
  });

  it('says no key type was in common when every handshake failed negotiation', () => {
    const err = scanFailure(address, [notOffered('ssh-ed25519'), notOffered('ssh-rsa')]);
    expect(err.code).toBe('ERR_SFTP_ALGORITHMS');
  });
});
