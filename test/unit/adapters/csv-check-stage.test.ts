import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  checkCsvStream,
  createBodyPipeline,
  createCsvCheckStage,
  describeCsv,
} from '../../../src/adapters/transform-stream.js';
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

  it('counts the data rows once the file ended valid: the header row aside only when the rules name one', async () => {
    const text = 'a,b\n1,"x\ny"\n2,z';
    const plain = checkCsvStream(body(text), RULES);
    expect(plain.dataRows()).toBeUndefined(); // not read yet
    await buffer(plain);
    expect(plain.dataRows()).toBe(3);
    const headed = checkCsvStream(body(text), { ...RULES, header: ['a', 'b'] });
    await buffer(headed);
    expect(headed.dataRows()).toBe(2);
    // Escape mode counts them too: checking only (a prevalidation read) and while it rewrites.
    const escape: CsvRules = { ...RULES, header: ['a', 'b'], neutralizeFormulas: 'escape' };
    const checking = checkCsvStream(body('a,b\n1,=2\n'), escape);
    expect((await buffer(checking)).toString()).toBe('a,b\n1,=2\n');
    expect(checking.dataRows()).toBe(1);
    const escaper = createCsvCheckStage(escape);
    expect((await buffer(body('a,b\n1,=2\n').pipe(escaper))).toString()).toBe("a,b\n1,'=2\n");
    expect(escaper.dataRows()).toBe(1);
  });

  it('has no row count for a file that broke the rules', async () => {
    const stream = checkCsvStream(body('a,b\n1,2\n3\n'), RULES);
    await expect(buffer(stream)).rejects.toMatchObject({ code: 'ERR_CSV_INVALID' });
    expect(stream.dataRows()).toBeUndefined();
  });

  it('describes the count for the receipt only without shape (shape records the rows it wrote)', () => {
    const shape = { columns: [] } as unknown as Parameters<typeof describeCsv>[1];
    expect(describeCsv(RULES, undefined, 3)).toEqual({ rows: 3 });
    expect(describeCsv(RULES, undefined, 0)).toEqual({ rows: 0 });
    expect(describeCsv(RULES, shape, 3)).toBeUndefined();
    expect(describeCsv(undefined, undefined, 3)).toBeUndefined();
    expect(describeCsv(RULES, undefined, undefined)).toBeUndefined();
  });

  it('checks the source bytes ahead of gzip in a transform pipeline', async () => {
    const good = await createBodyPipeline(body('a,b\n1,2\n'), { compress: 'gzip' }, undefined, RULES);
    expect(gunzipSync(await buffer(good.stream)).toString()).toBe('a,b\n1,2\n');
    expect(good.csvRows?.()).toBe(2); // no header named: both records are data rows
    const bad = await createBodyPipeline(body('a,b\n1,2\n3\n'), { compress: 'gzip' }, undefined, RULES);
    await expect(buffer(bad.stream)).rejects.toMatchObject({ code: 'ERR_CSV_INVALID' });
  });
});
