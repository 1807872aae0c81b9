/**
 * The minute tick (lib/app/run-tick.ts) over the memory source store and the real machine: which sources it steps,
 * the frames it sends and their delays, its concurrency bound, its deadline, its isolation of a failing source, and
 * that a duplicate or racing tick sends nothing twice.
 */
import { describe, expect, it, vi } from 'vitest';
import { TICK_LOOKAHEAD_MS } from '../../../lib/app/run-tick.js';
import { SourceUnavailableError } from '../../../lib/domain/errors.js';
import { type AppWorld, createAppWorld, T0 } from '../../helpers/app-deps.helper.js';
import { FAKE_LOOP, FAKE_PASSWORD } from '../../helpers/fake-vendor.helper.js';

vi.mock('../../../lib/app/apply-event.js', async (importOriginal) =>
  (await import('../../helpers/machine-events.helper.js')).recordMachineEvents(await importOriginal()),
);

const MIN = 60_000;

/** Adds sources whose first frame is due at the given instants (a source is due when it is added). */
async function sourcesDueAt(w: AppWorld, due: Record<string, number>): Promise<void> {
  const now = w.clock.now();
  for (const [id, at] of Object.entries(due)) {
    w.clock.set(at);
    await w.addSource(id);
  }
  w.clock.set(now);
}

