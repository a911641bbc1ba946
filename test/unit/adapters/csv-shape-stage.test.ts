import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { createCsvShapeStage } from '../../../src/adapters/csv-shape-stream.js';
import type { ShapeRules } from '../../../src/core/csv-shaper.js';

const RULES: ShapeRules = {
  inputDelimiter: ',',
  columns: [
    { as: 'amount', from: 'total' },
    { as: 'id', from: 'order_id' },
    { as: 'source', value: 'ferry' },
  ],
  header: true,
  delimiter: ';',
  quote: 'minimal',
  lineEnding: 'crlf',
  encoding: 'windows-1252',
  unmappable: 'fail',
  trailer: 'END {rows}',
};

/** A body in small chunks, so records and characters are cut between them. */
const body = (text: string): Readable =>
  Readable.from(
    Buffer.from(text)
      .toString('latin1')
      .match(/[\s\S]{1,5}/g) ?? [],
  ).map((s: string) => Buffer.from(s, 'latin1'));

describe('CSV shape stage', () => {
  it('reshapes a file streamed in small chunks and counts its rows', async () => {
    const stage = createCsvShapeStage(RULES);
    const out = await buffer(body('order_id,total\n1,"9,50 €"\n2,3\n').pipe(stage));
    expect(out).toEqual(
      Buffer.from('amount;id;source\r\n9,50 \x80;1;ferry\r\n3;2;ferry\r\nEND 2\r\n', 'latin1'),
    );
    expect(stage.rows()).toBe(2);
  });

  it('fails with ERR_CSV_INVALID naming row and column', async () => {
    const stage = createCsvShapeStage(RULES);
    await expect(buffer(body('order_id,total\n1,2\n3\n').pipe(stage))).rejects.toMatchObject({
      code: 'ERR_CSV_INVALID',
      message: 'shape: row 3, column 2: the row has 1 field, the header has 2',
      details: { csvRow: 3, csvColumn: 2 },
    });
  });

  it('fails at the end (in flush) before the stream ends: an unterminated quote never completes', async () => {
    const stage = createCsvShapeStage(RULES);
    let ended = false;
    stage.on('end', () => (ended = true));
    await expect(buffer(body('order_id,total\n1,"2\n').pipe(stage))).rejects.toMatchObject({
      code: 'ERR_CSV_INVALID',
      details: { csvRow: 2, csvColumn: 2 },
    });
    expect(ended).toBe(false);
  });

  it('names the output column of a character the encoding lacks', async () => {
    const stage = createCsvShapeStage({ ...RULES, encoding: 'iso-8859-1' });
    await expect(buffer(body('order_id,total\n1,€\n').pipe(stage))).rejects.toMatchObject({
      code: 'ERR_CSV_INVALID',
      message:
        'shape: row 2, output column 1 "amount": character U+20AC "€" cannot be written in iso-8859-1 (unmappable: fail)',
      details: { csvRow: 2, csvColumn: 1, csvOutputColumn: 'amount' },
    });
  });
});
