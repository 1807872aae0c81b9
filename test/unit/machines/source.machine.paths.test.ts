/**
 * Model-based path coverage with xstate/graph: enumerate shortest paths to every reachable state of a one-loop
 * source machine under a bounded event alphabet, replay each path through the persisted-snapshot stepper (JSON round
 * trip at every step, as in production), and check the invariants that protect people and accounts on every step.
 */
import { describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import type { SourceEvent } from '../../../lib/domain/messages.js';
import { createSourceMachine } from '../../../lib/machines/source/source.machine.js';
import { startSource, step } from '../../../lib/machines/source/source.snapshot.js';
import type { MachineSpec } from '../../../lib/machines/source/source.spec.js';
import { isAuthRejected, isLockedOut, isPaused } from '../../../lib/machines/source/source.state.js';
import type { SourceContext } from '../../../lib/machines/source/source.types.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const spec: MachineSpec = {
  kind: 'test',
  sessionLifetimeMs: 24 * 60 * MIN,
  loops: [
    {
      name: 'Main',
      intervalMs: 5 * MIN,
      align: { lagMs: 10_000, jitterMs: 8_000 },
      attempts: 3,
      retry: { baseMs: 30_000, capMs: 5 * MIN },
      backoff: { baseMs: 5 * MIN, capMs: 30 * MIN },
    },
  ],
};
const session = { establishedAt: T0, expiresAt: T0 + 24 * 60 * MIN };

/** Events offered in a state; frame outcomes always name the frame currently in flight. Time is far ahead so ticks are due. */
function eventsFor(snapshot: AnyMachineSnapshot): SourceEvent[] {
  const ctx = snapshot.context as SourceContext;
  const frame = ctx.loops.Main.frame;
  const now = T0 + 10 * MIN;
  const out: SourceEvent[] = [
    { type: 'clock.ticked', now: T0 + 48 * 60 * MIN, horizon: T0 + 48 * 60 * MIN + MIN },
    { type: 'source.paused', now },
    { type: 'source.resumed', now },
    { type: 'credentials.changed', now },
  ];
  if (frame) {
    const f = { loop: 'Main', frameId: frame.id, now };
    out.push(
      {
        type: 'frame.persisted',
        ...f,
        cursor: { entries: now - 20_000 },
        written: { entries: 1, treatments: 0, devicestatus: 0, profiles: 0 },
        newestReadingAt: now - 20_000,
        session,
      },
      {
        type: 'frame.retrying',
        ...f,
        stage: 'persist',
        attempt: 2,
        retryAt: now + 30_000,
        error: { kind: 'retryable', code: 'NS.HTTP_503' },
        session,
      },
      { type: 'frame.failed', ...f, stage: 'fetch', attempt: 3, error: { kind: 'retryable', code: 'V.HTTP_500' } },
      { type: 'auth.rejected', ...f, code: 'V.AUTH_REJECTED' },
      { type: 'auth.lockedOut', ...f, code: 'V.LOCKED_OUT', until: now + 60 * MIN },
    );
  }
  return out;
}

describe('source machine paths (xstate/graph)', () => {
  const machine = createSourceMachine(spec);
  const paths = getShortestPaths(machine, {
    input: { sourceId: 'src-graph', now: T0 },
    events: eventsFor,
    // Key on the state value and whether a frame is in flight: bounded, while timestamps are not.
    serializeState: (s) => JSON.stringify([s.value, (s.context as SourceContext).loops.Main.frame !== null]),
    limit: 5000,
  });

  it('reaches every mode of every region', () => {
    const values = new Set(paths.map((p) => JSON.stringify(p.state.value)));
    for (const fragment of [
      '"paused"',
      '"idle"',
      '"authenticating"',
      '"active"',
      '"rejected"',
      '"lockedOut"',
      '"waiting"',
      '"fetching"',
      '"persisting"',
      '"backingOff"',
    ]) {
      expect(
        [...values].some((v) => v.includes(fragment)),
        fragment,
      ).toBe(true);
    }
    expect(paths.length).toBeGreaterThanOrEqual(15);
  });

  it('holds the safety invariants on every step of every path', () => {
    for (const path of paths) {
      let snapshot = startSource(spec, 'src-graph', T0).snapshot;
      for (const stepOfPath of path.steps.slice(1)) {
        const event = stepOfPath.event as SourceEvent;
        const before = JSON.parse(JSON.stringify(snapshot));
        const result = step(spec, before, 1, event);
        const frames = result.effects.filter((e) => e.type === 'requestFrame');
        // Parked or paused sources never send a frame (no login may follow a rejected password).
        if (isAuthRejected(result.fromValue) || isPaused(result.fromValue)) expect(frames).toEqual([]);
        // A lockout is honoured until its instant.
        if (isLockedOut(result.fromValue)) {
          const until = (before as { context: SourceContext }).context.session.lockedUntil ?? 0;
          if (event.now < until) expect(frames).toEqual([]);
        }
        // At most one frame in flight per loop, and a requested frame is always the one recorded.
        expect(frames.length).toBeLessThanOrEqual(1);
        const ctx = (result.snapshot as { context: SourceContext }).context;
        if (frames.length)
          expect(ctx.loops.Main.frame?.id).toBe((frames[0] as { params: { frameId: string } }).params.frameId);
        // Snapshots stay small.
        expect(JSON.stringify(result.snapshot).length).toBeLessThan(2048);
        snapshot = result.snapshot;
      }
      expect(JSON.stringify((snapshot as { value: unknown }).value)).toBe(JSON.stringify(path.state.value));
    }
  });
});
