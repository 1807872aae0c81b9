/**
 * The status people and the CLI see, derived from a source's snapshot: its modes, the display state, the next wake,
 * freshness, the last error and, when parked, what the person must do. Derived on every read and never stored,
 * which keeps the source item small; stores are handed `statusOfStored` so that they need no machine code.
 */

import {
  displayState,
  isAuthRejected,
  isLockedOut,
  isPaused,
  type SourceStateValue,
} from '../machines/source/source.state.js';
import type { SourceContext } from '../machines/source/source.types.js';
import { nextWakeAt, readStored } from '../machines/source/source.view.js';
import type { ParkedHints, SourceStatus } from '../ports/source.store.port.js';

export function describeStatus(context: SourceContext, value: SourceStateValue, hints: ParkedHints = {}): SourceStatus {
  const lastSuccessAt = Math.max(0, ...Object.values(context.loops).map((l) => l.lastSuccessAt ?? 0)) || undefined;
  const status: SourceStatus = {
    state: displayState(value),
    operation: value.operation,
    sessionMode: value.session,
    loopModes: value.loops,
    nextWakeAt: nextWakeAt(context, value),
    newestReadingAt: context.newestReadingAt,
    lastSuccessAt,
    lastError: context.lastError,
    sessionExpiresAt: value.session === 'active' ? context.session.expiresAt : undefined,
    lockedUntil: isLockedOut(value) ? context.session.lockedUntil : undefined,
  };
  if (isAuthRejected(value)) {
    const code = context.session.code ?? 'unknown';
    const hint = Object.hasOwn(hints, code) ? hints[code] : undefined;
    status.parkedReason = hint
      ? `${hint} (${code})`
      : `credentials rejected (${code}): update the credentials to resume`;
  } else if (isPaused(value)) {
    status.parkedReason = 'paused by an operator';
  }
  return JSON.parse(JSON.stringify(status)) as SourceStatus;
}

/** Status of a stored snapshot, read without a machine or a driver (what a store derives on every read). */
export function statusOfStored(stored: unknown, hints: ParkedHints = {}): SourceStatus {
  const { context, value } = readStored(stored);
  return describeStatus(context, value, hints);
}

/** The `statusOf` a store is built with: status on read, with the vendors' parked hints. */
export function statusReader(hints: ParkedHints): (stored: unknown) => SourceStatus {
  return (stored) => statusOfStored(stored, hints);
}
