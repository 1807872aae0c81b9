/**
 * Executes the effects a saved step produced. Frame requests become queue messages whose delay makes them fire at
 * their due second (SQS allows ≤ 900 s; the tick's look-ahead is far shorter). Sending is at-least-once: a crash
 * before the send is repaired by the machine's resend deadline (its outbox), and a duplicate send is harmless because
 * outcomes for a frame id that is no longer current are ignored.
 */
import { type FrameMessage, MESSAGE_VERSION } from '../domain/messages.js';
import type { SourceConfig } from '../domain/source.js';
import type { SourceEffect } from '../machines/source/source.types.js';
import type { OutgoingMessage } from '../ports/queue.port.js';
import type { SessionStore } from '../ports/session.store.port.js';
import type { CoreDeps } from './app.deps.js';

export const MAX_DELAY_SECONDS = 900;

export function frameMessagesFor(
  config: SourceConfig,
  effects: SourceEffect[],
  now: number,
): OutgoingMessage<FrameMessage>[] {
  const out: OutgoingMessage<FrameMessage>[] = [];
  for (const effect of effects) {
    if (effect.type !== 'requestFrame') continue;
    const p = effect.params;
    out.push({
      body: {
        v: MESSAGE_VERSION,
        sourceId: config.id,
        kind: config.kind,
        loop: p.loop,
        frameId: p.frameId,
        dueAt: p.dueAt,
        sessionMode: p.sessionMode,
        cursor: p.cursor,
        config,
      },
      delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((p.dueAt - now) / 1000))),
    });
  }
  return out;
}

/** Effects other than frame requests: session discards and outcome metrics. */
export async function runSideEffects(
  deps: Pick<CoreDeps, 'metrics'> & { sessions?: SessionStore },
  sourceId: string,
  effects: SourceEffect[],
): Promise<void> {
  for (const effect of effects) {
    if (effect.type === 'discardSession' && deps.sessions) await deps.sessions.clear(sourceId);
    if (effect.type === 'recordOutcome') deps.metrics.count(`Outcome_${effect.params.outcome}`);
  }
}
