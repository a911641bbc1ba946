import { describe, expect, it } from 'vitest';
import {
  parseShapeTemplate,
  renderShapeTemplate,
  type ShapeValueInput,
} from '../../../src/core/shape-values.js';

const input: ShapeValueInput = {
  partnerId: 'acme',
  deliveryId: 'dlv-acme-0123456789abcdef',
  key: 'acme/exports/orders-2026-12-05.csv',
  lastModified: new Date('2026-12-05T23:30:00Z'),
  timezone: 'Europe/Berlin',
};

function render(source: string, trailer = false, rows = 0): string {
  const parsed = parseShapeTemplate(source, { trailer });
  if (!parsed.ok) throw new Error(parsed.message);
  return renderShapeTemplate(parsed.template, input, rows);
}

describe('shape value and trailer templates', () => {
  it('renders each token from the delivery; the date in the schedule timezone, as naming does', () => {
    expect(render('{partner}|{deliveryId}|{key}|{name}')).toBe(
      'acme|dlv-acme-0123456789abcdef|acme/exports/orders-2026-12-05.csv|orders-2026-12-05.csv',
    );
    expect(render('{date:yyyy-MM-dd HH:mm}')).toBe('2026-12-06 00:30');
  });

  it('takes text without tokens as a constant, with {{ }} for literal braces', () => {
    expect(render('EUR')).toBe('EUR');
    expect(render('{{x}}')).toBe('{x}');
  });

  it('knows {rows} only in the trailer', () => {
    expect(render('TRL|{rows}|{date:yyyyMMdd}', true, 1042)).toBe('TRL|1042|20261206');
    const parsed = parseShapeTemplate('{rows}', { trailer: false });
    expect(parsed).toEqual({
      ok: false,
      index: 0,
      message:
        'unknown token {rows} ({rows} is known only in the trailer) (tokens: partner, deliveryId, key, name, date:<pattern>)',
    });
  });

  it('names the offending character of a bad template', () => {
    expect(parseShapeTemplate('x{nope}', { trailer: false })).toMatchObject({ ok: false, index: 1 });
    expect(parseShapeTemplate('a}b', { trailer: false })).toMatchObject({ ok: false, index: 1 });
    expect(parseShapeTemplate('{date:yyyyQQ}', { trailer: true })).toMatchObject({
      ok: false,
      message: expect.stringContaining('unknown date pattern letter "Q"'),
    });
  });
});
