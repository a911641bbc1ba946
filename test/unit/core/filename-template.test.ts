import { describe, expect, it } from 'vitest';
import {
  namesUseSequence,
  parseFilenameTemplate,
  remoteNameFor,
  renderFilename,
  sequenceScopeFor,
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

  it('reads "{{" and "}}" as literal braces, which the safe-name rules then refuse at load', () => {
    const parsed = parseFilenameTemplate('{{x}}{name}');
    expect(parsed).toMatchObject({ ok: false, message: expect.stringContaining('literal text "{x}"') });
    expect(parseFilenameTemplate('a{{{name}')).toMatchObject({ ok: false });
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
  ])('rejects a traversal or unsafe render: %s for %j', (source, key, rule) => {
    const result = render(source, key);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.rule).toBe(rule);
  });

  it.each([
    ['..{name}', 'contains ".."', 0],
    ['-{name}', 'starts with "-"', 0],
    ['{name}:{ext}', 'disallowed', 6],
    ['out/ACME_{seq:3}{ext}', 'contains "/"', 0],
    ['{name}.', 'ends with "."', 6],
  ])('refuses at load literal text that makes every name unsafe: %s', (source, reason, index) => {
    const parsed = parseFilenameTemplate(source);
    expect(parsed).toMatchObject({ ok: false, message: expect.stringContaining(reason), index });
  });

  it('checks literal text only where it stands: a dot or dash inside a name is fine', () => {
    expect(parseFilenameTemplate('{name}-{date:yyyy}.v2{ext}').ok).toBe(true);
    expect(parseFilenameTemplate('ACME.{name}{ext}').ok).toBe(true);
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
    ['{seq:0}_{name}', 0, 'the width must be one digit 1-9'],
    ['{name}{seq:10}', 6, 'the width must be one digit 1-9'],
    ['{name}{seq:x}', 6, 'the width must be one digit 1-9'],
    ['{seq}_{name}_{seq:3}', 13, 'only one {seq} token is allowed'],
    ['{name}{seq}.csv', 6, 'must be set apart from other tokens'],
    ['{seq:3}{name}', 0, 'must be set apart from other tokens'],
    ['{date:yyyyMMdd}{seq}', 15, 'must be set apart from other tokens'],
    ['{name}_1{seq}', 8, 'must be set apart from other tokens'],
    ['{name}_{seq}2.csv', 7, 'must be set apart from other tokens'],
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

describe('{seq}', () => {
  const partner = {
    id: 'acme',
    source: { prefix: 'acme/' },
    schedule: { timezone: 'UTC' },
    naming: { filename: template('ACME_{date:yyyyMMdd}_{seq:3}.csv') },
  };
  const object = { key: 'acme/orders.csv', lastModified: AT };

  it('parses {seq} without padding and {seq:N} with N digits', () => {
    expect(template('{seq}_{name}').seq).toEqual({ width: 0 });
    expect(template('{name}_{seq:9}').seq).toEqual({ width: 9 });
    expect(template('{name}').seq).toBeUndefined();
    expect(namesUseSequence(partner)).toBe(true);
    expect(namesUseSequence({ ...partner, naming: {} })).toBe(false);
  });

  it.each([
    ['{seq:3}', 7, '007'],
    ['{seq:3}', 1234, '1234'], // a wider number grows
    ['{seq}', 42, '42'],
    ['{seq:1}', 5, '5'],
  ])('renders %s of %d as %s', (token, seq, expected) => {
    const named = remoteNameFor(
      { ...partner, naming: { filename: template(`A_${token}.csv`) } },
      { ...object, seq },
    );
    expect(named).toEqual({ ok: true, name: `A_${expected}.csv` });
  });

  it('shows a number not given yet as "#" × width (ferry plan)', () => {
    expect(remoteNameFor(partner, object)).toEqual({ ok: true, name: 'ACME_20260301_###.csv' });
    expect(remoteNameFor({ ...partner, naming: { filename: template('{name}_{seq}') } }, object)).toEqual({
      ok: true,
      name: 'orders_#',
    });
  });

  it('scopes the counter by the name with the number masked: per day for a date template', () => {
    const scope = (lastModified: Date, key = 'acme/orders.csv') =>
      sequenceScopeFor(partner, { key, lastModified });
    const sameDay = scope(new Date('2026-03-01T23:59:59Z'), 'acme/other.csv');
    expect(scope(AT)).toEqual(sameDay);
    expect(scope(AT)).not.toEqual(scope(new Date('2026-03-02T00:00:00Z')));
    expect(scope(AT)).toEqual({ ok: true, scope: 'ACME_20260301_\u0000.csv' });
  });

  it('accepts {seq} at either end, next to non-digit text, or before {ext}', () => {
    for (const source of ['{seq}_{name}', '{name}_{seq}', '{name}_{seq}{ext}', 'x{seq}y{name}']) {
      expect(parseFilenameTemplate(source).ok).toBe(true);
    }
  });

  it('gives each object a scope of its own name with the number masked', () => {
    const p = { ...partner, naming: { filename: template('{name}_{seq}{ext}') } };
    const a = sequenceScopeFor(p, { key: 'acme/a1.csv', lastModified: AT });
    const b = sequenceScopeFor(p, { key: 'acme/a.csv', lastModified: AT });
    expect(a).not.toEqual(b);
  });

  it('has no scope without {seq}; an unsafe name gets its rule instead of a scope', () => {
    expect(sequenceScopeFor({ ...partner, naming: {} }, object)).toBeUndefined();
    const p = { ...partner, naming: { filename: template('{name}_{seq}{ext}') } };
    expect(sequenceScopeFor(p, { key: 'acme/-x.csv', lastModified: AT })).toMatchObject({
      ok: false,
      rule: 'leading-dash',
    });
  });

  it('includes the transform suffix in the scope and the name', () => {
    const p = { ...partner, transform: { compress: 'gzip' as const } };
    expect(remoteNameFor(p, { ...object, seq: 1 })).toEqual({ ok: true, name: 'ACME_20260301_001.csv.gz' });
    expect(sequenceScopeFor(p, object)).toEqual({ ok: true, scope: 'ACME_20260301_\u0000.csv.gz' });
  });
});

describe('remoteNameFor with a transform', () => {
  const partner = { id: 'acme', source: { prefix: 'acme/' }, schedule: { timezone: 'UTC' } };
  const gzip = { compress: 'gzip' as const };

  it('appends the suffix (as deliver did) to key-derived and templated names', () => {
    expect(remoteNameFor({ ...partner, transform: gzip }, { key: 'acme/a.csv', lastModified: AT })).toEqual({
      ok: true,
      name: 'a.csv.gz',
    });
    expect(
      remoteNameFor(
        {
          ...partner,
          transform: { compress: 'gzip', pgp: { armor: true } },
          naming: { filename: template('X_{name}{ext}') },
        },
        { key: 'acme/a.csv', lastModified: AT },
      ),
    ).toEqual({ ok: true, name: 'X_a.csv.gz.asc' });
  });

  it('checks the 255-byte limit on the name with its suffix', () => {
    const key = `acme/${'a'.repeat(249)}.csv`; // 253 bytes: fits alone, not with ".gz"
    expect(remoteNameFor(partner, { key, lastModified: AT })).toMatchObject({ ok: true });
    expect(remoteNameFor({ ...partner, transform: gzip }, { key, lastModified: AT })).toMatchObject({
      ok: false,
      rule: 'too-long',
    });
    const templated = { ...partner, transform: gzip, naming: { filename: template('{name}{ext}') } };
    expect(remoteNameFor(templated, { key, lastModified: AT })).toMatchObject({
      ok: false,
      rule: 'too-long',
    });
  });
});
