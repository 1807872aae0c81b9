/**
 * Facts derived from a source snapshot for the store and for people: when the source next needs the tick
 * (the sparse due index), and a status summary. Pure: no clock, the caller passes nothing time-dependent.
 */
import type { SourceStatus } from '../../ports/source.store.port.js';
import type { SourceContext } from './source.types.js';

/**
 * When the tick must next look at this source, or undefined to drop it from the due index (paused, or parked
 * after an auth rejection until its credentials change).
 */
export function nextWakeAt(context: SourceContext, value: string): number | undefined {
  if (value.startsWith('paused')) return undefined;
  if (value.includes('session:rejected')) return undefined;
  const lockedUntil = value.includes('session:lockedOut') ? context.session.lockedUntil ?? 0 : 0;
  let wake: number | undefined;
  for (const loop of Object.values(context.loops)) {
    const at = loop.frame ? loop.frame.resendAt : Math.max(loop.dueAt, lockedUntil);
    wake = wake === undefined ? at : Math.min(wake, at);
  }
  return wake;
}

/**
 * What a person must do, per rejection code where "update the credentials" would be the wrong advice. Vendors declare
 * them; every way out ends in a credentials.changed event (update-credentials, or a login command storing new tokens).
 */
export type ParkedHints = Readonly<Record<string, string>>;

export function describeStatus(context: SourceContext, value: string, hints: ParkedHints = {}): SourceStatus {
  const lastSuccessAt = Math.max(0, ...Object.values(context.loops).map((l) => l.lastSuccessAt ?? 0)) || undefined;
  const status: SourceStatus = {
    state: value,
    nextWakeAt: nextWakeAt(context, value),
    newestReadingAt: context.newestReadingAt,
    lastSuccessAt,
    lastError: context.lastError,
    sessionExpiresAt: value.includes('session:active') ? context.session.expiresAt : undefined,
    lockedUntil: value.includes('session:lockedOut') ? context.session.lockedUntil : undefined,
  };
  if (value.includes('session:rejected')) {
    const code = context.session.code ?? 'unknown';
    const hint = Object.hasOwn(hints, code) ? hints[code] : undefined;
    status.parkedReason = hint ? `${hint} (${code})` : `credentials rejected (${code}): update the credentials to resume`;
  } else if (value.startsWith('paused')) {
    status.parkedReason = 'paused by an operator';
  }
  return JSON.parse(JSON.stringify(status)) as SourceStatus;
}

/**
 * Status of a stored snapshot, read without a machine (the stored form holds `value` and the context verbatim).
 * Stores derive the status on read with this instead of storing it, which keeps the source item small.
 */
export function statusOfStored(stored: unknown, hints: ParkedHints = {}): SourceStatus {
  const { value, context } = stored as { value: unknown; context: SourceContext };
  return describeStatus(context, flattenState(value), hints);
}

/** When a stored snapshot next needs the tick (see nextWakeAt), read without a machine. */
export function wakeOfStored(stored: unknown): number | undefined {
  const { value, context } = stored as { value: unknown; context: SourceContext };
  return nextWakeAt(context, flattenState(value));
}

/** `{operation:'running', session:'active', loops:{A:'waiting'}}` → `running/session:active/A:waiting`. */
export function flattenState(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { operation?: string; session?: string; loops?: Record<string, string> };
  const loops = Object.entries(v.loops ?? {}).map(([name, state]) => `${name}:${state}`);
  return [v.operation, `session:${v.session}`, ...loops].join('/');
}
