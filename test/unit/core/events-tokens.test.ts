import { describe, expect, it } from 'vitest';
import { parseEventsTokens, tokenFileChanged, type TokenFileStamp } from '../../../src/core/events-tokens.js';

describe('parseEventsTokens', () => {
  it.each([
    ['one token with the newline echo leaves', 'tok-a\n', ['tok-a']],
    ['one token without a newline', 'tok-a', ['tok-a']],
    ['two tokens, one a line (a rotation)', 'tok-old\ntok-new\n', ['tok-old', 'tok-new']],
    ['CRLF lines and surrounding blanks trimmed', '  tok-a \r\n\ttok-b\r\n', ['tok-a', 'tok-b']],
    [
      'blank lines and # comments dropped',
      '# old, remove after 1 May\ntok-old\n\n  # new\ntok-new\n\n',
      ['tok-old', 'tok-new'],
    ],
    ['a # inside a token kept', 'tok#1\n', ['tok#1']],
    ['a repeat dropped', 'tok-a\ntok-a\n', ['tok-a']],
    ['nothing but comments', '# none yet\n\n', []],
    ['an empty file', '', []],
  ])('%s', (_label, text, tokens) => {
    expect(parseEventsTokens(text)).toEqual(tokens);
  });
});

describe('tokenFileChanged', () => {
  const stamp: TokenFileStamp = { mtimeMs: 1000, ctimeMs: 1000, size: 10, ino: 7 };
  it.each<[string, TokenFileStamp | 'missing' | undefined, TokenFileStamp | 'missing', boolean]>([
    ['a first look', undefined, stamp, true],
    ['the same stamp', stamp, { ...stamp }, false],
    ['a new mtime', stamp, { ...stamp, mtimeMs: 2000 }, true],
    ['a new ctime (chmod)', stamp, { ...stamp, ctimeMs: 2000 }, true],
    ['a new size', stamp, { ...stamp, size: 11 }, true],
    ['a file renamed onto it', stamp, { ...stamp, ino: 8 }, true],
    ['a file gone', stamp, 'missing', true],
    ['still gone', 'missing', 'missing', false],
    ['back again', 'missing', stamp, true],
  ])('%s', (_label, previous, now, changed) => {
    expect(tokenFileChanged(previous, now)).toBe(changed);
  });
});
