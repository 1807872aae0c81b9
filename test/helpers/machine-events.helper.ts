/**
 * Records every event the source machine receives through lib/app/apply-event.ts, while the real functions still
 * run. Use it with a module mock in the test file (the mock must be declared there, where Vitest hoists it):
 *
 *   vi.mock('../../../lib/app/apply-event.js', async (importOriginal) =>
 *     (await import('../../helpers/machine-events.helper.js')).recordMachineEvents(await importOriginal()));
 *
 * Callers inside apply-event.ts itself (reportOutcome → applySourceEvent) use the unwrapped function, so each event
 * is recorded exactly once. This module imports nothing at run time, so the mock factory cannot form a cycle.
 */
import type * as ApplyEvent from '../../lib/app/apply-event.js';
import type { SourceEvent } from '../../lib/domain/messages.js';

export interface ReceivedEvent {
  sourceId: string;
  event: SourceEvent;
}

/** Every event since the last `clearMachineEvents()`, in the order they were applied. */
export const machineEvents: ReceivedEvent[] = [];

export function clearMachineEvents(): void {
  machineEvents.length = 0;
}

export function recordMachineEvents(actual: typeof ApplyEvent): typeof ApplyEvent {
  return {
    ...actual,
    applySourceEvent: (deps, sourceId, event, preloaded) => {
      machineEvents.push({ sourceId, event: structuredClone(event) });
      return actual.applySourceEvent(deps, sourceId, event, preloaded);
    },
    reportOutcome: (deps, sourceId, event) => {
      machineEvents.push({ sourceId, event: structuredClone(event) });
      return actual.reportOutcome(deps, sourceId, event);
    },
  };
}
