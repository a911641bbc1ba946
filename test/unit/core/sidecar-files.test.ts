import { describe, expect, it } from 'vitest';
import {
  checksumFileContent,
  missingDigest,
  parseDoneFileTemplate,
  planSidecars,
  type DoneFileTemplate,
  type Sidecar,
} from '../../../src/core/sidecar-files.js';

const SHA = 'a'.repeat(64);
const MD5 = 'b'.repeat(32);

function done(source: string): DoneFileTemplate {
  const parsed = parseDoneFileTemplate(source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.template;
}

function plan(naming: Parameters<typeof planSidecars>[0], dataName = 'orders.csv'): Sidecar[] {
  const planned = planSidecars(naming, dataName, { sha256: SHA, md5: MD5 });
  if (!planned.ok) throw new Error(planned.reason);
  return planned.sidecars;
}

describe('parseDoneFileTemplate', () => {
  it.each([
    ['{filename}', "is only {filename}: the done file would take the data file's name", 0],
    ['ready.flag', 'has no {filename} token: every data file would share one done file', 0],
    ['{file}.done', 'unknown token {file} (tokens: filename)', 0],
    ['{filename.done', 'unbalanced "{" (write "{{" for a literal brace)', 0],
    ['{filename}}.done', 'unbalanced "}" (write "}}" for a literal brace)', 10],
  ])('rejects %s', (source, message, index) => {
    expect(parseDoneFileTemplate(source)).toEqual({ ok: false, message, index });
  });

  it('rejects literal text that would make every rendered name unsafe', () => {
    const parsed = parseDoneFileTemplate('done/{filename}');
    expect(parsed).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^renders unsafe names \(separator:/),
    });
  });

  it('reads doubled braces as literal braces, which the safe-name rules then refuse', () => {
    expect(parseDoneFileTemplate('{filename}.{{ok}}')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^renders unsafe names \(disallowed-character:/),
    });
  });
});

describe('planSidecars', () => {
  it('plans nothing without sidecar settings, or with checksumFile: none', () => {
    expect(plan(undefined)).toEqual([]);
    expect(plan({ checksumFile: 'none' })).toEqual([]);
  });

  it('puts the checksum first and the done file last, named from the data file', () => {
    expect(plan({ checksumFile: 'sha256', doneFile: done('{filename}.done') })).toEqual([
      { kind: 'checksum', name: 'orders.csv.sha256', content: `${SHA}  orders.csv\n` },
      { kind: 'done', name: 'orders.csv.done', content: '' },
    ]);
    expect(plan({ doneFile: done('READY_{filename}') }, 'x.gz')).toEqual([
      { kind: 'done', name: 'READY_x.gz', content: '' },
    ]);
  });

  it('writes the checksum line in the format sha256sum -c reads', () => {
    expect(checksumFileContent(SHA, 'ACME_1.csv')).toBe(`${SHA}  ACME_1.csv\n`);
  });

  it('writes <name>.md5 holding the md5 in the format md5sum -c reads, for checksumFile: md5', () => {
    expect(plan({ checksumFile: 'md5', doneFile: done('{filename}.done') })).toEqual([
      { kind: 'checksum', name: 'orders.csv.md5', content: `${MD5}  orders.csv\n` },
      { kind: 'done', name: 'orders.csv.done', content: '' },
    ]);
  });

  it('plans names without digests, for the checks before an upload', () => {
    expect(planSidecars({ checksumFile: 'md5' }, 'orders.csv', {})).toEqual({
      ok: true,
      sidecars: [{ kind: 'checksum', name: 'orders.csv.md5', content: '' }],
    });
  });

  it('rejects a sidecar name that breaks a safe-name rule', () => {
    const long = `${'n'.repeat(250)}.csv`; // 254 bytes: fine alone, too long with ".sha256"
    expect(planSidecars({ checksumFile: 'sha256' }, long, { sha256: SHA })).toEqual({
      ok: false,
      reason: 'checksum file name: too-long: name is longer than 255 bytes in UTF-8',
    });
  });
});

describe('missingDigest', () => {
  it('names the digest the checksum file needs and the delivery lacks', () => {
    // An intent recorded before checksumFile: md5 was configured holds only the sha256.
    expect(missingDigest({ checksumFile: 'md5' }, { sha256: SHA })).toBe('md5');
    expect(missingDigest({ checksumFile: 'sha256' }, {})).toBe('sha256');
  });

  it('is undefined when the digest is there or no checksum file is configured', () => {
    expect(missingDigest({ checksumFile: 'md5' }, { sha256: SHA, md5: MD5 })).toBeUndefined();
    expect(missingDigest({ checksumFile: 'sha256' }, { sha256: SHA })).toBeUndefined();
    expect(missingDigest({ checksumFile: 'none' }, {})).toBeUndefined();
    expect(missingDigest(undefined, {})).toBeUndefined();
  });
});
