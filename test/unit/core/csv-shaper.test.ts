import { describe, expect, it } from 'vitest';
import {
  createCsvShaper,
  describeShapeProblem,
  findUnmappable,
  type ShapeColumn,
  type ShapeProblem,
  type ShapeRules,
} from '../../../src/core/csv-shaper.js';
import { piecesAt } from '../../support/byte-pieces.js';

const rules = (overrides: Partial<ShapeRules> = {}): ShapeRules => ({
  inputDelimiter: ',',
  columns: [
    { as: 'id', from: 'order_id' },
    { as: 'total', from: 'amount' },
  ],
  header: true,
  delimiter: ',',
  quote: 'minimal',
  lineEnding: 'lf',
  encoding: 'utf-8',
  unmappable: 'fail',
  ...overrides,
});

interface Shaped {
  out: Buffer;
  text: string;
  rows: number;
  problem?: ShapeProblem;
}

/** Shapes `input` fed in pieces cut at `cuts` (byte offsets). */
function shape(input: Buffer | string, r: ShapeRules, cuts: number[] = []): Shaped {
  const shaper = createCsvShaper(r);
  const parts: Uint8Array[] = [];
  for (const piece of piecesAt(input, cuts)) {
    const { out, problem } = shaper.feed(piece);
    if (problem) return { out: Buffer.alloc(0), text: '', rows: 0, problem };
    parts.push(out);
  }
  const { out, problem, rows } = shaper.end();
  parts.push(out);
  const bytes = Buffer.concat(parts);
  return { out: bytes, text: bytes.toString('utf8'), rows, ...(problem ? { problem } : {}) };
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, k) => from + k);

const columns = (...list: ShapeColumn[]): Partial<ShapeRules> => ({ columns: list });

const SOURCE =
  '\uFEFForder_id,customer,amount,note\r\n' +
  '1,"Müller, Anna",3.50,plain\r\n' +
  '2,"say ""hi""",9€,"two\nlines"\n' +
  '3,Zoë,0, spaced \n' +
  '4,"",-1,"x,y"';

