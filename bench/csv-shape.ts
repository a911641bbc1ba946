// csv-shape: the CSV shaper (src/core/csv-shaper.ts) on one core over a generated export (1 GiB by default,
// `--mb N` to shrink; 10 columns of text, numbers and quoted fields with commas, quotes, line breaks and
// non-ASCII names), streamed: never more than one block in memory. Reshapes it twice (UTF-8: bytes copied;
// windows-1252: characters re-encoded), once through the Node stream stage, and, in the same run, our
// createCsvValidator alone over the same bytes: the cost of parsing only. Prints MB/s of source bytes and
// the peak RSS of each pass (VmHWM, reset between passes where the kernel allows).
import { readFile, writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createCsvShapeStage } from '../src/adapters/csv-shape-stream.js';
import { createCsvShaper, type ShapeRules } from '../src/core/csv-shaper.js';
import { createCsvValidator } from '../src/core/csv-validator.js';

export const CSV_SHAPE_HEADER = 'order_id,created_at,customer,email,country,sku,qty,unit_price,amount,note\n';

/** The partner's shape the bench applies: 8 of the 10 columns, reordered and renamed, and a constant. */
export const BENCH_SHAPE: Omit<ShapeRules, 'encoding'> = {
  inputDelimiter: ',',
  columns: [
    { as: 'OrderNo', from: 'order_id' },
    { as: 'Date', from: 'created_at' },
    { as: 'Customer', from: 'customer' },
    { as: 'Amount', from: 'amount' },
    { as: 'Currency', value: 'EUR' },
    { as: 'Country', from: 'country' },
    { as: 'Article', from: 'sku' },
    { as: 'Remark', from: 'note' },
    { as: 'Quantity', from: 'qty' },
  ],
  header: true,
  delimiter: ';',
  quote: 'minimal',
  lineEnding: 'crlf',
  unmappable: 'replace',
  trailer: 'TRAILER;{rows}',
};

const BLOCK_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** `size` bytes of rows or a little more (no header), ending with a line break, so copies of it follow each other as valid CSV. */
export function csvBlock(size: number): Buffer {
  const first = ['Anna', 'Bob', 'Chen', 'Dmitri', 'Eva', 'Farah', 'Goran', 'Hiro', 'Ines', 'Zoë'];
  const last = ['Smith', 'Garcia', 'Müller', 'Rossi', 'Nguyễn', 'Kowalski', 'Okafor', 'Silva', 'Tanaka'];
  const countries = ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'NG', 'PL', 'IT', 'VN'];
  const notes = ['', 'gift wrap', '"leave at door, please"', '"say ""hi"""', '"two\nlines"', 'café'];
  let seed = 42;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  // Written straight into one buffer: a list of line strings would stay in the heap (and the RSS).
  const block = Buffer.allocUnsafe(size + 1024);
  let written = 0;
  for (let id = 10_000_000; written < size; id++) {
    const [f, l] = [first[next(first.length)]!, last[next(last.length)]!];
    const qty = 1 + next(19);
    const price = (100 + next(99_900)) / 100;
    const line =
      `${id},2026-${String(1 + next(12)).padStart(2, '0')}-${String(1 + next(28)).padStart(2, '0')}T12:${String(next(60)).padStart(2, '0')}:00Z,` +
      `"${l}, ${f}",${f.toLowerCase()}.${id % 1000}@example.com,${countries[next(countries.length)]!},` +
      `SKU-${String(next(100_000)).padStart(6, '0')},${qty},${price.toFixed(2)},${(qty * price).toFixed(2)},${notes[next(notes.length)]!}\n`;
    written += block.write(line, written);
  }
  return block.subarray(0, written);
}

/**
 * The header, then copies of `block` in 64 KiB chunks (cut anywhere, as a network stream is) until at
 * least `total` bytes, ending with a whole copy so the file ends with a whole record. Chunks are views
 * of `block`: making them costs nothing, so what is measured is the consumer.
 */
export function* csvChunks(block: Buffer, total: number): Generator<Buffer> {
  yield Buffer.from(CSV_SHAPE_HEADER);
  let sent = CSV_SHAPE_HEADER.length;
  for (let at = 0; sent < total || at > 0; at = at + CHUNK_BYTES >= block.length ? 0 : at + CHUNK_BYTES) {
    const chunk = block.subarray(at, at + CHUNK_BYTES);
    sent += chunk.length;
    yield chunk;
  }
}

