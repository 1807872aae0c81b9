/**
 * The source machine: nightscout-connect's poller ("bus"), session, cycle and fetch-frame machines folded into one
 * durable statechart that is stepped with `initialTransition`/`transition` and persisted as a small JSON snapshot.
 *
 * States (parallel regions):
 * - `operation`: `running` | `paused` (operator pause/resume).
 * - `session`:   `idle` (no live session) → `authenticating` (a frame carries the login) → `active` (until its real
 *                expiry) ; `rejected` (bad credentials: parked until `credentials.changed`) ; `lockedOut` (until an
 *                instant; no attempt before it).
 * - `loops.<name>`, one per driver loop: `waiting` (until `dueAt`) → `fetching` (frame in flight, fetch stage) →
 *                `persisting` (fetched, Nightscout write being retried) → `waiting`; `backingOff` after a failed cycle.
 *
 * Effects (returned as actions, executed by lib/app after the save): `requestFrame`, `discardSession`,
 * `recordOutcome`. No `after`, no `invoke`, no clock: every event carries `now`; randomness is a hash of ids.
 */
import { and, assign, not, or, setup, stateIn, type AnyEventObject } from 'xstate';
import type { SourceEvent } from '../../domain/messages.js';
import type { FailureSummary } from '../../domain/errors.js';
import type { MachineLoopSpec, MachineSpec } from './source.spec.js';
import { backoffDelay, jitterFraction, withRetryAfter } from '../../domain/backoff.js';
import { nextAlignedDue } from '../../domain/schedule.js';
import type { FrameInFlight, LoopContext, SourceContext, SourceInput } from './source.types.js';

/** No outcome by dueAt + this ⇒ the frame is presumed lost and is sent again. Covers HTTP timeouts and a persist. */
export const ACK_WINDOW_MS = 3 * 60_000;
export const MAX_RESENDS = 2;
/** An early re-poll when the expected reading was not yet published, at most once per slot. */
export const RECHECK_DELAY_MS = 30_000;
export const MAX_RECHECKS = 1;
/** A `Retry-After` or lockout never parks a loop longer than this without a fresh look. */
export const MAX_CYCLE_DELAY_MS = 6 * 60 * 60_000;

type Ev = SourceEvent;
type FrameEvent = Extract<Ev, { frameId: string }>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

const SESSION_ACTIVE = '#source.session.active';
const SESSION_IDLE = '#source.session.idle';
const RUNNING = '#source.operation.running';

