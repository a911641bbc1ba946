// The one outbound request of the events endpoint: the GET of an SNS SubscribeURL that confirms an
// HTTP(S) subscription. Which URLs may be fetched is decided before (core/sns-messages.ts); this only
// fetches, with a deadline and without following redirects (a redirect could lead off the SNS host).
import { subscriptionArnIn } from '../core/sns-messages.js';
import { FerryError } from '../errors.js';

/** The part of the global fetch used here, so tests pass a fake and need no network. */
export type FetchLike = (
  url: string,
  init: { method: 'GET'; redirect: 'error'; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export interface SnsSubscriber {
  /**
   * GETs a checked SubscribeURL. Throws FerryError ERR_SNS_CONFIRMATION when SNS does not answer 2xx
   * in time; its message names the status or the network error, never the URL (it holds the token).
   */
  confirm(url: URL): Promise<{ subscriptionArn?: string }>;
}

export function createSnsSubscriber(options: { fetch?: FetchLike; timeoutMs?: number } = {}): SnsSubscriber {
  const fetchFn: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    confirm: async (url) => {
      let answer: { ok: boolean; status: number; text(): Promise<string> };
      let text: string;
      try {
        answer = await fetchFn(url.href, {
          method: 'GET',
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await answer.text();
      } catch (err) {
        const why =
          err instanceof Error && err.name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : networkProblem(err);
        throw new FerryError('ERR_SNS_CONFIRMATION', `SNS subscription confirmation failed: ${why}`, {
          cause: err,
          details: { host: url.hostname },
        });
      }
      if (!answer.ok) {
        throw new FerryError(
          'ERR_SNS_CONFIRMATION',
          `SNS answered the subscription confirmation with ${answer.status}`,
          {
            details: { host: url.hostname, status: answer.status },
          },
        );
      }
      const subscriptionArn = subscriptionArnIn(text);
      return subscriptionArn === undefined ? {} : { subscriptionArn };
    },
  };
}

/** Node's fetch says "fetch failed" and keeps the reason (ENOTFOUND, ECONNREFUSED, …) in its cause. */
export function networkProblem(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
