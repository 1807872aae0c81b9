/**
 * Pure batch arithmetic for the Nightscout writers: validate instants, drop in-batch duplicates, drop what the cursor
 * says is already stored (entries: unless inside the driver's re-read window, where a read-back decides), sort oldest
 * first, and advance the cursor. Dates are read, never rewritten.
 */

import { SourceRejectedError } from '../../domain/errors.js';
import type { Batch, Cursor, SgvEntry } from '../../domain/records.js';

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
  if (batch.treatments.some((t) => typeof t.created_at !== 'string' || Number.isNaN(createdAtInstant(t))))
    bad('treatments');
  if (batch.devicestatus.some((d) => typeof d.created_at !== 'string' || Number.isNaN(createdAtInstant(d))))
    bad('devicestatus');
  if (batch.profiles.some((p) => typeof p.created_at !== 'string' || Number.isNaN(createdAtInstant(p))))
    bad('profiles');
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
 * - entries: date > cursor − rereadMs (an entry at the cursor instant has the same {sysTime,type} key, so it is
 *   stored). With a re-read window, the entries at or before the cursor are only candidates: the writer drops those
 *   Nightscout already holds (`behindCursor`, `withoutStoredReadings`).
 * - treatments: created_at ≥ cursor: the upsert makes a re-send harmless, and a second treatment sharing the cursor
 *   instant with another eventType must not be lost.
 * - devicestatus, profiles: created_at > cursor: Nightscout inserts these blindly, a re-send is a duplicate.
 */
export function afterCursor(batch: Batch, cursor: Cursor, rereadMs = 0): Batch {
  const { entries: e, treatments: t, devicestatus: d, profiles: p } = cursor;
  return {
    entries: sortBy(
      batch.entries.filter((x) => e === undefined || x.date > e - rereadMs),
      entryInstant,
    ),
    treatments: sortBy(
      batch.treatments.filter((x) => t === undefined || createdAtInstant(x) >= t),
      createdAtInstant,
    ),
    devicestatus: sortBy(
      batch.devicestatus.filter((x) => d === undefined || createdAtInstant(x) > d),
      createdAtInstant,
    ),
    profiles: sortBy(
      batch.profiles.filter((x) => p === undefined || createdAtInstant(x) > p),
      createdAtInstant,
    ),
  };
}

/**
 * The entries the writer checks against Nightscout: those dated at or before the cursor (the re-read part), and those
 * less than `sameReadingMs` after it, which may be the stored newest reading under a slightly different instant.
 */
export function behindCursor(entries: SgvEntry[], cursor: Cursor, sameReadingMs = 0): SgvEntry[] {
  const e = cursor.entries;
  return e === undefined ? [] : entries.filter((x) => x.date <= e || x.date - e < sameReadingMs);
}

/** What a read-back of stored entries must cover for `behind` (oldest candidate minus the tolerance), or undefined. */
export function readBackFrom(behind: SgvEntry[], sameReadingMs: number): number | undefined {
  return behind.length === 0 ? undefined : Math.min(...behind.map(entryInstant)) - sameReadingMs;
}

/**
 * Drop the entries Nightscout already holds: a stored entry of the same type closer than `sameReadingMs` (or at the
 * same instant when it is 0) is the same reading. The stored one wins: it was written first, and for LibreLinkUp it
 * is the current reading with its trend arrow, which a re-post of the arrowless graph row would erase on a
 * whole-document replace (Nightscout ≤ 15.0.6, API v3 dedup) or sit a few seconds beside.
 * `coveredFrom`: the read-back may have been cut at its limit; candidates older than this are kept (a re-post of an
 * exact instant is an idempotent upsert) rather than judged against an incomplete list.
 */
export function withoutStoredReadings(
  candidates: SgvEntry[],
  stored: Array<{ date: number; type: string }>,
  sameReadingMs: number,
  coveredFrom = Number.NEGATIVE_INFINITY,
): SgvEntry[] {
  const byType = new Map<string, number[]>();
  for (const s of stored) {
    if (!Number.isFinite(s.date)) continue;
    const list = byType.get(s.type) ?? [];
    list.push(s.date);
    byType.set(s.type, list);
  }
  return candidates.filter((c) => {
    if (c.date < coveredFrom) return true;
    const dates = byType.get(c.type) ?? [];
    return !dates.some((d) => (sameReadingMs > 0 ? Math.abs(d - c.date) < sameReadingMs : d === c.date));
  });
}

/** Most stored entries one read-back asks for (Nightscout API v3's `API3_MAX_LIMIT`); an hour holds far fewer. */
export const READBACK_LIMIT = 1000;

/** A stored entry as a read-back returns it: only the instant and the type matter. */
export interface StoredReading {
  date: number;
  type: string;
}

/**
 * `pending` entries (from `afterCursor` with the window) minus those behind the cursor that Nightscout already holds.
 * `readStored(from, limit)` returns this device's stored entries dated ≥ from, newest first, at most `limit`; it is
 * called once, and only when some candidate is behind the cursor, so a driver without a window never pays for it.
 */
export async function withoutStoredBehindCursor(
  pending: SgvEntry[],
  cursor: Cursor,
  sameReadingMs: number,
  readStored: (from: number, limit: number) => Promise<StoredReading[]>,
): Promise<SgvEntry[]> {
  const behind = behindCursor(pending, cursor, sameReadingMs);
  const from = readBackFrom(behind, sameReadingMs);
  if (from === undefined) return pending;
  const stored = await readStored(from, READBACK_LIMIT);
  const oldest = Math.min(...stored.map((s) => s.date));
  const coveredFrom = stored.length < READBACK_LIMIT ? Number.NEGATIVE_INFINITY : oldest + sameReadingMs;
  const keep = new Set(withoutStoredReadings(behind, stored, sameReadingMs, coveredFrom));
  const behindSet = new Set(behind);
  return pending.filter((e) => !behindSet.has(e) || keep.has(e));
}

/** A read-back answer (v1 array or v3 `result`) as stored readings; anything else is not a list. */
export function toStoredReadings(list: unknown[]): StoredReading[] {
  return list
    .filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null)
    .map((d) => ({ date: Number(d.date), type: String(d.type) }))
    .filter((d) => Number.isFinite(d.date));
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
  if (!Object.hasOwn(doc, '_id')) return doc;
  const copy = { ...doc } as T & { _id?: unknown };
  delete copy._id;
  return copy;
}