export function createSourceMachine(spec: MachineSpec) {
  const loopSpecs = new Map(spec.loops.map((l) => [l.name, l]));
  const loopOrder = spec.loops.map((l) => l.name);

  const isLive = (ctx: SourceContext, now: number) => ctx.session.expiresAt !== undefined && ctx.session.expiresAt > now;
  const isDue = (loop: LoopContext, horizon: number) => loop.frame === null && loop.dueAt <= horizon;
  /** The one loop allowed to carry a login: the first due loop in driver order (one login for all loops). */
  const loginLoop = (ctx: SourceContext, horizon: number) => loopOrder.find((name) => isDue(ctx.loops[name], horizon));
  const frameOf = (ctx: SourceContext, e: AnyEventObject) => {
    const ev = e as FrameEvent;
    const frame = ctx.loops[ev.loop]?.frame;
    return frame && frame.id === ev.frameId ? frame : null;
  };

  const machine = setup({
    types: {} as { context: SourceContext; events: Ev; input: SourceInput },
    actions: {
      requestFrame: (_, _params: { loop: string; frameId: string; dueAt: number; sessionMode: 'login' | 'reuse'; cursor: unknown; resend: boolean }) => {},
      discardSession: (_, _params: { reason: string }) => {},
      recordOutcome: (_, _params: { loop?: string; outcome: string; code?: string; written?: number }) => {},
      storeSession: assign(({ context, event }) => {
        const session = (event as { session?: { establishedAt: number; expiresAt: number } }).session;
        return session ? { session: { establishedAt: session.establishedAt, expiresAt: session.expiresAt } } : {};
      }),
      parkSession: assign(({ event }) => ({ session: { code: (event as Extract<Ev, { type: 'auth.rejected' }>).code } })),
      lockSession: assign(({ event }) => {
        const ev = event as Extract<Ev, { type: 'auth.lockedOut' }>;
        return { session: { lockedUntil: ev.until, code: ev.code } };
      }),
      noteRetry: assign(({ context, event }) => {
        const ev = event as Extract<Ev, { type: 'frame.retrying' }>;
        const loop = context.loops[ev.loop];
        const frame = loop.frame as FrameInFlight;
        return {
          loops: { ...context.loops, [ev.loop]: { ...loop, frame: { ...frame, attempt: ev.attempt, stage: ev.stage, resendAt: Math.max(ev.retryAt, ev.now) + ACK_WINDOW_MS } } },
          lastError: { ...ev.error, at: ev.now, loop: ev.loop },
        };
      }),
      failCycle: assign(({ context, event }) => {
        const ev = event as Extract<Ev, { type: 'frame.failed' }>;
        return failLoop(context, ev.loop, loopSpecs.get(ev.loop) as MachineLoopSpec, ev.now, ev.error, ev.retryAfterMs);
      }),
      completeCycle: assign(({ context, event }) => {
        const ev = event as Extract<Ev, { type: 'frame.persisted' }>;
        const loop = context.loops[ev.loop];
        const spec = loopSpecs.get(ev.loop) as MachineLoopSpec;
        const newest = maxDefined(ev.newestReadingAt, ev.cursor.entries, context.newestReadingAt);
        const gotNew = ev.newestReadingAt !== undefined && (context.newestReadingAt === undefined || ev.newestReadingAt > context.newestReadingAt);
        const rechecks = gotNew ? 0 : loop.rechecks;
        const { dueAt, recheck } = scheduleAfterSuccess(context.sourceId, ev.frameId, spec, ev.now, newest, rechecks);
        return {
          newestReadingAt: newest,
          loops: {
            ...context.loops,
            [ev.loop]: { ...loop, frame: null, failures: 0, cursor: ev.cursor, dueAt, rechecks: recheck ? rechecks + 1 : rechecks, lastSuccessAt: ev.now },
          },
        };
      }),
      parkLoop: assign(({ context, event }) => {
        const ev = event as Extract<Ev, { type: 'auth.rejected' | 'auth.lockedOut' }>;
        const loop = context.loops[ev.loop];
        const spec = loopSpecs.get(ev.loop) as MachineLoopSpec;
        // Rejected: the loop waits for credentials.changed (the session region gates it). Locked: not before `until`.
        const dueAt = ev.type === 'auth.lockedOut' ? Math.max(ev.until, ev.now) : ev.now + spec.intervalMs;
        return {
          loops: { ...context.loops, [ev.loop]: { ...loop, frame: null, dueAt } },
          lastError: { kind: ev.type === 'auth.lockedOut' ? 'lockedOut' : 'authRejected', code: ev.code, at: ev.now, loop: ev.loop },
        };
      }),
    },
    guards: {
      sessionLive: ({ context, event }) => isLive(context, (event as Ev).now),
      sessionExpired: ({ context, event }) => context.session.expiresAt !== undefined && !isLive(context, (event as Ev).now),
      anyLoopDue: ({ context, event }) => loginLoop(context, (event as Extract<Ev, { type: 'clock.ticked' }>).horizon) !== undefined,
      lockoutOver: ({ context, event }) => (context.session.lockedUntil ?? 0) <= (event as Ev).now,
      loginFrameGone: ({ context }) => !Object.values(context.loops).some((l) => l.frame?.login),
      carriesSession: ({ event }) => 'session' in event && (event as { session?: unknown }).session !== undefined,
    },
  }).createMachine({
    id: 'source',
    type: 'parallel',
    context: ({ input }) => ({
      sourceId: input.sourceId,
      session: {},
      // First poll immediately at start (nightscout-connect parity).
      loops: Object.fromEntries(loopOrder.map((name) => [name, { dueAt: input.now, cursor: null, frame: null, failures: 0, seq: 0, rechecks: 0 }])),
    }),
    states: {
      operation: {
        initial: 'running',
        states: {
          running: { on: { 'source.paused': 'paused' } },
          paused: { on: { 'source.resumed': 'running' } },
        },
      },
      session: {
        initial: 'idle',
        on: {
          'credentials.changed': {
            target: '.idle',
            actions: [
              // New credentials deserve a prompt try: every idle loop becomes due now.
              assign(({ context, event }) => ({
                session: {},
                loops: Object.fromEntries(Object.entries(context.loops).map(([n, l]) => [n, l.frame ? l : { ...l, dueAt: Math.min(l.dueAt, event.now), failures: 0 }])),
              })),
              { type: 'discardSession', params: { reason: 'credentials changed' } },
            ],
          },
        },
        states: {
          idle: {
            on: { 'clock.ticked': { guard: and([stateIn(RUNNING), 'anyLoopDue']), target: 'authenticating' } },
          },
          authenticating: {
            on: {
              'frame.persisted': { guard: 'carriesSession', target: 'active', actions: 'storeSession' },
              'frame.retrying': { guard: 'carriesSession', target: 'active', actions: 'storeSession' },
              'frame.failed': [
                { guard: 'carriesSession', target: 'active', actions: 'storeSession' },
                { target: 'idle' },
              ],
              'auth.rejected': { target: 'rejected', actions: 'parkSession' },
              'auth.lockedOut': { target: 'lockedOut', actions: 'lockSession' },
              // The login frame vanished without a word (it was counted lost): allow a new login.
              'clock.ticked': { guard: 'loginFrameGone', target: 'idle' },
            },
          },
          active: {
            on: {
              'frame.persisted': { guard: 'carriesSession', actions: 'storeSession' },
              'frame.retrying': { guard: 'carriesSession', actions: 'storeSession' },
              'frame.failed': { guard: 'carriesSession', actions: 'storeSession' },
              'auth.rejected': { target: 'rejected', actions: 'parkSession' },
              'auth.lockedOut': { target: 'lockedOut', actions: 'lockSession' },
              'clock.ticked': [
                { guard: and(['sessionExpired', stateIn(RUNNING), 'anyLoopDue']), target: 'authenticating' },
                { guard: 'sessionExpired', target: 'idle', actions: { type: 'discardSession', params: { reason: 'session expired' } } },
              ],
            },
          },
          rejected: {},
          lockedOut: {
            on: {
              'clock.ticked': { guard: 'lockoutOver', target: 'idle', actions: assign({ session: {} }) },
            },
          },
        },
      },
      loops: {
        type: 'parallel',
        states: Object.fromEntries(loopOrder.map((name) => [name, loopRegion(name)])),
      },
    },
  });

  // xstate cannot infer types for regions generated per driver loop; these configs are typed loosely on purpose
  // and covered by the machine tests (including model-based path coverage) instead.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function loopRegion(name: string): any {
    const loopSpec = loopSpecs.get(name) as MachineLoopSpec;
    const mine: Loose = ({ event }: { event: AnyEventObject }) => (event as FrameEvent).loop === name;
    const current: Loose = ({ context, event }: { context: SourceContext; event: AnyEventObject }) =>
      mine({ event }) && frameOf(context, event) !== null;
    const due: Loose = ({ context, event }: { context: SourceContext; event: AnyEventObject }) =>
      isDue(context.loops[name], (event as Extract<Ev, { type: 'clock.ticked' }>).horizon);
    const mayLogin: Loose = ({ context, event }: { context: SourceContext; event: AnyEventObject }) =>
      loginLoop(context, (event as Extract<Ev, { type: 'clock.ticked' }>).horizon) === name;
    const stale: Loose = ({ context, event }: { context: SourceContext; event: AnyEventObject }) => {
      const frame = context.loops[name].frame;
      return frame !== null && frame.resendAt <= (event as Ev).now;
    };
    const canResend: Loose = ({ context }: { context: SourceContext }) => (context.loops[name].frame?.resends ?? MAX_RESENDS) < MAX_RESENDS;

    const start = (sessionMode: 'login' | 'reuse') => [
      assign(({ context, event }: { context: SourceContext; event: AnyEventObject }) => {
        const loop = context.loops[name];
        const now = (event as Ev).now;
        const seq = loop.seq + 1;
        const dueAt = Math.max(loop.dueAt, now);
        const frame: FrameInFlight = {
          id: `${name}-${seq}`, attempt: 1, stage: 'fetch', login: sessionMode === 'login',
          sentAt: now, dueAt, resendAt: dueAt + ACK_WINDOW_MS, resends: 0,
        };
        return { loops: { ...context.loops, [name]: { ...loop, seq, frame } } };
      }),
      {
        type: 'requestFrame' as const,
        params: ({ context }: { context: SourceContext }) => {
          const loop = context.loops[name];
          const frame = loop.frame as FrameInFlight;
          return { loop: name, frameId: frame.id, dueAt: frame.dueAt, sessionMode, cursor: loop.cursor, resend: false };
        },
      },
    ];

    const inFlight = {
      'frame.retrying': [
        {
          guard: and([current, (({ event }: { event: AnyEventObject }) => (event as Extract<Ev, { type: 'frame.retrying' }>).stage === 'persist') as Loose]),
          target: 'persisting',
          actions: 'noteRetry',
        },
        { guard: current, target: 'fetching', actions: 'noteRetry' },
      ],
      'frame.failed': { guard: current, target: 'backingOff', actions: ['failCycle', { type: 'recordOutcome', params: outcomeParams('failed') }] },
      'frame.persisted': { guard: current, target: 'waiting', actions: ['completeCycle', { type: 'recordOutcome', params: outcomeParams('persisted') }] },
      'auth.rejected': { guard: current, target: 'waiting', actions: ['parkLoop', { type: 'recordOutcome', params: outcomeParams('authRejected') }] },
      'auth.lockedOut': { guard: current, target: 'waiting', actions: ['parkLoop', { type: 'recordOutcome', params: outcomeParams('lockedOut') }] },
      'clock.ticked': [
        {
          guard: and([stale, canResend]),
          actions: [
            assign(({ context, event }: { context: SourceContext; event: AnyEventObject }) => {
              const loop = context.loops[name];
              const frame = loop.frame as FrameInFlight;
              const now = (event as Ev).now;
              return { loops: { ...context.loops, [name]: { ...loop, frame: { ...frame, resends: frame.resends + 1, resendAt: now + ACK_WINDOW_MS } } } };
            }),
            {
              type: 'requestFrame' as const,
              params: ({ context, event }: { context: SourceContext; event: AnyEventObject }) => {
                const loop = context.loops[name];
                const frame = loop.frame as FrameInFlight;
                // A lost login frame may log in again only if no live session exists meanwhile.
                const sessionMode: 'login' | 'reuse' = isLive(context, (event as Ev).now) ? 'reuse' : frame.login ? 'login' : 'reuse';
                return { loop: name, frameId: frame.id, dueAt: (event as Ev).now, sessionMode, cursor: loop.cursor, resend: true };
              },
            },
          ],
        },
        {
          guard: stale,
          target: 'backingOff',
          actions: [
            assign(({ context, event }: { context: SourceContext; event: AnyEventObject }) =>
              failLoop(context, name, loopSpec, (event as Ev).now, { kind: 'retryable', code: 'FRAME.LOST' }, undefined)),
            { type: 'recordOutcome', params: { loop: name, outcome: 'lost', code: 'FRAME.LOST' } },
          ],
        },
      ],
    };

    const idleOn = {
      'clock.ticked': [
        { guard: and([stateIn(RUNNING), due, stateIn(SESSION_ACTIVE), 'sessionLive']), target: 'fetching', actions: start('reuse') },
        {
          guard: and([stateIn(RUNNING), due, mayLogin, or([stateIn(SESSION_IDLE), and([stateIn(SESSION_ACTIVE), not('sessionLive')])])]),
          target: 'fetching',
          actions: start('login'),
        },
      ],
    };

    return {
      initial: 'waiting',
      states: {
        waiting: { on: idleOn },
        backingOff: { on: idleOn },
        fetching: { on: inFlight },
        persisting: { on: inFlight },
      },
    };

    function outcomeParams(outcome: 'failed' | 'persisted' | 'authRejected' | 'lockedOut') {
      return ({ event }: { event: AnyEventObject }) => {
        const ev = event as FrameEvent;
        const code = 'error' in ev ? ev.error.code : 'code' in ev ? ev.code : undefined;
        const written = ev.type === 'frame.persisted' ? Object.values(ev.written).reduce((a, b) => a + b, 0) : undefined;
        return { loop: name, outcome, code, written };
      };
    }
  }

  return machine;
}

function failLoop(
  context: SourceContext,
  name: string,
  spec: MachineLoopSpec,
  now: number,
  error: FailureSummary,
  retryAfterMs: number | undefined,
): Partial<SourceContext> {
  const loop = context.loops[name];
  const failures = loop.failures + 1;
  const fraction = jitterFraction(`${context.sourceId}:${loop.frame?.id ?? loop.seq}:cycle`);
  const delay = withRetryAfter(backoffDelay(spec.backoff, failures, fraction), retryAfterMs, MAX_CYCLE_DELAY_MS);
  return {
    loops: { ...context.loops, [name]: { ...loop, frame: null, failures, dueAt: now + delay } },
    lastError: { ...error, at: now, loop: name },
  };
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
  const aligned = nextAlignedDue({ intervalMs: spec.intervalMs, lagMs: spec.align.lagMs, jitterMs: spec.align.jitterMs }, now, newestReadingAt, fraction);
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

export type SourceMachine = ReturnType<typeof createSourceMachine>;
