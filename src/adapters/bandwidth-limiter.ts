// One process's side of the bandwidth caps: the deliveries of a capped partner ask for bytes before
// they send them; the limiter hands them out first come, first served (fair between the process's
// deliveries of that partner: each asks for one chunk at a time) from a local budget, refilled by
// leases from the shared bucket (src/ledger/bandwidth-bucket.ts). The rate is read at every lease, and
// which caps a delivery is under at every chunk, so a cap changed, removed or added by a config reload
// applies to transfers in flight within one lease.
import { Transform } from 'node:stream';
import { abortReason } from './pipelined-upload.js';

/** How much of the rate one lease asks for: Redis is asked about four times a second per busy process. */
export const LEASE_MS = 250;
/** The largest piece a throttled stream sends at once, so one big chunk cannot jump the queue. */
export const THROTTLE_PIECE_BYTES = 32 * 1024;

export interface BandwidthLimiter {
  /** Resolves once `bytes` may be sent under the cap `key` (at once when the cap is gone). */
  acquire(key: string, bytes: number, signal?: AbortSignal): Promise<void>;
}

export interface BandwidthLimiterDeps {
  /** The shared bucket (src/ledger/bandwidth-bucket.ts): up to `want` bytes now, or how long to wait. */
  bucket: {
    take(key: string, bytesPerSecond: number, want: number): Promise<{ granted: number; waitMs: number }>;
  };
  /** The cap's rate now (bytes per second), or undefined when it was removed. */
  rateOf(key: string): number | undefined;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface CapState {
  budget: number;
  queue: Waiter[];
  refilling: boolean;
}

export function createBandwidthLimiter(deps: BandwidthLimiterDeps): BandwidthLimiter {
  const sleep = deps.sleep ?? defaultSleep;
  const caps = new Map<string, CapState>();

  const stateOf = (key: string): CapState => {
    let state = caps.get(key);
    if (!state) caps.set(key, (state = { budget: 0, queue: [], refilling: false }));
    return state;
  };

  /** Serves waiters in order while the budget lasts; starts one refill when the head cannot be served. */
  function pump(key: string, state: CapState): void {
    while (state.queue.length > 0) {
      const head = state.queue[0]!;
      if (deps.rateOf(key) !== undefined && state.budget < head.bytes) break;
      state.queue.shift();
      if (deps.rateOf(key) !== undefined) state.budget -= head.bytes;
      head.resolve();
    }
    if (state.queue.length > 0 && !state.refilling) void refill(key, state);
  }

  async function refill(key: string, state: CapState): Promise<void> {
    state.refilling = true;
    try {
      for (;;) {
        const rate = deps.rateOf(key);
        const head = state.queue[0];
        if (rate === undefined || head === undefined || state.budget >= head.bytes) break;
        const want = Math.max(Math.ceil((rate * LEASE_MS) / 1000), head.bytes - state.budget);
        const lease = await deps.bucket.take(key, rate, want);
        state.budget += lease.granted;
        if (lease.granted === 0) await sleep(lease.waitMs);
      }
    } catch (err) {
      // Redis unreachable: the waiting deliveries fail (and retry) rather than send uncapped.
      for (const waiter of state.queue.splice(0)) waiter.reject(err);
    } finally {
      state.refilling = false;
    }
    pump(key, state);
  }

  return {
    acquire(key, bytes, signal) {
      if (deps.rateOf(key) === undefined || bytes <= 0) return Promise.resolve();
      const state = stateOf(key);
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortReason(signal));
        // One listener per waiting piece, removed once it is served (a delivery asks for thousands).
        const onAbort = () => {
          const at = state.queue.indexOf(waiter);
          if (at >= 0) state.queue.splice(at, 1);
          reject(abortReason(signal!));
        };
        const waiter: Waiter = {
          bytes,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          reject: (err) => {
            signal?.removeEventListener('abort', onAbort);
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        state.queue.push(waiter);
        pump(key, state);
      });
    },
  };
}

