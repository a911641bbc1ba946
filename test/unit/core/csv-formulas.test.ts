import { describe, expect, it } from 'vitest';
import {
  createCsvEscaper,
  createCsvValidator,
  describeCsvProblem,
  isPlainNumber,
  type CsvRules,
  type CsvVerdict,
} from '../../../src/core/csv-validator.js';
import { piecesAt } from '../../support/byte-pieces.js';

const rules = (neutralizeFormulas: CsvRules['neutralizeFormulas']): CsvRules => ({
  delimiter: ',',
  encoding: 'utf-8',
  allowEmpty: true,
  neutralizeFormulas,
});

/** Feeds `input` cut at `cuts` (byte offsets) through an escaper: the bytes out and the verdict. */
function escape(input: string | Buffer, cuts: number[] = [], r = rules('escape')) {
  const e = createCsvEscaper(r);
  const out: Buffer[] = [];
  for (const piece of piecesAt(input, cuts)) {
    const fed = e.feed(piece);
    if (fed.problem) return { problem: fed.problem, text: Buffer.concat(out).toString('utf8') };
    out.push(Buffer.from(fed.out));
  }
  const last = e.end();
  out.push(Buffer.from(last.out));
  return { verdict: last.verdict, text: Buffer.concat(out).toString('utf8') };
}

function check(input: string, r: CsvRules, cuts: number[] = []): CsvVerdict {
  const v = createCsvValidator(r);
  for (const piece of piecesAt(input, cuts)) v.feed(piece);
  return v.end();
}

/** Every way to cut `input` in two, and the one-byte-at-a-time feed. */
function cutsOf(input: string): number[][] {
  const n = Buffer.byteLength(input, 'utf8');
  const all: number[][] = [[]];
  for (let cut = 0; cut <= n; cut++) all.push([cut]);
  all.push(Array.from({ length: n }, (_, i) => i));
  return all;
}

// Source → expected delivered bytes; quoted and unquoted cells, BOM, CRLF, a header formula.
const SOURCE =
  '\uFEFF=id,name,amount\r\n' +
  '1,=1+2,-12.50\r\n' +
  '2,"=HYPERLINK(""x"")",+3e5\r\n' +
  '3,@SUM(A1),"-7"\n' +
  '4,-cmd|x,"+not a number"\n' +
  '5,\tTAB,"\rCR"\n' +
  '6,é=ok,.5,-,+\n' +
  '7,"",x=1,""""\n' +
  '8,-1.5e-3,-1e,"-- note"';
const ESCAPED =
  "\uFEFF'=id,name,amount\r\n" +
  "1,'=1+2,-12.50\r\n" +
  '2,"\'=HYPERLINK(""x"")",+3e5\r\n' +
  '3,\'@SUM(A1),"-7"\n' +
  '4,\'-cmd|x,"\'+not a number"\n' +
  '5,\'\tTAB,"\'\rCR"\n' +
  "6,é=ok,.5,'-,'+\n" +
  '7,"",x=1,""""\n' +
  '8,-1.5e-3,\'-1e,"\'-- note"';

describe('neutralizeFormulas: escape', () => {
  it('puts a quote before each formula cell, whatever the chunking', () => {
    for (const cuts of cutsOf(SOURCE)) {
      const result = escape(SOURCE, cuts);
      expect(result.verdict, `cuts ${cuts.join(' ')}`).toEqual({
        ok: true,
        rows: 9,
        bytes: Buffer.byteLength(SOURCE),
      });
      expect(result.text, `cuts ${cuts.join(' ')}`).toBe(ESCAPED);
    }
  });

  it('counts multi-byte characters before a formula cell (the quote lands in the right byte)', () => {
    const text = '\u{1F600}é,"日本",=x\n€,-1€,+5\n';
    const want = '\u{1F600}é,"日本",\'=x\n€,\'-1€,+5\n';
    for (const cuts of cutsOf(text)) expect(escape(text, cuts).text, `cuts ${cuts.join(' ')}`).toBe(want);
  });

  it('leaves a file without formula cells byte-identical', () => {
    const text = 'a,b\r\n-1,+2.5\r\n"x","-.5e+7"\r\n';
    for (const cuts of cutsOf(text)) expect(escape(text, cuts).text).toBe(text);
  });

  it('holds back only while a +/- cell can still be a number', () => {
    const e = createCsvEscaper(rules('escape'));
    expect(Buffer.from(e.feed(Buffer.from('a,-12')).out).toString()).toBe('a,');
    expect(Buffer.from(e.feed(Buffer.from('.5,-x')).out).toString()).toBe("-12.5,'-x");
    expect(Buffer.from(e.feed(Buffer.from('\n')).out).toString()).toBe('\n');
    expect(Buffer.from(e.end().out).toString()).toBe('');
  });

  it('escapes a would-be number longer than 1 KiB without holding it', () => {
    const long = `-${'1'.repeat(2000)}`;
    const e = createCsvEscaper(rules('escape'));
    const out = Buffer.from(e.feed(Buffer.from(`a,${long}`)).out).toString();
    expect(out).toBe(`a,'${long}`);
    expect(e.end().verdict.ok).toBe(true);
  });

  it('gives a long +/- number the same verdict whether it arrives whole or split', () => {
    // 1 KiB (sign included) is still a number; one character more is escaped, however the stream is cut.
    const cases: [cell: string, escaped: string][] = [
      [`-${'1'.repeat(1023)}`, `-${'1'.repeat(1023)}`],
      [`-${'1'.repeat(1024)}`, `'-${'1'.repeat(1024)}`],
      [`+${'2'.repeat(2000)}`, `'+${'2'.repeat(2000)}`],
    ];
    for (const [cell, want] of cases) {
      const text = `a,${cell}\n`;
      for (const cuts of [[], [3], [4], [10], [text.length - 2], [text.length - 1]]) {
        expect(escape(text, cuts).text, `${cell.length} chars, cuts ${cuts.join(' ')}`).toBe(`a,${want}\n`);
      }
    }
  });

  it('still fails on the other rules', () => {
    const result = escape('a,b\n=1,"x"y\n', [], { ...rules('escape'), minColumns: 2 });
    expect(result.problem).toMatchObject({ row: 2, column: 2 });
  });
});

