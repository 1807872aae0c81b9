/**
 * Apply one event to one source under the single-writer rule: load, step purely, save conditionally on the version,
 * and on a conflict reload and re-apply (the event is then either a no-op or still valid). Effects are returned only
 * after the save succeeded, so nothing is sent for a state that was never stored. Unchanged snapshots are not saved.
 */
import { VersionConflictError } from '../domain/errors.js';
import type { SourceEvent } from '../domain/messages.js';
import type { SourceRecord, TransitionRecord } from '../ports/source.store.port.js';
import { step } from '../machines/source/source.snapshot.js';
import { describeStatus, nextWakeAt } from '../machines/source/source.view.js';
import { toMachineSpec } from '../sources/driver.builder.js';
import type { SourceContext, SourceEffect } from '../machines/source/source.types.js';
import type { CoreDeps } from './app.deps.js';
import { runSideEffects } from './dispatch-effects.js';
import type { SessionStore } from '../ports/session.store.port.js';

export const MAX_CONFLICT_RETRIES = 5;
/** How many transitions the item keeps for `sources show` (bounded so the item stays small). */
export const RECENT_TRANSITIONS = 8;

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
  deps: Pick<CoreDeps, 'sources' | 'drivers' | 'log'>,
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
    const spec = toMachineSpec(deps.drivers(record.config));
    const result = step(spec, record.snapshot, record.machineVersion, event);
    if (!result.changed) return { record, effects: result.effects, changed: false };
    const next = withDerived(record, result.snapshot, event, result.from, result.to, result.effects);
    try {
      next.version = await deps.sources.save(next, record.version);
      deps.log.info('machine stepped', {
        sourceId, event: event.type, from: result.from, to: result.to, effects: result.effects.map((e) => e.type), version: next.version,
      });
      return { record: next, effects: result.effects, changed: true };
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      deps.log.debug('version conflict, reloading', { sourceId, event: event.type, attempt });
      record = await deps.sources.get(sourceId);
    }
  }
}

function withDerived(
  record: SourceRecord,
  snapshot: unknown,
  event: SourceEvent,
  from: string,
  to: string,
  effects: SourceEffect[],
): SourceRecord {
  // The persisted snapshot holds the context verbatim; reading it needs no machine.
  const context = (snapshot as { context: SourceContext }).context;
  const trace: TransitionRecord = { at: event.now, event: event.type, from, to, effects: effects.map((e) => e.type) };
  return {
    ...record,
    snapshot,
    status: describeStatus(context, to),
    nextDueAt: nextWakeAt(context, to),
    recent: [...record.recent, trace].slice(-RECENT_TRANSITIONS),
  };
}

/** Report a frame outcome to its source and run the resulting side effects (what fetch-frame and persist share). */
export async function reportOutcome(
  deps: Pick<CoreDeps, 'sources' | 'drivers' | 'log' | 'metrics'> & { sessions?: SessionStore },
  sourceId: string,
  event: SourceEvent,
): Promise<void> {
  const applied = await applySourceEvent(deps, sourceId, event);
  if (applied) await runSideEffects(deps, sourceId, applied.effects);
}
