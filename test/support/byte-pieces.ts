// Streaming parsers must give the same answer however their input is cut: tests feed it in pieces.

/** `input` (UTF-8 if text) cut at the byte offsets `cuts`, in order; the last piece runs to the end. */
export function piecesAt(input: string | Buffer, cuts: readonly number[]): Buffer[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  return pieces;
}
