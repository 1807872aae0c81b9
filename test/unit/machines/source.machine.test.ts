import { describe, expect, it } from 'vitest';
import { backoffCeiling } from '../../../lib/domain/backoff.js';
import type { SourceEvent } from '../../../lib/domain/messages.js';
import { ACK_WINDOW_MS, MAX_RESENDS, RECHECK_DELAY_MS } from '../../../lib/machines/source/source.context.js';
import { contextOf, startSource, step } from '../../../lib/machines/source/source.snapshot.js';
import type { MachineSpec } from '../../../lib/machines/source/source.spec.js';
import type { SourceEffect } from '../../../lib/machines/source/source.types.js';
import { nextWakeAt } from '../../../lib/machines/source/source.view.js';

const MIN = 60_000;
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
const twoLoops: MachineSpec = { ...spec, loops: [spec.loops[0], { ...spec.loops[0], name: 'Other' }] };
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/** A tiny driver for tests: keeps the persisted snapshot and applies events in order. */
function harness(s: MachineSpec = spec) {
  let snapshot = startSource(s, 'src-1', T0).snapshot;
  const h = {
    get snapshot() {
      return snapshot;
    },
    send(event: SourceEvent) {
      const r = step(s, snapshot, 1, event);
      snapshot = r.snapshot;
      return r;
    },
    tick(now: number) {
      return h.send({ type: 'clock.ticked', now, horizon: now + MIN });
    },
    ctx() {
      return contextOf(s, snapshot, 1);
    },
  };
  return h;
}
const frames = (effects: SourceEffect[]) =>
  effects.filter((e) => e.type === 'requestFrame') as Extract<SourceEffect, { type: 'requestFrame' }>[];
const session = { establishedAt: T0, expiresAt: T0 + 24 * 60 * MIN };
const written = { entries: 1, treatments: 0, devicestatus: 0, profiles: 0 };