/** Lets every pending promise callback run: one turn of the event loop (no timer, no wall clock). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('run-tick', () => {
  it('steps the sources due within the look-ahead, and only those', async () => {
    const w = createAppWorld();
    await sourcesDueAt(w, {
      overdue: T0 - 5 * MIN,
      now: T0,
      soon: T0 + 30_000,
      edge: T0 + TICK_LOOKAHEAD_MS,
      later: T0 + TICK_LOOKAHEAD_MS + 1,
    });

    const report = await w.tick();

    expect(report).toEqual({ due: 4, advanced: 4, framesSent: 4, errors: 0, skippedForDeadline: 0 });
    const ticked = w.events('clock.ticked');
    expect(new Set(ticked.map((e) => JSON.stringify(e)))).toEqual(
      new Set([JSON.stringify({ type: 'clock.ticked', now: T0, horizon: T0 + TICK_LOOKAHEAD_MS })]),
    );
    expect(ticked).toHaveLength(4);
    expect((await w.record('later')).status.loopModes[FAKE_LOOP]).toBe('waiting');
    expect((await w.record('soon')).status.loopModes[FAKE_LOOP]).toBe('fetching');
    expect(w.metrics.counts).toMatchObject({ SourcesDue: 4, SourcesAdvanced: 4, FramesDispatched: 4 });
  });

  it('sends each frame with the delay that makes it fire at its due second', async () => {
    const w = createAppWorld();
    await sourcesDueAt(w, { overdue: T0 - 5 * MIN, now: T0, soon: T0 + 30_000, odd: T0 + 12_345 });

    await w.tick();

    const delays = Object.fromEntries(
      w.sentBodies.map((b) => JSON.parse(b) as { sourceId: string; dueAt: number }).map((b) => [b.sourceId, b.dueAt]),
    );
    expect(delays).toEqual({ overdue: T0, now: T0, soon: T0 + 30_000, odd: T0 + 12_345 });
    // Visible at the due second (rounded up to whole seconds, never early).
    expect(w.frameQueue.stats()).toEqual({ visible: 2, delayed: 2, inFlight: 0 });
    w.clock.set(T0 + 12_999);
    expect(
      w
        .takeFrames()
        .map((f) => f.sourceId)
        .sort(),
    ).toEqual(['now', 'overdue']);
    w.clock.set(T0 + 13_000);
    expect(w.takeFrames().map((f) => f.sourceId)).toEqual(['odd']);
    w.clock.set(T0 + 30_000);
    expect(w.takeFrames().map((f) => f.sourceId)).toEqual(['soon']);
  });

  it('steps at most `concurrency` sources at once, and all of them in the end', async () => {
    const w = createAppWorld();
    await sourcesDueAt(w, Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => [id, T0])));
    let inFlight = 0;
    let most = 0;
    w.sources.beforeSave = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await turn();
      inFlight--;
    };

    const report = await w.tick({ concurrency: 3 });

    expect(most).toBe(3);
    expect(report).toMatchObject({ due: 7, advanced: 7, framesSent: 7 });

    // Control: with room for all, all run at once (so the bound above is the option's doing).
    const all = createAppWorld();
    await sourcesDueAt(all, Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => [id, T0])));
    let most2 = 0;
    let inFlight2 = 0;
    all.sources.beforeSave = async () => {
      most2 = Math.max(most2, ++inFlight2);
      await turn();
      inFlight2--;
    };
    await all.tick();
    expect(most2).toBe(7);
  });

  it('starts no source after its deadline; the skipped ones stay due and the next tick takes them', async () => {
    const w = createAppWorld();
    const ids = ['a', 'b', 'c', 'd', 'e'];
    await sourcesDueAt(w, Object.fromEntries(ids.map((id) => [id, T0])));
    // Each step takes 10 s of the tick's time.
    w.sources.beforeSave = () => w.clock.advance(10_000);

    const report = await w.tick({ concurrency: 1, stopTakingWorkAt: T0 + 25_000 });

    expect(report).toEqual({ due: 5, advanced: 3, framesSent: 3, errors: 0, skippedForDeadline: 2 });
    const skipped = (await w.sources.list()).filter((r) => r.status.loopModes[FAKE_LOOP] === 'waiting');
    expect(skipped.map((r) => r.nextDueAt)).toEqual([T0, T0]);

    w.sources.beforeSave = undefined;
    const next = await w.tick();
    expect(next).toMatchObject({ advanced: 2, framesSent: 2 });
    expect(new Set(w.sentBodies.map((b) => (JSON.parse(b) as { sourceId: string }).sourceId))).toEqual(new Set(ids));
  });

  it('one failing source does not stop the others; it stays due for the next tick', async () => {
    const w = createAppWorld();
    await sourcesDueAt(w, { a: T0, broken: T0, c: T0 });
    w.sources.beforeSave = (record) => {
      if (record.id === 'broken') throw new SourceUnavailableError(`throttled (${FAKE_PASSWORD})`, 'STORE.THROTTLED');
    };

    const report = await w.tick({ concurrency: 1 });

    expect(report).toEqual({ due: 3, advanced: 2, framesSent: 2, errors: 1, skippedForDeadline: 0 });
    expect(
      w
        .takeFrames()
        .map((f) => f.sourceId)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(w.metrics.counts.TickErrors).toBe(1);
    expect(
      w.log.lines.filter((l) => l.includes('tick failed for a source') && l.includes('"sourceId":"broken"')),
    ).toHaveLength(1);
    expect((await w.record('broken')).nextDueAt).toBe(T0);

    w.sources.beforeSave = undefined;
    w.clock.advance(MIN);
    expect(await w.tick()).toMatchObject({ advanced: 1, framesSent: 1, errors: 0 });
    expect(w.takeFrames().map((f) => f.sourceId)).toEqual(['broken']);
  });

  it('a duplicate tick sends nothing twice: the frame is in flight', async () => {
    const w = createAppWorld();
    await sourcesDueAt(w, { a: T0, b: T0 });

    expect(await w.tick()).toMatchObject({ framesSent: 2 });
    w.clock.advance(20_000);
    const again = await w.tick();

    // The due index still finds them (the key stays put while a frame is in flight), but the machine sends nothing.
    expect(again).toEqual({ due: 2, advanced: 0, framesSent: 0, errors: 0, skippedForDeadline: 0 });
    expect(w.sentBodies).toHaveLength(2);
  });

  it('two ticks racing over the same sources send each frame once (conditional saves)', async () => {
    const w = createAppWorld();
    const ids = ['a', 'b', 'c', 'd'];
    await sourcesDueAt(w, Object.fromEntries(ids.map((id) => [id, T0])));
    // Both ticks read the due records before either saves.
    let reads = 0;
    let bothRead: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      bothRead = resolve;
    });
    const queryDue = w.sources.queryDue.bind(w.sources);
    w.sources.queryDue = async (...args) => {
      const found = await queryDue(...args);
      if (++reads === 2) bothRead();
      await gate;
      return found;
    };

    const [one, two] = await Promise.all([w.tick(), w.tick()]);

    expect(one.framesSent + two.framesSent).toBe(ids.length);
    expect(one.errors + two.errors).toBe(0);
    const frames = w.takeFrames();
    expect(frames.map((f) => f.sourceId).sort()).toEqual(ids);
    expect(new Set(frames.map((f) => `${f.sourceId}/${f.frameId}`)).size).toBe(ids.length);
    expect(w.log.lines.filter((l) => l.includes('version conflict, reloading')).length).toBe(ids.length);
  });
});
