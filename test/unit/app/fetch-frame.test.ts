/**
 * fetch-frame's failure policy, row by row (see the header of lib/app/fetch-frame.ts), over memory adapters, the
 * fake vendor and the real source machine: each test brings a source to a frame in flight with the real tick, runs
 * fetchFrame on that frame, and asserts the settlement, the events the machine received, and what the machine made
 * of them.
 */
import { describe, expect, it, vi } from 'vitest';
import { MAX_RETRY_DELAY_MS } from '../../../lib/app/fetch-frame.js';
import {
  SessionInvalidError,
  SourceLockedOutError,
  SourceRejectedError,
  SourceUnavailableError,
} from '../../../lib/domain/errors.js';
import type { FrameMessage } from '../../../lib/domain/messages.js';
import {
  type AppWorld,
  type AppWorldOptions,
  createAppWorld,
  credentialsFor,
  SOURCE_ID,
  T0,
} from '../../helpers/app-deps.helper.js';
import { FAKE_NS_SECRET } from '../../helpers/fake-nightscout.helper.js';
import { FAKE_ACCOUNT, FAKE_LOOP, FAKE_NEW_PASSWORD, FAKE_PASSWORD } from '../../helpers/fake-vendor.helper.js';

vi.mock('../../../lib/app/apply-event.js', async (importOriginal) =>
  (await import('../../helpers/machine-events.helper.js')).recordMachineEvents(await importOriginal()),
);

const MIN = 60_000;
const HOUR = 60 * MIN;

let w: AppWorld;

/** Readings every 5 minutes over the hour before `until`, as the vendor publishes them. */
function publishUntil(world: AppWorld, until: number): void {
  const known = new Set(world.vendor.readings.map((r) => r.date));
  for (let t = until - HOUR; t <= until; t += 5 * MIN) {
    const at = Math.floor(t / (5 * MIN)) * 5 * MIN;
    if (!known.has(at)) world.vendor.readings.push({ date: at, sgv: 100 + ((at / (5 * MIN)) % 50) });
    known.add(at);
  }
}

async function start(options: AppWorldOptions = {}): Promise<AppWorld> {
  w = createAppWorld(options);
  publishUntil(w, T0);
  await w.addSource();
  return w;
}

/** One healthy cycle: tick, fetch, persist. Leaves the source waiting with a live session. */
async function healthyCycle(world: AppWorld): Promise<FrameMessage> {
  const frame = await world.nextFrame();
  expect(await world.fetch(frame)).toEqual({ settle: 'done' });
  const [persist] = world.takePersists();
  expect(await world.persist(persist)).toEqual({ settle: 'done' });
  return frame;
}

/** Moves the clock to the source's next due instant (publishing what the vendor has by then) and takes that frame. */
async function nextCycleFrame(world: AppWorld): Promise<FrameMessage> {
  const record = await world.record();
  world.clock.set(record.nextDueAt as number);
  publishUntil(world, world.clock.now());
  return world.nextFrame();
}

const loopMode = async (world: AppWorld) => (await world.record()).status.loopModes[FAKE_LOOP];

