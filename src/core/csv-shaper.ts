// A streaming CSV reshaper (RFC 4180 in, RFC 4180 out): fed the source's bytes as they come, it writes
// the partner's columns (chosen, renamed, constant), delimiter, quoting, line ending and encoding. It
// holds one record and one chunk's output, never the file.
//
// It parses bytes, not text: the delimiter, quote, CR and LF are ASCII and UTF-8 never uses ASCII bytes
// inside a multi-byte character, so fields are byte ranges and a field is written by copying its bytes
// (with its source quotes kept or dropped: a quoted source field's `""` is already the output's escape).
// Only a non-UTF-8 output decodes characters, one at a time, to map them to a single byte.
//
// Decisions (docs: the partner's `shape:` section):
// - `quote: minimal` quotes a field only when it holds the output delimiter, a quote, CR or LF (Python's
//   QUOTE_MINIMAL, csv-stringify's default). Leading/trailing spaces are data (RFC 4180) and left unquoted.
// - Line breaks inside a quoted field are kept as they are; `lineEnding` applies to record ends.
// - Empty lines at the end of the source are dropped. An empty line before a later record is one empty
//   field (RFC 4180): a record when the header has one column, else a problem (a hole in the export).
// - The source's header names are matched exactly (after a UTF-8 BOM is stripped); a repeated name
//   resolves to its first column.
import type { CsvProblem } from './csv-validator.js';
import { FerryError } from '../errors.js';
import { Utf8Check } from './utf8-check.js';

/** One output column: copied `from` a source column (by header name), or a constant `value`. */
export interface ShapeColumn {
  as: string;
  from?: string;
  /** Already rendered by the caller (templates are the config's business): written as it is. */
  value?: string;
}

export type ShapeEncoding = 'utf-8' | 'utf-8-bom' | 'iso-8859-1' | 'windows-1252';

/** A partner's `shape:` section, after defaults. */
export interface ShapeRules {
  /** The source's delimiter: one ASCII character, not a quote or a line break. */
  inputDelimiter: string;
  columns: readonly ShapeColumn[];
  /** Write a header row of the `as` names. */
  header: boolean;
  /** The output delimiter: one ASCII character, not a quote or a line break. */
  delimiter: string;
  /** minimal: quote a field holding the delimiter, a quote, CR or LF; all: quote every field. */
  quote: 'minimal' | 'all';
  lineEnding: 'lf' | 'crlf';
  /** iso-8859-1 is U+0000–U+00FF as bytes (Node's `latin1`), not the WHATWG alias of windows-1252. */
  encoding: ShapeEncoding;
  /** A character the encoding lacks: fail the file, or write `?`. */
  unmappable: 'fail' | 'replace';
  /** A last line, unquoted; `{rows}` is the number of data rows written. Ends with the line ending. */
  trailer?: string;
  /** A longer record fails (memory stays bounded; usually an unclosed quote). Default 16 MiB. */
  maxRecordBytes?: number;
}

/**
 * Where a file cannot be shaped. `row` is the 1-based physical record of the source (its header is
 * row 1). `column` is the source column, except when `columnName` is set: then it is the output column
 * (1-based) named `columnName` (a missing source column, a character the encoding lacks).
 */
export interface ShapeProblem extends CsvProblem {
  columnName?: string;
}

export interface CsvShaper {
  /** Shapes the next bytes; returns the output they complete (whole records). Stops at the first problem. */
  feed(chunk: Uint8Array): { out: Uint8Array; problem?: ShapeProblem };
  /** The source ended: the last record and the trailer; `rows` = data rows written (header excluded). */
  end(): { out: Uint8Array; problem?: ShapeProblem; rows: number };
}

/** One line for the ledger, logs and alerts: `shape: row 3, column 4: …`. */
export function describeShapeProblem(problem: ShapeProblem): string {
  const where =
    problem.columnName === undefined
      ? `column ${problem.column}`
      : `output column ${problem.column} ${JSON.stringify(problem.columnName)}`;
  return `shape: row ${problem.row}, ${where}: ${problem.reason}`;
}

