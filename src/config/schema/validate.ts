// A partner's `validate`: content checks a file must pass before any byte of it reaches the partner.
import { z } from 'zod';

/** `validate.csv`: a partner's CSV rules (src/core/csv-validator.ts); a failing file is quarantined. */
const csvSchema = z.strictObject({
  delimiter: z
    .string()
    .refine((d) => d.length === 1 && d !== '"' && d !== '\r' && d !== '\n', {
      message: 'must be one character, not a quote or a line break',
    })
    .default(','),
  header: z.array(z.string()).min(1, 'must list at least one column name').optional(),
  minColumns: z.int().min(1).optional(),
  maxBytes: z.int().min(1).optional(),
  encoding: z.literal('utf-8').default('utf-8'),
  allowEmpty: z.boolean().default(true),
  // Cells starting with = + - @ TAB CR (numbers aside): quarantine the file, or escape them with `'`.
  // Absent = false; true = quarantine.
  neutralizeFormulas: z
    .union([z.boolean(), z.enum(['quarantine', 'escape'])], {
      error: 'must be false, true, quarantine or escape',
    })
    .transform((v) => (v === true ? 'quarantine' : v))
    .optional(),
});

/** `validate.prevalidateMaxBytes` left out (or no `validate` at all, for `shape`): 256 MiB. */
export const PREVALIDATE_MAX_BYTES = 268_435_456;

/** `validate`: checks a file must pass before any byte of it reaches the partner. */
export const validateSchema = z.strictObject({
  csv: csvSchema.optional(),
  // Objects up to this size are read once to validate them before the upload; larger ones are checked
  // while they stream (a failure aborts the upload and the temp file is removed, never published).
  prevalidateMaxBytes: z.int().min(0).default(PREVALIDATE_MAX_BYTES),
});

export type CsvValidationConfig = z.output<typeof csvSchema>;
