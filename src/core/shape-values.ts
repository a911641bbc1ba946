// The text templates of a partner's `shape`: a column's `value` ("{partner}", "{date:yyyy-MM-dd}", a
// constant) and the `trailer` line ("TRL|{rows}"). Rendered from what is fixed for one delivery (its
// id, the object's key and LastModified), so every attempt of a delivery writes the same bytes.
import {
  parseDateToken,
  renderDate,
  scanTemplate,
  templateFailure,
  type DateSegment,
  type TemplateFailure,
  type TextSegment,
} from './template-text.js';

type ValueToken = { kind: 'partner' | 'deliveryId' | 'key' | 'name' | 'rows' } | DateSegment;

/** A parsed `shape` value or trailer template. */
export interface ShapeTemplate {
  source: string;
  segments: readonly (ValueToken | TextSegment)[];
}

/** What a value is rendered from: one delivery of one object version. */
export interface ShapeValueInput {
  partnerId: string;
  deliveryId: string;
  /** The S3 key. */
  key: string;
  /** The object's LastModified: the `{date:…}` instant, as in naming templates. */
  lastModified: Date;
  /** The schedule's IANA timezone the date is shown in. */
  timezone: string;
}

const VALUE_TOKENS = 'partner, deliveryId, key, name, date:<pattern>';

/**
 * Parses a column value (`trailer: false`) or the trailer (`trailer: true`, which also knows `{rows}`:
 * the data rows written). Text without tokens is a constant. Never throws; `index` is the offending character.
 */
export function parseShapeTemplate(
  source: string,
  options: { trailer: boolean },
): { ok: true; template: ShapeTemplate } | TemplateFailure {
  const tokens = options.trailer ? `rows, ${VALUE_TOKENS}` : VALUE_TOKENS;
  const scanned = scanTemplate(source, (token, at): ValueToken | TemplateFailure => {
    if (token === 'partner' || token === 'deliveryId' || token === 'key' || token === 'name') {
      return { kind: token };
    }
    if (token === 'rows' && options.trailer) return { kind: 'rows' };
    if (token.startsWith('date:')) return parseDateToken(token, at);
    const hint = token === 'rows' ? ' ({rows} is known only in the trailer)' : '';
    return templateFailure(`unknown token {${token}}${hint} (tokens: ${tokens})`, at);
  });
  if (!scanned.ok) return scanned;
  return { ok: true, template: { source, segments: scanned.segments } };
}

/**
 * The template's text for one delivery; `rows` renders `{rows}` (trailer only): a count, or the
 * placeholder `{rows}` the shaper fills in at the end (src/core/csv-shaper.ts).
 */
export function renderShapeTemplate(
  template: ShapeTemplate,
  input: ShapeValueInput,
  rows: number | '{rows}' = 0,
): string {
  let out = '';
  for (const s of template.segments) {
    if (s.kind === 'text') out += s.text;
    else if (s.kind === 'partner') out += input.partnerId;
    else if (s.kind === 'deliveryId') out += input.deliveryId;
    else if (s.kind === 'key') out += input.key;
    else if (s.kind === 'name') out += input.key.slice(input.key.lastIndexOf('/') + 1);
    else if (s.kind === 'rows') out += String(rows);
    else if (s.kind === 'date') out += renderDate(s, input.lastModified, input.timezone);
  }
  return out;
}
