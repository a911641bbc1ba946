// The inline CSV check inside the OpenPGP pipeline (no services): bytes flow to the writer while the
// file is good; a bad row deep inside fails the delivered stream with ERR_CSV_INVALID (not an OpenPGP
// error) and tears the source down; escape mode's rewrite is what gets encrypted.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBodyPipeline, type PgpKeys } from '../../../src/adapters/transform-stream.js';
import type { CsvRules } from '../../../src/core/csv-validator.js';
import { FerryError } from '../../../src/errors.js';
import { generateTestKey, type TestKeyPair } from '../../support/pgp-keys.js';

const RULES: CsvRules = { delimiter: ',', encoding: 'utf-8', allowEmpty: false, minColumns: 4 };
const PGP = { recipientKeysFile: '/unused', armor: false };

let pair: TestKeyPair;
let keys: PgpKeys;
beforeAll(async () => {
  pair = await generateTestKey('partner');
  const key = await openpgp.readKey({ armoredKey: pair.publicKey });
  keys = { encryptionKeys: [key], recipients: [key.getFingerprint()] };
});

/** `rows` good rows then `tail`, served in 64 KiB chunks. */
function source(rows: number, tail = ''): { body: Readable; bytes: Buffer } {
  const lines: string[] = ['id,sku,qty,amount\n'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},SKU-${i},1,-${i}.5\n`);
  const bytes = Buffer.from(lines.join('') + tail);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 64 * 1024) chunks.push(bytes.subarray(at, at + 64 * 1024));
  return { body: Readable.from(chunks), bytes };
}

async function decrypt(data: Buffer): Promise<Buffer> {
  const out = await openpgp.decrypt({
    message: await openpgp.readMessage({ binaryMessage: data }),
    decryptionKeys: await openpgp.readPrivateKey({ armoredKey: pair.privateKey }),
    format: 'binary',
  });
  return Buffer.from(out.data as Uint8Array);
}

describe('inline CSV check under OpenPGP', () => {
  it('a good file encrypts to the source', async () => {
    const { body, bytes } = source(20_000);
    const pipeline = await createBodyPipeline(body, { compress: 'none', pgp: PGP }, keys, RULES);
    expect((await decrypt(await buffer(pipeline.stream))).equals(bytes)).toBe(true);
    expect(pipeline.source().bytes).toBe(bytes.length);
  });

  it('a bad row deep inside fails the stream with ERR_CSV_INVALID after bytes were delivered', async () => {
    const { body } = source(100_000, '100001,SKU,1\n');
    const pipeline = await createBodyPipeline(body, { compress: 'gzip', pgp: PGP }, keys, RULES);
    let delivered = 0;
    const failure = await (async () => {
      try {
        for await (const chunk of pipeline.stream) delivered += (chunk as Buffer).length;
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(FerryError);
    expect(failure).toMatchObject({
      code: 'ERR_CSV_INVALID',
      message: 'csv: row 100002, column 4: missing column: the row has 3, at least 4 expected',
    });
    expect(delivered).toBeGreaterThan(0);
    expect(body.destroyed).toBe(true);
  });

  it('escape mode: the encrypted bytes are the escaped CSV', async () => {
    const { body, bytes } = source(10_000, '10001,=cmd,1,-2\n');
    const pipeline = await createBodyPipeline(body, undefined, undefined, {
      ...RULES,
      neutralizeFormulas: 'escape',
    });
    const out = await buffer(pipeline.stream);
    expect(out.toString()).toBe(bytes.toString().replace('10001,=cmd', "10001,'=cmd"));
    expect(pipeline.source().bytes).toBe(bytes.length);
  });
});
