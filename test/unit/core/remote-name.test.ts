import { describe, expect, it } from 'vitest';
import { deriveRemoteName, type RemoteNameRule } from '../../../src/core/remote-name.js';

const PREFIX = 'exports/acme/';

describe('deriveRemoteName accepts ordinary export names', () => {
  it.each([
    'orders_2026-11-25.csv',
    'Rapport März.csv',
    'data (1).csv',
    'ORDERS.CSV',
    'a',
    'x.csv.gz',
    'report+final=v2,a@b~c[1]#2&3.csv',
    '東京_売上.csv',
    'Ελληνικά.txt',
    'x'.repeat(251) + '.csv',
  ])('accepts %j unchanged', (name) => {
    expect(deriveRemoteName(PREFIX + name, PREFIX)).toEqual({ ok: true, name });
  });

  it('strips the prefix, which may end mid-segment', () => {
    expect(deriveRemoteName('exports/acme/orders_1.csv', 'exports/acme/orders_')).toEqual({
      ok: true,
      name: '1.csv',
    });
  });

  it('works with an empty prefix', () => {
    expect(deriveRemoteName('orders.csv', '')).toEqual({ ok: true, name: 'orders.csv' });
  });
});

describe('deriveRemoteName rejects hostile or ambiguous keys', () => {
  it.each<[string, string, RemoteNameRule]>([
    // Path traversal and separators.
    ['parent traversal', '../x.csv', 'dot-dot'],
    ['nested traversal', 'a/../../x.csv', 'dot-dot'],
    ['absolute path', '/etc/x.csv', 'separator'],
    ['backslash traversal', '..\\x.csv', 'dot-dot'],
    ['backslash separator', 'a\\x.csv', 'separator'],
    ['nested key', 'sub/x.csv', 'separator'],
    ['".." inside a name', 'x..csv', 'dot-dot'],
    ['"." alone', '.', 'leading-dot'],
    ['".." alone', '..', 'dot-dot'],
    // Control characters.
    ['NUL truncation', 'x.csv\0.txt', 'control-character'],
    ['CR LF', 'x\r\n.csv', 'control-character'],
    ['tab', 'x\t.csv', 'control-character'],
    ['DEL', 'x\u007f.csv', 'control-character'],
    ['C1 control', 'x\u0085.csv', 'control-character'],
    // Encodings and lookalikes.
    ['percent-encoded traversal', '%2e%2e%2fx.csv', 'percent-encoded'],
    ['upper-case percent encoding', '%2E%2E%2Fx.csv', 'percent-encoded'],
    ['percent-encoded backslash', 'a%5Cx.csv', 'percent-encoded'],
    ['fullwidth dots and solidus', '．．／x.csv', 'lookalike-separator'],
    ['fullwidth reverse solidus', 'a＼x.csv', 'lookalike-separator'],
    ['division slash', 'a\u2215x.csv', 'lookalike-separator'],
    ['fraction slash', 'a\u2044x.csv', 'lookalike-separator'],
    ['big solidus', 'a\u29f8x.csv', 'lookalike-separator'],
    // Display tricks.
    ['RTL override', 'invoice\u202Efdp.csv', 'bidi-control'],
    ['LTR mark', 'x\u200e.csv', 'bidi-control'],
    ['isolate', 'x\u2066.csv', 'bidi-control'],
    ['decomposed umlaut (not NFC)', 'Rapport Ma\u0308rz.csv', 'not-nfc'],
    ['zero-width space', 'x\u200b.csv', 'disallowed-character'],
    // Names tools misread.
    ['hidden file', '.hidden.csv', 'leading-dot'],
    ['option-like name', '-rf.csv', 'leading-dash'],
    ['trailing dot', 'x.csv.', 'trailing-dot'],
    ['leading space', ' x.csv', 'surrounding-whitespace'],
    ['trailing space', 'x.csv ', 'surrounding-whitespace'],
    ['no-break space at the end', 'x.csv\u00a0', 'surrounding-whitespace'],
    // Size and alphabet.
    ['300-byte name', 'a'.repeat(296) + '.csv', 'too-long'],
    ['256 bytes of 2-byte characters', 'ä'.repeat(128), 'too-long'],
    ['shell metacharacter', 'x;rm.csv', 'disallowed-character'],
    ['dollar sign', '$HOME.csv', 'disallowed-character'],
    ['quote', "it's.csv", 'disallowed-character'],
    ['emoji', 'x😀.csv', 'disallowed-character'],
    ['lone surrogate', 'x\ud800.csv', 'disallowed-character'],
    ['other percent sequence', '100%.csv', 'disallowed-character'],
  ])('rejects %s (%j) by rule %s', (_label, name, rule) => {
    const result = deriveRemoteName(PREFIX + name, PREFIX);
    expect(result).toMatchObject({ ok: false, rule });
    if (!result.ok) expect(result.reason.startsWith(`${rule}: `)).toBe(true);
  });

  it('rejects a key outside the prefix', () => {
    expect(deriveRemoteName('exports/globex/x.csv', PREFIX)).toMatchObject({
      ok: false,
      rule: 'outside-prefix',
    });
  });

  it('rejects the prefix itself (empty name)', () => {
    expect(deriveRemoteName(PREFIX, PREFIX)).toMatchObject({ ok: false, rule: 'empty' });
  });

  it('treats a prefix without a trailing slash as a plain string prefix', () => {
    expect(deriveRemoteName('exports/acme/x.csv', 'exports/acme')).toMatchObject({
      ok: false,
      rule: 'separator',
    });
  });

  it('only ever returns names that match the allow-list', () => {
    const allowList = /^[\p{L}\p{M}\p{Nd} ._\-+=,@~()[\]#&]+$/u;
    const probes = ['a', 'a.b', '.a', 'a/b', 'x y', 'é', 'e\u0301', '١٢٣.csv', 'Ⅻ.csv', '²', 'a\u00adb'];
    for (const name of probes) {
      const result = deriveRemoteName(name, '');
      if (result.ok) expect(result.name).toMatch(allowList);
    }
  });
});
