// The text-decoding checker src/core/csv-validator.ts was before it scanned bytes (commit 57ea5d6),
// kept verbatim as the reference of csv-validator-differential.test.ts. Not used by src/.

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
  /**
   * Cells a spreadsheet would run as a formula: first character `=` `+` `-` `@` TAB or CR (after an
   * opening quote), plain numbers aside (isPlainNumber). `quarantine` fails the file,
   * `escape` lets createCsvEscaper put a `'` before them; false (or absent) leaves them alone.
   */
  neutralizeFormulas?: false | 'quarantine' | 'escape';
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
const [EQUALS, PLUS, MINUS, AT, TAB] = [0x3d, 0x2b, 0x2d, 0x40, 0x09];
const APOSTROPHE = 0x27;

// OWASP's CSV-injection list. A plain number (`-12.50`, `+1e3`) is data, not a formula: left alone.
const NOT_NUMBER_CHAR = /[^0-9.eE+-]/;
// A `+`/`-` cell is held back until it is known not to be a number; a longer one is escaped unread.
const MAX_NUMBER_CHARS = 1024;

const FORMULA_START = new Uint8Array(128);
for (const c of [EQUALS, PLUS, MINUS, AT, TAB, CR]) FORMULA_START[c] = 1;

/**
 * True when `text[from, to)` is a plain number: `^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`, by hand
 * (no substring, no regex: a file of negative amounts asks this for every other cell).
 */
export function isPlainNumber(text: string, from: number, to: number): boolean {
  let i = from;
  const at = (k: number): number => (k < to ? text.charCodeAt(k) : -1);
  const digit = (c: number): boolean => c >= 0x30 && c <= 0x39;
  if (at(i) === PLUS || at(i) === MINUS) i++;
  const intStart = i;
  while (digit(at(i))) i++;
  let digits = i - intStart;
  if (at(i) === 0x2e) {
    const fracStart = ++i;
    while (digit(at(i))) i++;
    digits += i - fracStart;
  }
  if (digits === 0) return false;
  const e = at(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    if (at(i) === PLUS || at(i) === MINUS) i++;
    if (!digit(at(i))) return false;
    while (digit(at(i))) i++;
  }
  return i === to;
}

// The header's text is kept only to compare it; a longer header cannot match anyway.
const MAX_HEADER_CHARS = 64 * 1024;

/** A validator for one file. Pure: no I/O, bounded memory whatever the file size. */
export function createCsvValidator(rules: CsvRules): CsvValidator {
  const checker = createChecker(rules);
  return { feed: (chunk) => checker.feed(chunk), end: () => checker.end() };
}

/** The validator, plus what escape mode needs to rewrite the bytes. */
interface Checker extends CsvValidator {
  /** Absolute byte offsets (ascending) before which a `'` goes; the caller empties it as it writes. */
  inserts: number[];
  /** Bytes before this offset are decided (no `'` will be inserted before it any more). */
  settled(): number;
}

