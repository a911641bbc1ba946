// Where POST /api/events/s3 gets the tokens it accepts. A `tokenEnv` token is fixed for the process; a
// `tokenFile` is looked at again (one stat, at most once a second, when a request asks) and re-read when
// it changed, so a token is rotated by editing the file: no restart, no moment without a valid token.
// Only SHA-256 digests are kept: the route compares digests, and a token never reaches a log line.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { PasswordRef } from '../config/schema/fields.js';
import { resolveSecret } from '../config/secrets.js';
import { parseEventsTokens, tokenFileChanged, type TokenFileStamp } from '../core/events-tokens.js';
import { FerryError } from '../errors.js';

export interface EventsTokenSource {
  /** SHA-256 digests of the tokens accepted now (never empty). */
  digests(): Promise<readonly Buffer[]>;
}

interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EventsTokenFileOptions {
  logger: Log;
  /** Milliseconds since the epoch; injected so tests step the clock instead of waiting. */
  now?: () => number;
  /** How long a look at the file stands before the next request stats it again. */
  checkEveryMs?: number;
}

/** SHA-256 of a token: what the route compares, in constant time, whatever length was sent. */
export function digestEventsToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A source that never changes: the `tokenEnv` form, and tests. */
export function fixedEventsTokens(tokens: readonly string[]): EventsTokenSource {
  const digests = tokens.map(digestEventsToken);
  return { digests: () => Promise.resolve(digests) };
}

/**
 * Opens `http.events`' token reference: the variable's value, or the file's tokens (see
 * openEventsTokenFile). Throws FerryError ERR_SECRET_MISSING when there is no token to start with.
 */
export async function openEventsTokens(
  ref: PasswordRef,
  env: NodeJS.ProcessEnv,
  options: EventsTokenFileOptions,
): Promise<EventsTokenSource> {
  if (ref.file !== undefined) return openEventsTokenFile(ref.file, options);
  return fixedEventsTokens([await resolveSecret(ref, env)]);
}

/**
 * Reads a token file now (throws FerryError ERR_SECRET_MISSING when it cannot be read or names no
 * token, so a bad file refuses the start) and follows it afterwards. A file that turns unreadable or
 * empty later keeps the last good tokens and logs one error until it is good again.
 */
export async function openEventsTokenFile(
  file: string,
  options: EventsTokenFileOptions,
): Promise<EventsTokenSource> {
  const now = options.now ?? Date.now;
  const checkEveryMs = options.checkEveryMs ?? 1000;
  const first = await readTokens(file);
  if (!first.ok) {
    throw new FerryError('ERR_SECRET_MISSING', `events token file ${file} ${first.problem}`, {
      details: { file },
    });
  }
  let digests: readonly Buffer[] = first.digests;
  let seen: TokenFileStamp | 'missing' = first.stamp;
  let checkedAt = now();
  let failing = false;
  let looking: Promise<void> | undefined;

  const look = async (): Promise<void> => {
    const stamp = await stampOf(file);
    if (!tokenFileChanged(seen, stamp)) return;
    // A file replaced between the stat and the read is seen again at the next look (its stamp differs).
    const read =
      stamp === 'missing'
        ? ({ ok: false, problem: 'cannot be read (ENOENT)' } as const)
        : await readTokens(file);
    seen = stamp;
    if (read.ok) {
      digests = read.digests;
      failing = false;
      options.logger.info({ file, tokens: read.digests.length }, 'events tokens reloaded');
      return;
    }
    if (!failing) {
      failing = true;
      options.logger.error(
        { file, code: 'ERR_SECRET_MISSING', problem: read.problem, tokens: digests.length },
        'events token file changed and has no usable token; the previous tokens stay in use',
      );
    }
  };

  return {
    digests: async () => {
      if (looking === undefined && now() - checkedAt >= checkEveryMs) {
        checkedAt = now();
        // Concurrent requests share one look; a failed stat or read is a bad file, never a failed request.
        looking = look().finally(() => {
          looking = undefined;
        });
      }
      if (looking !== undefined) await looking;
      return digests;
    },
  };
}

type TokensRead = { ok: true; digests: Buffer[]; stamp: TokenFileStamp } | { ok: false; problem: string };

async function readTokens(file: string): Promise<TokensRead> {
  let stamp: TokenFileStamp | 'missing';
  let text: string;
  try {
    stamp = await stampOf(file);
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, problem: `cannot be read (${errnoOf(err)})` };
  }
  if (stamp === 'missing') return { ok: false, problem: 'cannot be read (ENOENT)' };
  const tokens = parseEventsTokens(text);
  if (tokens.length === 0) return { ok: false, problem: 'names no token (only blank lines or # comments)' };
  return { ok: true, digests: tokens.map(digestEventsToken), stamp };
}

async function stampOf(file: string): Promise<TokenFileStamp | 'missing'> {
  try {
    const s = await stat(file);
    return { mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, size: s.size, ino: s.ino };
  } catch {
    // Unreadable for any reason (gone, a directory in the path removed, no permission): one state.
    return 'missing';
  }
}

function errnoOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown error';
}
