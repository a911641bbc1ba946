// A streaming CSV checker (RFC 4180): fed the bytes as they come, it holds one row's state, never the
// file. Hand-written rather than a parser dependency: Ferry never needs the field values (only counts,
// quotes and the header text), so a ~200-line state machine is the whole job and adds no supply chain.

/** `validate.csv` of a partner, after defaults. */
export interface CsvRules {
  /** One character, not a quote or a line break. */
  delimiter: string;
  /** The exact first row expected (after an optional UTF-8 BOM). */
  header?: readonly string[];
  /** Every row needs at least this many columns (default: the header's length, else 1). */
  minColumns?: number;
  /** Larger files fail. */
  maxBytes?: number;
  encoding: 'utf-8';
  /** false: a file with no row after its header (or no row at all) fails. */
  allowEmpty: boolean;
}

/** Where a file first breaks the rules: 1-based physical CSV record (the header is row 1) and field. */
export interface CsvProblem {
  row: number;
  column: number;
  reason: string;
}

export type CsvVerdict = { ok: true; rows: number; bytes: number } | ({ ok: false } & CsvProblem);

export interface CsvValidator {
  /** Checks the next bytes; returns the first problem once there is one (later input is ignored). */
  feed(chunk: Uint8Array): CsvProblem | undefined;
  /** The file ended: the verdict for the whole file. */
  end(): CsvVerdict;
}

/** One line for the ledger, logs and alerts: `csv: row 3, column 4: …`. */
export function describeCsvProblem(problem: CsvProblem): string {
  return `csv: row ${problem.row}, column ${problem.column}: ${problem.reason}`;
}

type State = 'fieldStart' | 'unquoted' | 'quoted' | 'quoteInQuoted';
const [QUOTE, LF, CR, BOM] = [0x22, 0x0a, 0x0d, 0xfeff];

// The header's text is kept only to compare it; a longer header cannot match anyway.
const MAX_HEADER_CHARS = 64 * 1024;

