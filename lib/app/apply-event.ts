/**
 * Apply one event to one source under the single-writer rule: load, step purely, save conditionally on the version,
 * and on a conflict reload and re-apply (the event is then either a no-op or still valid). Effects are returned only
 * after the save succeeded, so nothing is sent for a state that was never stored. Unchanged snapshots are not saved.
 *
 * Two choices here keep a routine cycle at two ≤ 1 KB writes and one due-index move (serverless.md §6.4):
 * - only notable transitions are traced (a failure, a backoff, a rejection, an operator action); a healthy loop's
 *   waiting → fetching → waiting, logins and token renewals included, shows through lastSuccessAt/newestReadingAt;
 * - while a frame is in flight the due-index instant stays where it was (see dueIndexInstant).
 */
import { VersionConflictError } from '../domain/errors.js';
import type { SourceEvent } from '../domain/messages.js';
import { step } from '../machines/source/source.snapshot.js';
import {
  type LoopMode,
  loopModesOf,
  type SessionMode,
  type SourceStateValue,
  sameState,
} from '../machines/source/source.state.js';
import type { SourceContext, SourceEffect } from '../machines/source/source.types.js';
import { nextWakeAt, readStored } from '../machines/source/source.view.js';
import type { SessionStore } from '../ports/session.store.port.js';
import type { ParkedHints, SourceRecord, TransitionRecord } from '../ports/source.store.port.js';
import type { CoreDeps } from './app.deps.js';
import { runSideEffects } from './dispatch-effects.js';
import { describeStatus } from './source-status.js';

export const MAX_CONFLICT_RETRIES = 5;

export interface Applied {
  record: SourceRecord;
  effects: SourceEffect[];
  changed: boolean;
}

/**
 * @param preloaded a record already read (e.g. from the due index); it may be stale, which the conditional save
 *   detects.
 * @returns undefined when the source does not exist (removed): the event is dropped.
 */
export async function applySourceEvent(
  deps: Pick<CoreDeps, 'sources' | 'specFor' | 'parkedHints' | 'log'>,
  sourceId: string,
  event: SourceEvent,
  preloaded?: SourceRecord,
): Promise<Applied | undefined> {
  let record = preloaded ?? (await deps.sources.get(sourceId));
  for (let attempt = 0; ; attempt++) {
    if (!record) {
      deps.log.warn('event for an unknown source dropped', { sourceId, event: event.type });
      return undefined;
    }
    const spec = deps.specFor(record.config);
    const result = step(spec, record.snapshot, record.machineVersion, event);
    if (!result.changed) return { record, effects: result.effects, changed: false };
    const next = withDerived(record, result.snapshot, deps.parkedHints);
    const trace: TransitionRecord | undefined = isRoutine(event, result.fromValue, result.toValue)
      ? undefined
      : {
          at: event.now,
          event: event.type,
          from: result.from,
          to: result.to,
          effects: result.effects.map((e) => e.type),
        };
    try {
      next.version = await deps.sources.save(next, record.version, trace);
      deps.log.info('machine stepped', {
        sourceId,
        event: event.type,
        from: result.from,
        to: result.to,
        effects: result.effects.map((e) => e.type),
        version: next.version,
      });
      return { record: next, effects: result.effects, changed: true };
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      deps.log.debug('version conflict, reloading', { sourceId, event: event.type, attempt });
      record = await deps.sources.get(sourceId);
    }
  }
}

function withDerived(record: SourceRecord, snapshot: unknown, hints?: ParkedHints): SourceRecord {
  // The persisted snapshot holds the context and state value verbatim; reading them needs no machine.
  const { context, value } = readStored(snapshot);
  return {
    ...record,
    snapshot,
    status: describeStatus(context, value, hints),
    nextDueAt: dueIndexInstant(record.nextDueAt, nextWakeAt(context, value), context),
  };
}

/**
 * The due-index instant to store. Normally the machine's next wake. But while a frame is in flight the wake is only
 * the outbox deadline (resendAt), and moving the index key there and back again on the outcome would cost two more
 * index writes per cycle. So the key stays at its earlier instant: the tick then keeps finding the source, reads it,
 * sees the frame in flight and writes nothing, until the outcome saves the real next due time. Earlier is always
 * safe for the index (it only means "look at me"); later never is.
 */
export function dueIndexInstant(
  stored: number | undefined,
  wake: number | undefined,
  context: SourceContext,
): number | undefined {
  if (wake === undefined) return undefined;
  const inFlight = Object.values(context.loops).some((loop) => Boolean(loop.frame));
  return inFlight && stored !== undefined && stored <= wake ? stored : wake;
}

const CYCLE_MODES = new Set<LoopMode>(['waiting', 'fetching', 'persisting']);
const HEALTHY_SESSION_MODES = new Set<SessionMode>(['idle', 'authenticating', 'active']);

/**
 * A healthy loop's cycle: a tick dispatching a frame or an outcome closing it, the operation region unchanged, the
 * session only logging in or renewing (CareLink renews its access token every 15 minutes), and every loop moving
 * only between waiting, fetching and persisting. Everything else — failures, backoff, rejection, lockout, pause,
 * resume, credential changes, outbox resends — is traced.
 */
export function isRoutine(event: SourceEvent, from: SourceStateValue, to: SourceStateValue): boolean {
  if (event.type !== 'clock.ticked' && event.type !== 'frame.persisted') return false;
  // A tick that changes the snapshot without moving any state is an outbox resend: worth tracing.
  if (event.type === 'clock.ticked' && sameState(from, to)) return false;
  if (from.operation !== to.operation) return false;
  if (
    from.session !== to.session &&
    !(HEALTHY_SESSION_MODES.has(from.session) && HEALTHY_SESSION_MODES.has(to.session))
  )
    return false;
  const before = loopModesOf(from);
  const after = loopModesOf(to);
  return (
    before.length === after.length &&
    before.every(([loop, mode], i) => after[i][0] === loop && CYCLE_MODES.has(mode) && CYCLE_MODES.has(after[i][1]))
  );
}

/** Report a frame outcome to its source and run the resulting side effects (what fetch-frame and persist share). */
export async function reportOutcome(
  deps: Pick<CoreDeps, 'sources' | 'specFor' | 'parkedHints' | 'log' | 'metrics'> & { sessions?: SessionStore },
  sourceId: string,
  event: SourceEvent,
): Promise<void> {
  const applied = await applySourceEvent(deps, sourceId, event);
  if (applied) await runSideEffects(deps, sourceId, applied.effects);
}
