// Retry delays for transient failures. Pure: the random source comes in so tests can pin it.

/** Per-partner retry timing, in seconds as the config states it. */
export interface BackoffPolicy {
  backoffSeconds: number;
  maxBackoffSeconds: number;
}

// 2^52 already exceeds any sane cap; stop before Math.pow overflows to Infinity.
const MAX_EXPONENT = 52;

/**
 * Delay before the next attempt, in ms: `backoffSeconds·2^(attemptsMade-1)` capped at
 * `maxBackoffSeconds`, with equal jitter (half fixed, half random). The fixed half means a crowd of
 * failing jobs never retries at once with a 0 delay; the cap is never exceeded. `attemptsMade` is 1
 * for the first retry (BullMQ passes it that way to a custom backoff strategy).
 */
export function computeBackoffMs(
  attemptsMade: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceilingMs = ceilingFor(attemptsMade, policy);
  const fixedMs = Math.ceil(ceilingMs / 2);
  const r = Math.min(1, Math.max(0, random()));
  return fixedMs + Math.floor(r * (ceilingMs - fixedMs));
}

/** The delay range of each of the first `attempts` retries, for the README and `ferry` output. */
export function backoffTable(
  policy: BackoffPolicy,
  attempts: number,
): { attempt: number; minMs: number; maxMs: number }[] {
  const rows: { attempt: number; minMs: number; maxMs: number }[] = [];
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    rows.push({
      attempt,
      minMs: computeBackoffMs(attempt, policy, () => 0),
      maxMs: computeBackoffMs(attempt, policy, () => 1),
    });
  }
  return rows;
}

/** The un-jittered delay for this attempt, in whole ms, never above the cap. */
function ceilingFor(attemptsMade: number, policy: BackoffPolicy): number {
  const attempt = Number.isFinite(attemptsMade) ? Math.max(1, Math.floor(attemptsMade)) : 1;
  const baseMs = Math.max(0, policy.backoffSeconds) * 1000;
  const capMs = Math.max(0, policy.maxBackoffSeconds) * 1000;
  const exponent = Math.min(attempt - 1, MAX_EXPONENT);
  return Math.floor(Math.min(baseMs * 2 ** exponent, capMs));
}
