// The GET of a SubscribeURL through a fake fetch: no network in unit tests.
import { describe, expect, it } from 'vitest';
import { createSnsSubscriber, type FetchLike } from '../../../src/adapters/sns-subscriber.js';

const URL_WITH_TOKEN = new URL(
  'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=secret-token-5e1',
);
const answer = (status: number, text = '') => ({
  ok: status >= 200 && status < 300,
  status,
  text: () => Promise.resolve(text),
});

describe('createSnsSubscriber', () => {
  it('GETs the URL once, refusing redirects, with a deadline, and returns the SubscriptionArn', async () => {
    const calls: Parameters<FetchLike>[] = [];
    const sns = createSnsSubscriber({
      fetch: (url, init) => {
        calls.push([url, init]);
        return Promise.resolve(
          answer(
            200,
            '<ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:1:t:9f</SubscriptionArn></ConfirmSubscriptionResult>',
          ),
        );
      },
    });
    expect(await sns.confirm(URL_WITH_TOKEN)).toEqual({ subscriptionArn: 'arn:aws:sns:eu-west-1:1:t:9f' });
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBe(URL_WITH_TOKEN.href);
    expect(calls[0]![1]).toMatchObject({ method: 'GET', redirect: 'error' });
    expect(calls[0]![1].signal).toBeInstanceOf(AbortSignal);
  });

  it.each<[string, FetchLike, RegExp]>([
    [
      'a non-2xx answer',
      () => Promise.resolve(answer(403, '<Error/>')),
      /answered the subscription confirmation with 403/,
    ],
    [
      'a network error',
      () =>
        Promise.reject(
          new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) }),
        ),
      /confirmation failed: ENOTFOUND/,
    ],
    [
      'no answer in time',
      (_url, init) =>
        new Promise((_resolve, reject) => {
          init.signal.addEventListener('abort', () => reject(init.signal.reason as Error));
        }),
      /no answer within 5 ms/,
    ],
  ])('fails with ERR_SNS_CONFIRMATION on %s, naming no token', async (_label, fake, message) => {
    const sns = createSnsSubscriber({ fetch: fake, timeoutMs: 5 });
    const err = (await sns.confirm(URL_WITH_TOKEN).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string; details: unknown };
    expect(err).toMatchObject({ code: 'ERR_SNS_CONFIRMATION', message });
    expect(err.message).not.toContain('secret-token');
    expect(JSON.stringify(err.details)).not.toContain('secret-token');
  });
});
