/**
 * How the source machine's context changes: pure functions of the context and an event's facts, one per named action
 * in source.machine.ts, plus the scheduling rules they use (cycle backoff, alignment to reading slots, rechecks).
 * Each returns the part of the context it replaces, for `assign`.
 */

import { backoffDelay, jitterFraction, withRetryAfter } from '../../domain/backoff.js';
import type { FailureSummary } from '../../domain/errors.js';
import type { SourceEvent } from '../../domain/messages.js';
import { nextAlignedDue } from '../../domain/schedule.js';
import type { MachineLoopSpec } from './source.spec.js';
import type {
  FrameInFlight,
  LoopContext,
  RecordOutcomeParams,
  RequestFrameParams,
  SourceContext,
  SourceInput,
} from './source.types.js';

/** No outcome by dueAt + this ⇒ the frame is presumed lost and is sent again. Covers HTTP timeouts and a persist. */
export const ACK_WINDOW_MS = 3 * 60_000;
export const MAX_RESENDS = 2;
/** An early re-poll when the expected reading was not yet published, at most once per slot. */
export const RECHECK_DELAY_MS = 30_000;
export const MAX_RECHECKS = 1;
/** A `Retry-After` or lockout never parks a loop longer than this without a fresh look. */
export const MAX_CYCLE_DELAY_MS = 6 * 60 * 60_000;

export type FrameSessionMode = RequestFrameParams['sessionMode'];
type Event<T extends SourceEvent['type']> = Extract<SourceEvent, { type: T }>;
type Changes = Partial<SourceContext>;

/** Every loop is due at once: the first poll happens immediately (nightscout-connect parity). */
export function initialContext(input: SourceInput, loops: string[]): SourceContext {
  return {
    sourceId: input.sourceId,
    session: {},
    loops: Object.fromEntries(
      loops.map((name): [string, LoopContext] => [
        name,
        { dueAt: input.now, cursor: null, frame: null, failures: 0, seq: 0, rechecks: 0 },
      ]),
    ),
  };
}

export function isLive(context: SourceContext, now: number): boolean {
  return context.session.expiresAt !== undefined && context.session.expiresAt > now;
}

export function isDue(loop: LoopContext, horizon: number): boolean {
  return loop.frame === null && loop.dueAt <= horizon;
}

/** The frame a loop has in flight; only called where a guard established there is one. */
export function inFlight(context: SourceContext, loop: string): FrameInFlight {
  const frame = context.loops[loop].frame;
  if (!frame) throw new Error(`source machine: loop ${loop} has no frame in flight`);
  return frame;
}

/** New credentials deserve a prompt try: every loop without a frame in flight becomes due now. */
export function credentialsReset(context: SourceContext, now: number): Changes {
  return {
    session: {},
    loops: Object.fromEntries(
      Object.entries(context.loops).map(([n, l]) => [
        n,
        l.frame ? l : { ...l, dueAt: Math.min(l.dueAt, now), failures: 0 },
      ]),
    ),
  };
}

export function frameStarted(
  context: SourceContext,
  loop: string,
  sessionMode: FrameSessionMode,
  now: number,
): Changes {
  const current = context.loops[loop];
  const seq = current.seq + 1;
  const dueAt = Math.max(current.dueAt, now);
  const frame: FrameInFlight = {
    id: `${loop}-${seq}`,
    attempt: 1,
    stage: 'fetch',
    login: sessionMode === 'login',
    sentAt: now,
    dueAt,
    resendAt: dueAt + ACK_WINDOW_MS,
    resends: 0,
  };
  return { loops: { ...context.loops, [loop]: { ...current, seq, frame } } };
}

export function frameResent(context: SourceContext, loop: string, now: number): Changes {
  const frame = inFlight(context, loop);
  return {
    loops: {
      ...context.loops,
      [loop]: {
        ...context.loops[loop],
        frame: { ...frame, resends: frame.resends + 1, resendAt: now + ACK_WINDOW_MS },
      },
    },
  };
}

/** The frame is being retried (by SQS redrive): push its resend deadline past the next attempt. */
export function retryNoted(context: SourceContext, event: Event<'frame.retrying'>): Changes {
  const frame = inFlight(context, event.loop);
  const resendAt = Math.max(event.retryAt, event.now) + ACK_WINDOW_MS;
  return {
    loops: {
      ...context.loops,
      [event.loop]: {
        ...context.loops[event.loop],
        frame: { ...frame, attempt: event.attempt, stage: event.stage, resendAt },
      },
    },
    lastError: { ...event.error, at: event.now, loop: event.loop },
  };
}

