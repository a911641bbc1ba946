import { describe, expect, it } from 'vitest';
import { partnerSchema } from '../../../../src/config/schema/partner.js';
import { normaliseRemoteDirectory } from '../../../../src/config/schema/target.js';
import { FINGERPRINT, messagesOf, partnerInput } from '../../../support/partner-input.js';

describe('partnerSchema', () => {
  it('drops the trailing "=" some tools add to a fingerprint', () => {
    const parsed = partnerSchema.parse(partnerInput({ target: { hostKeys: [`${FINGERPRINT}=`] } }));
    expect(parsed.target.hostKeys).toEqual([FINGERPRINT]);
  });

  it.each([
    ['0640', 0o640],
    ['640', 0o640],
    ['0600', 0o600],
    ['0755', 0o755],
  ])('parses fileMode "%s" as octal', (mode, expected) => {
    expect(partnerSchema.parse(partnerInput({ target: { fileMode: mode } })).target.fileMode).toBe(expected);
  });

  it('takes target.fsync as a boolean, left out (on) unless given', () => {
    expect(partnerSchema.parse(partnerInput()).target.fsync).toBeUndefined();
    expect(partnerSchema.parse(partnerInput({ target: { fsync: false } })).target.fsync).toBe(false);
    expect(messagesOf(partnerInput({ target: { fsync: 'no' } }))).toEqual([
      'target.fsync: Invalid input: expected boolean, received string',
    ]);
  });

  it('takes target.maxFilesInFlight from 1 to 64, 4 unless given', () => {
    expect(partnerSchema.parse(partnerInput()).target.maxFilesInFlight).toBe(4);
    expect(
      partnerSchema.parse(partnerInput({ target: { maxFilesInFlight: 16 } })).target.maxFilesInFlight,
    ).toBe(16);
    expect(messagesOf(partnerInput({ target: { maxFilesInFlight: 0 } }))).toEqual([
      'target.maxFilesInFlight: Too small: expected number to be >=1',
    ]);
  });

  it.each(['0666', '0642', '777'])('rejects the world-writable fileMode "%s"', (mode) => {
    expect(messagesOf(partnerInput({ target: { fileMode: mode } }))).toEqual([
      'target.fileMode: must not be world-writable (o+w); use e.g. "0640"',
    ]);
  });

  it.each(['0o640', '0888', '06400', 'rw-r-----'])('rejects the malformed fileMode "%s"', (mode) => {
    expect(messagesOf(partnerInput({ target: { fileMode: mode } }))).toEqual([
      'target.fileMode: must be a quoted octal string like "0640"',
    ]);
  });

  it('requires exactly one way to authenticate', () => {
    expect(messagesOf(partnerInput({ target: { auth: {} } }))).toEqual([
      'target.auth: needs exactly one of privateKeyFile, privateKeyEnv, passwordEnv, passwordFile',
    ]);
    expect(
      messagesOf(partnerInput({ target: { auth: { privateKeyFile: '/k', passwordEnv: 'ACME_PASSWORD' } } })),
    ).toEqual([
      'target.auth.passwordEnv: only one of privateKeyFile, privateKeyEnv, passwordEnv, passwordFile may be set (privateKeyFile is already set)',
    ]);
  });

  it('allows a passphrase only with a private key', () => {
    const input = partnerInput({
      target: { auth: { passwordEnv: 'ACME_PASSWORD', passphraseEnv: 'ACME_PASS' } },
    });
    expect(messagesOf(input)).toEqual([
      'target.auth.passphraseEnv: only allowed with privateKeyFile or privateKeyEnv',
    ]);
    const withKey = partnerInput({
      target: { auth: { privateKeyEnv: 'ACME_KEY', passphraseEnv: 'ACME_PASS' } },
    });
    expect(partnerSchema.parse(withKey).target.auth).toEqual({
      privateKeyEnv: 'ACME_KEY',
      passphraseEnv: 'ACME_PASS',
    });
  });

  it('rejects an environment variable name that is not one', () => {
    expect(messagesOf(partnerInput({ target: { auth: { privateKeyEnv: 'acme key' } } }))).toEqual([
      'target.auth.privateKeyEnv: must be an environment variable name like ACME_SFTP_KEY',
    ]);
  });

  it('still reports a cross-field conflict when another field of the same section is wrong', () => {
    const input = partnerInput({ target: { port: 0, publish: 'direct', onExisting: 'overwrite' } });
    expect(messagesOf(input)).toHaveLength(2);
  });
});

describe('normaliseRemoteDirectory', () => {
  it.each([
    ['/inbound/', '/inbound'],
    ['//inbound//daily/', '/inbound/daily'],
    ['/inbound/./daily', '/inbound/daily'],
    ['/', '/'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseRemoteDirectory(input)).toBe(expected);
  });
});
