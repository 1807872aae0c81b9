/**
 * Pure delay arithmetic for retries and schedules. Randomness is data: callers pass a jitter fraction in [0, 1)
 * (see `jitterFraction`), so every delay is reproducible and testable by formula.
 *
 * Capped exponential with "equal jitter": d = min(cap, base · 2^(n−1)); delay = d/2 + f · d/2.
 * This fixes nightscout-connect ≤ 0.0.13, whose options merge let the 256 ms default win and whose ceiling capped
 * the exponent instead of the delay (74.6 h dark periods).
 */
export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** No delay exceeds this, jitter included. */
  capMs: number;
}

/** Un-jittered delay for the n-th consecutive failure (n ≥ 1). */
export function backoffCeiling(policy: BackoffPolicy, n: number): number {
  if (n < 1) return 0;
  // 2^(n−1) overflows to Infinity long before n is large; Math.min keeps it capped.
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(n - 1, 52));
}

/** Jittered delay for the n-th consecutive failure: in [ceiling/2, ceiling). */
export function backoffDelay(policy: BackoffPolicy, n: number, fraction: number): number {
  const ceiling = backoffCeiling(policy, n);
  const half = ceiling / 2;
  return Math.floor(half + clampFraction(fraction) * half);
}

/** Delay honouring a vendor's Retry-After: never shorter than asked, never longer than `maxMs`. */
export function withRetryAfter(delayMs: number, retryAfterMs: number | undefined, maxMs: number): number {
  const wanted = retryAfterMs !== undefined && retryAfterMs > delayMs ? retryAfterMs : delayMs;
  return Math.min(wanted, maxMs);
}

/**
 * A deterministic fraction in [0, 1) from a key (FNV-1a, 32 bit). Machines may not call Math.random(); a hash of
 * (source id, frame id, purpose) spreads sources apart just as well and replays identically.
 */
export function jitterFraction(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // Final avalanche so keys differing only in the last character still spread.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  return (hash >>> 0) / 0x1_0000_0000;
}

function clampFraction(fraction: number): number {
  if (!(fraction >= 0)) return 0;
  return fraction >= 1 ? 0.999999 : fraction;
}
