// A partner's `shape` for one delivery: the value templates rendered from what is fixed for it (its
// id, the object's key and LastModified), so every attempt writes the same bytes.
import type { PartnerConfig, ShapeConfig } from '../../src/config/schema.js';
import type { ShapeRules } from '../../src/core/csv-shaper.js';
import { renderShapeTemplate, type ShapeValueInput } from '../../src/core/shape-values.js';
import type { Delivery } from './context.js';

export function shapeRulesFor(
  d: Pick<Delivery, 'id' | 'lastModifiedMs'>,
  partner: PartnerConfig & { shape: ShapeConfig },
): ShapeRules {
  const { shape } = partner;
  const { id } = d;
  const input: ShapeValueInput = {
    partnerId: partner.id,
    deliveryId: id.deliveryId,
    key: id.key,
    lastModified: new Date(d.lastModifiedMs),
    timezone: partner.schedule.timezone,
  };
  const trailer = shape.trailer;
  return {
    inputDelimiter: partner.validate?.csv?.delimiter ?? ',',
    columns: shape.columns.map((c) =>
      c.value === undefined
        ? { as: c.as, from: c.from }
        : { as: c.as, value: renderShapeTemplate(c.value, input) },
    ),
    header: shape.header,
    delimiter: shape.delimiter,
    quote: shape.quote,
    lineEnding: shape.lineEnding,
    encoding: shape.encoding,
    unmappable: shape.unmappable,
    // The shaper counts the rows: it fills in the `{rows}` left in the rendered line.
    ...(trailer === undefined ? {} : { trailer: renderShapeTemplate(trailer, input, '{rows}') }),
  };
}

/** The partner, narrowed to one with a `shape`. */
export function hasShape(partner: PartnerConfig): partner is PartnerConfig & { shape: ShapeConfig } {
  return partner.shape !== undefined;
}
