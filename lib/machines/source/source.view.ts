/**
 * Facts read from a source's stored snapshot without a machine (no xstate, no driver spec): its context and state
 * value, and when the source next needs the tick (the sparse due index). Pure: no clock.
 */
import { isAuthRejected, isLockedOut, isPaused, type SourceStateValue, sourceStateOf } from './source.state.js';
import type { SourceContext } from './source.types.js';

/** The stored form (see toStored in source.snapshot.ts) holds `value` and the context verbatim. */
export function readStored(stored: unknown): { context: SourceContext; value: SourceStateValue } {
  const { value, context } = stored as { value: unknown; context: SourceContext };
  return { context, value: sourceStateOf(value) };
}

/**
 * When the tick must next look at this source, or undefined to drop it from the due index (paused, or parked
 * after an auth rejection until its credentials change).
 */
export function nextWakeAt(context: SourceContext, state: SourceStateValue): number | undefined {
  if (isPaused(state) || isAuthRejected(state)) return undefined;
  const lockedUntil = isLockedOut(state) ? (context.session.lockedUntil ?? 0) : 0;
  let wake: number | undefined;
  for (const loop of Object.values(context.loops)) {
    const at = loop.frame ? loop.frame.resendAt : Math.max(loop.dueAt, lockedUntil);
    wake = wake === undefined ? at : Math.min(wake, at);
  }
  return wake;
}
