/** Batch arithmetic: in-batch dedup, cursor filtering per collection, re-read window, ordering, cursor merge, chunking. */
import { describe, expect, it } from 'vitest';
import {
  afterCursor,
  assertInstants,
  behindCursor,
  chunk,
  dedupBatch,
  mergeCursor,
  newestInstants,
  READBACK_LIMIT,
  type StoredReading,
  toStoredReadings,
  withoutId,
  withoutStoredBehindCursor,
  withoutStoredReadings,
} from '../../../lib/adapters/nightscout/nightscout-batch.helper.js';
import { SourceRejectedError } from '../../../lib/domain/errors.js';
import { type Batch, emptyBatch, type SgvEntry, toIso } from '../../../lib/domain/records.js';

const T = Date.parse('2025-03-10T12:00:00.000Z');
const entry = (date: number): SgvEntry => ({
  type: 'sgv',
  sgv: 100,
  date,
  dateString: toIso(date),
  direction: 'Flat',
  device: 'd',
});

describe('dedupBatch', () => {
  it('keys treatments on the instant, not the string form', () => {
    const batch: Batch = {
      ...emptyBatch(),
      treatments: [
        { eventType: 'Note', created_at: '2025-03-10T12:00:00Z' },
        { eventType: 'Note', created_at: '2025-03-10T13:00:00.000+01:00' },
        { eventType: 'Meal Bolus', created_at: '2025-03-10T12:00:00Z' },
      ],
      entries: [entry(T), entry(T), entry(T + 1)],
      devicestatus: [
        { device: 'a', created_at: toIso(T) },
        { device: 'b', created_at: toIso(T) },
        { device: 'a', created_at: toIso(T) },
      ],
    };
    const out = dedupBatch(batch);
    expect(out.treatments.map((t) => t.eventType)).toEqual(['Note', 'Meal Bolus']);
    expect(out.entries.map((e) => e.date)).toEqual([T, T + 1]);
    expect(out.devicestatus.map((d) => d.device)).toEqual(['a', 'b']);
  });
});

describe('afterCursor', () => {
  const batch: Batch = {
    entries: [entry(T + 10), entry(T), entry(T - 10)],
    treatments: [
      { eventType: 'Note', created_at: toIso(T) },
      { eventType: 'Note', created_at: toIso(T - 1) },
    ],
    devicestatus: [
      { device: 'd', created_at: toIso(T) },
      { device: 'd', created_at: toIso(T + 1) },
    ],
    profiles: [{ defaultProfile: 'x', startDate: toIso(T), created_at: toIso(T), store: {} }],
  };

  it('entries/devicestatus/profiles strictly after, treatments at or after, sorted oldest first', () => {
    const out = afterCursor(batch, { entries: T, treatments: T, devicestatus: T, profiles: T });
    expect(out.entries.map((e) => e.date)).toEqual([T + 10]);
    expect(out.treatments.map((t) => t.created_at)).toEqual([toIso(T)]);
    expect(out.devicestatus.map((d) => d.created_at)).toEqual([toIso(T + 1)]);
    expect(out.profiles).toEqual([]);
  });

  it('keeps everything when the cursor knows nothing', () => {
    const out = afterCursor(batch, {});
    expect(out.entries.map((e) => e.date)).toEqual([T - 10, T, T + 10]);
    expect(out.devicestatus).toHaveLength(2);
  });
});