/** A validator for one file. Pure: no I/O, bounded memory whatever the file size. */
export function createCsvValidator(rules: CsvRules): CsvValidator {
  const delimiter = rules.delimiter;
  const minColumns = rules.minColumns ?? rules.header?.length ?? 1;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let carry = new Uint8Array(0);
  let bytes = 0;
  let problem: CsvProblem | undefined;
  let atFileStart = true;
  let state: State = 'fieldStart';
  let skipLf = false;
  let row = 1;
  let column = 1;
  let rowStarted = false;
  let rows = 0;
  let quoteOpenedAt: { row: number; column: number } | undefined;
  let field = '';
  const headerFields: string[] = [];

  const fail = (reason: string, at: { row: number; column: number } = { row, column }): CsvProblem =>
    (problem = { row: at.row, column: at.column, reason });

  const keep = (text: string): void => {
    if (row === 1 && rules.header !== undefined && field.length < MAX_HEADER_CHARS) field += text;
  };

  const endField = (): void => {
    if (row === 1 && rules.header !== undefined) headerFields.push(field);
    field = '';
  };

  const endRow = (): CsvProblem | undefined => {
    endField();
    rows += 1;
    if (row === 1 && rules.header !== undefined) {
      const expected = rules.header;
      for (let i = 0; i < Math.max(expected.length, headerFields.length); i++) {
        if (headerFields[i] !== expected[i]) {
          const found = headerFields[i] === undefined ? 'nothing' : JSON.stringify(headerFields[i]);
          const want = expected[i] === undefined ? 'no more columns' : JSON.stringify(expected[i]);
          return fail(`header ${found} where ${want} is expected`, { row: 1, column: i + 1 });
        }
      }
    }
    if (column < minColumns) {
      return fail(`missing column: the row has ${column}, at least ${minColumns} expected`, {
        row,
        column: column + 1,
      });
    }
    row += 1;
    column = 1;
    rowStarted = false;
    state = 'fieldStart';
    return undefined;
  };

  // Char codes, not one-character strings: this loop sees every byte of every checked file.
  const delim = delimiter.charCodeAt(0);
  const keeping = (): boolean => row === 1 && rules.header !== undefined;

  const parse = (text: string): CsvProblem | undefined => {
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (atFileStart) {
        atFileStart = false;
        if (c === BOM) continue;
      }
      if (skipLf) {
        skipLf = false;
        if (c === LF) continue;
      }
      switch (state) {
        case 'quoted':
          if (c === QUOTE) state = 'quoteInQuoted';
          else if (keeping()) keep(text[i]!);
          else {
            // Nothing inside quotes matters but the next quote.
            const next = text.indexOf('"', i + 1);
            if (next < 0) return undefined;
            i = next - 1;
          }
          continue;
        case 'quoteInQuoted':
          if (c === QUOTE) {
            keep('"');
            state = 'quoted';
            continue;
          }
          break; // the field ended: the character is a delimiter or line break
        case 'fieldStart':
          rowStarted = true;
          if (c === QUOTE) {
            state = 'quoted';
            quoteOpenedAt = { row, column };
            continue;
          }
          break;
        case 'unquoted':
          break;
      }
      if (c === delim) {
        endField();
        column += 1;
        state = 'fieldStart';
      } else if (c === LF || c === CR) {
        skipLf = c === CR;
        if (endRow()) return problem;
      } else if (state === 'quoteInQuoted') {
        return fail('unexpected character after a closing quote');
      } else if (c === QUOTE) {
        return fail('quote inside an unquoted field (quote the whole field and double the quote)');
      } else {
        state = 'unquoted';
        if (keeping()) keep(text[i]!);
        else {
          // Skip to the next character that can end the field (or break the rules).
          while (i + 1 < n) {
            const k = text.charCodeAt(i + 1);
            if (k === delim || k === LF || k === CR || k === QUOTE) break;
            i++;
          }
        }
      }
    }
    return undefined;
  };

  const decode = (data: Uint8Array, offset: number): string | CsvProblem => {
    try {
      return decoder.decode(data);
    } catch {
      // Find the first bad byte (validity of a prefix is monotonic), so the problem names its place.
      let lo = 0;
      let hi = data.length;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (decodesAsPrefix(data.subarray(0, mid))) lo = mid;
        else hi = mid - 1;
      }
      const text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(data.subarray(0, lo), {
        stream: true,
      });
      const stop = parse(text);
      if (stop) return stop;
      // The bad sequence starts where the last complete character ended.
      const at = offset + lo - incompleteTail(data.subarray(0, lo));
      return fail(`invalid utf-8 (byte offset ${at})`);
    }
  };

  return {
    feed(chunk) {
      if (problem) return problem;
      bytes += chunk.length;
      if (rules.maxBytes !== undefined && bytes > rules.maxBytes) {
        return fail(`the file is larger than maxBytes (${rules.maxBytes})`);
      }
      const data = carry.length === 0 ? chunk : concat(carry, chunk);
      const offset = bytes - data.length;
      const tail = incompleteTail(data);
      carry = data.slice(data.length - tail);
      const text = decode(data.subarray(0, data.length - tail), offset);
      if (typeof text !== 'string') return text;
      return parse(text);
    },
    end() {
      if (!problem && carry.length > 0) fail('invalid utf-8 (the file ends inside a character)');
      if (!problem && (state === 'quoted' || state === 'quoteInQuoted')) {
        if (state === 'quoted') fail('unterminated quoted field', quoteOpenedAt);
        else endRow();
      } else if (!problem && rowStarted) {
        endRow();
      }
      if (!problem && !rules.allowEmpty && rows <= 1) {
        fail(rows === 0 ? 'empty file' : 'no rows after the header', { row: rows + 1, column: 1 });
      }
      if (problem) return { ok: false, ...problem };
      return { ok: true, rows, bytes };
    },
  };
}

function decodesAsPrefix(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** How many trailing bytes start a UTF-8 sequence that the next chunk must complete. */
function incompleteTail(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 3); i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return bytes.length - i < need ? bytes.length - i : 0;
  }
  return 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
