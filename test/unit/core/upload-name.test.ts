import { describe, expect, it } from 'vitest';
import { parseFilenameTemplate } from '../../../src/core/filename-template.js';
import { uploadKeyFor, type UploadNaming } from '../../../src/core/upload-name.js';

const source = { prefix: 'acme/daily/', include: ['*.csv'] };

describe('uploadKeyFor', () => {
  it('puts a safe, included name under the partner prefix', () => {
    expect(uploadKeyFor('orders 2026-11-25.csv', source)).toEqual({
      ok: true,
      key: 'acme/daily/orders 2026-11-25.csv',
    });
    expect(uploadKeyFor('anything.bin', { prefix: 'p/', include: [] })).toEqual({
      ok: true,
      key: 'p/anything.bin',
    });
  });

  it.each([
    ['../other/x.csv', /dot-dot/],
    ['sub/x.csv', /separator/],
    ['.hidden.csv', /leading-dot/],
    ['-x.csv', /leading-dash/],
    ['notes.txt', /include globs/],
    ['', /empty/],
  ])('refuses %j', (name, message) => {
    const result = uploadKeyFor(name, source);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('uploadKeyFor with exclude and requireMarker', () => {
  const excluding = { prefix: 'acme/', include: ['*.csv'], exclude: ['*.tmp.csv', 'draft-*'] };

  it('refuses a name the partner excludes, naming the globs', () => {
    const result = uploadKeyFor('orders.tmp.csv', excluding);
    expect(result).toEqual({
      ok: false,
      message:
        "file name matches the partner's exclude globs (*.tmp.csv, draft-*): it would never be delivered",
    });
    expect(uploadKeyFor('draft-1.csv', excluding).ok).toBe(false);
  });

  it('accepts a name included and not excluded', () => {
    expect(uploadKeyFor('orders.csv', excluding)).toEqual({ ok: true, key: 'acme/orders.csv' });
    expect(uploadKeyFor('orders.csv', { ...excluding, exclude: [] })).toEqual({
      ok: true,
      key: 'acme/orders.csv',
    });
  });

  it('refuses every upload for a partner with requireMarker, saying why', () => {
    const result = uploadKeyFor('orders.csv', {
      prefix: 'acme/',
      include: ['*.csv'],
      requireMarker: '_SUCCESS',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(/marker _SUCCESS \(source\.requireMarker\)/);
      expect(result.message).toMatch(/release every other file waiting in acme\//);
    }
  });
});

describe('uploadKeyFor checks the name the partner would receive', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  const base = {
    id: 'acme',
    source: { prefix: 'acme/', include: ['*.csv'] },
    schedule: { timezone: 'UTC' },
  };
  const template = (source: string) => {
    const parsed = parseFilenameTemplate(source);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.template;
  };
  const check = (name: string, partner: UploadNaming['partner']) =>
    uploadKeyFor(name, base.source, { partner, now });

  it('refuses a name that fits 255 bytes only without the transform suffix', () => {
    const name = `${'x'.repeat(249)}.csv`; // 253 bytes; 256 with ".gz"
    expect(uploadKeyFor(name, base.source)).toEqual({ ok: true, key: `acme/${name}` });
    expect(check(name, base)).toEqual({ ok: true, key: `acme/${name}` });
    const result = check(name, { ...base, transform: { compress: 'gzip' } });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(/name the partner would receive .* longer than 255 bytes/);
    }
    expect(check(name.slice(3), { ...base, transform: { compress: 'gzip' } }).ok).toBe(true);
  });

  it('renders the naming template (date = now) and checks a {seq} with a number of its width', () => {
    // 240 + "_" + 10 + "_" + 3 digits + ".csv" = 259 bytes: refused before any number is taken.
    const seq = { ...base, naming: { filename: template(`${'x'.repeat(240)}_{name}_{seq:3}{ext}`) } };
    const refused = check('abcdefghij.csv', seq);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.message).toMatch(/255 bytes/);
    // 240 + "_" + 6 + "_" + 3 + ".csv" = 255 bytes: fits exactly.
    expect(check('abcdef.csv', seq)).toEqual({ ok: true, key: 'acme/abcdef.csv' });

    // 242 + "_" + "20261125" + ".csv" = 255 bytes; one more "d" breaks it.
    const dated = (n: number) => ({
      ...base,
      naming: { filename: template(`${'d'.repeat(n)}_{date:yyyyMMdd}{ext}`) },
    });
    expect(check('a.csv', dated(242))).toEqual({ ok: true, key: 'acme/a.csv' });
    expect(check('a.csv', dated(243)).ok).toBe(false);
  });

  it('refuses a name whose checksum file name would be too long', () => {
    const name = `${'y'.repeat(246)}.csv`; // 250 bytes; its ".sha256" file 257
    const partner = { ...base, naming: { checksumFile: 'sha256' as const } };
    const result = check(name, partner);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/sidecar .* checksum file name: .*255 bytes/);
    expect(check('orders.csv', partner)).toEqual({ ok: true, key: 'acme/orders.csv' });
  });
});
