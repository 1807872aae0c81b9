/**
 * The status people and the CLI see, derived from a source's snapshot: its modes, the display state, the next wake,
 * freshness, the last error and, when parked, what the person must do. Derived on every read and never stored,
 * which keeps the source item small; stores are handed `statusOfStored` so that they need no machine code.
 */
import type { SourceStatus } from '../ports/source.store.port.js';
import { displayState, isAuthRejected, isLockedOut, isPaused, type SourceStateValue } from '../machines/source/source.state.js';
import type { SourceContext } from '../machines/source/source.types.js';
import { nextWakeAt, readStored } from '../machines/source/source.view.js';

/**
 * What a person must do for rejection codes where "update the credentials" would be the wrong advice. Every way out
 * ends in a credentials.changed event (update-credentials, or the login command, which stores new tokens).
 */
const PARKED_HINTS: Record<string, string> = {
  'LIBRELINKUP.TERMS_REQUIRED':
    'accept the new terms in the LibreLinkUp app, then save the credentials again (`nightscout-connect sources update-credentials <id>`) to resume',
  'CARELINK.LOGIN_REQUIRED':
    'CareLink needs a new browser login: run `nightscout-connect login --source minimedcarelink` (locally `npm run login -- --source minimedcarelink`), which resumes the source',
};

export function describeStatus(context: SourceContext, value: SourceStateValue): SourceStatus {
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
    const hint = PARKED_HINTS[code];
    status.parkedReason = hint ? `${hint} (${code})` : `credentials rejected (${code}): update the credentials to resume`;
  } else if (isPaused(value)) {
    status.parkedReason = 'paused by an operator';
  }
  return JSON.parse(JSON.stringify(status)) as SourceStatus;
}

/** Status of a stored snapshot, read without a machine or a driver (what a store derives on every read). */
export function statusOfStored(stored: unknown): SourceStatus {
  const { context, value } = readStored(stored);
  return describeStatus(context, value);
}
