/**
 * The two write-economy rules of applySourceEvent, as pure functions: which transitions are traced, and where the
 * due-index instant goes while a frame is in flight.
 */
import { describe, expect, it } from 'vitest';
import { dueIndexInstant, isRoutine } from '../../../lib/app/apply-event.js';
import type { SourceContext } from '../../../lib/machines/source/source.types.js';

const tick = { type: 'clock.ticked', now: 1, horizon: 2 } as const;
const persisted = { type: 'frame.persisted', now: 1, loop: 'A', frameId: 'A-1', cursor: {}, written: {} } as never;

describe('isRoutine', () => {
  it('treats a healthy cycle as routine', () => {
    expect(isRoutine(tick, 'running/session:active/A:waiting', 'running/session:active/A:fetching')).toBe(true);
    expect(isRoutine(persisted, 'running/session:active/A:fetching', 'running/session:active/A:waiting')).toBe(true);
    expect(isRoutine(persisted, 'running/session:active/A:persisting/B:waiting', 'running/session:active/A:waiting/B:waiting')).toBe(true);
    // Logging in and renewing a token are part of a healthy day.
    expect(isRoutine(tick, 'running/session:idle/A:waiting', 'running/session:authenticating/A:fetching')).toBe(true);
    expect(isRoutine(persisted, 'running/session:authenticating/A:fetching', 'running/session:active/A:waiting')).toBe(true);
  });

  it('traces changes of mode, failures, operator actions and outbox resends', () => {
    expect(isRoutine(tick, 'running/session:active/A:backingOff', 'running/session:active/A:fetching')).toBe(false);
    expect(isRoutine(tick, 'running/session:active/A:fetching', 'running/session:active/A:fetching')).toBe(false);
    expect(isRoutine({ type: 'frame.failed' } as never, 'running/session:active/A:fetching', 'running/session:active/A:backingOff')).toBe(false);
    expect(isRoutine({ type: 'source.paused', now: 1 }, 'running/session:active/A:waiting', 'paused/session:active/A:waiting')).toBe(false);
    expect(isRoutine(tick, 'running/session:lockedOut/A:waiting', 'running/session:idle/A:fetching')).toBe(false);
    expect(isRoutine({ type: 'auth.rejected' } as never, 'running/session:authenticating/A:fetching', 'running/session:rejected/A:waiting')).toBe(false);
    expect(isRoutine(persisted, 'running/session:active/A:fetching', 'paused/session:active/A:waiting')).toBe(false);
  });
});

function context(frame: boolean): SourceContext {
  return { loops: { A: { dueAt: 10, frame: frame ? { id: 'A-1', resendAt: 500 } : null } } } as unknown as SourceContext;
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
