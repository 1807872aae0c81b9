/**
 * The source machine: nightscout-connect's poller ("bus"), session, cycle and fetch-frame machines folded into one
 * durable statechart that is stepped with `initialTransition`/`transition` and persisted as a small JSON snapshot.
 *
 * States (parallel regions; their modes are typed in source.state.ts):
 * - `operation`: `running` | `paused` (operator pause/resume).
 * - `session`:   `idle` (no live session) → `authenticating` (a frame carries the login) → `active` (until its real
 *                expiry) ; `rejected` (bad credentials: parked until `credentials.changed`) ; `lockedOut` (until an
 *                instant; no attempt before it).
 * - `loops.<name>`, one per driver loop: `waiting` (until `dueAt`) → `fetching` (frame in flight, fetch stage) →
 *                `persisting` (fetched, Nightscout write being retried) → `waiting`; `backingOff` after a failed cycle.
 *
 * Effects (actions without an implementation, returned by `transition` and executed by lib/app after the save; one
 * params type each in source.types.ts): `requestFrame`, `discardSession`, `recordOutcome`.
 * No `after`, no `invoke`, no clock: every event carries `now`; randomness is a hash of ids.
 *
 * Read on: the named guards and actions (the context arithmetic is in source.context.ts), then the chart.
 */
import { and, assertEvent, assign, not, or, setup, stateIn } from 'xstate';
import type { SourceEvent } from '../../domain/messages.js';
import {
  credentialsReset,
  cycleCompleted,
  cycleFailed,
  type FrameSessionMode,
  firstRequest,
  frameResent,
  frameStarted,
  initialContext,
  isDue,
  isLive,
  loopParked,
  MAX_RESENDS,
  outcomeOf,
  resendRequest,
  retryNoted,
} from './source.context.js';
import type { MachineLoopSpec, MachineSpec } from './source.spec.js';
import type {
  DiscardSessionParams,
  RecordOutcomeParams,
  RequestFrameParams,
  SourceContext,
  SourceInput,
} from './source.types.js';

const RUNNING = '#source.operation.running';
const SESSION_IDLE = '#source.session.idle';
const SESSION_ACTIVE = '#source.session.active';

/** Guards and actions of a loop region name their loop. */
type LoopParams = { loop: string };

