// A streaming CSV checker (RFC 4180): fed the bytes as they come, it holds one row's state, never the
// file. Hand-written rather than a parser dependency: Ferry never needs the field values (only counts,
// quotes and the header text), so a byte-scanning state machine is the whole job and adds no supply chain.
import { Utf8Check } from './utf8-check.js';

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

/** `rows`: the physical CSV records read, the header row included (see csvDataRows). */
export type CsvVerdict = { ok: true; rows: number; bytes: number } | ({ ok: false } & CsvProblem);

/**
 * The data rows of a file whose verdict counted `rows` records: the header row is not one when the
 * rules name a header (`header`); without one, every record counts (nothing says the first is a header).
 */
export function csvDataRows(rows: number, rules: Pick<CsvRules, 'header'>): number {
  return rules.header === undefined ? rows : Math.max(0, rows - 1);
}

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

const [QUOTE, LF, CR, BOM] = [0x22, 0x0a, 0x0d, 0xfeff];
const [EQUALS, PLUS, MINUS, AT, TAB] = [0x3d, 0x2b, 0x2d, 0x40, 0x09];
const APOSTROPHE = 0x27;

// OWASP's CSV-injection list. A plain number (`-12.50`, `+1e3`) is data, not a formula: left alone.
const FORMULA_START = new Uint8Array(256);
for (const c of [EQUALS, PLUS, MINUS, AT, TAB, CR]) FORMULA_START[c] = 1;
// What a `+`/`-` cell may hold and still be a number; anything else decides it is a formula.
const NUMBER_BYTE = new Uint8Array(256);
for (const c of '0123456789.eE+-') NUMBER_BYTE[c.charCodeAt(0)] = 1;
// A `+`/`-` cell is held back until it is known not to be a number; a longer one is escaped unread.
const MAX_NUMBER_CHARS = 1024;

/**
 * True when `text[from, to)` (a string, or ASCII bytes) is a plain number:
 * `^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`, by hand (no substring, no regex: a file of negative
 * amounts asks this for every other cell).
 */
