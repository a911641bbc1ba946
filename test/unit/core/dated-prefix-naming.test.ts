// A dated source prefix (src/core/prefix-template.ts) through selection, remote names and uploads.
import { describe, expect, it } from 'vitest';
import { parseFilenameTemplate, remoteNameFor } from '../../../src/core/filename-template.js';
import { parsePrefixTemplate, type PrefixTemplate } from '../../../src/core/prefix-template.js';
import { selectObjects } from '../../../src/core/select-objects.js';
import { uploadKeyFor } from '../../../src/core/upload-name.js';

function template(text: string): PrefixTemplate {
  const parsed = parsePrefixTemplate(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.template;
}

const prefixTemplate = template('initech/exports/{date:yyyy-MM-dd}/');
const source = { prefix: 'initech/exports/', prefixTemplate, include: ['*.csv'], minAgeSeconds: 0 };
const partner = { id: 'initech', source, schedule: { timezone: 'America/New_York' } };
const NOW = new Date('2026-03-09T03:00:00Z'); // 23:00 on Mar 8 in New York

const listed = (key: string) => ({ bucket: 'b', key, etag: 'e', size: 1, lastModified: new Date(0) });

describe('a dated source prefix', () => {
  it('matches include globs against the key relative to its partition', () => {
    const { eligible, skipped } = selectObjects(
      [
        listed('initech/exports/2026-03-08/part-1.csv'),
        listed('initech/exports/2026-03-08/part-1.txt'),
        listed('initech/exports/loose.csv'),
      ],
      source,
      NOW,
    );
    expect(eligible.map((o) => o.key)).toEqual(['initech/exports/2026-03-08/part-1.csv']);
    expect(skipped.map((s) => s.reason)).toEqual(['not-included', 'outside-prefix']);
  });

  it('names a delivered file relative to its partition', () => {
    const key = 'initech/exports/2025-12-31/part-7.csv';
    expect(remoteNameFor(partner, { key, lastModified: NOW })).toEqual({ ok: true, name: 'part-7.csv' });
    expect(remoteNameFor(partner, { key: 'initech/exports/x/y.csv', lastModified: NOW })).toMatchObject({
      ok: false,
      rule: 'separator',
    });
  });

  it("puts an upload into today's partition in the schedule's timezone", () => {
    expect(uploadKeyFor('manual.csv', source, { partner, now: NOW })).toEqual({
      ok: true,
      key: 'initech/exports/2026-03-08/manual.csv',
    });
    expect(uploadKeyFor('manual.csv', source)).toMatchObject({ ok: false });
  });

  it("checks an upload's final name with today's partition date for {partition:…}", () => {
    const filename = parseFilenameTemplate('INITECH_{partition:yyyyMMdd}_{name}{ext}');
    if (!filename.ok) throw new Error(filename.message);
    const named = { ...partner, naming: { filename: filename.template } };
    const key = 'initech/exports/2026-03-08/manual.csv';
    expect(uploadKeyFor('manual.csv', source, { partner: named, now: NOW })).toEqual({ ok: true, key });
    expect(remoteNameFor(named, { key, lastModified: NOW })).toEqual({
      ok: true,
      name: 'INITECH_20260308_manual.csv',
    });
  });
});
