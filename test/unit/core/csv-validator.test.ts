import { describe, expect, it } from 'vitest';
import {
  createCsvValidator,
  csvDataRows,
  describeCsvProblem,
  type CsvRules,
  type CsvVerdict,
} from '../../../src/core/csv-validator.js';
import { piecesAt } from '../../support/byte-pieces.js';

const rules = (overrides: Partial<CsvRules> = {}): CsvRules => ({
  delimiter: ',',
  encoding: 'utf-8',
  allowEmpty: true,
  ...overrides,
});

/** Feeds `input` in pieces cut at `cuts` (byte offsets). */
function validate(input: Buffer | string, r: CsvRules, cuts: number[] = []): CsvVerdict {
  const v = createCsvValidator(r);
  for (const piece of piecesAt(input, cuts)) v.feed(piece);
  return v.end();
}

const HEADER = ['order_id', 'sku', 'qty', 'amount'];
const SAMPLE =
  '\uFEFForder_id,sku,qty,amount\r\n' +
  '1,"A,1",2,"3.50"\r\n' +
  '2,"say ""hi""\nsecond line",1,9€\n' +
  '3,é,4,0';

describe('createCsvValidator', () => {
  it('accepts a valid file cut at every byte boundary', () => {
    const bytes = Buffer.from(SAMPLE, 'utf8');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const verdict = validate(bytes, rules({ header: HEADER, allowEmpty: false }), [cut]);
      expect(verdict, `cut at ${cut}`).toEqual({ ok: true, rows: 4, bytes: bytes.length });
    }
  });

  it('counts data rows: the header row aside when the rules name one, every record otherwise', () => {
    expect(csvDataRows(4, { header: HEADER })).toBe(3);
    expect(csvDataRows(1, { header: HEADER })).toBe(0);
    expect(csvDataRows(0, { header: HEADER })).toBe(0);
    expect(csvDataRows(4, {})).toBe(4);
    const verdict = validate(SAMPLE, rules({ header: HEADER }));
    expect(verdict.ok && csvDataRows(verdict.rows, rules({ header: HEADER }))).toBe(3);
  });

  it('accepts a valid file fed one byte at a time', () => {
    const bytes = Buffer.from(SAMPLE, 'utf8');
    const cuts = Array.from({ length: bytes.length }, (_, i) => i);
    expect(validate(bytes, rules({ header: HEADER }), cuts).ok).toBe(true);
  });

  it('keeps quoted delimiters and newlines inside one field', () => {
    expect(validate('a,b\n"x\ny,z",2\n', rules({ minColumns: 2 }))).toMatchObject({ ok: true, rows: 2 });
  });

  it('reports a short row with its row and first missing column', () => {
    const verdict = validate('order_id,sku,qty,amount\n1,A,2,3\n2,B,1\n', rules({ header: HEADER }));
    expect(verdict).toEqual({
      ok: false,
      row: 3,
      column: 4,
      reason: 'missing column: the row has 3, at least 4 expected',
    });
    if (!verdict.ok) expect(describeCsvProblem(verdict)).toMatch(/^csv: row 3, column 4: missing column/);
  });

  it('counts rows by CSV record, not by line, after a quoted newline', () => {
    expect(validate('a,b\n"1\n2",x\n3\n', rules({ minColumns: 2 }))).toMatchObject({ row: 3, column: 2 });
  });

  it('rejects a header that differs, naming the column', () => {
    expect(validate('order_id,SKU,qty,amount\n1,A,2,3\n', rules({ header: HEADER }))).toMatchObject({
      ok: false,
      row: 1,
      column: 2,
      reason: 'header "SKU" where "sku" is expected',
    });
    expect(validate('order_id,sku,qty\n', rules({ header: HEADER }))).toMatchObject({ row: 1, column: 4 });
  });

  it('rejects invalid utf-8 wherever the chunks are cut, naming the byte', () => {
    const bytes = Buffer.concat([
      Buffer.from('a,b\n1,\xc3', 'latin1'),
      Buffer.from([0x28]),
      Buffer.from('\n'),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(validate(bytes, rules(), [cut]), `cut at ${cut}`).toMatchObject({
        ok: false,
        row: 2,
        column: 2,
        reason: 'invalid utf-8 (byte offset 6)',
      });
    }
  });

  it('accepts a multi-byte character split across chunks, and rejects one cut off at the end', () => {
    const euro = Buffer.from('a,€', 'utf8');
    expect(validate(euro, rules(), [3, 4])).toMatchObject({ ok: true });
    expect(validate(euro.subarray(0, 4), rules())).toMatchObject({
      ok: false,
      reason: 'invalid utf-8 (the file ends inside a character)',
    });
  });

  it('rejects empty and header-only files unless allowEmpty', () => {
    expect(validate('', rules({ allowEmpty: false }))).toMatchObject({ row: 1, reason: 'empty file' });
    expect(validate('\uFEFF', rules({ allowEmpty: false }))).toMatchObject({ reason: 'empty file' });
    expect(
      validate('order_id,sku,qty,amount\r\n', rules({ header: HEADER, allowEmpty: false })),
    ).toMatchObject({
      row: 2,
      reason: 'no rows after the header',
    });
    expect(validate('order_id,sku,qty,amount\r\n', rules({ header: HEADER }))).toMatchObject({ ok: true });
  });

  it('rejects stray and unterminated quotes', () => {
    expect(validate('a,b"c\n', rules())).toMatchObject({
      row: 1,
      column: 2,
      reason: expect.stringMatching(/^quote inside/),
    });
    expect(validate('a,"b"c\n', rules())).toMatchObject({
      column: 2,
      reason: 'unexpected character after a closing quote',
    });
    expect(validate('a\n1,"open\n\n', rules())).toMatchObject({
      row: 2,
      column: 2,
      reason: 'unterminated quoted field',
    });
  });

  it('rejects a file over maxBytes and ignores input after the first problem', () => {
    const v = createCsvValidator(rules({ maxBytes: 4 }));
    expect(v.feed(Buffer.from('a,b\n'))).toBeUndefined();
    expect(v.feed(Buffer.from('c'))).toMatchObject({ reason: 'the file is larger than maxBytes (4)' });
    expect(v.feed(Buffer.from('"'))).toMatchObject({ reason: 'the file is larger than maxBytes (4)' });
    expect(v.end()).toMatchObject({ ok: false });
  });

  it('honours another delimiter', () => {
    expect(validate('a;b\n1;"x;y"\n', rules({ delimiter: ';', minColumns: 2 }))).toMatchObject({ ok: true });
    expect(validate('a;b\n1,2\n', rules({ delimiter: ';', minColumns: 2 }))).toMatchObject({ row: 2 });
  });
});