describe('createCsvShaper', () => {
  it('copies, renames and reorders source columns and writes a header of the `as` names', () => {
    const r = rules(
      columns({ as: 'Note', from: 'note' }, { as: 'Id', from: 'order_id' }, { as: 'Who', from: 'customer' }),
    );
    expect(shape(SOURCE, r)).toEqual({
      out: expect.any(Buffer),
      text:
        'Note,Id,Who\n' +
        'plain,1,"Müller, Anna"\n' +
        '"two\nlines",2,"say ""hi"""\n' +
        ' spaced ,3,Zoë\n' +
        '"x,y",4,\n',
      rows: 4,
    });
  });

  it('writes constant values (quoted like any field) and the same source column twice', () => {
    const r = rules(
      columns(
        { as: 'id', from: 'order_id' },
        { as: 'src', value: 'ACME, Inc' },
        { as: 'id again', from: 'order_id' },
      ),
    );
    expect(shape('order_id\n7\n8\n', r).text).toBe('id,src,id again\n7,"ACME, Inc",7\n8,"ACME, Inc",8\n');
  });

  it('leaves the header out when header is false', () => {
    const r = rules({ header: false });
    expect(shape('order_id,amount\n1,2\n', r)).toMatchObject({ text: '1,2\n', rows: 1 });
  });

  it('quotes every field with quote: all, and only what needs it with minimal', () => {
    const input = 'order_id,amount\n1,"2"\n"a ""q""","b\rc"\n" x ",\n';
    expect(shape(input, rules({ quote: 'all' })).text).toBe(
      '"id","total"\n"1","2"\n"a ""q""","b\rc"\n" x ",""\n',
    );
    expect(shape(input, rules()).text).toBe('id,total\n1,2\n"a ""q""","b\rc"\n x ,\n');
  });

  it('writes another delimiter, quoting fields that hold it and unquoting those that no longer need it', () => {
    const input = 'order_id;amount\n"1,5";"2;3"\n1|2;"x"\n';
    const r = rules({ inputDelimiter: ';', delimiter: '|' });
    expect(shape(input, r).text).toBe('id|total\n1,5|2;3\n"1|2"|x\n');
    expect(shape(input, rules({ inputDelimiter: ';', delimiter: '\t' })).text).toBe(
      'id\ttotal\n1,5\t2;3\n1|2\tx\n',
    );
  });

  it('ends records with CRLF or LF, keeping line breaks inside quoted fields as they are', () => {
    const input = 'order_id,amount\r\n1,"a\r\nb"\r\n2,"c\nd"\n';
    expect(shape(input, rules({ lineEnding: 'crlf' })).text).toBe('id,total\r\n1,"a\r\nb"\r\n2,"c\nd"\r\n');
    expect(shape(input, rules({ lineEnding: 'lf' })).text).toBe('id,total\n1,"a\r\nb"\n2,"c\nd"\n');
  });

  it('reads CR-only line breaks and a last record without a line break', () => {
    expect(shape('order_id,amount\r1,2\r3,4', rules()).text).toBe('id,total\n1,2\n3,4\n');
  });

  it('strips the source BOM and writes one with utf-8-bom', () => {
    const input = '\uFEFForder_id,amount\n1,é\n';
    expect(shape(input, rules()).out).toEqual(Buffer.from('id,total\n1,é\n'));
    expect(shape(input, rules({ encoding: 'utf-8-bom' })).out).toEqual(
      Buffer.from('\uFEFFid,total\n1,é\n', 'utf8'),
    );
    expect(shape(input, rules({ encoding: 'utf-8-bom', header: false })).out).toEqual(
      Buffer.from('\uFEFF1,é\n', 'utf8'),
    );
  });

  it('writes iso-8859-1 as one byte per character up to U+00FF', () => {
    const input = 'order_id,amount\nü,"ÿ, ß"\n\u0085,x\n';
    const { out } = shape(input, rules({ encoding: 'iso-8859-1' }));
    expect(out).toEqual(Buffer.from('id,total\nü,"ÿ, ß"\n\u0085,x\n', 'latin1'));
  });

  it('writes windows-1252, with € and the other characters of 0x80–0x9F', () => {
    // Bytes, not TextDecoder('windows-1252'): a Node built without full ICU decodes that label as Latin-1.
    const input = 'order_id,amount\n€,"‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"\nä,\u0081\n';
    const { out } = shape(input, rules({ encoding: 'windows-1252' }));
    const high = [0x80, ...range(0x82, 0x8c), 0x8e, ...range(0x91, 0x9c), 0x9e, 0x9f];
    expect(out).toEqual(
      Buffer.concat([
        Buffer.from('id,total\n'),
        Buffer.from([0x80, 0x2c, ...high.slice(1), 0x0a, 0xe4, 0x2c, 0x81, 0x0a]),
      ]),
    );
  });

  it('fails on a character the encoding lacks, naming row, output column and character', () => {
    const input = 'order_id,amount\n1,2\n2,"a€"\n';
    const { problem } = shape(input, rules({ encoding: 'iso-8859-1' }));
    expect(problem).toEqual({
      row: 3,
      column: 2,
      columnName: 'total',
      reason: 'character U+20AC "€" cannot be written in iso-8859-1 (unmappable: fail)',
    });
    expect(describeShapeProblem(problem!)).toBe(
      'shape: row 3, output column 2 "total": character U+20AC "€" cannot be written in iso-8859-1 (unmappable: fail)',
    );
    expect(shape('order_id,amount\n𝄞,Ő\n', rules({ encoding: 'windows-1252' })).problem).toMatchObject({
      row: 2,
      column: 1,
      reason: expect.stringContaining('U+1D11E'),
    });
  });

  it('writes ? for a character the encoding lacks with unmappable: replace', () => {
    const input = 'order_id,amount\n𝄞,"Ő€"\n';
    const { out } = shape(input, rules({ encoding: 'iso-8859-1', unmappable: 'replace' }));
    expect(out.toString('latin1')).toBe('id,total\n?,??\n');
    const cp1252 = shape(input, rules({ encoding: 'windows-1252', unmappable: 'replace' })).out;
    expect(cp1252).toEqual(Buffer.from('id,total\n?,?\x80\n', 'latin1'));
  });

  it('checks header names, constants and the trailer against the encoding too', () => {
    const r = rules({ encoding: 'iso-8859-1' });
    expect(
      shape('order_id,amount\n1,2\n', { ...r, ...columns({ as: '€', from: 'amount' }) }).problem,
    ).toEqual({
      row: 1,
      column: 1,
      columnName: '€',
      reason: 'character U+20AC "€" cannot be written in iso-8859-1 (unmappable: fail)',
    });
    const constant = { ...r, ...columns({ as: 'id', from: 'order_id' }, { as: 'cur', value: '€' }) };
    expect(shape('order_id\n1\n', constant).problem).toMatchObject({ row: 2, column: 2, columnName: 'cur' });
    expect(shape('order_id\n1\n', { ...constant, unmappable: 'replace' }).text).toBe('id,cur\n1,?\n');
    expect(shape('order_id,amount\n1,2\n', { ...r, trailer: '€ {rows}' }).problem).toMatchObject({
      reason: expect.stringMatching(/^trailer: character U\+20AC/),
    });
    expect(findUnmappable('a€b', 'iso-8859-1')).toBe(0x20ac);
    expect(findUnmappable('a€b', 'windows-1252')).toBeUndefined();
    expect(findUnmappable('a€b', 'utf-8')).toBeUndefined();
  });

  it('ends with a trailer line counting the data rows written', () => {
    const r = rules({ trailer: 'TRAILER;{rows};rows={rows}', lineEnding: 'crlf' });
    expect(shape('order_id,amount\n1,2\n3,4\n', r)).toMatchObject({
      text: 'id,total\r\n1,2\r\n3,4\r\nTRAILER;2;rows=2\r\n',
      rows: 2,
    });
    expect(shape('order_id,amount\n', r)).toMatchObject({
      text: 'id,total\r\nTRAILER;0;rows=0\r\n',
      rows: 0,
    });
  });

  it('fails when a source column is not in the header, listing the header', () => {
    const r = rules(
      columns({ as: 'id', from: 'order_id' }, { as: 'x', value: '1' }, { as: 'sum', from: 'amount' }),
    );
    const { problem } = shape('order_id,total,"a,b"\n1,2,3\n', r);
    expect(problem).toEqual({
      row: 1,
      column: 3,
      columnName: 'sum',
      reason: 'source column "amount" is not in the header (order_id, total, "a,b")',
    });
    const wide = Array.from({ length: 12 }, (_, k) => `c${k}`).join(',');
    expect(shape(`${wide}\n`, r).problem?.reason).toBe(
      'source column "order_id" is not in the header (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, …)',
    );
  });

  it('matches quoted header names after undoing their escapes', () => {
    const r = rules(columns({ as: 'q', from: 'say "hi"' }));
    expect(shape('"say ""hi""",b\n1,2\n', r).text).toBe('q\n1\n');
  });

  it('fails on a row with fewer or more fields than the header', () => {
    expect(shape('order_id,amount,x\n1,2,3\n4,5\n', rules()).problem).toEqual({
      row: 3,
      column: 3,
      reason: 'the row has 2 fields, the header has 3',
    });
    expect(shape('order_id,amount\n"1\n1",2\n3,4,5\n', rules()).problem).toEqual({
      row: 3,
      column: 3,
      reason: 'the row has 3 fields, the header has 2',
    });
  });

  it('drops empty lines at the end, and fails on one before a record unless the header has one column', () => {
    expect(shape('order_id,amount\n1,2\n\n\r\n', rules())).toMatchObject({
      text: 'id,total\n1,2\n',
      rows: 1,
    });
    expect(shape('order_id,amount\n1,2\n\n\n3,4\n', rules()).problem).toEqual({
      row: 3,
      column: 1,
      reason: 'empty line (the header has 2 columns)',
    });
    const one = rules(columns({ as: 'id', from: 'order_id' }, { as: 'k', value: 'K' }));
    expect(shape('order_id\n1\n\n2\n\n', one)).toMatchObject({ text: 'id,k\n1,K\n,K\n2,K\n', rows: 3 });
    expect(shape('order_id\n""\n', one)).toMatchObject({ text: 'id,k\n,K\n', rows: 1 });
  });

  it('fails on invalid utf-8 with its row, column and byte offset', () => {
    const bytes = Buffer.concat([
      Buffer.from('order_id,amount\n1,a'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('\n'),
    ]);
    expect(shape(bytes, rules()).problem).toEqual({
      row: 2,
      column: 2,
      reason: 'invalid utf-8 (byte offset 19)',
    });
    const quoted = Buffer.concat([
      Buffer.from('order_id,amount\n"'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('"\n'),
    ]);
    expect(shape(quoted, rules()).problem).toMatchObject({ row: 2, column: 1 });
    const cut = Buffer.concat([Buffer.from('order_id,amount\n1,'), Buffer.from([0xe2, 0x82])]);
    expect(shape(cut, rules()).problem).toMatchObject({
      reason: 'invalid utf-8 (the file ends inside a character)',
    });
    for (const bad of [[0x80], [0xc0, 0xaf], [0xf5, 0x80, 0x80, 0x80], [0xe0, 0x80, 0x80]]) {
      const input = Buffer.concat([Buffer.from('order_id,amount\n1,'), Buffer.from(bad), Buffer.from('\n')]);
      expect(shape(input, rules()).problem, bad.join(' ')).toMatchObject({ row: 2, column: 2 });
    }
  });

  it('fails on stray and unterminated quotes', () => {
    expect(shape('order_id,amount\n1,a"b\n', rules()).problem).toMatchObject({
      row: 2,
      column: 2,
      reason: expect.stringMatching(/^quote inside an unquoted field/),
    });
    expect(shape('order_id,amount\n1,"a"b\n', rules()).problem).toMatchObject({
      reason: 'unexpected character after a closing quote',
    });
    expect(shape('order_id,amount\n1,"ab\n2,3\n', rules()).problem).toEqual({
      row: 2,
      column: 2,
      reason: 'unterminated quoted field',
    });
  });

  it('fails on an empty file and a record over maxRecordBytes', () => {
    expect(shape('', rules()).problem).toEqual({
      row: 1,
      column: 1,
      reason: 'the file is empty: no header row',
    });
    const long = `order_id,amount\n1,"${'x'.repeat(100)}\n`;
    expect(shape(long, rules({ maxRecordBytes: 64 }), [20, 40, 60, 80]).problem).toMatchObject({
      row: 2,
      reason: expect.stringMatching(/longer than 64 bytes/),
    });
  });

  it('refuses rules it cannot follow', () => {
    expect(() => createCsvShaper(rules({ delimiter: '"' }))).toThrow(/delimiter/);
    expect(() => createCsvShaper(rules({ inputDelimiter: '§' }))).toThrow(/inputDelimiter/);
    expect(() => createCsvShaper(rules(columns({ as: 'x', from: 'a', value: 'b' })))).toThrow(/exactly one/);
  });

  it('gives the same output wherever the input is cut', () => {
    const variants: Partial<ShapeRules>[] = [
      {},
      { quote: 'all', lineEnding: 'crlf', delimiter: ';' },
      { encoding: 'windows-1252', unmappable: 'replace', trailer: 'n={rows}' },
      { encoding: 'utf-8-bom', header: false },
    ];
    const bytes = Buffer.from(SOURCE, 'utf8');
    for (const variant of variants) {
      const r = rules({
        ...variant,
        ...columns(
          { as: 'n', from: 'note' },
          { as: 'c', from: 'customer' },
          { as: 'k', value: 'K' },
          { as: 'a', from: 'amount' },
        ),
      });
      const whole = shape(bytes, r);
      expect(whole.problem).toBeUndefined();
      for (let cut = 0; cut <= bytes.length; cut++) {
        expect(shape(bytes, r, [cut]).out, `cut at ${cut}`).toEqual(whole.out);
      }
      const everyByte = Array.from({ length: bytes.length }, (_, i) => i);
      expect(shape(bytes, r, everyByte)).toEqual(whole);
      const withEmptyChunks = everyByte.flatMap((i) => [i, i]);
      expect(shape(bytes, r, withEmptyChunks)).toEqual(whole);
    }
  });

  it('keeps no view of a chunk once fed (the caller may reuse it), plain Uint8Array chunks too', () => {
    const bytes = Buffer.from(SOURCE, 'utf8');
    const r = rules(columns({ as: 'n', from: 'note' }, { as: 'c', from: 'customer' }));
    const whole = shape(bytes, r).out;
    for (const size of [1, 2, 3, 7]) {
      const shaper = createCsvShaper(r);
      const scratch = new Uint8Array(size);
      const parts: Uint8Array[] = [];
      for (let at = 0; at < bytes.length; at += size) {
        const piece = bytes.subarray(at, at + size);
        scratch.set(piece);
        parts.push(shaper.feed(scratch.subarray(0, piece.length)).out);
        scratch.fill(0x2c);
      }
      parts.push(shaper.end().out);
      expect(Buffer.concat(parts), `chunks of ${size}`).toEqual(whole);
    }
  });

  it('finds the same problem wherever the input is cut', () => {
    const inputs = [
      Buffer.concat([
        Buffer.from('order_id,amount\n1,"é'),
        Buffer.from([0xe2, 0x28, 0xa1]),
        Buffer.from('"\n'),
      ]),
      Buffer.from('order_id,amount\r\n1,2\r\n3\r\n'),
      Buffer.from('order_id,amount\n1,"a""b"x\n'),
      Buffer.from('\uFEFForder_id,amount\n1,"€"\n'),
    ];
    for (const bytes of inputs) {
      const r = rules({ encoding: 'iso-8859-1' });
      const whole = shape(bytes, r).problem;
      expect(whole).toBeDefined();
      for (let cut = 0; cut <= bytes.length; cut++) {
        expect(shape(bytes, r, [cut]).problem, `cut at ${cut}`).toEqual(whole);
      }
    }
  });

  it('writes each chunk’s records as they complete, holding back only a cut record', () => {
    const shaper = createCsvShaper(rules());
    expect(Buffer.from(shaper.feed(Buffer.from('order_id,amount\n1,2\n3,')).out).toString()).toBe(
      'id,total\n1,2\n',
    );
    expect(Buffer.from(shaper.feed(Buffer.from('4\n5,')).out).toString()).toBe('3,4\n');
    expect(shaper.end()).toEqual({ out: Buffer.from('5,\n'), rows: 3 });
  });
});

// A reference: the whole text parsed and written with strings, the simplest way, to compare against.
function referenceShape(rows: string[][], r: ShapeRules): string {
  const eol = r.lineEnding === 'crlf' ? '\r\n' : '\n';
  const field = (text: string): string =>
    r.quote === 'all' || /["\r\n]/.test(text) || text.includes(r.delimiter)
      ? `"${text.replaceAll('"', '""')}"`
      : text;
  const [header, ...data] = rows;
  const index = r.columns.map((c) => (c.from === undefined ? -1 : header!.indexOf(c.from)));
  const lines = r.header ? [r.columns.map((c) => field(c.as)).join(r.delimiter)] : [];
  for (const row of data) {
    lines.push(index.map((s, k) => field(s < 0 ? r.columns[k]!.value! : row[s]!)).join(r.delimiter));
  }
  return lines.map((line) => line + eol).join('');
}

describe('createCsvShaper against a reference', () => {
  it('shapes random files like the reference, wherever they are cut', () => {
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['a', 'b', ' ', ',', ';', '"', '\n', '\r', '\r\n', 'é', '€', '𝄞', '1'];
    for (let round = 0; round < 200; round++) {
      const width = 1 + next(4);
      const header = Array.from({ length: width }, (_, k) => `c${k}`);
      const rows = [header];
      for (let n = next(6); n > 0; n--) {
        rows.push(
          Array.from({ length: width }, () =>
            Array.from({ length: next(6) }, () => alphabet[next(alphabet.length)]).join(''),
          ),
        );
      }
      // Rows of one empty field would be empty lines (dropped at the end): give them a character.
      for (const row of rows) if (row.length === 1 && row[0] === '') row[0] = 'x';
      const inputDelimiter = next(2) === 0 ? ',' : ';';
      const source = rows
        .map((row) =>
          row
            .map((text) =>
              /["\r\n,;]/.test(text) || next(3) === 0 ? `"${text.replaceAll('"', '""')}"` : text,
            )
            .join(inputDelimiter),
        )
        .join(next(2) === 0 ? '\n' : '\r\n');
      const r = rules({
        inputDelimiter,
        columns: [
          { as: 'last', from: `c${width - 1}` },
          { as: 'k', value: next(2) === 0 ? 'K' : 'a;b' },
          { as: 'first', from: 'c0' },
        ],
        delimiter: [',', ';', '|'][next(3)]!,
        quote: next(2) === 0 ? 'minimal' : 'all',
        lineEnding: next(2) === 0 ? 'lf' : 'crlf',
        header: next(3) !== 0,
      });
      const bytes = Buffer.from(source + (next(2) === 0 ? '\n' : ''));
      const expected = referenceShape(rows, r);
      expect(shape(bytes, r), source).toMatchObject({ text: expected, rows: rows.length - 1 });
      const cuts = [next(bytes.length + 1), next(bytes.length + 1)].sort((a, b) => a - b);
      expect(shape(bytes, r, cuts).text, `${source} cut at ${cuts.join(',')}`).toBe(expected);
    }
  });
});