describe('fetch-frame: sessions', () => {
  it('logs in when no session is stored, stores the session, and hands its facts (never the material) to persist', async () => {
    await start();
    const frame = await w.nextFrame();
    expect(frame.sessionMode).toBe('login');

    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.vendor.callsOf('authenticate')).toEqual([{ op: 'authenticate', password: FAKE_PASSWORD }]);
    expect(w.vendor.callsOf('authorize')).toHaveLength(1);
    const stored = await w.sessions.get(SOURCE_ID);
    expect(stored).toMatchObject({ establishedAt: T0, expiresAt: T0 + HOUR });
    expect(w.vendor.callsOf('fetch')).toEqual([
      expect.objectContaining({ sessionId: (stored?.material as { sessionId: string }).sessionId }),
    ]);
    const [persist] = w.takePersists();
    expect(persist.session).toEqual({ establishedAt: T0, expiresAt: T0 + HOUR });
    expect(persist.batch.entries.length).toBe(13);
    expect(w.metrics.counts.Logins).toBe(1);
    // Nothing went back to the machine yet: the outcome is persist's to report.
    expect(w.events().map((e) => e.type)).toEqual(['clock.ticked']);
  });

  it('reuses a live stored session: no login, the stored session is presented', async () => {
    await start();
    await healthyCycle(w);
    const session = (await w.sessions.get(SOURCE_ID))?.material as { sessionId: string };

    const frame = await nextCycleFrame(w);
    expect(frame.sessionMode).toBe('reuse');
    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.vendor.callsOf('authenticate')).toHaveLength(1);
    expect(w.vendor.callsOf('fetch').at(-1)?.sessionId).toBe(session.sessionId);
    expect(w.takePersists()[0].session).toEqual({ establishedAt: T0, expiresAt: T0 + HOUR });
  });

  it('logs in when the stored session expired before the frame ran (a late redelivery)', async () => {
    await start();
    await healthyCycle(w);
    const frame = await nextCycleFrame(w);
    expect(frame.sessionMode).toBe('reuse');
    w.clock.set(T0 + HOUR); // the session's expiry: no longer usable

    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.vendor.callsOf('authenticate')).toHaveLength(2);
    expect(
      w.log.lines.some((l) => l.includes('"message":"logging in"') && l.includes('"reason":"session expired"')),
    ).toBe(true);
    const stored = await w.sessions.get(SOURCE_ID);
    expect(stored).toMatchObject({ establishedAt: T0 + HOUR, expiresAt: T0 + 2 * HOUR });
    expect(w.vendor.callsOf('fetch').at(-1)?.sessionId).toBe((stored?.material as { sessionId: string }).sessionId);
  });

  it('uses the vendor-stated expiry over the declared lifetime', async () => {
    await start({ vendor: { grantExpiresInMs: 20 * MIN } });
    const frame = await w.nextFrame();
    await w.fetch(frame);
    expect((await w.sessions.get(SOURCE_ID))?.expiresAt).toBe(T0 + 20 * MIN);
    expect(w.takePersists()[0].session).toEqual({ establishedAt: T0, expiresAt: T0 + 20 * MIN });
  });

  describe('refresh', () => {
    it('refreshes an expired session when the driver can: no login from the credentials', async () => {
      await start({ vendor: { refresh: true } });
      await healthyCycle(w);
      const first = (await w.sessions.get(SOURCE_ID))?.material as { refreshToken: string };
      // Past the session's expiry the machine itself asks for a login frame; fetch-frame refreshes instead.
      w.clock.set(T0 + HOUR + MIN);
      publishUntil(w, w.clock.now());
      const frame = await w.nextFrame();
      expect(frame.sessionMode).toBe('login');

      expect(await w.fetch(frame)).toEqual({ settle: 'done' });

      expect(w.vendor.callsOf('refresh')).toEqual([expect.objectContaining({ refreshToken: first.refreshToken })]);
      expect(w.vendor.callsOf('authenticate')).toHaveLength(1);
      expect(w.metrics.counts.SessionRefreshes).toBe(1);
      expect(w.metrics.counts.Logins).toBe(1);
      const stored = (await w.sessions.get(SOURCE_ID))?.material as { sessionId: string; refreshToken: string };
      expect(stored.refreshToken).not.toBe(first.refreshToken);
      expect(w.vendor.callsOf('fetch').at(-1)?.sessionId).toBe(stored.sessionId);
    });

    it('a refused refresh falls back to one login from the credentials (the default)', async () => {
      await start({ vendor: { refresh: true } });
      await healthyCycle(w);
      w.vendor.revokeRefreshTokens();
      w.clock.set(T0 + HOUR + MIN);
      publishUntil(w, w.clock.now());
      const frame = await w.nextFrame();

      expect(await w.fetch(frame)).toEqual({ settle: 'done' });

      expect(w.vendor.calls.map((c) => c.op)).toEqual([
        'authenticate',
        'authorize',
        'fetch',
        'refresh',
        'authenticate',
        'authorize',
        'fetch',
      ]);
      expect(w.takePersists()).toHaveLength(1);
      expect(w.events('auth.rejected')).toEqual([]);
    });

    it('a refused refresh with loginWhenRefreshRejected: false parks the source without any login', async () => {
      await start({ vendor: { refresh: true, loginWhenRefreshRejected: false } });
      await healthyCycle(w);
      w.vendor.revokeRefreshTokens();
      w.clock.set(T0 + HOUR + MIN);
      const frame = await w.nextFrame();

      expect(await w.fetch(frame)).toEqual({ settle: 'done' });

      expect(w.vendor.calls.map((c) => c.op)).toEqual(['authenticate', 'authorize', 'fetch', 'refresh']);
      expect(w.events('auth.rejected')).toEqual([
        {
          type: 'auth.rejected',
          now: w.clock.now(),
          loop: FAKE_LOOP,
          frameId: frame.frameId,
          code: 'FAKE.REFRESH_REJECTED',
        },
      ]);
      expect(await w.sessions.get(SOURCE_ID)).toBeUndefined();
      const record = await w.record();
      expect(record.status.parkedReason).toContain('FAKE.REFRESH_REJECTED');
      expect(record.nextDueAt).toBeUndefined();
      expect(w.takePersists()).toEqual([]);
    });

    it('a refresh that fails retryably is retried as a frame, not turned into a login', async () => {
      await start({ vendor: { refresh: true } });
      await healthyCycle(w);
      w.vendor.failNext('refresh', new SourceUnavailableError('token endpoint 503', 'FAKE.UNAVAILABLE'));
      w.clock.set(T0 + HOUR + MIN);
      const frame = await w.nextFrame();

      const settlement = await w.fetch(frame);

      expect(settlement.settle).toBe('retry');
      expect(w.vendor.callsOf('authenticate')).toHaveLength(1);
      expect(w.events('frame.retrying')).toEqual([
        expect.objectContaining({ error: { kind: 'retryable', code: 'FAKE.UNAVAILABLE' } }),
      ]);
    });
  });

  describe('the vendor says the session is invalid', () => {
    it('logs in again exactly once, at once, and the frame goes on', async () => {
      await start();
      await healthyCycle(w);
      w.vendor.invalidateSessions();
      const frame = await nextCycleFrame(w);
      expect(frame.sessionMode).toBe('reuse');

      expect(await w.fetch(frame)).toEqual({ settle: 'done' });

      expect(w.vendor.calls.map((c) => c.op)).toEqual([
        'authenticate',
        'authorize',
        'fetch',
        'fetch',
        'authenticate',
        'authorize',
        'fetch',
      ]);
      expect(w.log.lines.filter((l) => l.includes('vendor says the session is gone'))).toHaveLength(1);
      const stored = (await w.sessions.get(SOURCE_ID))?.material as { sessionId: string };
      expect(w.vendor.callsOf('fetch').at(-1)?.sessionId).toBe(stored.sessionId);
      // The new session's facts reach the machine with the outcome.
      expect(w.takePersists()[0].session).toEqual({ establishedAt: w.clock.now(), expiresAt: w.clock.now() + HOUR });
    });

    it('never logs in twice: invalid again after the re-login → retryable, no third login', async () => {
      await start();
      await healthyCycle(w);
      w.vendor.failNext(
        'fetch',
        new SessionInvalidError('gone', 'FAKE.SESSION_NOT_FOUND'),
        new SessionInvalidError('gone again', 'FAKE.SESSION_NOT_FOUND'),
      );
      const frame = await nextCycleFrame(w);

      const settlement = await w.fetch(frame);

      expect(settlement.settle).toBe('retry');
      expect(w.vendor.callsOf('authenticate')).toHaveLength(2);
      expect(w.vendor.callsOf('fetch')).toHaveLength(3);
      expect(w.events('frame.retrying')).toEqual([
        expect.objectContaining({
          stage: 'fetch',
          attempt: 1,
          error: { kind: 'retryable', code: 'FAKE.SESSION_NOT_FOUND' },
        }),
      ]);
    });

    it('a frame that has just logged in does not log in again when its new session is called invalid', async () => {
      await start();
      w.vendor.failNext('fetch', new SessionInvalidError('gone', 'FAKE.SESSION_NOT_FOUND'));
      const frame = await w.nextFrame();
      expect(frame.sessionMode).toBe('login');

      expect((await w.fetch(frame)).settle).toBe('retry');

      expect(w.vendor.callsOf('authenticate')).toHaveLength(1);
      expect(w.vendor.callsOf('fetch')).toHaveLength(1);
    });
  });
});