describe('neutralizeFormulas: quarantine', () => {
  it.each([
    ['=id,b\n1,2\n', 1, 1, '='],
    ['\uFEFF@id,b\n1,2\n', 1, 1, '@'],
    ['a,b\r\n1,2\r\n3,-cmd\r\n', 3, 2, '-'],
    ['a,b\n1,"+x"\n', 2, 2, '+'],
    ['a,b\n1,"\rx"\n', 2, 2, '\r'],
    ['a,b\n1,\tx\n', 2, 2, '\t'],
    ['a,b\n1,-\n', 2, 2, '-'],
    ['a,b\n1,-1e\n', 2, 2, '-'],
  ])('fails %j at row %i, column %i', (text, row, column, first) => {
    for (const cuts of cutsOf(text)) {
      const verdict = check(text, rules('quarantine'), cuts);
      expect(verdict, `cuts ${cuts.join(' ')}`).toEqual({
        ok: false,
        row,
        column,
        reason: `cell starts with ${JSON.stringify(first)} (formula; neutralizeFormulas: quarantine)`,
      });
    }
  });

  it('names the place in the problem line', () => {
    const verdict = check('a,b\n1,=1+2\n', rules('quarantine'));
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(describeCsvProblem(verdict)).toBe(
        'csv: row 2, column 2: cell starts with "=" (formula; neutralizeFormulas: quarantine)',
      );
    }
  });

  it('leaves numbers, inner signs and later formula characters alone', () => {
    const text = 'a,b,c,d\n-12.50,+3,"-7.",.5e-2\nx=1,a-b,"b@c",""\n-0,+.5,1e3,\u00e9=';
    for (const cuts of cutsOf(text)) expect(check(text, rules('quarantine'), cuts).ok).toBe(true);
  });

  it('fails a +/- cell longer than 1 KiB whether it arrives whole or split', () => {
    const text = `a,b\n1,-${'1'.repeat(1024)}\n`;
    for (const cuts of [[], [7], [12], [text.length - 1]]) {
      expect(check(text, rules('quarantine'), cuts), `cuts ${cuts.join(' ')}`).toMatchObject({
        ok: false,
        row: 2,
        column: 2,
      });
    }
    expect(check(`a,b\n1,-${'1'.repeat(1023)}\n`, rules('quarantine'), [7]).ok).toBe(true);
  });

  it('is off when false or absent', () => {
    expect(check('=a\n=b\n', rules(false)).ok).toBe(true);
    expect(check('=a\n=b\n', rules(undefined)).ok).toBe(true);
  });
});

describe('isPlainNumber', () => {
  const REGEX = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  it('agrees with the decided regex', () => {
    const parts = ['', '+', '-', '1', '12', '.', 'e', 'E', '5', '-', 'x', ' '];
    const seen = new Set<string>();
    // Every string of up to 4 parts: signs, digits, dots, exponents and junk in all orders.
    const build = (prefix: string, depth: number): void => {
      if (seen.has(prefix)) return;
      seen.add(prefix);
      expect(isPlainNumber(`#${prefix}#`, 1, prefix.length + 1), JSON.stringify(prefix)).toBe(
        REGEX.test(prefix),
      );
      if (depth < 4) for (const p of parts) build(prefix + p, depth + 1);
    };
    build('', 0);
    expect(seen.size).toBeGreaterThan(1000);
  });
});
