// SNS signing certificates through a fake fetch: no network in unit tests.
import { describe, expect, it } from 'vitest';
import { createSnsCertificates, type CertFetchLike } from '../../../src/adapters/sns-certificates.js';
import { createSnsSigner } from '../../support/sns-signer.js';

const signer = createSnsSigner();
const certUrl = (n: number) =>
  new URL(`https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-${n}.pem`);

/** A fake fetch answering every URL with `answer()`, recording the calls. */
function fakeFetch(answer: () => Promise<Response>) {
  const calls: Parameters<CertFetchLike>[] = [];
  const fetch: CertFetchLike = (url, init) => {
    calls.push([url, init]);
    return answer();
  };
  return { fetch, calls };
}

describe('createSnsCertificates', () => {
  it('GETs a certificate once, refusing redirects, with a deadline, and keeps its key for the next messages', async () => {
    const { fetch, calls } = fakeFetch(() => Promise.resolve(new Response(signer.publicKeyPem)));
    const certificates = createSnsCertificates({ fetch });
    const [a, b] = await Promise.all([
      certificates.publicKey(certUrl(1)),
      certificates.publicKey(certUrl(1)),
    ]);
    const c = await certificates.publicKey(certUrl(1));
    expect(a.asymmetricKeyType).toBe('rsa');
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBe(certUrl(1).href);
    expect(calls[0]![1]).toMatchObject({ method: 'GET', redirect: 'error' });
    expect(calls[0]![1].signal).toBeInstanceOf(AbortSignal);
  });

  it('keeps at most maxEntries certificates, dropping the least recently used', async () => {
    const { fetch, calls } = fakeFetch(() => Promise.resolve(new Response(signer.publicKeyPem)));
    const certificates = createSnsCertificates({ fetch, maxEntries: 2 });
    await certificates.publicKey(certUrl(1));
    await certificates.publicKey(certUrl(2));
    await certificates.publicKey(certUrl(1)); // 1 is now the most recently used
    await certificates.publicKey(certUrl(3)); // drops 2
    await certificates.publicKey(certUrl(1));
    await certificates.publicKey(certUrl(2));
    expect(calls.map(([url]) => url.match(/-(\d)\.pem$/)?.[1])).toEqual(['1', '2', '3', '2']);
  });

  it.each([
    ['a non-2xx answer', () => Promise.resolve(new Response('denied', { status: 403 })), 'SNS answered 403'],
    [
      'a network error',
      () =>
        Promise.reject(
          new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) }),
        ),
      'ENOTFOUND',
    ],
    [
      'no answer in time',
      () => Promise.reject(Object.assign(new Error('timed out'), { name: 'TimeoutError' })),
      'no answer within 10000 ms',
    ],
    [
      'an answer that is not PEM',
      () => Promise.resolve(new Response('<html>hello</html>')),
      'not a PEM certificate',
    ],
    [
      'an answer larger than maxBytes',
      () => Promise.resolve(new Response(`${signer.publicKeyPem}${'#'.repeat(20_000)}`)),
      'larger than 16384 bytes',
    ],
  ])('fails with ERR_SNS_CERTIFICATE on %s, and fetches again next time', async (_label, answer, why) => {
    const { fetch, calls } = fakeFetch(answer);
    const certificates = createSnsCertificates({ fetch });
    for (let i = 0; i < 2; i += 1) {
      const err = await certificates.publicKey(certUrl(1)).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'ERR_SNS_CERTIFICATE',
        details: { host: 'sns.eu-west-1.amazonaws.com' },
      });
      expect((err as Error).message).toContain(why);
    }
    expect(calls).toHaveLength(2);
  });

  it('stops reading an answer at maxBytes even when it never ends', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        pulled += 1;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const { fetch } = fakeFetch(() => Promise.resolve(new Response(endless)));
    const err = await createSnsCertificates({ fetch, maxBytes: 4096 })
      .publicKey(certUrl(1))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_SNS_CERTIFICATE' });
    // Five 1 KiB chunks pass 4 KiB; a few more may be pulled ahead of the reader, never an endless stream.
    expect(pulled).toBeLessThan(20);
  });
});