describe('fetch-frame: retryable failures', () => {
  const retry = { baseMs: 10_000, capMs: 45_000 };

  it('report frame.retrying and ask for redelivery after the capped exponential delay with jitter', async () => {
    await start({ vendor: { attempts: 6, retry }, maxReceiveCount: 10 });
    const frame = await w.nextFrame();
    for (let attempt = 1; attempt <= 5; attempt++) {
      w.vendor.failNext('fetch', new SourceUnavailableError('vendor 503', 'FAKE.UNAVAILABLE'));
      const now = w.clock.now();
      const settlement = await w.fetch(frame, attempt);

      const ceiling = Math.min(retry.capMs, retry.baseMs * 2 ** (attempt - 1));
      const [event] = w.events('frame.retrying').slice(-1);
      expect(event).toMatchObject({
        now,
        loop: FAKE_LOOP,
        frameId: frame.frameId,
        stage: 'fetch',
        attempt,
        error: { kind: 'retryable', code: 'FAKE.UNAVAILABLE' },
      });
      const delay = event.retryAt - now;
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThan(ceiling);
      expect(settlement).toEqual({ settle: 'retry', delaySeconds: Math.ceil(delay / 1000) });
      expect(await loopMode(w)).toBe('fetching');
      w.clock.advance(delay);
    }
    expect(w.events('frame.retrying')).toHaveLength(5);
    expect(w.events('frame.failed')).toEqual([]);
    expect((await w.record()).status.lastError).toMatchObject({ kind: 'retryable', code: 'FAKE.UNAVAILABLE' });
  });

  it('jitter spreads sources apart: the same attempt of different sources waits different delays', async () => {
    w = createAppWorld({ vendor: { retry } });
    publishUntil(w, T0);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const id of ids) await w.addSource(id);
    await w.tick();
    const frames = w.takeFrames();
    expect(frames).toHaveLength(ids.length);
    const delays: number[] = [];
    for (const frame of frames) {
      w.vendor.failNext('fetch', new SourceUnavailableError('vendor 503', 'FAKE.UNAVAILABLE'));
      const settlement = await w.fetch(frame, 1);
      expect(settlement.settle).toBe('retry');
      delays.push(w.events('frame.retrying', frame.sourceId)[0].retryAt - w.clock.now());
    }
    expect(delays.every((d) => d >= retry.baseMs / 2 && d < retry.baseMs)).toBe(true);
    // A vendor outage hits every source at once; identical delays would bring them back in lock-step.
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('honour Retry-After when it is longer than the backoff', async () => {
    await start();
    const frame = await w.nextFrame();
    w.vendor.failNext('fetch', new SourceUnavailableError('429', 'FAKE.THROTTLED', { retryAfterMs: 7 * MIN }));

    expect(await w.fetch(frame, 1)).toEqual({ settle: 'retry', delaySeconds: 7 * 60 });
    expect(w.events('frame.retrying')).toEqual([expect.objectContaining({ retryAt: T0 + 7 * MIN })]);
  });

  it('Retry-After up to the 15-minute cap is still a retry; beyond it the frame fails and the cycle waits it out', async () => {
    await start();
    const frame = await w.nextFrame();
    w.vendor.failNext(
      'fetch',
      new SourceUnavailableError('429', 'FAKE.THROTTLED', { retryAfterMs: MAX_RETRY_DELAY_MS }),
    );
    expect(await w.fetch(frame, 1)).toEqual({ settle: 'retry', delaySeconds: MAX_RETRY_DELAY_MS / 1000 });

    const retryAfterMs = MAX_RETRY_DELAY_MS + 1;
    w.vendor.failNext('fetch', new SourceUnavailableError('429', 'FAKE.THROTTLED', { retryAfterMs }));
    expect(await w.fetch(frame, 2)).toEqual({ settle: 'done' });

    expect(w.events('frame.failed')).toEqual([
      {
        type: 'frame.failed',
        now: T0,
        loop: FAKE_LOOP,
        frameId: frame.frameId,
        stage: 'fetch',
        attempt: 2,
        error: { kind: 'retryable', code: 'FAKE.THROTTLED' },
        retryAfterMs,
        session: { establishedAt: T0, expiresAt: T0 + HOUR },
      },
    ]);
    expect(await loopMode(w)).toBe('backingOff');
    expect((await w.record()).nextDueAt).toBeGreaterThanOrEqual(T0 + retryAfterMs);
  });

  it("the loop's last allowed attempt reports frame.failed instead of asking for another delivery", async () => {
    await start({ vendor: { attempts: 3 }, maxReceiveCount: 5 });
    const frame = await w.nextFrame();
    w.vendor.failNext(
      'fetch',
      new SourceUnavailableError('a', 'FAKE.UNAVAILABLE'),
      new SourceUnavailableError('b', 'FAKE.UNAVAILABLE'),
      new SourceUnavailableError('c', 'FAKE.UNAVAILABLE'),
    );

    expect((await w.fetch(frame, 1)).settle).toBe('retry');
    expect((await w.fetch(frame, 2)).settle).toBe('retry');
    expect(await w.fetch(frame, 3)).toEqual({ settle: 'done' });

    expect(w.events().map((e) => e.type)).toEqual(['clock.ticked', 'frame.retrying', 'frame.retrying', 'frame.failed']);
    expect(w.events('frame.failed')[0]).toMatchObject({
      attempt: 3,
      error: { kind: 'retryable', code: 'FAKE.UNAVAILABLE' },
    });
    expect(await loopMode(w)).toBe('backingOff');
  });

  it("the queue's maxReceiveCount bounds the attempts too (no message sits silently in the dead-letter queue)", async () => {
    await start({ vendor: { attempts: 10 }, maxReceiveCount: 4 });
    const frame = await w.nextFrame();
    w.vendor.failNext('fetch', new SourceUnavailableError('x', 'FAKE.UNAVAILABLE'));
    expect(await w.fetch(frame, 4)).toEqual({ settle: 'done' });
    expect(w.events('frame.failed')).toEqual([expect.objectContaining({ attempt: 4 })]);
  });

  it('an unexpected error (a bug, not a SourceError) counts as retryable under a neutral code', async () => {
    await start();
    const frame = await w.nextFrame();
    w.vendor.failNext('fetch', new TypeError(`cannot read ${FAKE_PASSWORD}`) as never);
    expect((await w.fetch(frame, 1)).settle).toBe('retry');
    expect(w.events('frame.retrying')[0].error).toEqual({ kind: 'retryable', code: 'INTERNAL.UNEXPECTED' });
  });
});

describe('fetch-frame: permanent failures', () => {
  it('report frame.failed on the first attempt, with no redelivery', async () => {
    await start({ vendor: { attempts: 5 } });
    const frame = await w.nextFrame();
    w.vendor.failNext('fetch', new SourceRejectedError('unexpected body', 'FAKE.BAD_BODY'));

    expect(await w.fetch(frame, 1)).toEqual({ settle: 'done' });

    expect(w.events('frame.failed')).toEqual([
      expect.objectContaining({ stage: 'fetch', attempt: 1, error: { kind: 'permanent', code: 'FAKE.BAD_BODY' } }),
    ]);
    expect(w.events('frame.retrying')).toEqual([]);
    expect(w.metrics.counts.FrameFailed_permanent).toBe(1);
    expect(await loopMode(w)).toBe('backingOff');
  });

  it('a frame for a loop the driver does not have fails permanently without touching the vendor', async () => {
    await start();
    const frame = await w.nextFrame();
    const unknown = { ...frame, loop: 'NoSuchLoop' };

    expect(await w.fetch(unknown, 1)).toEqual({ settle: 'done' });

    expect(w.vendor.calls).toEqual([]);
    expect(w.events('frame.failed')).toEqual([
      {
        type: 'frame.failed',
        now: T0,
        loop: 'NoSuchLoop',
        frameId: frame.frameId,
        stage: 'fetch',
        attempt: 1,
        error: { kind: 'permanent', code: 'FRAME.UNKNOWN_LOOP' },
      },
    ]);
  });
});

describe('fetch-frame: credentials rejected', () => {
  it('re-reads the credentials once past the cache; unchanged → auth.rejected, session cleared, source parked', async () => {
    await start();
    await healthyCycle(w);
    // The person changed the password at the vendor but not here; the vendor also dropped the session.
    w.vendor.password = FAKE_NEW_PASSWORD;
    w.vendor.invalidateSessions();
    expect(await w.sessions.get(SOURCE_ID)).toBeDefined();
    const frame = await nextCycleFrame(w);

    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.vendor.callsOf('authenticate').map((c) => c.password)).toEqual([FAKE_PASSWORD, FAKE_PASSWORD]);
    expect(w.credentials.freshGets).toBe(1);
    expect(w.events('auth.rejected')).toEqual([
      {
        type: 'auth.rejected',
        now: w.clock.now(),
        loop: FAKE_LOOP,
        frameId: frame.frameId,
        code: 'FAKE.AUTH_REJECTED',
      },
    ]);
    expect(await w.sessions.get(SOURCE_ID)).toBeUndefined();
    expect(w.metrics.counts.AuthRejected).toBe(1);
    const record = await w.record();
    expect(record.status.parkedReason).toContain('FAKE.AUTH_REJECTED');
    expect(record.nextDueAt).toBeUndefined();

    // Parked: later ticks send nothing, so the bad password is never tried again.
    w.clock.advance(HOUR);
    expect((await w.tick()).framesSent).toBe(0);
    expect(w.vendor.callsOf('authenticate')).toHaveLength(2);
  });

  it('credentials changed meanwhile → exactly one login with the new ones, and the frame goes on', async () => {
    await start();
    w.vendor.password = FAKE_NEW_PASSWORD;
    await w.credentials.get(SOURCE_ID); // this process cached the old secret
    await w.secret.put(SOURCE_ID, credentialsFor(FAKE_NEW_PASSWORD));
    const frame = await w.nextFrame();

    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.vendor.callsOf('authenticate').map((c) => c.password)).toEqual([FAKE_PASSWORD, FAKE_NEW_PASSWORD]);
    expect(w.credentials.freshGets).toBe(1);
    expect(w.events('auth.rejected')).toEqual([]);
    expect(w.takePersists()).toHaveLength(1);
    expect(w.log.lines.some((l) => l.includes('"reason":"credentials changed"'))).toBe(true);
  });

  it('changed credentials that are refused too → auth.rejected after two logins: never a loop', async () => {
    await start();
    w.vendor.password = 'yet-another-password-DO-NOT-LEAK';
    await w.credentials.get(SOURCE_ID);
    await w.secret.put(SOURCE_ID, credentialsFor(FAKE_NEW_PASSWORD));
    const frame = await w.nextFrame();

    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.vendor.callsOf('authenticate').map((c) => c.password)).toEqual([FAKE_PASSWORD, FAKE_NEW_PASSWORD]);
    expect(w.credentials.freshGets).toBe(1);
    expect(w.events('auth.rejected')).toHaveLength(1);
    expect(w.events().map((e) => e.type)).toEqual(['clock.ticked', 'auth.rejected']);
  });

  it('locked out → auth.lockedOut with the vendor instant; nothing is attempted before it', async () => {
    await start();
    const until = T0 + 3 * HOUR;
    w.vendor.failNext('authenticate', new SourceLockedOutError('account locked', 'FAKE.LOCKED', until));
    const frame = await w.nextFrame();

    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.events('auth.lockedOut')).toEqual([
      { type: 'auth.lockedOut', now: T0, loop: FAKE_LOOP, frameId: frame.frameId, code: 'FAKE.LOCKED', until },
    ]);
    expect(w.credentials.freshGets).toBe(0);
    const record = await w.record();
    expect(record.status.lockedUntil).toBe(until);
    expect(record.nextDueAt).toBeGreaterThanOrEqual(until);
    w.clock.set(until - MIN);
    expect((await w.tick()).framesSent).toBe(0);
    expect(w.vendor.callsOf('authenticate')).toHaveLength(1);
  });
});