const [QUOTE, LF, CR, QMARK] = [0x22, 0x0a, 0x0d, 0x3f];
const UTF8_BOM = [0xef, 0xbb, 0xbf];
const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

// Node's TextDecoder reads windows-1252 but no built-in writes it (TextEncoder is UTF-8 only), and
// iconv-lite would be a dependency for two single-byte tables: 0x80–0x9F are the only bytes that differ
// from Latin-1. The five holes (0x81 0x8D 0x8F 0x90 0x9D) map to the C1 controls, as in WHATWG's table.
const WINDOWS_1252_80_9F = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
];
const WINDOWS_1252 = new Map<number, number>();
for (let b = 0; b < 256; b++) WINDOWS_1252.set(b < 0x80 || b >= 0xa0 ? b : WINDOWS_1252_80_9F[b - 0x80]!, b);

/** The byte `codePoint` is in a single-byte `encoding`, or -1 when it has none. */
function singleByte(encoding: 'iso-8859-1' | 'windows-1252', codePoint: number): number {
  if (encoding === 'iso-8859-1') return codePoint <= 0xff ? codePoint : -1;
  return WINDOWS_1252.get(codePoint) ?? -1;
}

/** The first character of `text` that `encoding` cannot write (its code point), else undefined. */
export function findUnmappable(text: string, encoding: ShapeEncoding): number | undefined {
  if (encoding === 'utf-8' || encoding === 'utf-8-bom') return undefined;
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (cp >= 0x80 && singleByte(encoding, cp) < 0) return cp;
  }
  return undefined;
}

/** `U+20AC "€"`, for problems. */
export function describeCharacter(codePoint: number): string {
  const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
  return `U+${hex} ${JSON.stringify(String.fromCodePoint(codePoint))}`;
}

function checkDelimiter(name: string, value: string): number {
  const c = value.charCodeAt(0);
  if (value.length !== 1 || c >= 0x80 || c === QUOTE || c === CR || c === LF) {
    throw new FerryError(
      'ERR_CONFIG_INVALID',
      `shape.${name} must be one ASCII character, not a quote or line break`,
    );
  }
  return c;
}

// Parser states and flags (numbers: the loop below reads them for every byte).
const [FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED] = [0, 1, 2, 3];
const F_QUOTED = 1; // the source quoted the field: its range excludes the quotes, `""` stays doubled
const F_NEEDS_QUOTES = 2; // holds the output delimiter, a quote, CR or LF
const F_ESCAPED = 4; // holds a `""`
// Byte classes: 0 = nothing to do.
const [C_DELIMITER, C_QUOTE, C_CR, C_LF, C_NEEDS_QUOTES, C_HIGH] = [1, 2, 3, 4, 5, 6];

