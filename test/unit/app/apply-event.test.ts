/**
 * The two write-economy rules of applySourceEvent, as pure functions: which transitions are traced, and where the
 * due-index instant goes while a frame is in flight.
 */
import { describe, expect, it } from 'vitest';
import { dueIndexInstant, isRoutine } from '../../../lib/app/apply-event.js';
import type {
  LoopMode,
  OperationMode,
  SessionMode,
  SourceStateValue,
} from '../../../lib/machines/source/source.state.js';
import type { SourceContext } from '../../../lib/machines/source/source.types.js';

const tick = { type: 'clock.ticked', now: 1, horizon: 2 } as const;
const persisted = { type: 'frame.persisted', now: 1, loop: 'A', frameId: 'A-1', cursor: {}, written: {} } as never;
const state = (operation: OperationMode, session: SessionMode, loops: Record<string, LoopMode>): SourceStateValue => ({
  operation,
  session,
  loops,
});
const running = (session: SessionMode, loops: Record<string, LoopMode>) => state('running', session, loops);

describe('isRoutine', () => {
  it('treats a healthy cycle as routine', () => {
    expect(isRoutine(tick, running('active', { A: 'waiting' }), running('active', { A: 'fetching' }))).toBe(true);
    expect(isRoutine(persisted, running('active', { A: 'fetching' }), running('active', { A: 'waiting' }))).toBe(true);
    expect(
      isRoutine(
        persisted,
        running('active', { A: 'persisting', B: 'waiting' }),
        running('active', { A: 'waiting', B: 'waiting' }),
      ),
    ).toBe(true);
    // Logging in and renewing a token are part of a healthy day.
    expect(isRoutine(tick, running('idle', { A: 'waiting' }), running('authenticating', { A: 'fetching' }))).toBe(true);
    expect(
      isRoutine(persisted, running('authenticating', { A: 'fetching' }), running('active', { A: 'waiting' })),
    ).toBe(true);
  });

  it('traces changes of mode, failures, operator actions and outbox resends', () => {
    expect(isRoutine(tick, running('active', { A: 'backingOff' }), running('active', { A: 'fetching' }))).toBe(false);
    expect(isRoutine(tick, running('active', { A: 'fetching' }), running('active', { A: 'fetching' }))).toBe(false);
    expect(
      isRoutine(
        { type: 'frame.failed' } as never,
        running('active', { A: 'fetching' }),
        running('active', { A: 'backingOff' }),
      ),
    ).toBe(false);
    expect(
      isRoutine(
        { type: 'source.paused', now: 1 },
        running('active', { A: 'waiting' }),
        state('paused', 'active', { A: 'waiting' }),
      ),
    ).toBe(false);
    expect(isRoutine(tick, running('lockedOut', { A: 'waiting' }), running('idle', { A: 'fetching' }))).toBe(false);
    expect(
      isRoutine(
        { type: 'auth.rejected' } as never,
        running('authenticating', { A: 'fetching' }),
        running('rejected', { A: 'waiting' }),
      ),
    ).toBe(false);
    expect(
      isRoutine(persisted, running('active', { A: 'fetching' }), state('paused', 'active', { A: 'waiting' })),
    ).toBe(false);
  });
});

function context(frame: boolean): SourceContext {
  return {
    loops: { A: { dueAt: 10, frame: frame ? { id: 'A-1', resendAt: 500 } : null } },
  } as unknown as SourceContext;
}

describe('dueIndexInstant', () => {
  it('keeps the stored instant while a frame is in flight (no index move and back)', () => {
    expect(dueIndexInstant(100, 500, context(true))).toBe(100);
  });

  it('moves to the machine wake when nothing is in flight, or when the wake is earlier', () => {
    expect(dueIndexInstant(100, 400, context(false))).toBe(400);
    expect(dueIndexInstant(600, 500, context(true))).toBe(500);
    expect(dueIndexInstant(undefined, 500, context(true))).toBe(500);
  });

  it('drops out of the index when the machine has no wake (paused, parked)', () => {
    expect(dueIndexInstant(100, undefined, context(true))).toBeUndefined();
  });
});
