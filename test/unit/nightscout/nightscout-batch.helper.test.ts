/** Batch arithmetic: in-batch dedup, cursor filtering per collection, ordering, cursor merge, chunking. */
import { describe, expect, it } from 'vitest';
import { afterCursor, assertInstants, chunk, dedupBatch, mergeCursor, newestInstants, withoutId } from '../../../lib/nightscout/nightscout-batch.helper.js';
import { emptyBatch, toIso, type Batch, type SgvEntry } from '../../../lib/domain/records.js';
import { SourceRejectedError } from '../../../lib/domain/errors.js';

const T = Date.parse('2025-03-10T12:00:00.000Z');
const entry = (date: number): SgvEntry => ({ type: 'sgv', sgv: 100, date, dateString: toIso(date), direction: 'Flat', device: 'd' });

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
      devicestatus: [{ device: 'a', created_at: toIso(T) }, { device: 'b', created_at: toIso(T) }, { device: 'a', created_at: toIso(T) }],
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
    treatments: [{ eventType: 'Note', created_at: toIso(T) }, { eventType: 'Note', created_at: toIso(T - 1) }],
    devicestatus: [{ device: 'd', created_at: toIso(T) }, { device: 'd', created_at: toIso(T + 1) }],
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

describe('cursor math', () => {
  it('newestInstants ignores empty collections', () => {
    expect(newestInstants({ entries: [entry(T), entry(T + 5)], treatments: [] })).toEqual({ entries: T + 5 });
  });

  it('mergeCursor takes the max per collection and keeps one-sided values', () => {
    expect(mergeCursor({ entries: 5, treatments: 1 }, null, { entries: 3, devicestatus: 9 })).toEqual({ entries: 5, treatments: 1, devicestatus: 9 });
  });
});

describe('assertInstants', () => {
  it('refuses a document without a parseable date', () => {
    expect(() => assertInstants({ ...emptyBatch(), devicestatus: [{ device: 'd', created_at: 'soon' }] })).toThrow(SourceRejectedError);
    expect(() => assertInstants({ ...emptyBatch(), entries: [{ ...entry(T), date: Number.NaN }] })).toThrow(SourceRejectedError);
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
