/** Tick handler factory: wiring only. Stops taking work 10 s before the Lambda deadline. */

import type { CoreDeps } from '../app.deps.js';
import { runTick, type TickReport } from '../run-tick.js';

export const DEADLINE_MARGIN_MS = 10_000;

export function makeTickHandler(deps: CoreDeps, flush: () => void = () => {}) {
  return async (_event: unknown, context?: { getRemainingTimeInMillis(): number }): Promise<TickReport> => {
    const stopTakingWorkAt = context ? Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS : undefined;
    try {
      return await runTick(deps, { stopTakingWorkAt });
    } finally {
      flush();
    }
  };
}
