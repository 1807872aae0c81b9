/**
 * persist's policy (see the header of lib/app/persist-frame.ts) over memory adapters, the fake vendor, the fake
 * Nightscout and the real source machine: success advances the source's cursor and records metrics; 401/403 parks
 * the source; retryable failures are redelivered with a capped, jittered delay while the queue allows, and the last
 * attempt reports the frame failed; permanent failures are not retried.
 */
import { describe, expect, it, vi } from 'vitest';
import { PERSIST_RETRY } from '../../../lib/app/persist-frame.js';
import { SourceAuthRejectedError, SourceRejectedError, SourceUnavailableError } from '../../../lib/domain/errors.js';
import type { PersistMessage } from '../../../lib/domain/messages.js';
import { type AppWorld, type AppWorldOptions, createAppWorld, SOURCE_ID, T0 } from '../../helpers/app-deps.helper.js';
import { FAKE_NS_SECRET } from '../../helpers/fake-nightscout.helper.js';
import { FAKE_ACCOUNT, FAKE_DEVICE, FAKE_LOOP, FAKE_PASSWORD } from '../../helpers/fake-vendor.helper.js';

vi.mock('../../../lib/app/apply-event.js', async (importOriginal) =>
  (await import('../../helpers/machine-events.helper.js')).recordMachineEvents(await importOriginal()),
);

const MIN = 60_000;
const HOUR = 60 * MIN;
const FETCH_LAG_MS = 4_000;

/** A source with one fetched frame: six readings over the half hour before T0, persist message in hand. */
async function fetched(options: AppWorldOptions = {}): Promise<{ w: AppWorld; message: PersistMessage }> {
  const w = createAppWorld(options);
  for (let i = 5; i >= 0; i--) w.vendor.readings.push({ date: T0 - i * 5 * MIN, sgv: 120 + i });
  await w.addSource();
  const frame = await w.nextFrame();
  expect(await w.fetch(frame)).toEqual({ settle: 'done' });
  const persists = w.takePersists();
  expect(persists).toHaveLength(1);
  w.clock.advance(FETCH_LAG_MS);
  return { w, message: persists[0] };
}

const loopMode = async (w: AppWorld) => (await w.record()).status.loopModes[FAKE_LOOP];

describe('persist: success', () => {
  it('writes the batch, reports frame.persisted with the advanced cursor, and records what it wrote', async () => {
    const { w, message } = await fetched();
    const now = w.clock.now();

    expect(await w.persist(message)).toEqual({ settle: 'done' });

    expect(w.nightscout.writers).toEqual([
      { target: message.config.nightscout, credentials: { apiSecret: FAKE_NS_SECRET } },
    ]);
    expect(w.nightscout.requests).toEqual([
      {
        batch: message.batch,
        cursor: null,
        device: FAKE_DEVICE,
        now,
        seedLookbackMs: 24 * HOUR,
      },
    ]);
    expect(w.nightscout.entries.size).toBe(6);
    expect(w.events('frame.persisted')).toEqual([
      {
        type: 'frame.persisted',
        now,
        loop: FAKE_LOOP,
        frameId: message.frameId,
        cursor: { entries: T0 },
        written: { entries: 6, treatments: 0, devicestatus: 0, profiles: 0 },
        newestReadingAt: T0,
        session: message.session,
      },
    ]);
    expect(w.metrics.counts.ReadingsWritten).toBe(6);
    expect(w.metrics.timings.FreshnessLagMs).toEqual(message.batch.entries.map((e) => now - e.date));

    const record = await w.record();
    expect(await loopMode(w)).toBe('waiting');
    expect(record.status).toMatchObject({ newestReadingAt: T0, lastSuccessAt: now });
    expect(record.nextDueAt).toBeGreaterThan(now);
    // The next frame starts from the advanced cursor.
    w.clock.set(record.nextDueAt as number);
    const next = await w.nextFrame();
    expect(next.cursor).toEqual({ entries: T0 });
  });

  it('counts freshness only for readings newer than the cursor (a re-read reading is not fresh)', async () => {
    const { w, message } = await fetched();
    const cursor = { entries: T0 - 10 * MIN };
    await w.persist({ ...message, cursor });
    const now = w.clock.now();
    expect(w.metrics.timings.FreshnessLagMs).toEqual([now - (T0 - 5 * MIN), now - T0]);
  });

  it('a redelivered message writes nothing twice and reports the same cursor', async () => {
    const { w, message } = await fetched();
    await w.persist(message);
    await w.persist(message, 2);
    expect(w.nightscout.entries.size).toBe(6);
    const [first, second] = w.events('frame.persisted');
    expect(second.cursor).toEqual(first.cursor);
    expect(second.written.entries).toBe(0);
  });
});

describe('persist: Nightscout refuses the credentials', () => {
  it('401/403 → auth.rejected naming Nightscout; the source parks, nothing is redelivered', async () => {
    const { w, message } = await fetched();
    w.nightscout.failNext(new SourceAuthRejectedError('Nightscout answered 401', 'NIGHTSCOUT.UNAUTHORIZED'));

    expect(await w.persist(message)).toEqual({ settle: 'done' });

    expect(w.events('auth.rejected')).toEqual([
      {
        type: 'auth.rejected',
        now: w.clock.now(),
        loop: FAKE_LOOP,
        frameId: message.frameId,
        code: 'NIGHTSCOUT.UNAUTHORIZED',
      },
    ]);
    const record = await w.record();
    expect(record.status.parkedReason).toContain('NIGHTSCOUT.UNAUTHORIZED');
    expect(record.nextDueAt).toBeUndefined();
    expect(w.nightscout.entries.size).toBe(0);
  });
});