/** A failed cycle: the loop backs off by the capped exponential formula, never sooner than a Retry-After. */
export function cycleFailed(
  context: SourceContext,
  loop: string,
  spec: MachineLoopSpec,
  now: number,
  error: FailureSummary,
  retryAfterMs: number | undefined,
): Changes {
  const current = context.loops[loop];
  const failures = current.failures + 1;
  const fraction = jitterFraction(`${context.sourceId}:${current.frame?.id ?? current.seq}:cycle`);
  const delay = withRetryAfter(backoffDelay(spec.backoff, failures, fraction), retryAfterMs, MAX_CYCLE_DELAY_MS);
  return {
    loops: { ...context.loops, [loop]: { ...current, frame: null, failures, dueAt: now + delay } },
    lastError: { ...error, at: now, loop },
  };
}

/** A persisted frame: advance the cursor and schedule the next frame for the next expected reading. */
export function cycleCompleted(
  context: SourceContext,
  event: Event<'frame.persisted'>,
  spec: MachineLoopSpec,
): Changes {
  const current = context.loops[event.loop];
  const newest = maxDefined(event.newestReadingAt, event.cursor.entries, context.newestReadingAt);
  const gotNew =
    event.newestReadingAt !== undefined &&
    (context.newestReadingAt === undefined || event.newestReadingAt > context.newestReadingAt);
  const rechecks = gotNew ? 0 : current.rechecks;
  const { dueAt, recheck } = scheduleAfterSuccess(context.sourceId, event.frameId, spec, event.now, newest, rechecks);
  return {
    newestReadingAt: newest,
    loops: {
      ...context.loops,
      [event.loop]: {
        ...current,
        frame: null,
        failures: 0,
        cursor: event.cursor,
        dueAt,
        rechecks: recheck ? rechecks + 1 : rechecks,
        lastSuccessAt: event.now,
      },
    },
  };
}

/** Rejected: the loop waits for credentials.changed (the session region gates it). Locked: not before `until`. */
export function loopParked(
  context: SourceContext,
  event: Event<'auth.rejected' | 'auth.lockedOut'>,
  spec: MachineLoopSpec,
): Changes {
  const locked = event.type === 'auth.lockedOut';
  const dueAt = locked ? Math.max(event.until, event.now) : event.now + spec.intervalMs;
  return {
    loops: { ...context.loops, [event.loop]: { ...context.loops[event.loop], frame: null, dueAt } },
    lastError: { kind: locked ? 'lockedOut' : 'authRejected', code: event.code, at: event.now, loop: event.loop },
  };
}

/** The request for a frame just started. */
export function firstRequest(context: SourceContext, loop: string, sessionMode: FrameSessionMode): RequestFrameParams {
  const frame = inFlight(context, loop);
  return {
    loop,
    frameId: frame.id,
    dueAt: frame.dueAt,
    sessionMode,
    cursor: context.loops[loop].cursor,
    resend: false,
  };
}

/** The request for a frame sent again. A lost login frame may log in again only if no live session exists meanwhile. */
export function resendRequest(context: SourceContext, loop: string, now: number): RequestFrameParams {
  const frame = inFlight(context, loop);
  const sessionMode: FrameSessionMode = isLive(context, now) ? 'reuse' : frame.login ? 'login' : 'reuse';
  return { loop, frameId: frame.id, dueAt: now, sessionMode, cursor: context.loops[loop].cursor, resend: true };
}

export function outcomeOf(
  loop: string,
  outcome: RecordOutcomeParams['outcome'],
  event: Event<'frame.failed' | 'frame.persisted' | 'auth.rejected' | 'auth.lockedOut'>,
): RecordOutcomeParams {
  const code = 'error' in event ? event.error.code : event.type === 'frame.persisted' ? undefined : event.code;
  const written =
    event.type === 'frame.persisted' ? Object.values(event.written).reduce((a, b) => a + b, 0) : undefined;
  return { loop, outcome, code, written };
}

/**
 * After a successful cycle: align to the next expected reading slot; if the reading expected for the slot we just
 * polled was not published yet, look again once shortly (a missed slot would otherwise cost 5 minutes of freshness).
 */
export function scheduleAfterSuccess(
  sourceId: string,
  frameId: string,
  spec: MachineLoopSpec,
  now: number,
  newestReadingAt: number | undefined,
  rechecks: number,
): { dueAt: number; recheck: boolean } {
  const fraction = jitterFraction(`${sourceId}:${frameId}:align`);
  const aligned = nextAlignedDue(
    { intervalMs: spec.intervalMs, lagMs: spec.align.lagMs, jitterMs: spec.align.jitterMs },
    now,
    newestReadingAt,
    fraction,
  );
  if (newestReadingAt === undefined) return { dueAt: aligned, recheck: false };
  const age = now - newestReadingAt;
  const expectedMissing = age > spec.intervalMs + spec.align.lagMs && age < 3 * spec.intervalMs;
  if (expectedMissing && rechecks < MAX_RECHECKS && now + RECHECK_DELAY_MS < aligned) {
    return { dueAt: now + RECHECK_DELAY_MS, recheck: true };
  }
  return { dueAt: aligned, recheck: false };
}

function maxDefined(...values: Array<number | undefined>): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length ? Math.max(...defined) : undefined;
}
