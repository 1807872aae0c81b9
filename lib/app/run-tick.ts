/**
 * The minute tick: find sources due up to now + look-ahead (sparse, sharded due index), step each with
 * `clock.ticked` under bounded concurrency, save, and send the frames they request with a delay so each fires at its
 * due second. Missed, late or duplicate ticks are harmless: a due source stays due until a tick advances it, and a
 * second tick finds its frame already in flight. The tick stops taking work well before its own deadline.
 */
import type { FrameMessage } from '../domain/messages.js';
import type { OutgoingMessage } from '../ports/queue.port.js';
import type { CoreDeps } from './app.deps.js';
import { applySourceEvent } from './apply-event.js';
import { frameMessagesFor, runSideEffects } from './dispatch-effects.js';

export const TICK_LOOKAHEAD_MS = 60_000;

export interface TickOptions {
  /** Sources stepped at once. */
  concurrency?: number;
  /** Wall-clock instant after which no new source is started (e.g. Lambda deadline − safety margin). */
  stopTakingWorkAt?: number;
  /** Upper bound on sources read per tick. */
  limit?: number;
}

export interface TickReport {
  due: number;
  advanced: number;
  framesSent: number;
  errors: number;
  skippedForDeadline: number;
}

export async function runTick(deps: CoreDeps, options: TickOptions = {}): Promise<TickReport> {
  const now = deps.clock.now();
  const horizon = now + TICK_LOOKAHEAD_MS;
  const due = await deps.sources.queryDue(horizon, options.limit);
  const report: TickReport = { due: due.length, advanced: 0, framesSent: 0, errors: 0, skippedForDeadline: 0 };
  const outgoing: OutgoingMessage<FrameMessage>[] = [];
  let next = 0;

  const worker = async () => {
    while (next < due.length) {
      const record = due[next++];
      if (options.stopTakingWorkAt !== undefined && deps.clock.now() >= options.stopTakingWorkAt) {
        report.skippedForDeadline++;
        continue;
      }
      try {
        const applied = await applySourceEvent(deps, record.id, { type: 'clock.ticked', now, horizon }, record);
        if (!applied) continue;
        if (applied.changed) report.advanced++;
        outgoing.push(...frameMessagesFor(applied.record.config, applied.effects, now));
        await runSideEffects(deps, record.id, applied.effects);
      } catch (err) {
        // One broken source must not stop the others; it stays due and is retried next tick.
        report.errors++;
        deps.log.error('tick failed for a source', { sourceId: record.id, error: describe(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, worker));

  if (outgoing.length) {
    await deps.frameQueue.send(outgoing);
    report.framesSent = outgoing.length;
  }
  deps.metrics.count('SourcesDue', report.due);
  deps.metrics.count('SourcesAdvanced', report.advanced);
  deps.metrics.count('FramesDispatched', report.framesSent);
  if (report.errors) deps.metrics.count('TickErrors', report.errors);
  deps.log.info('tick done', { ...report });
  return report;
}

/** Name and code only: error messages from adapters could in principle carry data we do not want in logs. */
export function describe(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { name: err.name, code: (err as { code?: string }).code, message: err.message };
  return { name: 'NonError' };
}
