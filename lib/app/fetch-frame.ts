/**
 * Fetch one frame: obtain a session (reuse a live one; refresh or log in otherwise), read the vendor window since
 * the source's cursor, transform, and hand the batch to the persist queue (or report an empty frame at once).
 *
 * Failure policy (errors carry a kind):
 * - session invalid on a data call → log in again once, at once (nightscout-connect waited up to 24 h);
 * - retryable → report `frame.retrying` and ask SQS to redeliver after a capped exponential, jittered delay that
 *   honours Retry-After; the last allowed attempt reports `frame.failed` so the cycle backs off instead of the
 *   message sitting silently in a dead-letter queue;
 * - permanent → `frame.failed`, no retry;
 * - auth rejected → `auth.rejected` (the source parks; no login until credentials change). Before giving up, the
 *   credentials are re-read once without cache: if they changed meanwhile, one login with the new ones is allowed;
 * - locked out → `auth.lockedOut` with the instant before which nothing is attempted.
 */

import { backoffDelay, jitterFraction, withRetryAfter } from '../domain/backoff.js';
import { isSourceError, SessionInvalidError, type SourceError, summarizeFailure } from '../domain/errors.js';
import { type FrameMessage, MESSAGE_VERSION, type SessionInfo } from '../domain/messages.js';
import { batchSize } from '../domain/records.js';
import type { SourceCredentials } from '../domain/source.js';
import type { Driver, DriverContext, LoopSpec } from '../ports/driver.port.js';
import type { StoredSession } from '../ports/session.store.port.js';
import type { FetchDeps, Settlement } from './app.deps.js';
import { reportOutcome } from './apply-event.js';

/** Longest visibility backoff we ask SQS for (its own limit is 12 h; a frame older than this is stale anyway). */
export const MAX_RETRY_DELAY_MS = 15 * 60_000;

export async function fetchFrame(deps: FetchDeps, message: FrameMessage, receiveCount: number): Promise<Settlement> {
  const now = deps.clock.now();
  const driver = await deps.driverFor(message.config);
  const loop = driver.loops.find((l) => l.name === message.loop);
  const base = { now, loop: message.loop, frameId: message.frameId };
  if (!loop) {
    await reportOutcome(deps, message.sourceId, {
      type: 'frame.failed',
      ...base,
      stage: 'fetch',
      attempt: receiveCount,
      error: { kind: 'permanent', code: 'FRAME.UNKNOWN_LOOP' },
    });
    return { settle: 'done' };
  }
  const attemptBudget = Math.min(loop.attempts, deps.maxReceiveCount);
  let sessionInfo: SessionInfo | undefined;
  try {
    let credentials = await deps.credentials.get(message.sourceId);
    const settings = driver.parseSettings(message.config.settings);
    const ctxFor = (creds: SourceCredentials): DriverContext<unknown> => ({
      sourceId: message.sourceId,
      settings,
      credentials: creds,
      now,
      log: deps.log,
    });

    let stored = message.sessionMode === 'reuse' ? await deps.sessions.get(message.sourceId) : undefined;
    let loggedIn = false;
    const obtain = async (reason: string): Promise<StoredSession> => {
      const previous = stored ?? (await deps.sessions.get(message.sourceId));
      let next: StoredSession;
      try {
        next = await establish(deps, driver, ctxFor(credentials), previous, reason);
      } catch (err) {
        if (!isSourceError(err) || err.kind !== 'authRejected') throw err;
        // The secret may have been updated since we cached it: one login with fresh credentials, never a loop.
        const fresh = await deps.credentials.get(message.sourceId, { fresh: true });
        if (JSON.stringify(fresh) === JSON.stringify(credentials)) throw err;
        credentials = fresh;
        next = await establish(deps, driver, ctxFor(credentials), undefined, 'credentials changed');
      }
      loggedIn = true;
      sessionInfo = { establishedAt: next.establishedAt, expiresAt: next.expiresAt };
      await deps.sessions.put(message.sourceId, next);
      return next;
    };
    if (!stored || stored.expiresAt <= now) stored = await obtain(stored ? 'session expired' : 'no session');

    // A loop with a re-read window asks for what lies that far behind its cursor too (late rows; writers dedupe).
    const since = Math.max(
      now - loop.maxLookbackMs,
      message.cursor?.entries !== undefined ? message.cursor.entries - (loop.reread?.windowMs ?? 0) : 0,
    );
    const fetchWith = (session: StoredSession) =>
      loop.fetch({ ...ctxFor(credentials), session: session.material, cursor: message.cursor, since });
    let raw: unknown;
    try {
      raw = await fetchWith(stored);
    } catch (err) {
      if (!(err instanceof SessionInvalidError) || loggedIn) throw err;
      deps.log.info('vendor says the session is gone; logging in again once', {
        sourceId: message.sourceId,
        code: err.code,
      });
      stored = await obtain('session invalid');
      raw = await fetchWith(stored);
    }
    if (!sessionInfo && stored) sessionInfo = { establishedAt: stored.establishedAt, expiresAt: stored.expiresAt };

    const batch = loop.transform(raw, { sourceId: message.sourceId, settings, cursor: message.cursor, now });
    deps.metrics.count('FramesFetched');
    if (batchSize(batch) === 0) {
      // Nothing new: the cycle is complete without a Nightscout round trip.
      const cursor = message.cursor ?? {};
      await reportOutcome(deps, message.sourceId, {
        type: 'frame.persisted',
        ...base,
        cursor,
        newestReadingAt: cursor.entries,
        written: { entries: 0, treatments: 0, devicestatus: 0, profiles: 0 },
        session: sessionInfo,
      });
      return { settle: 'done' };
    }
    await deps.persistQueue.send([
      {
        body: {
          v: MESSAGE_VERSION,
          sourceId: message.sourceId,
          kind: message.kind,
          loop: message.loop,
          frameId: message.frameId,
          fetchedAt: now,
          cursor: message.cursor,
          session: sessionInfo,
          config: message.config,
          batch,
        },
        delaySeconds: 0,
      },
    ]);
    return { settle: 'done' };
  } catch (err) {
    return settleFailure(deps, message, err, receiveCount, attemptBudget, loop, sessionInfo);
  }
}