describe('source machine', () => {
  it('polls immediately at start, carrying the login on the first frame', () => {
    const h = harness();
    const r = h.tick(T0);
    expect(r.to).toBe('running/session:authenticating/Main:fetching');
    expect(r.fromValue).toEqual({ operation: 'running', session: 'idle', loops: { Main: 'waiting' } });
    expect(r.toValue).toEqual({ operation: 'running', session: 'authenticating', loops: { Main: 'fetching' } });
    expect(frames(r.effects)).toEqual([
      {
        type: 'requestFrame',
        params: { loop: 'Main', frameId: 'Main-1', dueAt: T0, sessionMode: 'login', cursor: null, resend: false },
      },
    ]);
  });

  it('a duplicate tick while a frame is in flight changes nothing', () => {
    const h = harness();
    h.tick(T0);
    const again = h.tick(T0 + 1000);
    expect(again.changed).toBe(false);
    expect(again.effects).toEqual([]);
  });

  it('success stores the session, advances the cursor and aligns the next frame to the next reading slot', () => {
    const h = harness();
    h.tick(T0);
    const reading = T0 - 20_000;
    const r = h.send({
      type: 'frame.persisted',
      now: T0 + 2000,
      loop: 'Main',
      frameId: 'Main-1',
      cursor: { entries: reading },
      written,
      newestReadingAt: reading,
      session,
    });
    expect(r.to).toBe('running/session:active/Main:waiting');
    const { context } = h.ctx();
    expect(context.loops.Main.cursor).toEqual({ entries: reading });
    const due = context.loops.Main.dueAt;
    // next slot = reading + 5 min, plus lag 10 s and jitter in [0, 8 s)
    expect(due).toBeGreaterThanOrEqual(reading + 5 * MIN + 10_000);
    expect(due).toBeLessThan(reading + 5 * MIN + 18_000);
    // the next frame reuses the session
    const next = h.tick(due);
    expect(frames(next.effects)[0].params).toMatchObject({
      frameId: 'Main-2',
      sessionMode: 'reuse',
      cursor: { entries: reading },
    });
  });

  it('ignores stale and duplicate outcomes (unknown frame id, second delivery)', () => {
    const h = harness();
    h.tick(T0);
    const ok = {
      type: 'frame.persisted' as const,
      now: T0 + 2000,
      loop: 'Main',
      frameId: 'Main-1',
      cursor: { entries: T0 },
      written,
      newestReadingAt: T0,
      session,
    };
    h.send(ok);
    const dup = h.send(ok);
    expect(dup.changed).toBe(false);
    const stale = h.send({ ...ok, frameId: 'Main-0' });
    expect(stale.changed).toBe(false);
  });

  it('auth rejection parks the source: no frame, out of the due index, until credentials change', () => {
    const h = harness();
    h.tick(T0);
    const r = h.send({
      type: 'auth.rejected',
      now: T0 + 1000,
      loop: 'Main',
      frameId: 'Main-1',
      code: 'DEXCOM.AUTH_REJECTED',
    });
    expect(r.to).toBe('running/session:rejected/Main:waiting');
    for (let t = T0 + MIN; t < T0 + 24 * 60 * MIN; t += 5 * MIN) {
      expect(frames(h.tick(t).effects)).toEqual([]);
    }
    const { context, value } = h.ctx();
    expect(nextWakeAt(context, value)).toBeUndefined();
    const changed = h.send({ type: 'credentials.changed', now: T0 + 25 * 60 * MIN });
    expect(changed.effects.map((e) => e.type)).toContain('discardSession');
    const after = h.tick(T0 + 25 * 60 * MIN);
    expect(frames(after.effects)[0].params.sessionMode).toBe('login');
  });

  it('lockout: no attempt before the instant, then a login', () => {
    const h = harness();
    h.tick(T0);
    const until = T0 + 60 * MIN;
    h.send({
      type: 'auth.lockedOut',
      now: T0 + 1000,
      loop: 'Main',
      frameId: 'Main-1',
      code: 'DEXCOM.LOCKED_OUT',
      until,
    });
    for (let t = T0 + MIN; t < until; t += MIN) expect(frames(h.tick(t).effects)).toEqual([]);
    const { context, value } = h.ctx();
    expect(nextWakeAt(context, value)).toBe(until);
    h.tick(until); // session leaves lockedOut
    const r = h.tick(until + MIN);
    expect(frames(r.effects)[0].params.sessionMode).toBe('login');
  });

  it('an exhausted frame backs off the cycle by the capped exponential formula', () => {
    const h = harness();
    let now = T0;
    const policy = spec.loops[0].backoff;
    for (let n = 1; n <= 6; n++) {
      const r = h.tick(now);
      const f = frames(r.effects)[0];
      expect(f).toBeDefined();
      h.send({
        type: 'frame.failed',
        now,
        loop: 'Main',
        frameId: f.params.frameId,
        stage: 'fetch',
        attempt: 3,
        error: { kind: 'retryable', code: 'X.HTTP_503' },
      });
      const due = h.ctx().context.loops.Main.dueAt;
      const ceiling = backoffCeiling(policy, n);
      expect(due - now).toBeGreaterThanOrEqual(ceiling / 2);
      expect(due - now).toBeLessThan(ceiling);
      expect(due - now).toBeLessThanOrEqual(30 * MIN);
      expect(h.ctx().value.loops.Main).toBe('backingOff');
      now = due;
    }
  });

  it('honours Retry-After on a failed frame', () => {
    const h = harness();
    h.tick(T0);
    h.send({
      type: 'frame.failed',
      now: T0,
      loop: 'Main',
      frameId: 'Main-1',
      stage: 'fetch',
      attempt: 3,
      error: { kind: 'retryable', code: 'X.HTTP_429' },
      retryAfterMs: 50 * MIN,
    });
    expect(h.ctx().context.loops.Main.dueAt).toBe(T0 + 50 * MIN);
  });

  it('retrying moves to persisting for the persist stage and pushes the resend deadline', () => {
    const h = harness();
    h.tick(T0);
    const r = h.send({
      type: 'frame.retrying',
      now: T0 + 5000,
      loop: 'Main',
      frameId: 'Main-1',
      stage: 'persist',
      attempt: 2,
      retryAt: T0 + 65_000,
      error: { kind: 'retryable', code: 'NIGHTSCOUT.HTTP_503' },
      session,
    });
    expect(r.to).toBe('running/session:active/Main:persisting');
    expect(h.ctx().context.loops.Main.frame?.resendAt).toBe(T0 + 65_000 + ACK_WINDOW_MS);
  });

  it('outbox repair: a frame with no word is sent again, then counted lost', () => {
    const h = harness();
    h.tick(T0);
    let now = T0 + ACK_WINDOW_MS;
    for (let i = 0; i < MAX_RESENDS; i++) {
      const r = h.tick(now);
      expect(frames(r.effects)).toHaveLength(1);
      expect(frames(r.effects)[0].params).toMatchObject({ frameId: 'Main-1', resend: true, sessionMode: 'login' });
      now += ACK_WINDOW_MS;
    }
    const lost = h.tick(now);
    expect(lost.to).toContain('Main:backingOff');
    expect(lost.toValue.loops.Main).toBe('backingOff');
    expect(lost.effects).toContainEqual({
      type: 'recordOutcome',
      params: { loop: 'Main', outcome: 'lost', code: 'FRAME.LOST' },
    });
    // the session region notices the login frame is gone and allows a new login later
    expect(h.tick(now + 1000).toValue.session).toBe('idle');
  });

  it('pause drops the source from the due index; resume brings it back', () => {
    const h = harness();
    h.send({ type: 'source.paused', now: T0 });
    expect(frames(h.tick(T0).effects)).toEqual([]);
    const { context, value } = h.ctx();
    expect(nextWakeAt(context, value)).toBeUndefined();
    h.send({ type: 'source.resumed', now: T0 + MIN });
    expect(frames(h.tick(T0 + MIN).effects)).toHaveLength(1);
  });

  it('with two loops only one frame carries the login; the other waits for the session', () => {
    const h = harness(twoLoops);
    const r = h.tick(T0);
    expect(frames(r.effects).map((f) => [f.params.loop, f.params.sessionMode])).toEqual([['Main', 'login']]);
    h.send({ type: 'frame.persisted', now: T0 + 2000, loop: 'Main', frameId: 'Main-1', cursor: {}, written, session });
    const next = h.tick(T0 + 3000);
    expect(frames(next.effects).map((f) => [f.params.loop, f.params.sessionMode])).toEqual([['Other', 'reuse']]);
  });

  it('session expiry: the next frame logs in again', () => {
    const h = harness();
    h.tick(T0);
    h.send({
      type: 'frame.persisted',
      now: T0,
      loop: 'Main',
      frameId: 'Main-1',
      cursor: {},
      written,
      session: { establishedAt: T0, expiresAt: T0 + 10 * MIN },
    });
    const r = h.tick(T0 + 11 * MIN);
    expect(frames(r.effects)[0].params.sessionMode).toBe('login');
  });

  it('re-polls once shortly when the expected reading was not yet published', () => {
    const h = harness();
    h.tick(T0);
    const reading = T0 - 5 * MIN - 15_000; // the T0−15 s slot's reading is missing
    h.send({
      type: 'frame.persisted',
      now: T0,
      loop: 'Main',
      frameId: 'Main-1',
      cursor: { entries: reading },
      written,
      newestReadingAt: reading,
      session,
    });
    expect(h.ctx().context.loops.Main.dueAt).toBe(T0 + RECHECK_DELAY_MS);
    h.tick(T0 + RECHECK_DELAY_MS);
    h.send({
      type: 'frame.persisted',
      now: T0 + RECHECK_DELAY_MS,
      loop: 'Main',
      frameId: 'Main-2',
      cursor: { entries: reading },
      written,
      newestReadingAt: reading,
      session,
    });
    // only one recheck per slot: now aligned to the following slot
    expect(h.ctx().context.loops.Main.dueAt).toBeGreaterThan(T0 + 4 * MIN);
  });

  it('snapshots stay small and survive a JSON round trip', () => {
    const h = harness(twoLoops);
    h.tick(T0);
    h.send({
      type: 'frame.persisted',
      now: T0,
      loop: 'Main',
      frameId: 'Main-1',
      cursor: { entries: T0, treatments: T0, devicestatus: T0 },
      written,
      newestReadingAt: T0,
      session,
    });
    expect(frames(h.tick(T0 + 1).effects)[0].params.frameId).toBe('Other-1');
    h.send({
      type: 'frame.retrying',
      now: T0 + 1,
      loop: 'Other',
      frameId: 'Other-1',
      stage: 'fetch',
      attempt: 2,
      retryAt: T0 + 30_000,
      error: { kind: 'retryable', code: 'DEXCOM.HTTP_500' },
    });
    const json = JSON.stringify(h.snapshot);
    expect(json.length).toBeLessThan(2048);
    const copy = JSON.parse(json);
    expect(h.ctx().value).toEqual({
      operation: 'running',
      session: 'active',
      loops: { Main: 'waiting', Other: 'fetching' },
    });
    expect(step(twoLoops, copy, 1, { type: 'clock.ticked', now: T0 + 2, horizon: T0 + 2 }).changed).toBe(false);
  });

  it('rejects a snapshot written by an unknown machine version with a clear error', () => {
    const h = harness();
    expect(() => step(spec, h.snapshot, 99, { type: 'clock.ticked', now: T0, horizon: T0 })).toThrow(
      /machine version 99/,
    );
  });
});
