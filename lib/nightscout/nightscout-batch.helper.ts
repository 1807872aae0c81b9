/**
 * Pure batch arithmetic for the Nightscout writers: validate instants, drop in-batch duplicates, drop what the cursor
 * says is already stored, sort oldest first, and advance the cursor. Dates are read, never rewritten.
 */
import type { Batch, Cursor, SgvEntry } from '../domain/records.js';
import { SourceRejectedError } from '../domain/errors.js';

export type CollectionName = keyof Cursor;
export const COLLECTIONS: readonly CollectionName[] = ['entries', 'treatments', 'devicestatus', 'profiles'];

/** Epoch ms of a document's instant: `date` for entries, `created_at` for the rest. */
export function entryInstant(entry: SgvEntry): number {
  return entry.date;
}

export function createdAtInstant(doc: { created_at: string }): number {
  return Date.parse(doc.created_at);
}

/**
 * A document without a usable instant would be misdated by Nightscout (a missing created_at becomes server time), so
 * the whole batch is refused: a driver bug must be loud, not silently stored at the wrong time.
 */
export function assertInstants(batch: Batch): void {
  const bad = (collection: string): never => {
    throw new SourceRejectedError(`batch has a ${collection} document without a valid date`, 'NIGHTSCOUT.BAD_DOCUMENT');
  };
  if (batch.entries.some((e) => !Number.isFinite(e.date))) bad('entries');
  if (batch.treatments.some((t) => typeof t.created_at !== 'string' || Number.isNaN(createdAtInstant(t)))) bad('treatments');
  if (batch.devicestatus.some((d) => typeof d.created_at !== 'string' || Number.isNaN(createdAtInstant(d)))) bad('devicestatus');
  if (batch.profiles.some((p) => typeof p.created_at !== 'string' || Number.isNaN(createdAtInstant(p)))) bad('profiles');
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Drop in-batch duplicates by each collection's natural key (first occurrence wins). */
export function dedupBatch(batch: Batch): Batch {
  return {
    entries: uniqueBy(batch.entries, (e) => `${e.date}|${e.type}`),
    // Nightscout normalises created_at to UTC ISO before keying, so key on the instant, not the string.
    treatments: uniqueBy(batch.treatments, (t) => `${createdAtInstant(t)}|${t.eventType}`),
    devicestatus: uniqueBy(batch.devicestatus, (d) => `${createdAtInstant(d)}|${d.device}`),
    profiles: uniqueBy(batch.profiles, (p) => `${createdAtInstant(p)}`),
  };
}

/**
 * Keep only what the cursor does not already cover, oldest first.
 * - entries: date > cursor (an entry at the cursor instant has the same {sysTime,type} key, so it is stored).
 * - treatments: created_at ≥ cursor: the upsert makes a re-send harmless, and a second treatment sharing the cursor
 *   instant with another eventType must not be lost.
 * - devicestatus, profiles: created_at > cursor: Nightscout inserts these blindly, a re-send is a duplicate.
 */
export function afterCursor(batch: Batch, cursor: Cursor): Batch {
  const { entries: e, treatments: t, devicestatus: d, profiles: p } = cursor;
  return {
    entries: sortBy(batch.entries.filter((x) => e === undefined || x.date > e), entryInstant),
    treatments: sortBy(batch.treatments.filter((x) => t === undefined || createdAtInstant(x) >= t), createdAtInstant),
    devicestatus: sortBy(batch.devicestatus.filter((x) => d === undefined || createdAtInstant(x) > d), createdAtInstant),
    profiles: sortBy(batch.profiles.filter((x) => p === undefined || createdAtInstant(x) > p), createdAtInstant),
  };
}

function sortBy<T>(items: T[], instant: (item: T) => number): T[] {
  return [...items].sort((a, b) => instant(a) - instant(b));
}

/** Newest instant per collection among the documents given (absent when a collection is empty). */
export function newestInstants(batch: Partial<Batch>): Cursor {
  const newest = (values: number[]): number | undefined => (values.length === 0 ? undefined : Math.max(...values));
  return compactCursor({
    entries: newest((batch.entries ?? []).map(entryInstant)),
    treatments: newest((batch.treatments ?? []).map(createdAtInstant)),
    devicestatus: newest((batch.devicestatus ?? []).map(createdAtInstant)),
    profiles: newest((batch.profiles ?? []).map(createdAtInstant)),
  });
}

/** Per-collection max; a collection known to neither side stays absent. */
export function mergeCursor(...cursors: Array<Cursor | null | undefined>): Cursor {
  const out: Cursor = {};
  for (const cursor of cursors) {
    if (!cursor) continue;
    for (const name of COLLECTIONS) {
      const value = cursor[name];
      if (value === undefined || !Number.isFinite(value)) continue;
      const current = out[name];
      out[name] = current === undefined ? value : Math.max(current, value);
    }
  }
  return out;
}

function compactCursor(cursor: Cursor): Cursor {
  const out: Cursor = {};
  for (const name of COLLECTIONS) if (cursor[name] !== undefined) out[name] = cursor[name];
  return out;
}

export function chunk<T>(items: T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/** A copy without `_id`: Nightscout would key on it (and reject a foreign ObjectId), the server assigns its own. */
export function withoutId<T extends object>(doc: T): T {
  if (!Object.prototype.hasOwnProperty.call(doc, '_id')) return doc;
  const copy = { ...doc } as T & { _id?: unknown };
  delete copy._id;
  return copy;
}
