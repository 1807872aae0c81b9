/**
 * When is the next frame due? nightscout-connect's `align_to_glucose`, made pure:
 *   next slot = newest reading + k · interval, the first slot strictly after `now`;
 *   due       = next slot + vendor lag + f · jitter.
 * Without a stored reading the plain interval applies. A reading dated in the future (a clock-skewed device) must not
 * push polling out indefinitely, so the due time is clamped to at most one interval (+ lag + jitter) from now.
 */
export interface AlignPolicy {
  intervalMs: number;
  /** How long after a reading's timestamp the vendor usually publishes it. */
  lagMs: number;
  /** Uniform spread added after the lag, so a community's sources do not poll in lock-step. */
  jitterMs: number;
}

export function nextAlignedDue(
  policy: AlignPolicy,
  now: number,
  newestReadingAt: number | undefined,
  fraction: number,
): number {
  const spread = policy.lagMs + Math.floor(fraction * policy.jitterMs);
  if (newestReadingAt === undefined || !Number.isFinite(newestReadingAt)) return now + policy.intervalMs;
  if (newestReadingAt > now) return now + policy.intervalMs + spread;
  const elapsed = now - newestReadingAt;
  // The slot whose publish time (slot + spread) is still ahead of us.
  let k = Math.max(1, Math.ceil((elapsed - spread) / policy.intervalMs));
  if (newestReadingAt + k * policy.intervalMs + spread <= now) k += 1;
  return newestReadingAt + k * policy.intervalMs + spread;
}
