// A partner's `shape`: the CSV it receives, made from the warehouse's (columns chosen, renamed or
// added, another delimiter, quoting, line ending, encoding, a trailer). The engine is
// src/core/csv-shaper.ts; the templates are src/core/shape-values.ts.
import { z } from 'zod';
import { describeCharacter, findUnmappable } from '../../core/csv-shaper.js';
import { parseShapeTemplate, type ShapeTemplate } from '../../core/shape-values.js';
import { CONTROL_CHARS } from './fields.js';

const oneCharDelimiter = z.string().refine((d) => d.length === 1 && d !== '"' && d !== '\r' && d !== '\n', {
  message: 'must be one character, not a quote or a line break',
});

function templateField(trailer: boolean) {
  return z.string().transform((source, ctx): ShapeTemplate => {
    if (CONTROL_CHARS.test(source)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must not contain control characters (a line break would split a row)',
      });
      return z.NEVER;
    }
    const parsed = parseShapeTemplate(source, { trailer });
    if (parsed.ok) return parsed.template;
    ctx.addIssue({ code: 'custom', message: `${parsed.message} (at character ${parsed.index + 1})` });
    return z.NEVER;
  });
}

const columnName = z
  .string()
  .min(1, 'must not be empty')
  .refine((v) => !CONTROL_CHARS.test(v), 'must not contain control characters');

/** One output column: a source column copied (`from`) or a value (`value`), named `as`. */
const columnSchema = z
  .strictObject({
    from: columnName.optional(),
    value: templateField(false).optional(),
    as: columnName,
  })
  .superRefine((column, ctx) => {
    const set = (column.from === undefined ? 0 : 1) + (column.value === undefined ? 0 : 1);
    if (set !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'needs exactly one of from (a source column) or value (a constant or a template)',
        path: [],
      });
    }
  });

export const SHAPE_ENCODINGS = ['utf-8', 'utf-8-bom', 'iso-8859-1', 'windows-1252'] as const;

export const shapeSchema = z
  .strictObject({
    columns: z.array(columnSchema).min(1, 'must list at least one column'),
    header: z.boolean().default(true),
    delimiter: oneCharDelimiter.default(','),
    quote: z.enum(['minimal', 'all']).default('minimal'),
    lineEnding: z.enum(['lf', 'crlf']).default('lf'),
    encoding: z.enum(SHAPE_ENCODINGS).default('utf-8'),
    unmappable: z.enum(['fail', 'replace']).default('fail'),
    trailer: templateField(true).optional(),
  })
  .superRefine((shape, ctx) => {
    // A name or constant the encoding cannot write would fail every file: say so now.
    if (shape.unmappable === 'fail') {
      const check = (text: string, path: (string | number)[]) => {
        const cp = findUnmappable(text, shape.encoding);
        if (cp === undefined) return;
        ctx.addIssue({
          code: 'custom',
          message: `${shape.encoding} has no ${describeCharacter(cp)} (every file would fail; use unmappable: replace or another encoding)`,
          path,
        });
      };
      shape.columns.forEach((column, i) => {
        check(column.as, ['columns', i, 'as']);
        if (column.value) check(literalText(column.value), ['columns', i, 'value']);
      });
      if (shape.trailer) check(literalText(shape.trailer), ['trailer']);
    }
    const seen = new Map<string, number>();
    shape.columns.forEach((column, i) => {
      const first = seen.get(column.as);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `repeats the column name "${column.as}" of columns[${first}]`,
          path: ['columns', i, 'as'],
        });
      } else seen.set(column.as, i);
    });
  });

/** The template's own text (what every delivery writes whatever the tokens render to). */
function literalText(template: ShapeTemplate): string {
  return template.segments.map((s) => (s.kind === 'text' ? s.text : '')).join('');
}

export type ShapeConfig = z.output<typeof shapeSchema>;
export type ShapeColumnConfig = z.output<typeof columnSchema>;
