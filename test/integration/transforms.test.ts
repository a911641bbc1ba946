// Partner transforms on the real pipeline (redis-server, sshd, s3rver): gzip, OpenPGP (binary and
// armored, signed or not). What arrives is undone with gunzip / openpgp.decrypt and compared to the
// source; the receipt records the source hash beside the delivered bytes' hash.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { usePartnerPipeline } from '../support/partner-pipeline.js';
import { decryptSigned, writeKeyFile, writeTestKeyFiles, type TestKeyFiles } from '../support/pgp-keys.js';
import { readPartnerDir, sha256 } from '../support/pipeline.js';

let keys: TestKeyFiles;

const pipeline = usePartnerPipeline({
  partners: async () => {
    keys = await writeTestKeyFiles('transform-keys');
    const { recipientKeysFile: recipients, signingKeyFile: signing, passphraseFile: passphrase } = keys;
    const rotated = await writeKeyFile(keys.dir, 'rotated.asc', keys.partnerKey.publicKey);
    return [
      { id: 'zipped', extraYaml: 'transform: { compress: gzip }' },
      {
        id: 'sealed',
        extraYaml: `transform: { compress: gzip, pgp: { recipientKeysFile: ${recipients}, signingKeyFile: ${signing}, passphraseFile: ${passphrase} } }`,
      },
      { id: 'armored', extraYaml: `transform: { pgp: { recipientKeysFile: ${recipients}, armor: true } }` },
      { id: 'rotated', extraYaml: `transform: { pgp: { recipientKeysFile: ${rotated} } }` },
    ];
  },
  afterStop: async () => {
    await keys?.remove();
  },
});

async function deliverOne(partnerId: string, size: number) {
  const body = Buffer.concat([Buffer.from('id,amount\n'.repeat(size / 20)), Buffer.alloc(size / 2, 7)]);
  const [seeded] = await pipeline.put([{ key: `${partnerId}/orders.csv`, body }]);
  const { code, summary } = await pipeline.sweep(partnerId);
  expect(code).toBe(0);
  expect(summary).toMatch(/^delivered 1,/);
  const dir = await readPartnerDir(pipeline.fixture.partnerDirs[partnerId]!);
  expect(dir.temps).toEqual([]);
  const [name, file] = [...dir.finals][0]!;
  const arrived = await readFile(join(pipeline.fixture.partnerDirs[partnerId]!, name));
  return { source: seeded!, name, file, arrived, receipt: await pipeline.onlyReceipt(partnerId) };
}

describe('partner transforms', () => {
  it('gzips on the way: name gets .gz, gunzip gives the source back, the receipt holds both hashes', async () => {
    const { source, name, file, arrived, receipt } = await deliverOne('zipped', 2 * 1024 * 1024);
    expect(name).toBe('orders.csv.gz');
    expect(gunzipSync(arrived).equals(source.body)).toBe(true);
    expect(file.size).toBeLessThan(source.body.length);
    expect(receipt.source).toMatchObject({ size: source.body.length, sha256: source.sha256 });
    expect(receipt).toMatchObject({ sha256: file.sha256, bytes: file.size, transform: { compress: 'gzip' } });
    expect(receipt.target.path.endsWith('/orders.csv.gz')).toBe(true);
  });

  it('gzips, encrypts to the partner and signs: decrypting and gunzipping gives the source, the signature verifies', async () => {
    const { source, name, file, arrived, receipt } = await deliverOne('sealed', 1024 * 1024);
    expect(name).toBe('orders.csv.gz.pgp');
    const decrypted = await decryptSigned(keys, arrived);
    expect(gunzipSync(decrypted.data as Uint8Array).equals(source.body)).toBe(true);
    await expect(decrypted.signatures[0]!.verified).resolves.toBe(true);
    expect(receipt).toMatchObject({
      sha256: file.sha256,
      bytes: file.size,
      source: { size: source.body.length, sha256: source.sha256 },
      transform: {
        compress: 'gzip',
        pgp: { recipients: [keys.partnerKey.fingerprint], signed: true, armor: false },
      },
    });
  });

  it('writes ASCII-armored OpenPGP as .asc when armor is set', async () => {
    const { source, name, arrived, receipt } = await deliverOne('armored', 64 * 1024);
    expect(name).toBe('orders.csv.asc');
    expect(arrived.toString('utf8')).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    const decrypted = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: arrived.toString('utf8') }),
      decryptionKeys: await openpgp.readPrivateKey({ armoredKey: keys.partnerKey.privateKey }),
      format: 'binary',
    });
    expect(Buffer.from(decrypted.data).equals(source.body)).toBe(true);
    expect(sha256(arrived)).toBe(receipt.sha256);
    expect(receipt.transform).toEqual({
      compress: 'none',
      pgp: { recipients: [keys.partnerKey.fingerprint], signed: false, armor: true },
    });
  });

  it('fails a delivery for good, sending nothing, when the recipient key became unusable after load', async () => {
    // Keys are read per delivery (a rotated file is picked up); one replaced by garbage stops it.
    await writeFile(join(keys.dir, 'rotated.asc'), 'not a key anymore\n');
    await pipeline.put([{ key: 'rotated/orders.csv', size: 1000 }]);
    const { summary } = await pipeline.sweep('rotated');
    expect(summary).toMatch(/failed 1/);
    const dir = await readPartnerDir(pipeline.fixture.partnerDirs['rotated']!);
    expect([...dir.finals.keys(), ...dir.temps]).toEqual([]);
    const failed = pipeline.logs
      .lines()
      .find((l) => l.partnerId === 'rotated' && l.errCode === 'ERR_CONFIG_INVALID');
    expect(failed?.err).toBe('transform.pgp.recipientKeysFile: does not hold armored OpenPGP public keys');
  });
});