describe('fetch-frame: nothing new', () => {
  it('an empty batch reports frame.persisted at once: no Nightscout round trip, the cursor unchanged', async () => {
    w = createAppWorld();
    await w.addSource();
    const frame = await w.nextFrame();

    expect(await w.fetch(frame)).toEqual({ settle: 'done' });

    expect(w.takePersists()).toEqual([]);
    expect(w.events('frame.persisted')).toEqual([
      {
        type: 'frame.persisted',
        now: T0,
        loop: FAKE_LOOP,
        frameId: frame.frameId,
        cursor: {},
        newestReadingAt: undefined,
        written: { entries: 0, treatments: 0, devicestatus: 0, profiles: 0 },
        session: { establishedAt: T0, expiresAt: T0 + HOUR },
      },
    ]);
    const record = await w.record();
    expect(record.status.sessionMode).toBe('active');
    expect(await loopMode(w)).toBe('waiting');
    expect(record.status.lastSuccessAt).toBe(T0);
  });
});

describe('fetch-frame: secrets', () => {
  it('no password, account, session id, refresh token or API secret in any event, log line, metric, queue body or source item', async () => {
    await start({ vendor: { refresh: true } });
    await healthyCycle(w); // login
    const reuse = await nextCycleFrame(w);
    await w.fetch(reuse);
    await w.persist(w.takePersists()[0]);
    w.vendor.invalidateSessions();
    await w.fetch(await nextCycleFrame(w)); // session invalid → refresh
    await w.persist(w.takePersists()[0]);
    const failing = await nextCycleFrame(w);
    w.vendor.failNext('fetch', new SourceUnavailableError(`503 for ${FAKE_PASSWORD}`, 'FAKE.UNAVAILABLE'));
    await w.fetch(failing, 1); // retryable, with a message quoting a secret
    w.vendor.revokeRefreshTokens();
    w.vendor.invalidateSessions();
    w.vendor.password = FAKE_NEW_PASSWORD;
    await w.fetch(failing, 2); // session invalid → refresh refused → login refused → auth.rejected

    expect(w.vendor.calls.map((c) => c.op).filter((op) => op !== 'fetch')).toEqual([
      'authenticate',
      'authorize',
      'refresh',
      'refresh',
      'authenticate',
    ]);
    expect(w.events('auth.rejected')).toHaveLength(1);
    const text = await w.publicText();
    const secrets = [...w.vendor.secrets(), FAKE_ACCOUNT, FAKE_NS_SECRET];
    expect(secrets.length).toBeGreaterThan(5);
    for (const secret of secrets)
      expect(text.includes(secret), `a secret (${secret.slice(0, 12)}…) leaked`).toBe(false);
  });
});