export function createSourceMachine(spec: MachineSpec) {
  const loopOrder = spec.loops.map((l) => l.name);
  const loopSpecs = new Map(spec.loops.map((l) => [l.name, l]));
  const specOf = (loop: string): MachineLoopSpec => {
    const found = loopSpecs.get(loop);
    if (!found) throw new Error(`source machine for ${spec.kind}: no loop named ${loop}`);
    return found;
  };
  /** The one loop allowed to carry a login: the first due loop in driver order (one login for all loops). */
  const loginLoop = (context: SourceContext, horizon: number) =>
    loopOrder.find((name) => isDue(context.loops[name], horizon));

  const source = setup({
    types: {} as { context: SourceContext; events: SourceEvent; input: SourceInput },
    guards: {
      isSessionLive: ({ context, event }) => isLive(context, event.now),
      isSessionExpired: ({ context, event }) => context.session.expiresAt !== undefined && !isLive(context, event.now),
      isAnyLoopDue: ({ context, event }) => {
        assertEvent(event, 'clock.ticked');
        return loginLoop(context, event.horizon) !== undefined;
      },
      isLockoutOver: ({ context, event }) => (context.session.lockedUntil ?? 0) <= event.now,
      isLoginFrameGone: ({ context }) => !Object.values(context.loops).some((l) => l.frame?.login),
      /** The outcome reports the session fetch-frame used (it logged in or renewed). */
      hasSessionInfo: ({ event }) => 'session' in event && event.session !== undefined,
      /** The outcome is for the frame this loop has in flight (stale and duplicate outcomes are ignored). */
      isCurrentFrame: ({ context, event }, { loop }: LoopParams) =>
        'frameId' in event && event.loop === loop && context.loops[loop].frame?.id === event.frameId,
      isPersistStage: ({ event }) => event.type === 'frame.retrying' && event.stage === 'persist',
      isLoopDue: ({ context, event }, { loop }: LoopParams) => {
        assertEvent(event, 'clock.ticked');
        return isDue(context.loops[loop], event.horizon);
      },
      isLoginLoop: ({ context, event }, { loop }: LoopParams) => {
        assertEvent(event, 'clock.ticked');
        return loginLoop(context, event.horizon) === loop;
      },
      /** No word about the frame by its resend deadline. */
      isFrameOverdue: ({ context, event }, { loop }: LoopParams) => {
        const frame = context.loops[loop].frame;
        return frame !== null && frame.resendAt <= event.now;
      },
      canResendFrame: ({ context }, { loop }: LoopParams) =>
        (context.loops[loop].frame?.resends ?? MAX_RESENDS) < MAX_RESENDS,
    },
    actions: {
      // Effects: no implementation here; lib/app executes them after the snapshot is saved.
      requestFrame: (_, _params: RequestFrameParams) => {},
      discardSession: (_, _params: DiscardSessionParams) => {},
      recordOutcome: (_, _params: RecordOutcomeParams) => {},
      // The session region's context.
      storeSession: assign(({ event }) => {
        assertEvent(event, ['frame.persisted', 'frame.retrying', 'frame.failed']);
        return event.session
          ? { session: { establishedAt: event.session.establishedAt, expiresAt: event.session.expiresAt } }
          : {};
      }),
      parkSession: assign(({ event }) => {
        assertEvent(event, 'auth.rejected');
        return { session: { code: event.code } };
      }),
      lockSession: assign(({ event }) => {
        assertEvent(event, 'auth.lockedOut');
        return { session: { lockedUntil: event.until, code: event.code } };
      }),
      clearSession: assign({ session: {} }),
      resetForNewCredentials: assign(({ context, event }) => credentialsReset(context, event.now)),
      // A loop region's context.
      startFrame: assign(({ context, event }, { loop, sessionMode }: LoopParams & { sessionMode: FrameSessionMode }) =>
        frameStarted(context, loop, sessionMode, event.now),
      ),
      markFrameResent: assign(({ context, event }, { loop }: LoopParams) => frameResent(context, loop, event.now)),
      loseFrame: assign(({ context, event }, { loop }: LoopParams) =>
        cycleFailed(context, loop, specOf(loop), event.now, { kind: 'retryable', code: 'FRAME.LOST' }, undefined),
      ),
      noteRetry: assign(({ context, event }) => {
        assertEvent(event, 'frame.retrying');
        return retryNoted(context, event);
      }),
      failCycle: assign(({ context, event }) => {
        assertEvent(event, 'frame.failed');
        return cycleFailed(context, event.loop, specOf(event.loop), event.now, event.error, event.retryAfterMs);
      }),
      completeCycle: assign(({ context, event }) => {
        assertEvent(event, 'frame.persisted');
        return cycleCompleted(context, event, specOf(event.loop));
      }),
      parkLoop: assign(({ context, event }) => {
        assertEvent(event, ['auth.rejected', 'auth.lockedOut']);
        return loopParked(context, event, specOf(event.loop));
      }),
    },
  });

  return source.createMachine({
    id: 'source',
    type: 'parallel',
    context: ({ input }) => initialContext(input, loopOrder),
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
            actions: ['resetForNewCredentials', { type: 'discardSession', params: { reason: 'credentials changed' } }],
          },
        },
        states: {
          idle: {
            on: { 'clock.ticked': { guard: and([stateIn(RUNNING), 'isAnyLoopDue']), target: 'authenticating' } },
          },
          authenticating: {
            on: {
              'frame.persisted': { guard: 'hasSessionInfo', target: 'active', actions: 'storeSession' },
              'frame.retrying': { guard: 'hasSessionInfo', target: 'active', actions: 'storeSession' },
              'frame.failed': [
                { guard: 'hasSessionInfo', target: 'active', actions: 'storeSession' },
                { target: 'idle' },
              ],
              'auth.rejected': { target: 'rejected', actions: 'parkSession' },
              'auth.lockedOut': { target: 'lockedOut', actions: 'lockSession' },
              // The login frame vanished without a word (it was counted lost): allow a new login.
              'clock.ticked': { guard: 'isLoginFrameGone', target: 'idle' },
            },
          },
          active: {
            on: {
              'frame.persisted': { guard: 'hasSessionInfo', actions: 'storeSession' },
              'frame.retrying': { guard: 'hasSessionInfo', actions: 'storeSession' },
              'frame.failed': { guard: 'hasSessionInfo', actions: 'storeSession' },
              'auth.rejected': { target: 'rejected', actions: 'parkSession' },
              'auth.lockedOut': { target: 'lockedOut', actions: 'lockSession' },
              'clock.ticked': [
                { guard: and(['isSessionExpired', stateIn(RUNNING), 'isAnyLoopDue']), target: 'authenticating' },
                {
                  guard: 'isSessionExpired',
                  target: 'idle',
                  actions: { type: 'discardSession', params: { reason: 'session expired' } },
                },
              ],
            },
          },
          rejected: {},
          lockedOut: {
            on: { 'clock.ticked': { guard: 'isLockoutOver', target: 'idle', actions: 'clearSession' } },
          },
        },
      },
      loops: {
        type: 'parallel',
        states: Object.fromEntries(loopOrder.map((name) => [name, loopRegion(name)])),
      },
    },
  });

  /** One region per driver loop; the guards and actions take the loop's name as a parameter. */
  function loopRegion(loop: string) {
    const mine = { loop };
    const isCurrent = { type: 'isCurrentFrame', params: mine } as const;
    const isOverdue = { type: 'isFrameOverdue', params: mine } as const;
    const isDueNow = { type: 'isLoopDue', params: mine } as const;
    const start = (sessionMode: FrameSessionMode) =>
      [
        { type: 'startFrame', params: { loop, sessionMode } },
        {
          type: 'requestFrame',
          params: ({ context }: { context: SourceContext }) => firstRequest(context, loop, sessionMode),
        },
      ] as const;
    const recordOutcome = (outcome: RecordOutcomeParams['outcome']) =>
      ({
        type: 'recordOutcome',
        params: ({ event }: { event: SourceEvent }) => {
          assertEvent(event, ['frame.failed', 'frame.persisted', 'auth.rejected', 'auth.lockedOut']);
          return outcomeOf(loop, outcome, event);
        },
      }) as const;

    // Due: reuse a live session; or, with none (and none being established or parked), carry the login if this is
    // the first due loop.
    const hasLiveSession = and([stateIn(SESSION_ACTIVE), 'isSessionLive']);
    const needsLogin = or([stateIn(SESSION_IDLE), and([stateIn(SESSION_ACTIVE), not('isSessionLive')])]);
    const idle = source.createStateConfig({
      on: {
        'clock.ticked': [
          { guard: and([stateIn(RUNNING), isDueNow, hasLiveSession]), target: 'fetching', actions: start('reuse') },
          {
            guard: and([stateIn(RUNNING), isDueNow, { type: 'isLoginLoop', params: mine }, needsLogin]),
            target: 'fetching',
            actions: start('login'),
          },
        ],
      },
    });
    const inFlight = source.createStateConfig({
      on: {
        'frame.retrying': [
          { guard: and([isCurrent, 'isPersistStage']), target: 'persisting', actions: 'noteRetry' },
          { guard: isCurrent, target: 'fetching', actions: 'noteRetry' },
        ],
        'frame.failed': { guard: isCurrent, target: 'backingOff', actions: ['failCycle', recordOutcome('failed')] },
        'frame.persisted': {
          guard: isCurrent,
          target: 'waiting',
          actions: ['completeCycle', recordOutcome('persisted')],
        },
        'auth.rejected': { guard: isCurrent, target: 'waiting', actions: ['parkLoop', recordOutcome('authRejected')] },
        'auth.lockedOut': { guard: isCurrent, target: 'waiting', actions: ['parkLoop', recordOutcome('lockedOut')] },
        'clock.ticked': [
          {
            guard: and([isOverdue, { type: 'canResendFrame', params: mine }]),
            actions: [
              { type: 'markFrameResent', params: mine },
              {
                type: 'requestFrame',
                params: ({ context, event }: { context: SourceContext; event: SourceEvent }) =>
                  resendRequest(context, loop, event.now),
              },
            ],
          },
          {
            guard: isOverdue,
            target: 'backingOff',
            actions: [
              { type: 'loseFrame', params: mine },
              { type: 'recordOutcome', params: { loop, outcome: 'lost', code: 'FRAME.LOST' } },
            ],
          },
        ],
      },
    });
    return source.createStateConfig({
      initial: 'waiting',
      states: { waiting: idle, backingOff: idle, fetching: inFlight, persisting: inFlight },
    });
  }
}

export type SourceMachine = ReturnType<typeof createSourceMachine>;