/** Refresh when the driver can and a previous session exists; otherwise authenticate + authorize. */
async function establish(
  deps: FetchDeps,
  driver: Driver,
  ctx: DriverContext<unknown>,
  previous: StoredSession | undefined,
  reason: string,
): Promise<StoredSession> {
  const now = ctx.now;
  if (previous && driver.session.refresh) {
    try {
      const grant = await driver.session.refresh(ctx, previous.material);
      deps.metrics.count('SessionRefreshes');
      return {
        material: grant.session,
        establishedAt: now,
        expiresAt: grant.expiresAt ?? now + driver.session.lifetimeMs,
      };
    } catch (err) {
      if (isSourceError(err) && (err.kind === 'lockedOut' || err.kind === 'retryable')) throw err;
      if (driver.session.loginWhenRefreshRejected === false) throw err;
      // A rejected refresh falls through to a full login (which may itself be rejected and park the source).
    }
  }
  deps.metrics.count('Logins');
  deps.log.info('logging in', { sourceId: ctx.sourceId, reason });
  const auth = await driver.session.authenticate(ctx);
  const grant = await driver.session.authorize(ctx, auth);
  return { material: grant.session, establishedAt: now, expiresAt: grant.expiresAt ?? now + driver.session.lifetimeMs };
}

async function settleFailure(
  deps: FetchDeps,
  message: FrameMessage,
  err: unknown,
  receiveCount: number,
  attemptBudget: number,
  loop: LoopSpec<unknown, unknown, unknown>,
  session: SessionInfo | undefined,
): Promise<Settlement> {
  const now = deps.clock.now();
  const error = summarizeFailure(err);
  const base = { now, loop: message.loop, frameId: message.frameId };
  deps.metrics.count(`FrameFailed_${error.kind}`);
  deps.log.warn('frame failed', {
    sourceId: message.sourceId,
    frameId: message.frameId,
    attempt: receiveCount,
    ...error,
  });
  const sourceErr = isSourceError(err) ? (err as SourceError) : undefined;
  switch (error.kind) {
    case 'authRejected':
      deps.metrics.count('AuthRejected');
      await deps.sessions.clear(message.sourceId);
      await reportOutcome(deps, message.sourceId, { type: 'auth.rejected', ...base, code: error.code });
      return { settle: 'done' };
    case 'lockedOut':
      await reportOutcome(deps, message.sourceId, {
        type: 'auth.lockedOut',
        ...base,
        code: error.code,
        until: sourceErr?.lockedUntil ?? now + 60 * 60_000,
      });
      return { settle: 'done' };
    case 'permanent':
      await reportOutcome(deps, message.sourceId, {
        type: 'frame.failed',
        ...base,
        stage: 'fetch',
        attempt: receiveCount,
        error,
        session,
      });
      return { settle: 'done' };
    case 'retryable': {
      const delay = retryDelay(loop, message.sourceId, message.frameId, receiveCount, sourceErr?.retryAfterMs);
      if (
        receiveCount >= attemptBudget ||
        (sourceErr?.retryAfterMs !== undefined && sourceErr.retryAfterMs > MAX_RETRY_DELAY_MS)
      ) {
        await reportOutcome(deps, message.sourceId, {
          type: 'frame.failed',
          ...base,
          stage: 'fetch',
          attempt: receiveCount,
          error,
          retryAfterMs: sourceErr?.retryAfterMs,
          session,
        });
        return { settle: 'done' };
      }
      await reportOutcome(deps, message.sourceId, {
        type: 'frame.retrying',
        ...base,
        stage: 'fetch',
        attempt: receiveCount,
        retryAt: now + delay,
        error,
        session,
      });
      return { settle: 'retry', delaySeconds: Math.ceil(delay / 1000) };
    }
  }
}

/**
 * Capped exponential with jitter for the n-th failed attempt of a frame, never shorter than Retry-After. The jitter is
 * keyed by source and frame: frame ids repeat across sources (`<loop>-<seq>`), and a vendor outage fails them all at
 * once, so a key without the source would bring every source back in the same second.
 */
export function retryDelay(
  loop: Pick<LoopSpec<unknown, unknown, unknown>, 'retry'>,
  sourceId: string,
  frameId: string,
  attempt: number,
  retryAfterMs?: number,
): number {
  const jittered = backoffDelay(loop.retry, attempt, jitterFraction(`${sourceId}:${frameId}:${attempt}:retry`));
  return withRetryAfter(jittered, retryAfterMs, MAX_RETRY_DELAY_MS);
}
