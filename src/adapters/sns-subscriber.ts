// The GET of an SNS SubscribeURL that confirms an HTTP(S) subscription. Which URLs may be fetched is
// decided before (core/sns-messages.ts); how the GET is made is sns-get.ts'.
import { subscriptionArnIn } from '../core/sns-messages.js';
import { FerryError } from '../errors.js';
import { getFromSns, type SnsGet } from './sns-get.js';

/** The part of the global fetch used here, so tests pass a fake and need no network. */
export type FetchLike = SnsGet<{ ok: boolean; status: number; text(): Promise<string> }>;

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
      const fail = (why: string, cause?: unknown) =>
        new FerryError('ERR_SNS_CONFIRMATION', `SNS subscription confirmation failed: ${why}`, {
          ...(cause === undefined ? {} : { cause }),
          details: { host: url.hostname },
        });
      const answer = await getFromSns(
        fetchFn,
        url,
        timeoutMs,
        async (a) => ({ ok: a.ok, status: a.status, text: await a.text() }),
        fail,
      );
      if (!answer.ok) {
        throw new FerryError(
          'ERR_SNS_CONFIRMATION',
          `SNS answered the subscription confirmation with ${answer.status}`,
          {
            details: { host: url.hostname, status: answer.status },
          },
        );
      }
      const subscriptionArn = subscriptionArnIn(answer.text);
      return subscriptionArn === undefined ? {} : { subscriptionArn };
    },
  };
}
