// The events endpoint's outbound GETs to SNS (a SubscribeURL, a SigningCertURL), both checked before as
// SNS URLs (core/sns-messages.ts): with a deadline, never following a redirect (one could lead off the
// SNS host), and a failure told by its cause (a timeout, ENOTFOUND…), never by the URL (a SubscribeURL
// holds the confirmation token).
import { FerryError } from '../errors.js';

/** How a GET is made: the global fetch, or a test's fake. */
export type SnsGet<R> = (
  url: string,
  init: { method: 'GET'; redirect: 'error'; signal: AbortSignal },
) => Promise<R>;

/**
 * GETs `url` and reads the answer with `read`, all within `timeoutMs`. A FerryError from `read` passes
 * as it is; any other failure (network, timeout, redirect) becomes `fail(why, cause)`.
 */
export async function getFromSns<R, T>(
  get: SnsGet<R>,
  url: URL,
  timeoutMs: number,
  read: (answer: R) => Promise<T>,
  fail: (why: string, cause: unknown) => FerryError,
): Promise<T> {
  try {
    const answer = await get(url.href, {
      method: 'GET',
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    return await read(answer);
  } catch (err) {
    if (err instanceof FerryError) throw err;
    const why =
      err instanceof Error && err.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : networkProblem(err);
    throw fail(why, err);
  }
}

/** Node's fetch says "fetch failed" and keeps the reason (ENOTFOUND, ECONNREFUSED, …) in its cause. */
export function networkProblem(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
