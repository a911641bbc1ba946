// The process side of bandwidth caps, over a fake bucket: bytes handed out in the order asked, leases
// of a quarter second of the rate, waits when the bucket is empty, a removed cap releasing everyone,
// and an unreachable bucket failing the waiting deliveries rather than letting them send uncapped.
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import {
  THROTTLE_PIECE_BYTES,
  createBandwidthLimiter,
  createPartnerThrottles,
  createThrottleStream,
  throttlePieceBytes,
  type BandwidthLimiter,
} from '../../../src/adapters/bandwidth-limiter.js';

/** A bucket that grants from a balance the test tops up; an empty one says to wait 100 ms. */
function fakeBucket(balance = 0) {
  const takes: { key: string; rate: number; want: number }[] = [];
  let fail: Error | undefined;
  let topUp: (() => void) | undefined;
  const bucket = {
    takes,
    balance,
    failWith(err: Error) {
      fail = err;
    },
    take(key: string, rate: number, want: number) {
      takes.push({ key, rate, want });
      if (fail) return Promise.reject(fail);
      const granted = Math.min(want, bucket.balance);
      bucket.balance -= granted;
      return Promise.resolve({ granted, waitMs: granted > 0 ? 0 : 100 });
    },
    /** Resolves the limiter's next sleep (the time a lease waits) after adding `bytes`. */
    refill(bytes: number) {
      bucket.balance += bytes;
      topUp?.();
    },
    sleep: () =>
      new Promise<void>((resolve) => {
        topUp = resolve;
      }),
  };
  return bucket;
}

const order = (limiter: BandwidthLimiter, asks: [string, number][]) => {
  const served: string[] = [];
  const all = asks.map(([name, bytes]) => limiter.acquire('acme', bytes).then(() => served.push(name)));
  return { served, all: Promise.all(all) };
};

describe('createBandwidthLimiter', () => {
  it('serves waiters in the order they asked, from leases of a quarter second of the rate', async () => {
    const bucket = fakeBucket(10_000);
    const limiter = createBandwidthLimiter({ bucket, rateOf: () => 40_000, sleep: bucket.sleep });
    const { served, all } = order(limiter, [
      ['a1', 4000],
      ['b1', 4000],
      ['a2', 4000],
    ]);
    await new Promise((r) => setImmediate(r));
    // One lease of 10,000 (a quarter second of 40,000/s) serves a1 and b1; a2 waits.
    expect(bucket.takes[0]).toEqual({ key: 'acme', rate: 40_000, want: 10_000 });
    expect(served).toEqual(['a1', 'b1']);
    bucket.refill(10_000);
    await all;
    expect(served).toEqual(['a1', 'b1', 'a2']);
  });

  it('takes the rate as it is at each lease (a reload applies within one), and a removed cap frees everyone', async () => {
    const bucket = fakeBucket(0);
    let rate: number | undefined = 40_000;
    const limiter = createBandwidthLimiter({ bucket, rateOf: () => rate, sleep: bucket.sleep });
    const { served, all } = order(limiter, [
      ['a', 5000],
      ['b', 5000],
    ]);
    await new Promise((r) => setImmediate(r));
    expect(served).toEqual([]);
    rate = 8000;
    bucket.refill(0);
    await new Promise((r) => setImmediate(r));
    expect(bucket.takes.at(-1)).toEqual({ key: 'acme', rate: 8000, want: 5000 });
    rate = undefined;
    bucket.refill(0);
    await all;
    expect(served).toEqual(['a', 'b']);
    await limiter.acquire('acme', 1e9); // uncapped: at once
  });

  it('fails the waiting deliveries when the bucket cannot be reached', async () => {
    const bucket = fakeBucket(0);
    bucket.failWith(new Error('connect ECONNREFUSED'));
    const limiter = createBandwidthLimiter({ bucket, rateOf: () => 40_000, sleep: bucket.sleep });
    await expect(limiter.acquire('acme', 1000)).rejects.toThrow('ECONNREFUSED');
  });

  it('leaves no abort listener behind on the delivery once its pieces are served', async () => {
    const bucket = fakeBucket(1e9);
    const limiter = createBandwidthLimiter({ bucket, rateOf: () => 1e9, sleep: bucket.sleep });
    const abort = new AbortController();
    for (let i = 0; i < 50; i += 1) await limiter.acquire('acme', 1000, abort.signal);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });

  it('drops a waiter whose delivery was aborted', async () => {
    const bucket = fakeBucket(0);
    const limiter = createBandwidthLimiter({ bucket, rateOf: () => 40_000, sleep: bucket.sleep });
    const abort = new AbortController();
    const waiting = limiter.acquire('acme', 1000, abort.signal);
    abort.abort(new Error('delivery cancelled'));
    await expect(waiting).rejects.toThrow('delivery cancelled');
  });
});