/** A shaper for one file. Pure: no I/O, memory bounded by one record and one chunk's output. */
export function createCsvShaper(rules: ShapeRules): CsvShaper {
  const inDelim = checkDelimiter('inputDelimiter', rules.inputDelimiter);
  const outDelim = checkDelimiter('delimiter', rules.delimiter);
  if (rules.columns.length === 0) throw new FerryError('ERR_CONFIG_INVALID', 'shape.columns is empty');
  for (const [k, col] of rules.columns.entries()) {
    if ((col.from === undefined) === (col.value === undefined)) {
      throw new FerryError('ERR_CONFIG_INVALID', `shape.columns[${k}] needs exactly one of from and value`);
    }
  }
  const encoding = rules.encoding;
  const utf8Out = encoding === 'utf-8' || encoding === 'utf-8-bom';
  const single = utf8Out ? undefined : encoding;
  const quoteAll = rules.quote === 'all';
  const replace = rules.unmappable === 'replace';
  const lineEnding = rules.lineEnding === 'crlf' ? [CR, LF] : [LF];
  const maxRecordBytes = rules.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const width = rules.columns.length;

  // What ends or marks a field, per state. Outside quotes only the output delimiter can need quoting.
  const unquotedClass = new Uint8Array(256);
  const quotedClass = new Uint8Array(256);
  unquotedClass.fill(C_HIGH, 0x80);
  quotedClass.fill(C_HIGH, 0x80);
  unquotedClass[outDelim] = C_NEEDS_QUOTES;
  unquotedClass[QUOTE] = C_QUOTE;
  unquotedClass[CR] = C_CR;
  unquotedClass[LF] = C_LF;
  unquotedClass[inDelim] = C_DELIMITER;
  for (const c of [outDelim, CR, LF]) quotedClass[c] = C_NEEDS_QUOTES;
  quotedClass[QUOTE] = C_QUOTE;

  let problem: ShapeProblem | undefined;
  const fail = (reason: string, column: number, columnName?: string): ShapeProblem =>
    (problem = { row, column, reason, ...(columnName === undefined ? {} : { columnName }) });

  // --- the record being parsed: field byte ranges relative to its first byte ---
  let fieldCap = Math.max(16, width + 1);
  let starts = new Int32Array(fieldCap);
  let ends = new Int32Array(fieldCap);
  let flags = new Uint8Array(fieldCap);
  let fields = 0;
  let state = FIELD_START;
  let fieldStart = 0;
  let fieldFlags = 0;
  let inRecord = false;
  let skipLf = false;
  let quoteColumn = 0;
  // The start of a record cut by a chunk end: its bytes so far (the rest comes from the next chunk).
  let carry: Uint8Array = Buffer.alloc(0);
  let carried = 0;
  const utf8 = new Utf8Check(); // a character cut by a chunk end goes on in the next chunk
  let dataOffset = 0; // absolute offset of the bytes being parsed

  let row = 1; // the record being parsed
  let rows = 0;
  let headerSeen = false;
  let sourceColumns = 0; // the header's
  let emptyLines = 0; // empty lines not yet known to be trailing
  let bomHeld: Uint8Array | undefined = new Uint8Array(0); // undefined once the start is past
  const sourceIndex = new Int32Array(width).fill(-1);
  const constants: (Uint8Array | undefined)[] = [];
  const constantProblems: ({ reason: string } | undefined)[] = [];

  // --- output of the current call ---
  let out: Uint8Array = EMPTY;
  let pos = 0;
  const startOutput = (size: number): void => {
    out = Buffer.allocUnsafe(Math.max(4096, size + (size >> 2)));
    pos = 0;
  };
  const ensure = (n: number): void => {
    if (pos + n <= out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(out.length * 2, pos + n));
    grown.set(out.subarray(0, pos));
    out = grown;
  };
  const takeOutput = (): Uint8Array => {
    const taken = out.subarray(0, pos);
    out = EMPTY;
    pos = 0;
    return taken;
  };

  /** `text` encoded, quoted as a field when `asField`; or the reason it cannot be. */
  const encodeText = (text: string, asField: boolean): Uint8Array | { reason: string } => {
    let shaped = text;
    if (asField && (quoteAll || /["\r\n]/.test(text) || text.includes(rules.delimiter))) {
      shaped = `"${text.replaceAll('"', '""')}"`;
    }
    if (single === undefined) return new TextEncoder().encode(shaped);
    const bytes: number[] = [];
    for (const char of shaped) {
      const cp = char.codePointAt(0)!;
      const b = singleByte(single, cp);
      if (b >= 0) bytes.push(b);
      else if (replace) bytes.push(QMARK);
      else return { reason: unmappableReason(cp) };
    }
    return Uint8Array.from(bytes);
  };
  const unmappableReason = (cp: number): string =>
    `character ${describeCharacter(cp)} cannot be written in ${encoding} (unmappable: fail)`;

  // Delimiters, quotes and the line ending of a row, and its constants.
  let fixedRowBytes = 3 * width + lineEnding.length;
  for (const col of rules.columns) {
    const encoded = col.value === undefined ? EMPTY : encodeText(col.value, true);
    constants.push(encoded instanceof Uint8Array ? encoded : undefined);
    constantProblems.push(encoded instanceof Uint8Array ? undefined : encoded);
    if (encoded instanceof Uint8Array) fixedRowBytes += encoded.length;
  }

  /** A constant the encoding cannot write (unmappable: fail): a problem where it is first written. */
  const constantFails = (k: number): false => {
    fail(constantProblems[k]!.reason, k + 1, rules.columns[k]!.as);
    return false;
  };

  const write = (bytes: ArrayLike<number>): void => {
    ensure(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[pos++] = bytes[i]!;
  };

  // --- parsing ---

  const growFields = (): void => {
    fieldCap *= 2;
    const [s, e, f] = [new Int32Array(fieldCap), new Int32Array(fieldCap), new Uint8Array(fieldCap)];
    s.set(starts);
    e.set(ends);
    f.set(flags);
    [starts, ends, flags] = [s, e, f];
  };

  /**
   * Checks the bytes of the character at `buf[i]` (or the rest of one a chunk end cut) up to `n`;
   * returns the index after them, or -2 after a problem in source column `column`.
   */
  const utf8Character = (buf: Uint8Array, i: number, n: number, column: number): number => {
    const next = utf8.character(buf, i, n, dataOffset);
    if (next >= 0) return next;
    fail(`invalid utf-8 (byte offset ${utf8.start})`, column);
    return -2;
  };

  /**
   * Parses one record from `buf[from, n)`; `base` turns an index of `buf` into an offset from the
   * record's first byte. Returns the index after its line break, -1 when `buf` ends first, -2 on a problem.
   */
  const parseRecord = (buf: Uint8Array, from: number, n: number, base: number): number => {
    inRecord = true;
    let i = from;
    // A character cut by the previous chunk's end: finish checking it first.
    if (utf8.due > 0 && i < n) i = utf8Character(buf, i, n, fields + 1);
    if (i < 0) return -2;
    // This loop sees every byte: it works on locals and hands the record's state back when it returns.
    let st = state;
    let nf = fields;
    let fStart = fieldStart;
    let fFlags = fieldFlags;
    let s = starts;
    let e = ends;
    let f = flags;
    const uc = unquotedClass;
    const qc = quotedClass;
    let next = -1;
    scan: while (i < n) {
      if (st === FIELD_START) {
        if (nf === fieldCap) {
          growFields();
          s = starts;
          e = ends;
          f = flags;
        }
        if (buf[i] === QUOTE) {
          st = QUOTED;
          fStart = i + 1 + base;
          fFlags = F_QUOTED;
          quoteColumn = nf + 1;
          i++;
          continue;
        }
        st = UNQUOTED;
        fStart = i + base;
        fFlags = 0;
      }
      if (st === UNQUOTED) {
        let t = 0;
        while (i < n && (t = uc[buf[i]!]!) === 0) i++;
        if (i === n) break scan;
        if (t === C_DELIMITER || t === C_CR || t === C_LF) {
          s[nf] = fStart;
          e[nf] = i + base;
          f[nf++] = fFlags;
          st = FIELD_START;
          i++;
          if (t !== C_DELIMITER) {
            skipLf = t === C_CR;
            next = i;
            break scan;
          }
        } else if (t === C_NEEDS_QUOTES) {
          fFlags |= F_NEEDS_QUOTES;
          i++;
        } else if (t === C_HIGH) {
          i = utf8Character(buf, i, n, nf + 1);
          if (i < 0) {
            next = -2;
            break scan;
          }
        } else {
          fail('quote inside an unquoted field (quote the whole field and double the quote)', nf + 1);
          next = -2;
          break scan;
        }
      } else if (st === QUOTED) {
        let t = 0;
        while (i < n && (t = qc[buf[i]!]!) === 0) i++;
        if (i === n) break scan;
        if (t === C_QUOTE) {
          st = QUOTE_IN_QUOTED;
          i++;
        } else if (t === C_NEEDS_QUOTES) {
          fFlags |= F_NEEDS_QUOTES;
          i++;
        } else {
          i = utf8Character(buf, i, n, nf + 1);
          if (i < 0) {
            next = -2;
            break scan;
          }
        }
      } else {
        // After a quote inside quotes: a second quote (escape), or the end of the field.
        const c = buf[i]!;
        if (c === QUOTE) {
          fFlags |= F_NEEDS_QUOTES | F_ESCAPED;
          st = QUOTED;
          i++;
          continue;
        }
        if (c !== inDelim && c !== CR && c !== LF) {
          fail('unexpected character after a closing quote', nf + 1);
          next = -2;
          break scan;
        }
        s[nf] = fStart;
        e[nf] = i - 1 + base;
        f[nf++] = fFlags;
        st = FIELD_START;
        i++;
        if (c !== inDelim) {
          skipLf = c === CR;
          next = i;
          break scan;
        }
      }
    }
    state = st;
    fields = nf;
    fieldStart = fStart;
    fieldFlags = fFlags;
    return next;
  };

  // --- writing ---

  /**
   * Writes `buf[from, to)` (validated UTF-8) at `out[at]` in the single-byte encoding; returns where it
   * ended, or -1 after a problem (output column `k`). The caller made room: it never writes more bytes.
   */
  const writeSingleByte = (buf: Uint8Array, from: number, to: number, at: number, k: number): number => {
    const o = out;
    let p = at;
    for (let i = from; i < to;) {
      const c = buf[i]!;
      if (c < 0x80) {
        o[p++] = c;
        i++;
        continue;
      }
      let cp: number;
      if (c < 0xe0) {
        cp = ((c & 0x1f) << 6) | (buf[i + 1]! & 0x3f);
        i += 2;
      } else if (c < 0xf0) {
        cp = ((c & 0x0f) << 12) | ((buf[i + 1]! & 0x3f) << 6) | (buf[i + 2]! & 0x3f);
        i += 3;
      } else {
        cp =
          ((c & 0x07) << 18) |
          ((buf[i + 1]! & 0x3f) << 12) |
          ((buf[i + 2]! & 0x3f) << 6) |
          (buf[i + 3]! & 0x3f);
        i += 4;
      }
      const b = singleByte(single!, cp);
      if (b >= 0) o[p++] = b;
      else if (replace) o[p++] = QMARK;
      else {
        fail(unmappableReason(cp), k + 1, rules.columns[k]!.as);
        return -1;
      }
    }
    return p;
  };

  /** The header record: finds each `from` column and writes the output header. */
  const takeHeader = (buf: Uint8Array, origin: number, count: number): boolean => {
    headerSeen = true;
    const decoder = new TextDecoder();
    const names: string[] = [];
    for (let f = 0; f < count; f++) {
      const text = decoder.decode(buf.subarray(origin + starts[f]!, origin + ends[f]!));
      names.push(flags[f]! & F_ESCAPED ? text.replaceAll('""', '"') : text);
    }
    sourceColumns = count;
    for (const [k, col] of rules.columns.entries()) {
      if (col.from === undefined) continue;
      const index = names.indexOf(col.from);
      if (index < 0) {
        fail(
          `source column ${JSON.stringify(col.from)} is not in the header (${listNames(names)})`,
          k + 1,
          col.as,
        );
        return false;
      }
      sourceIndex[k] = index;
    }
    if (encoding === 'utf-8-bom') write(UTF8_BOM);
    if (!rules.header) return true;
    for (const [k, col] of rules.columns.entries()) {
      const name = encodeText(col.as, true);
      if (!(name instanceof Uint8Array)) {
        fail(name.reason, k + 1, col.as);
        return false;
      }
      if (k > 0) write([outDelim]);
      write(name);
    }
    write(lineEnding);
    return true;
  };
  /** A complete record whose bytes are `buf[origin + start, origin + end)`. */
  const takeRecord = (buf: Uint8Array, origin: number): boolean => {
    const count = fields;
    fields = 0;
    inRecord = false;
    if (!headerSeen) {
      if (!takeHeader(buf, origin, count)) return false;
      row++;
      return true;
    }
    if (count === 1 && ends[0] === starts[0] && flags[0] === 0) {
      emptyLines++; // trailing (dropped), or before a record: see takeEmptyLines
      row++;
      return true;
    }
    if (emptyLines > 0 && !takeEmptyLines()) return false;
    if (count !== sourceColumns) {
      fail(
        `the row has ${count} field${count === 1 ? '' : 's'}, the header has ${sourceColumns}`,
        Math.min(count, sourceColumns) + 1,
      );
      return false;
    }
    // Room for the whole row first: the loop below writes without checks (a single-byte encoding
    // never needs more bytes than UTF-8).
    let need = fixedRowBytes;
    for (let k = 0; k < width; k++) {
      const src = sourceIndex[k]!;
      if (src >= 0) need += ends[src]! - starts[src]!;
    }
    ensure(need);
    const o = out;
    let p = pos;
    for (let k = 0; k < width; k++) {
      if (k > 0) o[p++] = outDelim;
      const src = sourceIndex[k]!;
      if (src < 0) {
        const constant = constants[k];
        if (constant === undefined) return constantFails(k);
        for (let j = 0; j < constant.length; j++) o[p++] = constant[j]!;
        continue;
      }
      const from = origin + starts[src]!;
      const to = origin + ends[src]!;
      const quoted = quoteAll || (flags[src]! & F_NEEDS_QUOTES) !== 0;
      if (quoted) o[p++] = QUOTE;
      if (single !== undefined) {
        p = writeSingleByte(buf, from, to, p, k);
        if (p < 0) return false;
      } else if (to - from > 64) {
        o.set(buf.subarray(from, to), p);
        p += to - from;
      } else for (let j = from; j < to; j++) o[p++] = buf[j]!;
      if (quoted) o[p++] = QUOTE;
    }
    for (const b of lineEnding) o[p++] = b;
    pos = p;
    rows++;
    row++;
    return true;
  };

  /** Empty lines before a record: one empty field each with a one-column header, else a problem. */
  const takeEmptyLines = (): boolean => {
    if (sourceColumns !== 1) {
      row -= emptyLines;
      fail(`empty line (the header has ${sourceColumns} columns)`, 1);
      return false;
    }
    for (; emptyLines > 0; emptyLines--) {
      for (let k = 0; k < width; k++) {
        if (k > 0) write([outDelim]);
        const constant = constants[k];
        if (sourceIndex[k]! >= 0) write(quoteAll ? [QUOTE, QUOTE] : []);
        else if (constant !== undefined) write(constant);
        else return constantFails(k);
      }
      write(lineEnding);
      rows++;
    }
    return true;
  };

  const keepCarry = (buf: Uint8Array, from: number, to: number): boolean => {
    const length = to - from;
    if (carried + length > maxRecordBytes) {
      fail(
        `the record is longer than ${maxRecordBytes} bytes (maxRecordBytes; an unclosed quote?)`,
        fields + 1,
      );
      return false;
    }
    if (carried + length > carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(carry.length * 2, carried + length, 1024));
      grown.set(carry.subarray(0, carried));
      carry = grown;
    }
    carry.set(buf.subarray(from, to), carried);
    carried += length;
    return true;
  };

  /** Parses `data` and writes the records it completes into the output. */
  const shape = (data: Uint8Array): ShapeProblem | undefined => {
    const n = data.length;
    let i = 0;
    if (inRecord) {
      // The record the last chunk cut: its offsets go on from the carried bytes.
      const next = parseRecord(data, 0, n, carried);
      if (next === -2) return problem;
      if (!keepCarry(data, 0, next < 0 ? n : next)) return problem;
      if (next < 0) return undefined;
      if (!takeRecord(carry, 0)) return problem;
      carried = 0;
      if (carry.length > 1024 * 1024) carry = Buffer.alloc(0); // a long record's room is not kept
      i = next;
    }
    while (i < n) {
      if (skipLf) {
        skipLf = false;
        if (data[i] === LF) {
          i++;
          continue;
        }
      }
      const next = parseRecord(data, i, n, -i);
      if (next === -2) return problem;
      if (next < 0) {
        if (!keepCarry(data, i, n)) return problem;
        return undefined;
      }
      if (!takeRecord(data, i)) return problem;
      i = next;
    }
    return undefined;
  };

  const feedBytes = (chunk: Uint8Array): ShapeProblem | undefined => {
    // One kind of array in the loops that read it (a Buffer view costs no copy).
    let data: Uint8Array = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (bomHeld !== undefined) {
      // The source's UTF-8 BOM is dropped; its bytes may come in more than one chunk.
      data = concat(bomHeld, data);
      const prefix = Math.min(3, data.length);
      if (data.length < 3 && UTF8_BOM.slice(0, prefix).every((b, k) => data[k] === b)) {
        bomHeld = Buffer.from(data); // a copy: the caller may reuse its chunk
        return undefined;
      }
      bomHeld = undefined;
      if (UTF8_BOM.every((b, k) => data[k] === b)) {
        dataOffset += 3;
        data = data.subarray(3);
      }
    }
    const stop = shape(data);
    dataOffset += data.length;
    return stop;
  };

  return {
    feed(chunk) {
      if (problem) return { out: EMPTY, problem };
      startOutput(chunk.length);
      const stop = feedBytes(chunk);
      const taken = takeOutput();
      return stop ? { out: EMPTY, problem: stop } : { out: taken };
    },
    end() {
      if (problem) return { out: EMPTY, problem, rows };
      startOutput(carried + (rules.trailer?.length ?? 0) * 2 + 64);
      const done = (): { out: Uint8Array; problem?: ShapeProblem; rows: number } =>
        problem ? { out: EMPTY, problem, rows } : { out: takeOutput(), rows };
      if (bomHeld !== undefined && bomHeld.length > 0) {
        const held = bomHeld; // not a BOM after all: parse it
        bomHeld = undefined;
        if (shape(held)) return done();
      }
      if (utf8.due > 0) {
        fail('invalid utf-8 (the file ends inside a character)', fields + 1);
        return done();
      }
      if (inRecord && state === QUOTED) {
        fail('unterminated quoted field', quoteColumn);
        return done();
      }
      if (inRecord) {
        // The last record has no line break: end it as if it had one.
        const next = parseRecord(Uint8Array.of(LF), 0, 1, carried);
        if (next === -2 || !takeRecord(carry, 0)) return done();
      }
      if (!headerSeen) {
        fail('the file is empty: no header row', 1);
        return done();
      }
      if (rules.trailer !== undefined) {
        const line = rules.trailer.replaceAll('{rows}', String(rows));
        const encoded = encodeText(line, false);
        if (!(encoded instanceof Uint8Array)) {
          row -= emptyLines;
          fail(`trailer: ${encoded.reason}`, 1);
          return done();
        }
        write(encoded);
        write(lineEnding);
      }
      return done();
    },
  };
}

/** The header's names for a problem: the first ten, then `…`. */
function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 10).map((name) => (/[,"\s]|^$/.test(name) ? JSON.stringify(name) : name));
  return names.length > 10 ? `${shown.join(', ')}, …` : shown.join(', ');
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.length === 0 ? b : Buffer.concat([a, b]);
}