describe('re-read window', () => {
  const MIN = 60_000;
  const dates = (entries: SgvEntry[]) => entries.map((e) => e.date);
  const sgvAt = (...at: number[]): StoredReading[] => at.map((date) => ({ date, type: 'sgv' }));

  it('afterCursor keeps entries dated after cursor − window, and only entries; the other collections are unchanged', () => {
    const batch: Batch = {
      ...emptyBatch(),
      entries: [entry(T - 60 * MIN), entry(T - 59 * MIN), entry(T - 15 * MIN), entry(T), entry(T + MIN)],
      devicestatus: [{ device: 'd', created_at: toIso(T - 10 * MIN) }],
    };
    expect(dates(afterCursor(batch, { entries: T }).entries)).toEqual([T + MIN]);
    expect(dates(afterCursor(batch, { entries: T }, 0).entries)).toEqual([T + MIN]);
    // Exactly at cursor − window is outside (strictly after, like the cursor itself).
    expect(dates(afterCursor(batch, { entries: T }, 60 * MIN).entries)).toEqual([
      T - 59 * MIN,
      T - 15 * MIN,
      T,
      T + MIN,
    ]);
    expect(afterCursor(batch, { entries: T, devicestatus: T }, 60 * MIN).devicestatus).toEqual([]);
    // No cursor yet: everything is a candidate, window or not.
    expect(dates(afterCursor(batch, {}, 60 * MIN).entries)).toHaveLength(5);
  });

  it('behindCursor picks the entries at or before the cursor, or closer after it than the tolerance; none without a cursor', () => {
    const entries = [entry(T - 5 * MIN), entry(T), entry(T + 29_999), entry(T + 30_000), entry(T + MIN)];
    expect(dates(behindCursor(entries, { entries: T }))).toEqual([T - 5 * MIN, T]);
    expect(dates(behindCursor(entries, { entries: T }, 30_000))).toEqual([T - 5 * MIN, T, T + 29_999]);
    expect(behindCursor(entries, {}, 30_000)).toEqual([]);
  });

  it('withoutStoredReadings drops exact matches, and near ones within the tolerance, of the same type only', () => {
    const candidates = [entry(T - 10 * MIN), entry(T - 5 * MIN), entry(T)];
    // Tolerance 0: only the exact instant counts.
    expect(dates(withoutStoredReadings(candidates, sgvAt(T - 5 * MIN, T + 1), 0))).toEqual([T - 10 * MIN, T]);
    // 30 s: a stored reading 29.999 s off is the same reading, 30 s off is another one.
    expect(dates(withoutStoredReadings(candidates, sgvAt(T - 10 * MIN + 29_999, T - 30_000), 30_000))).toEqual([
      T - 5 * MIN,
      T,
    ]);
    expect(dates(withoutStoredReadings(candidates, [{ date: T, type: 'mbg' }], 30_000))).toEqual(dates(candidates));
    // A read-back cut at its limit: candidates older than what it covers are kept, not judged.
    expect(dates(withoutStoredReadings(candidates, sgvAt(T - 10 * MIN, T), 0, T - 5 * MIN))).toEqual([
      T - 10 * MIN,
      T - 5 * MIN,
    ]);
  });

  it('withoutStoredBehindCursor reads back once, from the oldest candidate behind the cursor minus the tolerance', async () => {
    const pending = [entry(T - 50 * MIN), entry(T - 20 * MIN), entry(T - 15 * MIN), entry(T + MIN)];
    const calls: Array<[number, number]> = [];
    const out = await withoutStoredBehindCursor(pending, { entries: T }, 30_000, async (from, limit) => {
      calls.push([from, limit]);
      return sgvAt(T - 50 * MIN, T - 15 * MIN + 20_000, T);
    });
    expect(calls).toEqual([[T - 50 * MIN - 30_000, READBACK_LIMIT]]);
    // Fresh entries (after the cursor) are never judged against the read-back.
    expect(dates(out)).toEqual([T - 20 * MIN, T + MIN]);
  });

  it('withoutStoredBehindCursor makes no request when nothing is behind the cursor (drivers without a window)', async () => {
    let reads = 0;
    const read = async () => {
      reads += 1;
      return [];
    };
    const fresh = [entry(T + MIN), entry(T + 2 * MIN)];
    expect(await withoutStoredBehindCursor(fresh, { entries: T }, 0, read)).toEqual(fresh);
    expect(await withoutStoredBehindCursor(fresh, {}, 0, read)).toEqual(fresh);
    expect(reads).toBe(0);
  });

  it('withoutStoredBehindCursor keeps candidates older than a read-back that hit its limit', async () => {
    const pending = [entry(T - 40 * MIN), entry(T - 10 * MIN), entry(T - 5 * MIN)];
    const full = Array.from({ length: READBACK_LIMIT }, (_, i) => ({ date: T - 10 * MIN + i, type: 'sgv' }));
    const out = await withoutStoredBehindCursor(pending, { entries: T }, 0, async () =>
      [...full, { date: T - 5 * MIN, type: 'sgv' }].slice(-READBACK_LIMIT),
    );
    expect(dates(out)).toEqual([T - 40 * MIN, T - 10 * MIN]);
  });

  it('toStoredReadings keeps dated documents and their type', () => {
    expect(
      toStoredReadings([
        { date: T, type: 'sgv', sgv: 1 },
        { date: 'x' },
        null,
        'y',
        { date: String(T + 1), type: 'mbg' },
      ]),
    ).toEqual([
      { date: T, type: 'sgv' },
      { date: T + 1, type: 'mbg' },
    ]);
  });
});

describe('cursor math', () => {
  it('newestInstants ignores empty collections', () => {
    expect(newestInstants({ entries: [entry(T), entry(T + 5)], treatments: [] })).toEqual({ entries: T + 5 });
  });

  it('mergeCursor takes the max per collection and keeps one-sided values', () => {
    expect(mergeCursor({ entries: 5, treatments: 1 }, null, { entries: 3, devicestatus: 9 })).toEqual({
      entries: 5,
      treatments: 1,
      devicestatus: 9,
    });
  });
});

describe('assertInstants', () => {
  it('refuses a document without a parseable date', () => {
    expect(() => assertInstants({ ...emptyBatch(), devicestatus: [{ device: 'd', created_at: 'soon' }] })).toThrow(
      SourceRejectedError,
    );
    expect(() => assertInstants({ ...emptyBatch(), entries: [{ ...entry(T), date: Number.NaN }] })).toThrow(
      SourceRejectedError,
    );
    expect(() => assertInstants({ ...emptyBatch(), entries: [entry(T)] })).not.toThrow();
  });
});

describe('chunk and withoutId', () => {
  it('chunks preserve order', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 50)).toEqual([]);
  });

  it('drops _id and nothing else', () => {
    const doc = { _id: 'abc', created_at: toIso(T), device: 'd' };
    expect(withoutId(doc)).toEqual({ created_at: toIso(T), device: 'd' });
    expect(doc._id).toBe('abc');
  });
});
