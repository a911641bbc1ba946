// The certificates SNS signs its messages with, fetched from their SigningCertURL (checked before, in
// core/sns-signature.ts) and kept in memory: SNS signs with few certificates, so one GET per URL serves
// every message after the first. Global fetch, a deadline, no redirects (one could lead off the SNS
// host), a size cap (a certificate is ~2 KiB). A failed fetch is not cached: SNS retries the message.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { FerryError } from '../errors.js';
import { getFromSns, type SnsGet } from './sns-get.js';

/** The part of the global fetch used here, so tests pass a fake (a `new Response(pem)`) and need no network. */
export type CertFetchLike = SnsGet<Response>;

export interface SnsCertificates {
  /**
   * The public key of the certificate at a checked SigningCertURL, from memory after the first GET.
   * Throws FerryError ERR_SNS_CERTIFICATE when it cannot be had now (no answer in time, a network
   * error, a non-2xx answer, a redirect, more than maxBytes, not a PEM certificate or key).
   */
  publicKey(url: URL): Promise<KeyObject>;
}

export interface SnsCertificatesOptions {
  fetch?: CertFetchLike;
  timeoutMs?: number;
  /** Largest certificate read (bytes); the GET is cut off beyond it. */
  maxBytes?: number;
  /** Certificates kept in memory; the least recently used goes first beyond it. */
  maxEntries?: number;
}

export function createSnsCertificates(options: SnsCertificatesOptions = {}): SnsCertificates {
  const fetchFn: CertFetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 16 * 1024;
  const maxEntries = options.maxEntries ?? 32;
  // The promise, not the key: messages arriving together while the first GET runs share it.
  const cache = new Map<string, Promise<KeyObject>>();

  const load = async (url: URL): Promise<KeyObject> => {
    const fail = (why: string, cause?: unknown): FerryError =>
      new FerryError('ERR_SNS_CERTIFICATE', `SNS signing certificate could not be fetched: ${why}`, {
        ...(cause === undefined ? {} : { cause }),
        details: { host: url.hostname },
      });
    const pem = await getFromSns(
      fetchFn,
      url,
      timeoutMs,
      async (answer) => {
        if (!answer.ok) {
          await answer.body?.cancel();
          throw fail(`SNS answered ${answer.status}`);
        }
        return readCapped(answer, maxBytes, () => fail(`larger than ${maxBytes} bytes`));
      },
      fail,
    );
    try {
      return createPublicKey(pem);
    } catch (err) {
      throw fail('the answer is not a PEM certificate', err);
    }
  };

  return {
    publicKey: (url) => {
      const cached = cache.get(url.href);
      if (cached !== undefined) {
        // Map order is insertion order: re-inserting marks it most recently used.
        cache.delete(url.href);
        cache.set(url.href, cached);
        return cached;
      }
      const loading = load(url);
      cache.set(url.href, loading);
      loading.catch(() => {
        if (cache.get(url.href) === loading) cache.delete(url.href);
      });
      while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      return loading;
    },
  };
}

/** The body as text, refused (tooLarge) as soon as it passes maxBytes, whatever Content-Length says. */
async function readCapped(answer: Response, maxBytes: number, tooLarge: () => Error): Promise<string> {
  if (answer.body === null) return '';
  // undici types the body's chunks as any; a fetch body's are bytes.
  const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
