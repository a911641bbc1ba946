// The events endpoint's tokens as an `http.events.tokenFile` holds them: one per line, so a rotation is
// "add the new line, switch the sender, remove the old line" with both accepted in between. Pure: the
// file's text comes in, the tokens go out; reading the file and noticing changes is the adapter's work.

/**
 * The tokens in a token file's text: each line trimmed, blank lines and lines whose first non-blank
 * character is `#` dropped, repeats dropped. An empty result means the file names no token (the caller
 * keeps what it had). A `#` inside a token is part of it: only whole lines are comments.
 */
export function parseEventsTokens(text: string): string[] {
  const tokens: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || tokens.includes(line)) continue;
    tokens.push(line);
  }
  return tokens;
}

/** What tells a changed token file from the one last read (a rename onto it changes `ino`). */
export interface TokenFileStamp {
  mtimeMs: number;
  ctimeMs: number;
  size: number;
  ino: number;
}

/** True when the file should be read again: a first look, a vanished or reappeared file, or any change. */
export function tokenFileChanged(
  previous: TokenFileStamp | 'missing' | undefined,
  now: TokenFileStamp | 'missing',
): boolean {
  if (previous === undefined) return true;
  if (previous === 'missing' || now === 'missing') return previous !== now;
  return (
    previous.mtimeMs !== now.mtimeMs ||
    previous.ctimeMs !== now.ctimeMs ||
    previous.size !== now.size ||
    previous.ino !== now.ino
  );
}
