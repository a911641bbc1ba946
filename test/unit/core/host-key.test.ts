import { describe, expect, it } from 'vitest';
import {
  fingerprintOfKey,
  isPinned,
  isValidFingerprint,
  normalizeFingerprint,
} from '../../../src/core/host-key.js';

// Generated once with `ssh-keygen -t ed25519` / `-t rsa -b 2048`; expected values are what
// `ssh-keygen -lf key.pub` printed for them.
const ED25519_BLOB = Buffer.from(
  'AAAAC3NzaC1lZDI1NTE5AAAAIIk8ucmoU6dxYQ4bFHEMu/42mhLJYQ/S5zaz7355Ucn+',
  'base64',
);
const ED25519_FP = 'SHA256:i/ccLlfJ0xDEoFXG8cw9btYgv1JH/oMEDE2QZjennVQ';
const RSA_BLOB = Buffer.from(
  'AAAAB3NzaC1yc2EAAAADAQABAAABAQDO/Ivxi1xAzaZqUn2UoJ5i+Oo7nXrmLDodBtkvha1fh5yd5WLSKQuOHQR6RDwu5bXP0edutaHqde8YicoCMHmIZJ+X2UAHIcBTBAC3i7Ih+qZr7vgt32ljvOUhQtODEkJ09LK82kyGAQ9ravo7+FDEshoQE8eFdwTGvEe9XP+oWB728N5uVA8FGB7t3cLdcaDhzCpvZQHDgNji8PRzvkLd2284weGNuPjMlUUH+xCAyxIjmt7vFow05FZmL+uVmo4AwroS8e7NGq44HMS1cMHG5E9SWCLmotUEjXUHPSw28b5iOEf3CBRXWKizkpr9lj3z2B7GguvT+oS15sSz480F',
  'base64',
);
const RSA_FP = 'SHA256:1GXC6fGzCZJUMlsrI3L8swh9ZT83EGnDd0BnX/cmLbY';

describe('fingerprintOfKey', () => {
  it.each([
    ['ed25519', ED25519_BLOB, ED25519_FP],
    ['rsa', RSA_BLOB, RSA_FP],
  ])('equals `ssh-keygen -lf` for an %s key', (_type, blob, expected) => {
    expect(fingerprintOfKey(blob)).toBe(expected);
  });

  it('has no base64 padding', () => {
    expect(fingerprintOfKey(ED25519_BLOB)).not.toContain('=');
  });
});

describe('normalizeFingerprint', () => {
  const body = ED25519_FP.slice('SHA256:'.length);
  it.each([
    ['the canonical form', ED25519_FP],
    ['surrounding whitespace', `  ${ED25519_FP}\n`],
    ['a missing prefix', body],
    ['a lower-case prefix', `sha256:${body}`],
    ['base64 padding', `${ED25519_FP}=`],
    ['space after the prefix', `SHA256: ${body}`],
  ])('canonicalises %s', (_label, input) => {
    expect(normalizeFingerprint(input)).toBe(ED25519_FP);
  });

  it('keeps the case of the base64 body (it is significant)', () => {
    expect(normalizeFingerprint(`SHA256:${body.toLowerCase()}`)).not.toBe(ED25519_FP);
  });
});

describe('isValidFingerprint', () => {
  it.each([ED25519_FP, RSA_FP, `sha256:${RSA_FP.slice(7)}=`])('accepts %j', (fp) => {
    expect(isValidFingerprint(fp)).toBe(true);
  });

  it.each([
    '',
    'SHA256:',
    'SHA256:abc',
    'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48',
    `${ED25519_FP}x`,
    'SHA256:' + '!'.repeat(43),
  ])('rejects %j', (fp) => {
    expect(isValidFingerprint(fp)).toBe(false);
  });
});

describe('isPinned', () => {
  it.each<[string, string, readonly string[], boolean]>([
    ['the only pin matches', ED25519_FP, [ED25519_FP], true],
    ['a second pin matches (key rotation)', RSA_FP, [ED25519_FP, RSA_FP], true],
    ['pins are written loosely', ED25519_FP, [`  sha256:${ED25519_FP.slice(7)}=  `], true],
    ['no pin matches', RSA_FP, [ED25519_FP], false],
    ['there are no pins', ED25519_FP, [], false],
    ['a pin differs by case only', ED25519_FP, [ED25519_FP.toLowerCase()], false],
    ['a pin is a prefix of the key fingerprint', ED25519_FP, [ED25519_FP.slice(0, 20)], false],
    ['the presented fingerprint is empty', '', [ED25519_FP], false],
  ])('returns the right answer when %s', (_label, fp, pins, expected) => {
    expect(isPinned(fp, pins)).toBe(expected);
  });

  it('matches a fingerprint computed from the key blob', () => {
    expect(isPinned(fingerprintOfKey(ED25519_BLOB), [RSA_FP, ED25519_FP])).toBe(true);
  });
});
