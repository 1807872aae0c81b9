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

export function describeStatus(context: SourceContext, value: string): SourceStatus {
  const lastSuccessAt = Math.max(0, ...Object.values(context.loops).map((l) => l.lastSuccessAt ?? 0)) || undefined;
  const status: SourceStatus = {
    state: value,
    newestReadingAt: context.newestReadingAt,
    lastSuccessAt,
    lastError: context.lastError,
    sessionExpiresAt: value.includes('session:active') ? context.session.expiresAt : undefined,
    lockedUntil: value.includes('session:lockedOut') ? context.session.lockedUntil : undefined,
  };
  if (value.includes('session:rejected')) {
    status.parkedReason = `credentials rejected (${context.session.code ?? 'unknown'}): update the credentials to resume`;
  } else if (value.startsWith('paused')) {
    status.parkedReason = 'paused by an operator';
  }
  return JSON.parse(JSON.stringify(status)) as SourceStatus;
}
