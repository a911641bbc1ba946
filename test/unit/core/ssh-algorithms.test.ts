// Per-partner SSH algorithm allow-lists and typed host-key pins: the schema, the warnings `ferry validate`
// prints, and the pure helpers the SFTP adapter builds ssh2's `algorithms` from.
import { createRequire } from 'node:module';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FINGERPRINT as FP, messagesOf, partnerInput as partnerWith } from '../../support/partner-input.js';
import { formatWarning, loadConfig } from '../../../src/config/load-config.js';
import { partnerSchema } from '../../../src/config/schema.js';
import {
  ALGORITHM_CATEGORIES,
  MODERN_ALGORITHMS,
  SUPPORTED_ALGORITHMS,
  effectiveAlgorithms,
  hostKeyAlgorithmsFor,
  isLegacyAlgorithm,
  legacyAlgorithmsIn,
  parseHostKeyPin,
} from '../../../src/core/ssh-algorithms.js';
import { runValidate } from '../../../src/config/validate-command.js';
import { makeTempDir } from '../../support/temp-dir.js';

/** The shared minimal partner, with fields of its target set or replaced. */
const partnerInput = (target: Record<string, unknown> = {}) => partnerWith({ target });

describe('the algorithm tables', () => {
  // ssh2's own lists, filtered by what this Node/OpenSSL can do (not part of ssh2's public API).
  const ssh2 = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, string[]>;
  const ssh2Names: Record<(typeof ALGORITHM_CATEGORIES)[number], string> = {
    kex: 'SUPPORTED_KEX',
    cipher: 'SUPPORTED_CIPHER',
    hmac: 'SUPPORTED_MAC',
    serverHostKey: 'SUPPORTED_SERVER_HOST_KEY',
  };

  it.each(ALGORITHM_CATEGORIES)('know exactly the %s names ssh2 supports here', (category) => {
    expect([...SUPPORTED_ALGORITHMS[category]].sort()).toEqual([...ssh2[ssh2Names[category]]!].sort());
  });

  it.each(ALGORITHM_CATEGORIES)('default to modern %s names only, all supported', (category) => {
    for (const name of MODERN_ALGORITHMS[category]) {
      expect(SUPPORTED_ALGORITHMS[category]).toContain(name);
      expect(isLegacyAlgorithm(category, name)).toBe(false);
    }
  });

  it.each([
    ['cipher', 'aes128-cbc'],
    ['cipher', '3des-cbc'],
    ['hmac', 'hmac-sha1'],
    ['hmac', 'hmac-md5'],
    ['kex', 'diffie-hellman-group14-sha1'],
    ['kex', 'diffie-hellman-group1-sha1'],
    ['serverHostKey', 'ssh-rsa'],
    ['serverHostKey', 'ssh-dss'],
  ] as const)('call %s %s legacy', (category, name) => {
    expect(isLegacyAlgorithm(category, name)).toBe(true);
  });

  it('replaces only the categories a partner lists', () => {
    const lists = effectiveAlgorithms({ cipher: ['aes128-cbc'] });
    expect(lists.cipher).toEqual(['aes128-cbc']);
    expect(lists.kex).toEqual(MODERN_ALGORITHMS.kex);
    expect(legacyAlgorithmsIn({ cipher: ['aes256-ctr', 'aes128-cbc'], hmac: ['hmac-sha1'] })).toEqual([
      'cipher:aes128-cbc',
      'hmac:hmac-sha1',
    ]);
    expect(legacyAlgorithmsIn(undefined)).toEqual([]);
  });
});

