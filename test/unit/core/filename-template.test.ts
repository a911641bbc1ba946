import { describe, expect, it } from 'vitest';
import {
  parseFilenameTemplate,
  remoteNameFor,
  renderFilename,
  type FilenameTemplate,
} from '../../../src/core/filename-template.js';

function template(source: string): FilenameTemplate {
  const parsed = parseFilenameTemplate(source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.template;
}

// 2026-03-01T03:30:15Z is still 2026-02-28 22:30:15 in New York.
const AT = new Date('2026-03-01T03:30:15Z');

function render(source: string, key = 'acme/orders_0001.csv', timezone = 'UTC') {
  return renderFilename(template(source), {
    key,
    prefix: 'acme/',
    partnerId: 'acme',
    lastModified: AT,
    timezone,
  });
}

describe('renderFilename', () => {
  it.each([
    ['ACME_{date:yyyyMMdd}_{name}{ext}', 'ACME_20260301_orders_0001.csv'],
    ['{partner}-{name}{ext}', 'acme-orders_0001.csv'],
    ['{name}_{date:yyyy-MM-dd_HH-mm-ss}{ext}', 'orders_0001_2026-03-01_03-30-15.csv'],
    ['{date:yy}{name}', '26orders_0001'],
  ])('renders %s', (source, expected) => {
    expect(render(source)).toEqual({ ok: true, name: expected });
  });

  it('reads "{{" and "}}" as literal braces, which the safe-name rules then refuse', () => {
    const parsed = parseFilenameTemplate('{{x}}{name}');
    expect(parsed.ok && parsed.template.segments[0]).toEqual({ kind: 'text', text: '{x}' });
    expect(render('{{x}}{name}')).toMatchObject({ ok: false, rule: 'disallowed-character' });
  });

  it('shows the date in the schedule timezone', () => {
    expect(render('{date:yyyyMMdd-HH}_{name}{ext}', undefined, 'America/New_York')).toEqual({
      ok: true,
      name: '20260228-22_orders_0001.csv',
    });
  });

  it('splits the extension at the last dot; none gives ""; a leading dot is not an extension', () => {
    expect(render('{name}|{ext}'.replace('|', '_'), 'acme/a.tar.gz')).toEqual({
      ok: true,
      name: 'a.tar_.gz',
    });
    expect(render('x_{name}_{ext}', 'acme/README')).toEqual({ ok: true, name: 'x_README_' });
  });

  it('flattens {key} with "_" and takes {name} from the last segment', () => {
    expect(render('{key}', 'acme/2026/03/orders.csv')).toEqual({ ok: true, name: '2026_03_orders.csv' });
    expect(render('{name}{ext}', 'acme/2026/03/orders.csv')).toEqual({ ok: true, name: 'orders.csv' });
  });

  it.each([
    ['{key}', 'acme/a/../b.csv', 'dot-dot'],
    ['{name}{ext}', 'acme/x/..', 'dot-dot'],
    ['{name}{ext}', 'acme/bad\u0000name.csv', 'control-character'],
    ['{name}{ext}', 'acme/dir/.hidden', 'leading-dot'],
    ['{key}', 'other/orders.csv', 'outside-prefix'],
    ['..{name}', 'acme/orders.csv', 'dot-dot'],
    ['-{name}', 'acme/orders.csv', 'leading-dash'],
    ['{name}:{ext}', 'acme/orders.csv', 'disallowed-character'],
  ])('rejects a traversal or unsafe render: %s for %j', (source, key, rule) => {
    const result = render(source, key);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.rule).toBe(rule);
  });

  it('renders the same name for the same object every time (retries)', () => {
    expect(render('ACME_{date:yyyyMMddHHmmss}_{name}{ext}')).toEqual(
      render('ACME_{date:yyyyMMddHHmmss}_{name}{ext}'),
    );
  });
});

describe('parseFilenameTemplate', () => {
  it.each([
    ['{nam}{ext}', 0, 'unknown token {nam}'],
    ['x{name', 1, 'unbalanced "{"'],
    ['x{na{me}', 1, 'unbalanced "{"'],
    ['{name}}', 6, 'unbalanced "}"'],
    ['{date:yyyyQQ}_{name}', 0, 'unknown date pattern letter "Q"'],
    ['{date:}{name}', 0, 'needs a pattern'],
    ['{seq}_{name}', 0, 'not supported yet'],
    ['fixed.csv', 0, 'has no token'],
  ])('rejects %s at character %d', (source, index, message) => {
    const parsed = parseFilenameTemplate(source);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.index).toBe(index);
    expect(!parsed.ok && parsed.message).toContain(message);
  });
});

describe('remoteNameFor', () => {
  const partner = { id: 'acme', source: { prefix: 'acme/' }, schedule: { timezone: 'UTC' } };

  it('uses the key when the partner has no template', () => {
    expect(remoteNameFor(partner, { key: 'acme/orders.csv', lastModified: AT })).toEqual({
      ok: true,
      name: 'orders.csv',
    });
  });

  it('uses the template when there is one', () => {
    const named = remoteNameFor(
      { ...partner, naming: { filename: template('ACME_{date:yyyyMMdd}_{name}{ext}') } },
      { key: 'acme/orders.csv', lastModified: AT },
    );
    expect(named).toEqual({ ok: true, name: 'ACME_20260301_orders.csv' });
  });
});