// Not bench/baselines.ts's helpers: importing it loads the harness (SDKs, ssh2), which would sit in the RSS.
/** This process's resident set size now and at its peak (VmRSS, VmHWM), in MiB. */
async function rssMiB(): Promise<{ now: number; peak: number }> {
  const status = await readFile('/proc/self/status', 'utf8');
  const kib = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { now: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** Resets this process's peak RSS (VmHWM), so the next pass reports its own; false where not allowed. */
async function resetPeak(): Promise<boolean> {
  try {
    await writeFile('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

interface Counted {
  bytes: number;
  outBytes: number;
}

interface Pass {
  label: string;
  bytes: number;
  seconds: number;
  outBytes: number;
  peakMiB: number;
}

async function measure(label: string, run: () => Counted | Promise<Counted>): Promise<Pass> {
  globalThis.gc?.();
  await resetPeak();
  const started = process.hrtime.bigint();
  const { bytes, outBytes } = await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peakMiB = (await rssMiB()).peak;
  return { label, bytes, seconds, outBytes, peakMiB };
}

export async function runCsvShapeBench(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { mb: { type: 'string', default: '1024' } } });
  const total = Number(values.mb) * 1024 * 1024;
  if (!(total > 0)) {
    process.stderr.write(`--mb must be a positive number, got "${values.mb}"\n`);
    return 2;
  }
  const block = csvBlock(Math.min(BLOCK_BYTES, total));
  const chunks = (): Generator<Buffer> => csvChunks(block, total);
  const before = await rssMiB();
  const canReset = await resetPeak();

  const core = (encoding: ShapeRules['encoding']) => (): Counted => {
    const shaper = createCsvShaper({ ...BENCH_SHAPE, encoding });
    let [bytes, outBytes] = [0, 0];
    for (const chunk of chunks()) {
      bytes += chunk.length;
      const { out, problem } = shaper.feed(chunk);
      if (problem) throw new Error(`shaper: ${JSON.stringify(problem)}`);
      outBytes += out.length;
    }
    const end = shaper.end();
    if (end.problem) throw new Error(`shaper: ${JSON.stringify(end.problem)}`);
    return { bytes, outBytes: outBytes + end.out.length };
  };

  const passes: Pass[] = [];
  passes.push(
    await measure('validator only (createCsvValidator, parse cost)', () => {
      const validator = createCsvValidator({ delimiter: ',', encoding: 'utf-8', allowEmpty: false });
      let bytes = 0;
      for (const chunk of chunks()) {
        bytes += chunk.length;
        const problem = validator.feed(chunk);
        if (problem) throw new Error(`validator: ${JSON.stringify(problem)}`);
      }
      const verdict = validator.end();
      if (!verdict.ok) throw new Error(`validator: ${JSON.stringify(verdict)}`);
      return { bytes, outBytes: 0 };
    }),
  );
  passes.push(await measure('shaper, utf-8 out (createCsvShaper)', core('utf-8')));
  passes.push(await measure('shaper, windows-1252 out (createCsvShaper)', core('windows-1252')));
  passes.push(
    await measure('shaper, utf-8 out, as a stream stage (createCsvShapeStage)', async () => {
      let [bytes, outBytes] = [0, 0];
      const source = Readable.from(chunks()).map((chunk: Buffer) => {
        bytes += chunk.length;
        return chunk;
      });
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          outBytes += chunk.length;
          cb();
        },
      });
      await pipeline(source, createCsvShapeStage({ ...BENCH_SHAPE, encoding: 'utf-8' }), sink);
      return { bytes, outBytes };
    }),
  );

  const size = `${(passes[0]!.bytes / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `csv-shape: ${size} of CSV (10 columns → 9), one core; RSS before ${before.now.toFixed(0)} MiB (the bench harness and an ${BLOCK_BYTES / 2 ** 20} MiB source block included)${canReset ? '' : '; peak RSS not reset between passes (clear_refs refused)'}`,
  );
  const base = passes[0]!;
  for (const p of passes) {
    const rate = p.bytes / 1e6 / p.seconds;
    const ratio = p === base ? '' : `, ${(p.seconds / base.seconds).toFixed(2)}× the validator's time`;
    const out = p.outBytes > 0 ? `, ${(p.outBytes / 2 ** 20).toFixed(0)} MiB out` : '';
    console.log(
      `csv-shape: ${p.label}: ${rate.toFixed(0)} MB/s (${p.seconds.toFixed(2)} s${out}${ratio}), peak RSS ${p.peakMiB.toFixed(0)} MiB`,
    );
  }
  return 0;
}