function createChecker(rules: CsvRules): Checker {
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
  // Formulas: off, quarantine or escape. `candidate` is the text so far of a `+`/`-` cell that may be a number.
  const formulas = rules.neutralizeFormulas ?? false;
  const escaping = formulas === 'escape';
  const inserts: number[] = [];
  let quotedFirst = false;
  let candidate: string | undefined;
  let candidateFirst = '+';
  let candidateRow = 0;
  let candidateColumn = 0;
  // Where the candidate starts: its index in the text being parsed, its byte offset once counted (-1 before).
  let candidateIndex = 0;
  let candidateByte = 0;
  // Byte offset of a character of the text being parsed (escape mode only): counted forward, lazily,
  // so a file without formula cells costs nothing. Indexes asked for are ASCII characters (no split pair).
  let current = '';
  let textStart = 0;
  let cursorIndex = 0;
  let cursorByte = 0;
  const byteAt = (index: number): number => {
    if (index > cursorIndex) {
      cursorByte += Buffer.byteLength(current.slice(cursorIndex, index), 'utf8');
      cursorIndex = index;
    }
    return textStart + cursorByte;
  };

  const fail = (reason: string, at: { row: number; column: number } = { row, column }): CsvProblem =>
    (problem = { row: at.row, column: at.column, reason });

  const keep = (text: string): void => {
    if (row === 1 && rules.header !== undefined && field.length < MAX_HEADER_CHARS) field += text;
  };

  /** A formula cell was found: quarantine fails, escape records where the `'` goes. */
  const flag = (first: string, byte: number, at: { row: number; column: number }): CsvProblem | undefined => {
    if (escaping) {
      inserts.push(byte);
      return undefined;
    }
    return fail(`cell starts with ${JSON.stringify(first)} (formula; neutralizeFormulas: quarantine)`, at);
  };

  /** The first character of a field's content (after an opening quote). */
  const cellStart = (i: number, c: number): CsvProblem | undefined => {
    if (c >= 128 || FORMULA_START[c] !== 1) return undefined;
    if (c !== PLUS && c !== MINUS) return flag(current[i]!, escaping ? byteAt(i) : 0, { row, column });
    candidate = '';
    candidateFirst = current[i]!;
    candidateRow = row;
    candidateColumn = column;
    candidateIndex = i;
    candidateByte = -1;
    return undefined;
  };

  const decide = (isNumber: boolean): CsvProblem | undefined => {
    candidate = undefined;
    if (isNumber) return undefined;
    return flag(candidateFirst, escaping && candidateByte < 0 ? byteAt(candidateIndex) : candidateByte, {
      row: candidateRow,
      column: candidateColumn,
    });
  };

  /** More text of a `+`/`-` cell: decided as soon as it cannot be a number any more. */
  const grow = (piece: string): CsvProblem | undefined => {
    candidate += piece;
    if (candidate!.length > MAX_NUMBER_CHARS || NOT_NUMBER_CHAR.test(piece)) return decide(false);
    return undefined;
  };

  const endField = (): void => {
    if (candidate !== undefined) decide(isPlainNumber(candidate, 0, candidate.length));
    if (row === 1 && rules.header !== undefined) headerFields.push(field);
    field = '';
  };

  const endRow = (): CsvProblem | undefined => {
    endField();
    if (problem) return problem;
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

  const parse = (text: string, start: number): CsvProblem | undefined => {
    current = text;
    textStart = start;
    cursorIndex = 0;
    cursorByte = 0;
    const stop = parseText(text);
    // A cell still pending goes on in the next text: pin its byte offset while this text is at hand.
    if (escaping && candidate !== undefined && candidateByte < 0) candidateByte = byteAt(candidateIndex);
    return stop;
  };

  // `text` is a parameter, not the closure's `current`: this loop reads it for every character.
  const parseText = (text: string): CsvProblem | undefined => {
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
          if (quotedFirst) {
            quotedFirst = false;
            if (c !== QUOTE && cellStart(i, c)) return problem;
          }
          if (c === QUOTE) state = 'quoteInQuoted';
          else if (keeping()) {
            keep(text[i]!);
            if (candidate !== undefined && grow(text[i]!)) return problem;
          } else {
            // Nothing inside quotes matters but the next quote.
            const next = text.indexOf('"', i + 1);
            if (candidate !== undefined && grow(text.slice(i, next < 0 ? n : next))) return problem;
            if (next < 0) return undefined;
            i = next - 1;
          }
          continue;
        case 'quoteInQuoted':
          if (c === QUOTE) {
            keep('"');
            state = 'quoted';
            if (candidate !== undefined && grow('"')) return problem;
            continue;
          }
          break; // the field ended: the character is a delimiter or line break
        case 'fieldStart':
          rowStarted = true;
          if (c === QUOTE) {
            state = 'quoted';
            quoteOpenedAt = { row, column };
            quotedFirst = formulas !== false;
            continue;
          }
          break;
        case 'unquoted':
          break;
      }
      if (c === delim) {
        endField();
        if (problem) return problem;
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
        if (state === 'fieldStart' && formulas !== false && cellStart(i, c)) return problem;
        state = 'unquoted';
        const from = i;
        if (keeping()) keep(text[i]!);
        else {
          // Skip to the next character that can end the field (or break the rules).
          while (i + 1 < n) {
            const k = text.charCodeAt(i + 1);
            if (k === delim || k === LF || k === CR || k === QUOTE) break;
            i++;
          }
        }
        if (candidate !== undefined) {
          // The common case, a whole `-12.50` in this text: decided at once, with the cap `grow` applies
          // to a split cell (the verdict must not depend on where the stream was cut).
          const whole = candidate === '' && i + 1 < n && !keeping();
          if (
            whole
              ? decide(i + 1 - from <= MAX_NUMBER_CHARS && isPlainNumber(text, from, i + 1))
              : grow(text.slice(from, i + 1))
          ) {
            return problem;
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
      const valid = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(data.subarray(0, lo), {
        stream: true,
      });
      const stop = parse(valid, offset);
      if (stop) return stop;
      // The bad sequence starts where the last complete character ended.
      const at = offset + lo - incompleteTail(data.subarray(0, lo));
      return fail(`invalid utf-8 (byte offset ${at})`);
    }
  };

  return {
    inserts,
    settled: () => (candidate !== undefined ? candidateByte : bytes),
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
      const decoded = decode(data.subarray(0, data.length - tail), offset);
      if (typeof decoded !== 'string') return decoded;
      return parse(decoded, offset);
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

/** A validator that also rewrites the bytes: `neutralizeFormulas: escape`. */
export interface CsvEscaper {
  /**
   * Checks the next bytes and returns those that can be passed on now, each formula cell with a `'`
   * before its first character. Bytes from a `+`/`-` cell that may still be a number are held back
   * (at most ~1 KiB): they come out of a later call. Returns the first problem once there is one.
   */
  feed(chunk: Uint8Array): { out: Uint8Array; problem?: CsvProblem };
  /** The file ended: the held-back bytes and the verdict for the whole file. */
  end(): { out: Uint8Array; verdict: CsvVerdict };
}

/** An escaper for one file (the rules' other checks apply as in createCsvValidator). Pure. */
export function createCsvEscaper(rules: CsvRules): CsvEscaper {
  const checker = createChecker({ ...rules, neutralizeFormulas: 'escape' });
  let held: Uint8Array = new Uint8Array(0);
  let heldStart = 0; // absolute offset of held[0]

  const release = (upTo: number): Uint8Array => {
    const count = upTo - heldStart;
    const inserts = checker.inserts;
    let k = 0;
    while (k < inserts.length && inserts[k]! < upTo) k++;
    let out: Uint8Array;
    if (k === 0) out = held.subarray(0, count);
    else {
      out = new Uint8Array(count + k);
      let from = 0;
      let to = 0;
      for (let j = 0; j < k; j++) {
        const at = inserts[j]! - heldStart;
        out.set(held.subarray(from, at), to);
        to += at - from;
        out[to++] = APOSTROPHE;
        from = at;
      }
      out.set(held.subarray(from, count), to);
      inserts.splice(0, k);
    }
    // Copy the (small) remainder: `held` may be the caller's chunk, which it is free to reuse.
    held = held.slice(count);
    heldStart = upTo;
    return out;
  };

  return {
    feed(chunk) {
      held = held.length === 0 ? chunk : concat(held, chunk);
      const problem = checker.feed(chunk);
      if (problem) return { out: new Uint8Array(0), problem };
      return { out: release(checker.settled()) };
    },
    end() {
      const verdict = checker.end();
      if (!verdict.ok) return { out: new Uint8Array(0), verdict };
      return { out: release(heldStart + held.length), verdict };
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