describe('target.algorithms in a partner file', () => {
  it('accepts modern and legacy names and keeps them in the given order', () => {
    const parsed = partnerSchema.parse(
      partnerInput({
        algorithms: { kex: ['diffie-hellman-group14-sha1', 'curve25519-sha256'], hmac: ['hmac-sha1'] },
      }),
    );
    expect(parsed.target.algorithms).toEqual({
      kex: ['diffie-hellman-group14-sha1', 'curve25519-sha256'],
      hmac: ['hmac-sha1'],
    });
  });

  it('rejects unknown names, duplicates, empty lists and unknown categories', () => {
    const messages = messagesOf(
      partnerInput({ algorithms: { cipher: ['aes128-ctr', 'rot13'], kex: [], mac: ['x'] } }),
    );
    expect(messages).toHaveLength(3);
    expect(messages).toEqual(
      expect.arrayContaining([
        'target.algorithms: Unrecognized key: "mac"',
        expect.stringMatching(/^target\.algorithms\.kex: must list at least one algorithm/),
        expect.stringMatching(
          /^target\.algorithms\.cipher\.1: unknown cipher algorithm; supported: aes128-gcm@openssh\.com, /,
        ),
      ]),
    );
    expect(messagesOf(partnerInput({ algorithms: { hmac: ['hmac-sha2-256', 'hmac-sha2-256'] } }))).toEqual([
      'target.algorithms.hmac.1: listed twice',
    ]);
  });

  it('warns (file:line:col: warning: path: …) about each legacy name, without failing validation', async () => {
    const dir = await makeTempDir('algorithms');
    dirs.push(dir);
    await mkdir(join(dir, 'partners'));
    await writeFile(join(dir, 'ferry.yaml'), 'receipts: { bucket: ferry-audit }\n');
    await writeFile(
      join(dir, 'partners', 'old.yaml'),
      [
        'id: old',
        "schedule: { cron: '0 2 * * *' }",
        'source: { bucket: warehouse-exports, prefix: old/ }',
        'target:',
        '  host: sftp.old.example',
        '  username: ferry',
        `  hostKeys: ['${FP}']`,
        '  auth: { privateKeyFile: /run/secrets/old }',
        '  directory: /inbound',
        '  algorithms:',
        '    cipher: [aes256-ctr, aes128-cbc]',
        '    kex: [diffie-hellman-group14-sha1]',
        '',
      ].join('\n'),
    );
    const result = await loadConfig(dir, {});
    expect(result.ok).toBe(true);
    expect(result.warnings?.map((w) => formatWarning(w).replace(`${dir}/`, ''))).toEqual([
      expect.stringMatching(
        /^partners\/old\.yaml:11:26: warning: target\.algorithms\.cipher\[1\]: legacy algorithm "aes128-cbc" is outside Ferry's modern list/,
      ),
      expect.stringMatching(
        /^partners\/old\.yaml:12:11: warning: target\.algorithms\.kex\[0\]: legacy algorithm "diffie-hellman-group14-sha1"/,
      ),
    ]);
    const lines: string[] = [];
    expect(await runValidate(dir, {}, (l) => lines.push(l))).toBe(0);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain(': warning: target.algorithms.cipher[1]: ');
    expect(lines[2]).toBe(`config OK: 1 partner (old) in ${dir} (2 warnings)`);
  });
});

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('host-key pins with a key type', () => {
  it('parses bare and typed pins and drops base64 padding', () => {
    expect(parseHostKeyPin(`${FP}=`)).toEqual({ fingerprint: FP });
    expect(parseHostKeyPin(`ssh-ed25519 ${FP}`)).toEqual({ keyType: 'ssh-ed25519', fingerprint: FP });
    expect(parseHostKeyPin(`ssh-foo ${FP}`)).toBeUndefined();
    expect(parseHostKeyPin('MD5:16:27:ac')).toBeUndefined();
  });

  it('keeps typed pins in canonical form in the config', () => {
    const parsed = partnerSchema.parse(partnerInput({ hostKeys: [`ssh-ed25519  ${FP}=`, FP] }));
    expect(parsed.target.hostKeys).toEqual([`ssh-ed25519 ${FP}`, FP]);
  });

  it('rejects an unknown key type with the list of known ones', () => {
    expect(messagesOf(partnerInput({ hostKeys: [`ssh-foo ${FP}`] }))).toEqual([
      expect.stringMatching(/^target\.hostKeys\.0: names an unknown key type: use one of ssh-ed25519, /),
    ]);
  });

  it('restricts host-key algorithms to the pinned types only when every pin names one', () => {
    const allowed = MODERN_ALGORITHMS.serverHostKey;
    expect(hostKeyAlgorithmsFor([`ssh-ed25519 ${FP}`], allowed)).toEqual(['ssh-ed25519']);
    expect(hostKeyAlgorithmsFor([`ssh-rsa ${FP}`, `ecdsa-sha2-nistp384 ${FP}`], allowed)).toEqual([
      'ecdsa-sha2-nistp384',
      'rsa-sha2-512',
      'rsa-sha2-256',
    ]);
    expect(hostKeyAlgorithmsFor([`ssh-rsa ${FP}`], [...allowed, 'ssh-rsa'])).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
    expect(hostKeyAlgorithmsFor([`ssh-ed25519 ${FP}`, FP], allowed)).toEqual(allowed);
  });

  it('rejects typed pins that leave no host-key algorithm to negotiate', () => {
    expect(messagesOf(partnerInput({ hostKeys: [`ssh-dss ${FP}`] }))).toEqual([
      expect.stringMatching(/^target\.hostKeys: the pinned key types allow none of the host-key algorithms/),
    ]);
    expect(
      messagesOf(partnerInput({ hostKeys: [`ssh-dss ${FP}`], algorithms: { serverHostKey: ['ssh-dss'] } })),
    ).toEqual([]);
  });
});
