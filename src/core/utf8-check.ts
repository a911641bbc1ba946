// UTF-8 checked a byte at a time while a parser scans bytes: the CSV checker and shaper look only at
// ASCII bytes (delimiter, quote, CR, LF), which UTF-8 never uses inside a multi-byte character, and hand
// every byte ≥ 0x80 here. The rules are WHATWG's (TextDecoder with `fatal`): no overlong forms, no
// surrogates, nothing above U+10FFFF. A class, not a closure: its fields are read in the parsers' loops.

/** The check of one stream; a character cut by a chunk end goes on with the next chunk's first bytes. */
export class Utf8Check {
  /** Continuation bytes still due for the current character (0 between characters). */
  due = 0;
  /** Absolute offset of the current character's first byte: after a failure, where the bad sequence starts. */
  start = 0;
  /** That first byte. */
  lead = 0;
  /** The current character's code point, complete once `due` is 0. */
  codePoint = 0;
  private lo = 0x80;
  private hi = 0xbf;

  /** Takes byte `c` (≥ 0x80, or a continuation) found at absolute offset `at`; false when it is invalid there. */
  byte(c: number, at: number): boolean {
    if (this.due > 0) {
      if (c < this.lo || c > this.hi) return false;
      this.due--;
      this.lo = 0x80;
      this.hi = 0xbf;
      this.codePoint = (this.codePoint << 6) | (c & 0x3f);
      return true;
    }
    this.start = at;
    this.lead = c;
    if (c >= 0xc2 && c <= 0xdf) {
      this.due = 1;
      this.codePoint = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      this.due = 2;
      this.codePoint = c & 0x0f;
      if (c === 0xe0) this.lo = 0xa0; // overlong
      if (c === 0xed) this.hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      this.due = 3;
      this.codePoint = c & 0x07;
      if (c === 0xf0) this.lo = 0x90; // overlong
      if (c === 0xf4) this.hi = 0x8f; // above U+10FFFF
    } else return false;
    return true;
  }

  /**
   * Checks the character at `buf[i]` (or the rest of one a chunk end cut) up to `n`; `offset` is the
   * absolute offset of `buf[0]`. Returns the index after its bytes (`due` > 0: `n` came first), or -1
   * when a byte is invalid (the bad sequence starts at `start`).
   */
  character(buf: Uint8Array, i: number, n: number, offset: number): number {
    do {
      if (!this.byte(buf[i]!, offset + i)) return -1;
      i++;
    } while (this.due > 0 && i < n);
    return i;
  }
}