/** The piece size for a cap: a quarter of one lease, between 1 KiB and THROTTLE_PIECE_BYTES. */
export function throttlePieceBytes(bytesPerSecond: number): number {
  const quarterLease = Math.floor((bytesPerSecond * LEASE_MS) / 1000 / 4);
  return Math.min(THROTTLE_PIECE_BYTES, Math.max(1024, quarterLease));
}

/** The caps a delivery is under at one moment, and the piece size for the smallest of them. */
export interface ThrottleCaps {
  keys: readonly string[];
  pieceBytes: number;
}

/**
 * A pass-through stream that sends no faster than every cap `capsNow()` names allows: each piece (at
 * most the caps' piece size) waits for its budget under each cap in turn. The caps are asked for at
 * every chunk, so a cap added while the transfer runs applies to its next chunk; under no cap a chunk
 * passes as it is. The writer behind it keeps its pipeline full, since the throttle only spaces the
 * bytes out, never holds them for longer than a piece's share.
 */
export function createThrottleStream(
  limiter: BandwidthLimiter,
  capsNow: () => ThrottleCaps,
  signal?: AbortSignal,
  onWait?: (key: string, seconds: number) => void,
): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const { keys, pieceBytes } = capsNow();
      if (keys.length === 0) return callback(null, chunk);
      void (async () => {
        for (let at = 0; at < chunk.length; at += pieceBytes) {
          const piece = chunk.subarray(at, at + pieceBytes);
          for (const key of keys) {
            const asked = performance.now();
            await limiter.acquire(key, piece.length, signal);
            onWait?.(key, (performance.now() - asked) / 1000);
          }
          this.push(piece);
        }
      })().then(() => callback(), callback);
    },
  });
}

/** What the partner throttles read from the live config (a reload swaps it). */
export interface BandwidthSettings {
  totalMaxBytesPerSecond?: number | undefined;
  partners: ReadonlyMap<string, { target: { maxBytesPerSecond?: number | undefined } }>;
}

export interface PartnerThrottlesDeps {
  bucket: BandwidthLimiterDeps['bucket'];
  /** The Redis keys of the caps' buckets. */
  keys: { bandwidthPartner(partnerId: string): string; bandwidthTotal: string };
  /** The config now: read at every lease and every chunk. */
  settings(): BandwidthSettings;
  /** Told how long a delivery of `partnerId` waited for its budget under its own or the total cap. */
  onWait?(partnerId: string, cap: BandwidthCapKind, seconds: number): void;
}

/** Which cap a delivery waited for: its partner's own, or the one on all partners together. */
export type BandwidthCapKind = 'partner' | 'total';

/**
 * One process's throttles: a throttle stream for each delivery, under its partner's own cap and the
 * total cap as the config has them at that moment (none, one or both, changing with reloads).
 */
export function createPartnerThrottles(
  deps: PartnerThrottlesDeps,
): (partnerId: string, signal: AbortSignal) => Transform {
  const partnerKey = deps.keys.bandwidthPartner('');
  const ownRate = (partnerId: string) => deps.settings().partners.get(partnerId)?.target.maxBytesPerSecond;
  const limiter = createBandwidthLimiter({
    bucket: deps.bucket,
    rateOf: (key) =>
      key === deps.keys.bandwidthTotal
        ? deps.settings().totalMaxBytesPerSecond
        : key.startsWith(partnerKey)
          ? ownRate(key.slice(partnerKey.length))
          : undefined,
  });
  const capsOf = (partnerId: string): ThrottleCaps => {
    const own = ownRate(partnerId);
    const total = deps.settings().totalMaxBytesPerSecond;
    return {
      keys: [
        ...(own === undefined ? [] : [deps.keys.bandwidthPartner(partnerId)]),
        ...(total === undefined ? [] : [deps.keys.bandwidthTotal]),
      ],
      pieceBytes: throttlePieceBytes(Math.min(own ?? Infinity, total ?? Infinity)),
    };
  };
  return (partnerId, signal) =>
    createThrottleStream(
      limiter,
      () => capsOf(partnerId),
      signal,
      (key, seconds) =>
        deps.onWait?.(partnerId, key === deps.keys.bandwidthTotal ? 'total' : 'partner', seconds),
    );
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
