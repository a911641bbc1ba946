// The shaping stage of a transformed delivery: a Node Transform over the pure createCsvShaper
// (src/core/csv-shaper.ts), so the reshaped file streams with back-pressure and bounded memory.
import { Transform, type TransformCallback } from 'node:stream';
import {
  createCsvShaper,
  describeShapeProblem,
  type ShapeProblem,
  type ShapeRules,
} from '../core/csv-shaper.js';
import { FerryError } from '../errors.js';

/** A Transform that reshapes CSV bytes; `rows()` is the number of data rows written once it ended. */
export type CsvShapeStage = Transform & { rows(): number };

/**
 * Reshapes the bytes by `rules` and fails with ERR_CSV_INVALID at the first problem. A problem found at
 * the end (a cut-off last record, an unmappable trailer) fails in flush, before the stream ends, so the
 * writer never completes a file that could not be shaped.
 */
export function createCsvShapeStage(rules: ShapeRules): CsvShapeStage {
  const shaper = createCsvShaper(rules);
  let rows = 0;
  const stage = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const { out, problem } = shaper.feed(chunk);
      if (problem) return cb(unshapeable(problem));
      // An empty push would read as nothing; a cut record comes out with a later chunk.
      cb(null, out.length > 0 ? asBuffer(out) : undefined);
    },
    flush(cb: TransformCallback) {
      const result = shaper.end();
      if (result.problem) return cb(unshapeable(result.problem));
      rows = result.rows;
      cb(null, result.out.length > 0 ? asBuffer(result.out) : undefined);
    },
  });
  return Object.assign(stage, { rows: () => rows });
}

function unshapeable(problem: ShapeProblem): FerryError {
  return new FerryError('ERR_CSV_INVALID', describeShapeProblem(problem), {
    details: {
      csvRow: problem.row,
      csvColumn: problem.column,
      ...(problem.columnName === undefined ? {} : { csvOutputColumn: problem.columnName }),
    },
  });
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
