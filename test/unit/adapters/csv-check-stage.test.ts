import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkCsvStream, createBodyPipeline } from '../../../src/adapters/transform-stream.js';
import type { CsvRules } from '../../../src/core/csv-validator.js';

const RULES: CsvRules = { delimiter: ',', encoding: 'utf-8', allowEmpty: false, minColumns: 2 };

/** A body in small chunks, so a problem is found after some bytes went through. */
const body = (text: string): Readable =>
  Readable.from(text.match(/[\s\S]{1,5}/g) ?? [], { objectMode: false }).map((s: string) => Buffer.from(s));

describe('CSV check stage', () => {
  it('passes a valid file through unchanged', async () => {
    const text = 'a,b\n1,"x,y"\n';
    expect((await buffer(checkCsvStream(body(text), RULES))).toString()).toBe(text);
  });

  it('fails with ERR_CSV_INVALID naming row and column, and destroys the body', async () => {
    const source = body('a,b\n1,2\n3\n');
    const stream = checkCsvStream(source, RULES);
    await expect(buffer(stream)).rejects.toMatchObject({
      code: 'ERR_CSV_INVALID',
      message: 'csv: row 3, column 2: missing column: the row has 1, at least 2 expected',
      details: { csvRow: 3, csvColumn: 2 },
    });
    expect(source.destroyed).toBe(true);
  });

  it('fails at the end (in flush) before the stream ends: an empty file never completes', async () => {
    const stream = checkCsvStream(body(''), RULES);
    let ended = false;
    stream.on('end', () => (ended = true));
    await expect(buffer(stream)).rejects.toMatchObject({ code: 'ERR_CSV_INVALID' });
    expect(ended).toBe(false);
  });

  it('checks the source bytes ahead of gzip in a transform pipeline', async () => {
    const good = await createBodyPipeline(body('a,b\n1,2\n'), { compress: 'gzip' }, undefined, RULES);
    expect(gunzipSync(await buffer(good.stream)).toString()).toBe('a,b\n1,2\n');
    const bad = await createBodyPipeline(body('a,b\n1,2\n3\n'), { compress: 'gzip' }, undefined, RULES);
    await expect(buffer(bad.stream)).rejects.toMatchObject({ code: 'ERR_CSV_INVALID' });
  });
});