export function isPlainNumber(text: string | Uint8Array, from: number, to: number): boolean {
  let i = from;
  const at =
    typeof text === 'string'
      ? (k: number): number => (k < to ? text.charCodeAt(k) : -1)
      : (k: number): number => (k < to ? text[k]! : -1);
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

// Parser states and byte classes (numbers: the loop reads them for every byte). Class 0: field content.
const [FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED] = [0, 1, 2, 3];
const [C_DELIMITER, C_QUOTE, C_CR, C_LF, C_HIGH] = [1, 2, 3, 4, 5];

/** How many bytes a character starting with `lead` claims: how long the old decoding waited for them. */
function sequenceLength(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
}

// It scans bytes, not text (as csv-shaper.ts does): the delimiter (when ASCII), quote, CR and LF are
// ASCII and UTF-8 never uses ASCII bytes inside a multi-byte character, so only bytes ≥ 0x80 go
// through the UTF-8 check, and text is made only where it is compared: the header row's fields.
function createChecker(rules: CsvRules): Checker {
  const minColumns = rules.minColumns ?? rules.header?.length ?? 1;
  // One UTF-16 unit, compared as the text decoder's output was: a non-ASCII one is matched after its
  // character is checked (see `unit`).
  const delim = rules.delimiter.charCodeAt(0);
  const unquotedClass = new Uint8Array(256).fill(C_HIGH, 0x80);
  const quotedClass = new Uint8Array(256).fill(C_HIGH, 0x80);
  unquotedClass[QUOTE] = C_QUOTE;
  unquotedClass[CR] = C_CR;
  unquotedClass[LF] = C_LF;
  if (delim < 0x80) unquotedClass[delim] = C_DELIMITER; // last: the delimiter is tested first
  quotedClass[QUOTE] = C_QUOTE;
  // A `+`/`-` run outside quotes ends at the delimiter, whatever it is.
  const numberUnquoted = NUMBER_BYTE.slice();
  if (delim < 0x80) numberUnquoted[delim] = 0;

  const utf8 = new Utf8Check();
  // Invalid bytes at a chunk's very end that look like the start of a character are reported with
  // the next (non-empty) chunk or at the end, as decoding whole characters did: -1 when none.
  let badAt = -1;
  let bytes = 0;
  let problem: CsvProblem | undefined;
  let atFileStart = true;
  let state = FIELD_START;
  let skipLf = false;
  let row = 1;
  let column = 1;
  let rowStarted = false;
  let rows = 0;
  let quoteRow = 0;
  let quoteColumn = 0;
  // The header row's fields as text, while row 1 is parsed and there is a header to compare.
  let keeping = rules.header !== undefined;
  let field = '';
  const headerFields: string[] = [];
  // Formulas: off, quarantine or escape. A `+`/`-` cell that may be a number is pending: its bytes
  // so far (a number is ASCII), where it starts, and its first byte.
  const formulas = rules.neutralizeFormulas ?? false;
  const escaping = formulas === 'escape';
  const inserts: number[] = [];
  let quotedFirst = false;
  let pending = false;
  const candidate = new Uint8Array(MAX_NUMBER_CHARS);
  let candidateLength = 0;
  let candidateFirst = PLUS;
  let candidateRow = 0;
  let candidateColumn = 0;
  let candidateByte = 0;

  const fail = (reason: string, atRow = row, atColumn = column): CsvProblem =>
    (problem = { row: atRow, column: atColumn, reason });

  const keep = (text: string): void => {
    if (field.length < MAX_HEADER_CHARS) field += text;
  };

  /** A formula cell was found: quarantine fails, escape records where the `'` goes. */
  const flag = (first: number, byte: number, atRow: number, atColumn: number): CsvProblem | undefined => {
    if (escaping) {
      inserts.push(byte);
      return undefined;
    }
    const char = JSON.stringify(String.fromCharCode(first));
    return fail(`cell starts with ${char} (formula; neutralizeFormulas: quarantine)`, atRow, atColumn);
  };

  /** The first byte `c` (ASCII) of a field's content, at absolute offset `byte`. */
  const cellStart = (c: number, byte: number): CsvProblem | undefined => {
    if (FORMULA_START[c] !== 1) return undefined;
    if (c !== PLUS && c !== MINUS) return flag(c, byte, row, column);
    pending = true;
    candidateLength = 0;
    candidateFirst = c;
    candidateRow = row;
    candidateColumn = column;
    candidateByte = byte;
    return undefined;
  };

  const decide = (isNumber: boolean): CsvProblem | undefined => {
    pending = false;
    if (isNumber) return undefined;
    return flag(candidateFirst, candidateByte, candidateRow, candidateColumn);
  };

  /** More bytes of a pending cell (ASCII): decided as soon as it cannot be a number any more. */
  const grow = (buf: Uint8Array, from: number, to: number, numbers: Uint8Array): CsvProblem | undefined => {
    for (let k = from; k < to; k++) {
      const b = buf[k]!;
      if (numbers[b] !== 1) return decide(false);
      if (candidateLength < MAX_NUMBER_CHARS) candidate[candidateLength] = b;
      candidateLength++;
    }
    return candidateLength > MAX_NUMBER_CHARS ? decide(false) : undefined;
  };

  const endField = (): void => {
    if (pending) decide(isPlainNumber(candidate, 0, candidateLength));
    if (keeping) headerFields.push(field.slice(0, MAX_HEADER_CHARS));
    field = '';
  };

  const endRow = (): CsvProblem | undefined => {
    endField();
    if (problem) return problem;
    rows += 1;
    if (keeping) {
      keeping = false;
      const expected = rules.header!;
      for (let i = 0; i < Math.max(expected.length, headerFields.length); i++) {
        if (headerFields[i] !== expected[i]) {
          const found = headerFields[i] === undefined ? 'nothing' : JSON.stringify(headerFields[i]);
          const want = expected[i] === undefined ? 'no more columns' : JSON.stringify(expected[i]);
          return fail(`header ${found} where ${want} is expected`, 1, i + 1);
        }
      }
    }
    if (column < minColumns) {
      return fail(`missing column: the row has ${column}, at least ${minColumns} expected`, row, column + 1);
    }
    row += 1;
    column = 1;
    rowStarted = false;
    state = FIELD_START;
    return undefined;
  };

  const endFieldAtDelimiter = (): CsvProblem | undefined => {
    endField();
    if (problem) return problem;
    column += 1;
    state = FIELD_START;
    return undefined;
  };

  /** One UTF-16 unit (≥ 0x80) of a checked character, as the text-decoding parser saw it. */
  const unit = (u: number): CsvProblem | undefined => {
    switch (state) {
      case QUOTED:
        quotedFirst = false;
        if (keeping) keep(String.fromCharCode(u));
        return pending ? decide(false) : undefined;
      case QUOTE_IN_QUOTED:
        if (u === delim) return endFieldAtDelimiter();
        return fail('unexpected character after a closing quote');
      case FIELD_START:
        rowStarted = true;
        if (u === delim) return endFieldAtDelimiter();
        state = UNQUOTED;
        if (keeping) keep(String.fromCharCode(u));
        return undefined;
      default:
        if (u === delim) return endFieldAtDelimiter();
        if (keeping) keep(String.fromCharCode(u));
        return pending ? decide(false) : undefined;
    }
  };

  /** A checked non-ASCII character: skipped when it is the file's BOM, else its UTF-16 units in turn. */
  const nonAscii = (cp: number): CsvProblem | undefined => {
    if (atFileStart) {
      atFileStart = false;
      if (cp === BOM) return undefined;
    }
    skipLf = false;
    if (cp < 0x10000) return unit(cp);
    // Two units; only an odd delimiter (half a surrogate pair) can tell them apart from one.
    if (unit(0xd800 + ((cp - 0x10000) >> 10))) return problem;
    return unit(0xdc00 + ((cp - 0x10000) & 0x3ff));
  };

  /**
   * Invalid bytes from absolute offset `at` (first byte `lead`) to the end of `buf` (which starts at
   * `offset`) that a text decoder would have held back as a character the next chunk may complete.
   */
  const cutByChunkEnd = (buf: Uint8Array, offset: number, at: number, lead: number): boolean => {
    const end = offset + buf.length;
    if (end - at >= sequenceLength(lead)) return false;
    for (let k = Math.max(at + 1, offset); k < end; k++) if ((buf[k - offset]! & 0xc0) !== 0x80) return false;
    return true;
  };

  /**
   * Checks the character at `buf[i]` (or the rest of one the last chunk cut) and, once complete,
   * parses it: the index after its bytes, or -1 after a problem or invalid bytes that end the chunk.
   */
  const character = (buf: Uint8Array, i: number, n: number, offset: number): number => {
    const next = utf8.character(buf, i, n, offset);
    if (next < 0) {
      if (cutByChunkEnd(buf, offset, utf8.start, utf8.lead)) badAt = utf8.start;
      else fail(`invalid utf-8 (byte offset ${utf8.start})`);
      return -1;
    }
    if (utf8.due > 0) return next;
    return nonAscii(utf8.codePoint) ? -1 : next;
  };

  // This loop sees every byte of every checked file: table lookups, and inner loops over the bytes
  // that change nothing (most of them).
  const scan = (buf: Buffer, offset: number): CsvProblem | undefined => {
    const n = buf.length;
    const uc = unquotedClass;
    const qc = quotedClass;
    let i = 0;
    if (n === 0) return undefined;
    if (utf8.due > 0) {
      i = character(buf, 0, n, offset);
      if (i < 0) return problem;
    } else if (atFileStart && buf[0]! < 0x80) atFileStart = false;
    while (i < n) {
      let t = 0;
      if (state === FIELD_START) {
        const c = buf[i]!;
        if (skipLf) {
          skipLf = false;
          if (c === LF) {
            i++;
            continue;
          }
        }
        t = uc[c]!;
        if (c === QUOTE) {
          rowStarted = true;
          state = QUOTED;
          quoteRow = row;
          quoteColumn = column;
          quotedFirst = formulas !== false;
          i++;
          continue;
        }
        if (t === 0) {
          // The byte starts the field's content (a delimiter or line break: an empty field).
          rowStarted = true;
          if (formulas !== false && cellStart(c, offset + i)) return problem;
          state = UNQUOTED;
        } else if (t !== C_HIGH) rowStarted = true; // a non-ASCII character is parsed once checked
      }
      if (state === UNQUOTED) {
        const from = i;
        while (i < n && (t = uc[buf[i]!]!) === 0) i++;
        if (keeping && i > from) keep(buf.toString('latin1', from, i));
        if (pending && grow(buf, from, i, numberUnquoted)) return problem;
        if (i === n) return undefined;
        if (t === C_QUOTE) {
          // A `+`/`-` cell is decided where its run ends, before the quote that breaks the rules.
          if (pending && decide(isPlainNumber(candidate, 0, candidateLength))) return problem;
          return fail('quote inside an unquoted field (quote the whole field and double the quote)');
        }
      } else if (state === QUOTED) {
        if (quotedFirst) {
          quotedFirst = false;
          const c = buf[i]!;
          if (c < 0x80 && c !== QUOTE && cellStart(c, offset + i)) return problem;
        }
        const from = i;
        while (i < n && (t = qc[buf[i]!]!) === 0) i++;
        if (keeping && i > from) keep(buf.toString('latin1', from, i));
        if (pending && grow(buf, from, i, NUMBER_BYTE)) return problem;
        if (i === n) return undefined;
        if (t === C_QUOTE) {
          state = QUOTE_IN_QUOTED;
          i++;
          continue;
        }
      } else if (state === QUOTE_IN_QUOTED) {
        // After a quote inside quotes: a second quote (an escaped one), or the end of the field.
        const c = buf[i]!;
        if (c === QUOTE) {
          state = QUOTED;
          if (keeping) keep('"');
          if (pending && decide(false)) return problem;
          i++;
          continue;
        }
        t = uc[c]!;
        if (t !== C_DELIMITER && t !== C_CR && t !== C_LF && t !== C_HIGH) {
          return fail('unexpected character after a closing quote');
        }
      }
      if (t === C_HIGH) {
        i = character(buf, i, n, offset);
        if (i < 0) return problem;
        continue;
      }
      // A delimiter or line break at `i` ends the field.
      i++;
      if (t === C_DELIMITER) {
        if (endFieldAtDelimiter()) return problem;
      } else {
        skipLf = t === C_CR;
        if (endRow()) return problem;
      }
    }
    return undefined;
  };

  return {
    inserts,
    settled: () => (pending ? candidateByte : bytes),
    feed(chunk) {
      if (problem) return problem;
      bytes += chunk.length;
      if (rules.maxBytes !== undefined && bytes > rules.maxBytes) {
        return fail(`the file is larger than maxBytes (${rules.maxBytes})`);
      }
      const offset = bytes - chunk.length;
      if (badAt >= 0) {
        if (cutByChunkEnd(chunk, offset, badAt, utf8.lead)) return undefined;
        return fail(`invalid utf-8 (byte offset ${badAt})`);
      }
      // One kind of array in the loop (a Buffer view costs no copy), and its latin1 text for the header.
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      return scan(buf, offset);
    },
    end() {
      if (!problem && (utf8.due > 0 || badAt >= 0)) fail('invalid utf-8 (the file ends inside a character)');
      if (!problem && (state === QUOTED || state === QUOTE_IN_QUOTED)) {
        if (state === QUOTED) fail('unterminated quoted field', quoteRow, quoteColumn);
        else endRow();
      } else if (!problem && rowStarted) {
        endRow();
      }
      if (!problem && !rules.allowEmpty && rows <= 1) {
        fail(rows === 0 ? 'empty file' : 'no rows after the header', rows + 1, 1);
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