describe('createThrottleStream', () => {
  it('passes every byte through in pieces of at most THROTTLE_PIECE_BYTES, each acquired first', async () => {
    const asked: number[] = [];
    const keys: string[] = [];
    const limiter: BandwidthLimiter = {
      acquire: (key, bytes) => {
        if (key === 'acme') asked.push(bytes);
        keys.push(key);
        return Promise.resolve();
      },
    };
    const input = Buffer.alloc(THROTTLE_PIECE_BYTES * 2 + 100, 7);
    const out = await buffer(
      Readable.from([input.subarray(0, 1000), input.subarray(1000)]).pipe(
        createThrottleStream(limiter, () => ({ keys: ['acme', 'total'], pieceBytes: THROTTLE_PIECE_BYTES })),
      ),
    );
    expect(out.equals(input)).toBe(true);
    expect(Math.max(...asked)).toBeLessThanOrEqual(THROTTLE_PIECE_BYTES);
    expect(asked.reduce((a, b) => a + b, 0)).toBe(input.length);
    // Every piece under both caps, in turn.
    expect(keys.slice(0, 4)).toEqual(['acme', 'total', 'acme', 'total']);
    expect(keys).toHaveLength(asked.length * 2);
  });

  it('passes a chunk through as it is, asking nothing, while no cap applies', async () => {
    const limiter: BandwidthLimiter = { acquire: () => Promise.reject(new Error('asked')) };
    const chunk = Buffer.alloc(THROTTLE_PIECE_BYTES * 3, 1);
    const out = await buffer(
      Readable.from([chunk]).pipe(createThrottleStream(limiter, () => ({ keys: [], pieceBytes: 1024 }))),
    );
    expect(out.equals(chunk)).toBe(true);
  });

  it('cuts pieces to a quarter of a lease, between 1 KiB and THROTTLE_PIECE_BYTES', () => {
    expect(throttlePieceBytes(4_000_000)).toBe(THROTTLE_PIECE_BYTES);
    expect(throttlePieceBytes(200_000)).toBe(12_500);
    expect(throttlePieceBytes(1024)).toBe(1024);
  });
});

describe('createPartnerThrottles', () => {
  const keys = { bandwidthPartner: (id: string) => `bw:partner:${id}`, bandwidthTotal: 'bw:total' };
  const settingsWith = (own?: number, total?: number) => ({
    ...(total === undefined ? {} : { totalMaxBytesPerSecond: total }),
    partners: new Map([['acme', { target: own === undefined ? {} : { maxBytesPerSecond: own } }]]),
  });

  it('puts a transfer under a cap a reload added while it runs, from its next chunk on', async () => {
    const bucket = fakeBucket(1e9);
    let settings = settingsWith();
    const throttle = createPartnerThrottles({ bucket, keys, settings: () => settings })(
      'acme',
      new AbortController().signal,
    );
    const chunk = Buffer.alloc(64 * 1024, 2);
    const received: number[] = [];
    throttle.on('data', (piece: Buffer) => received.push(piece.length));
    await new Promise<void>((resolve) => throttle.write(chunk, () => resolve()));
    expect(bucket.takes).toHaveLength(0); // uncapped: the bucket is never asked
    settings = settingsWith(200_000, 1_000_000); // the reload: a partner cap and a total cap
    await new Promise<void>((resolve) => throttle.write(chunk, () => resolve()));
    expect(new Set(bucket.takes.map((t) => `${t.key}@${t.rate}`))).toEqual(
      new Set(['bw:partner:acme@200000', 'bw:total@1000000']),
    );
    // The second chunk went in pieces of a quarter lease of the smaller cap.
    expect(received).toEqual([64 * 1024, ...Array<number>(5).fill(12_500), 64 * 1024 - 5 * 12_500]);
    settings = settingsWith(); // removed again: the next chunk passes whole
    const asked = bucket.takes.length;
    await new Promise<void>((resolve) => throttle.write(chunk, () => resolve()));
    expect(bucket.takes).toHaveLength(asked);
    expect(received.at(-1)).toBe(64 * 1024);
  });

  it('follows a changed rate at the next lease and treats a partner gone from the config as uncapped', async () => {
    const bucket = fakeBucket(1e9);
    let settings: ReturnType<typeof settingsWith> = settingsWith(100_000);
    const throttleOf = createPartnerThrottles({ bucket, keys, settings: () => settings });
    const throttle = throttleOf('acme', new AbortController().signal);
    throttle.resume();
    await new Promise<void>((resolve) => throttle.write(Buffer.alloc(1000), () => resolve()));
    settings = settingsWith(300_000);
    await new Promise<void>((resolve) => throttle.write(Buffer.alloc(100_000), () => resolve()));
    expect(bucket.takes.map((t) => t.rate)).toContain(300_000);
    settings = { partners: new Map() };
    const asked = bucket.takes.length;
    await new Promise<void>((resolve) => throttle.write(Buffer.alloc(100_000), () => resolve()));
    expect(bucket.takes).toHaveLength(asked);
  });
});