describe('persist: retryable failures', () => {
  it('frame.retrying at the persist stage, redelivered after a capped, jittered delay, while the queue allows', async () => {
    const { w, message } = await fetched({ maxReceiveCount: 5 });
    for (let attempt = 1; attempt <= 4; attempt++) {
      w.nightscout.failNext(new SourceUnavailableError('Nightscout 503', 'NIGHTSCOUT.UNAVAILABLE'));
      const now = w.clock.now();
      const settlement = await w.persist(message, attempt);

      const ceiling = Math.min(PERSIST_RETRY.retry.capMs, PERSIST_RETRY.retry.baseMs * 2 ** (attempt - 1));
      const event = w.events('frame.retrying').at(-1);
      expect(event).toMatchObject({
        now,
        loop: FAKE_LOOP,
        frameId: message.frameId,
        stage: 'persist',
        attempt,
        error: { kind: 'retryable', code: 'NIGHTSCOUT.UNAVAILABLE' },
        session: message.session,
      });
      const delay = (event?.retryAt ?? 0) - now;
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThan(ceiling);
      expect(settlement).toEqual({ settle: 'retry', delaySeconds: Math.ceil(delay / 1000) });
      expect(await loopMode(w)).toBe('persisting');
      w.clock.advance(delay);
    }
    expect(w.metrics.counts.PersistFailed).toBe(4);
    // The source's cursor did not move: the same window is fetched again if this never succeeds.
    expect((await w.record()).status.newestReadingAt).toBeUndefined();
  });

  it('jitter spreads sources apart: the same attempt of different sources waits different delays', async () => {
    const w = createAppWorld();
    for (let i = 5; i >= 0; i--) w.vendor.readings.push({ date: T0 - i * 5 * MIN, sgv: 120 + i });
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const id of ids) await w.addSource(id);
    await w.tick();
    for (const frame of w.takeFrames()) await w.fetch(frame);
    const delays: number[] = [];
    for (const message of w.takePersists()) {
      w.nightscout.failNext(new SourceUnavailableError('Nightscout 503', 'NIGHTSCOUT.UNAVAILABLE'));
      expect((await w.persist(message, 1)).settle).toBe('retry');
      delays.push(w.events('frame.retrying', message.sourceId)[0].retryAt - w.clock.now());
    }
    expect(delays).toHaveLength(ids.length);
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('honours Retry-After', async () => {
    const { w, message } = await fetched();
    w.nightscout.failNext(
      new SourceUnavailableError('Nightscout 429', 'NIGHTSCOUT.THROTTLED', { retryAfterMs: 4 * MIN }),
    );
    expect(await w.persist(message, 1)).toEqual({ settle: 'retry', delaySeconds: 240 });
    expect(w.events('frame.retrying')[0].retryAt).toBe(w.clock.now() + 4 * MIN);
  });

  it('the last attempt the queue allows reports frame.failed, so the cycle backs off instead of dead-lettering silently', async () => {
    const { w, message } = await fetched({ maxReceiveCount: 3 });
    w.nightscout.failNext(
      new SourceUnavailableError('Nightscout 503', 'NIGHTSCOUT.UNAVAILABLE', { retryAfterMs: MIN }),
    );

    expect(await w.persist(message, 3)).toEqual({ settle: 'done' });

    expect(w.events('frame.failed')).toEqual([
      {
        type: 'frame.failed',
        now: w.clock.now(),
        loop: FAKE_LOOP,
        frameId: message.frameId,
        stage: 'persist',
        attempt: 3,
        error: { kind: 'retryable', code: 'NIGHTSCOUT.UNAVAILABLE' },
        retryAfterMs: MIN,
        session: message.session,
      },
    ]);
    expect(await loopMode(w)).toBe('backingOff');
  });
});

describe('persist: permanent failures', () => {
  it('frame.failed on the first attempt, no redelivery', async () => {
    const { w, message } = await fetched({ maxReceiveCount: 5 });
    w.nightscout.failNext(new SourceRejectedError('Nightscout 400', 'NIGHTSCOUT.BAD_REQUEST'));

    expect(await w.persist(message, 1)).toEqual({ settle: 'done' });

    expect(w.events('frame.failed')).toEqual([
      expect.objectContaining({
        stage: 'persist',
        attempt: 1,
        error: { kind: 'permanent', code: 'NIGHTSCOUT.BAD_REQUEST' },
      }),
    ]);
    expect(w.events('frame.retrying')).toEqual([]);
    expect(await loopMode(w)).toBe('backingOff');
  });
});

describe('persist: secrets', () => {
  it('no API secret, password or session material in any event, log line, metric, queue body or source item', async () => {
    const { w, message } = await fetched();
    w.nightscout.failNext(new SourceUnavailableError(`503 for ${FAKE_NS_SECRET}`, 'NIGHTSCOUT.UNAVAILABLE'));
    await w.persist(message, 1);
    await w.persist(message, 2);
    expect(w.events('frame.persisted')).toHaveLength(1);
    expect(await w.sessions.get(SOURCE_ID)).toBeDefined();

    const text = await w.publicText();
    for (const secret of [...w.vendor.secrets(), FAKE_PASSWORD, FAKE_ACCOUNT, FAKE_NS_SECRET]) {
      expect(text.includes(secret), `a secret (${secret.slice(0, 12)}…) leaked`).toBe(false);
    }
  });
});
