// One process's side of the bandwidth caps: the deliveries of a capped partner ask for bytes before
// they send them; the limiter hands them out first come, first served (fair between the process's
// deliveries of that partner: each asks for one chunk at a time) from a local budget, refilled by
// leases from the shared bucket (src/ledger/bandwidth-bucket.ts). The rate is read at every lease, so
// a cap changed by a config reload applies within one lease.
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

/**
 * A pass-through stream that sends no faster than every cap in `keys` allows: each piece (at most
 * `pieceBytes`) waits for its budget under each cap in turn. The writer behind it keeps its pipeline
 * full, since the throttle only spaces the bytes out, never holds them for longer than a piece's share.
 */
export function createThrottleStream(
  limiter: BandwidthLimiter,
  keys: readonly string[],
  signal?: AbortSignal,
  pieceBytes = THROTTLE_PIECE_BYTES,
): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      void (async () => {
        for (let at = 0; at < chunk.length; at += pieceBytes) {
          const piece = chunk.subarray(at, at + pieceBytes);
          for (const key of keys) await limiter.acquire(key, piece.length, signal);
          this.push(piece);
        }
      })().then(() => callback(), callback);
    },
  });
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
