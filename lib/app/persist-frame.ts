/**
 * Persist one fetched batch to the source's Nightscout site, then report `frame.persisted` with the advanced cursor
 * (the source's own durable cursor: it moves only after a successful write, so a failed write re-fetches the same
 * window next cycle and nothing is lost). Writes are idempotent (stable keys; devicestatus filtered by the writer),
 * so a redelivered message duplicates nothing.
 * Nightscout 5xx/timeouts are retryable (SQS redelivery with capped backoff; the last attempt reports the frame
 * failed so the cycle backs off); 401/403 parks the source with a reason naming Nightscout.
 */
import { isSourceError, summarizeFailure } from '../domain/errors.js';
import type { PersistMessage } from '../domain/messages.js';
import type { PersistDeps, Settlement } from './app.deps.js';
import { reportOutcome } from './apply-event.js';
import { retryDelay } from './fetch-frame.js';

/** Nightscout backoff: first retry after ~30 s, capped at 5 min per attempt. */
export const PERSIST_RETRY = { retry: { baseMs: 30_000, capMs: 5 * 60_000 } };

export async function persistFrame(
  deps: PersistDeps,
  message: PersistMessage,
  receiveCount: number,
): Promise<Settlement> {
  const declared = deps.declarationFor(message.config);
  const loop = declared.loops.find((l) => l.name === message.loop);
  const base = () => ({ now: deps.clock.now(), loop: message.loop, frameId: message.frameId });
  try {
    const credentials = await deps.credentials.get(message.sourceId);
    const writer = deps.writerFor(message.config.nightscout, credentials.nightscout);
    const result = await writer.persist({
      batch: message.batch,
      cursor: message.cursor,
      device: declared.device,
      now: deps.clock.now(),
      seedLookbackMs: loop?.maxLookbackMs ?? 24 * 60 * 60_000,
      // From the declaration, not the message: the loop spec is known here, so neither the queue body nor the stored
      // cursor grows.
      ...(loop?.reread ? { reread: loop.reread } : {}),
    });
    const now = deps.clock.now();
    const newestWritten = message.batch.entries.reduce((max, e) => Math.max(max, e.date), 0) || undefined;
    deps.metrics.count('ReadingsWritten', result.written.entries);
    for (const entry of message.batch.entries) {
      if (message.cursor?.entries === undefined || entry.date > message.cursor.entries)
        deps.metrics.timing('FreshnessLagMs', now - entry.date);
    }
    await reportOutcome(deps, message.sourceId, {
      type: 'frame.persisted',
      ...base(),
      cursor: result.cursor,
      written: result.written,
      newestReadingAt: Math.max(newestWritten ?? 0, result.cursor.entries ?? 0) || undefined,
      session: message.session,
    });
    return { settle: 'done' };
  } catch (err) {
    const error = summarizeFailure(err);
    deps.metrics.count('PersistFailed');
    deps.log.warn('persist failed', {
      sourceId: message.sourceId,
      frameId: message.frameId,
      attempt: receiveCount,
      ...error,
    });
    if (error.kind === 'authRejected') {
      await reportOutcome(deps, message.sourceId, { type: 'auth.rejected', ...base(), code: error.code });
      return { settle: 'done' };
    }
    const retryAfterMs = isSourceError(err) ? err.retryAfterMs : undefined;
    const budget = deps.maxReceiveCount;
    if (error.kind === 'retryable' && receiveCount < budget) {
      const delay = retryDelay(PERSIST_RETRY, message.sourceId, message.frameId, receiveCount, retryAfterMs);
      await reportOutcome(deps, message.sourceId, {
        type: 'frame.retrying',
        ...base(),
        stage: 'persist',
        attempt: receiveCount,
        retryAt: deps.clock.now() + delay,
        error,
        session: message.session,
      });
      return { settle: 'retry', delaySeconds: Math.ceil(delay / 1000) };
    }
    await reportOutcome(deps, message.sourceId, {
      type: 'frame.failed',
      ...base(),
      stage: 'persist',
      attempt: receiveCount,
      error,
      retryAfterMs,
      session: message.session,
    });
    return { settle: 'done' };
  }
}
