/**
 * Pure LibreLinkUp body handling: pick the few fields a frame needs out of a `/graph` answer, and turn them into
 * Nightscout SGV entries. No I/O, no clock, no host time zone.
 *
 * Time: `FactoryTimestamp` is UTC written as `M/D/YYYY h:mm:ss AM/PM`; `Timestamp` is the phone's local wall time in
 * the same format. We parse FactoryTimestamp field by field into Date.UTC and never read Timestamp, and never hand a
 * local-format string to `new Date()`/`Date.parse` (whose result depends on the host's TZ: the upstream uploader's
 * "parse as local, subtract getTimezoneOffset()" is off by an hour around the host's DST changes).
 */

import {
  type Batch,
  type Cursor,
  type Direction,
  emptyBatch,
  type RereadWindow,
  type SgvEntry,
  toIso,
} from '../../domain/records.js';
import { entryIdentifier } from '../dexcom-share/dexcom-share.parse.js';

/** One glucose item as LibreLinkUp sends it (graphData rows, glucoseMeasurement, glucoseItem). */
export interface LibreGlucoseItem {
  FactoryTimestamp?: unknown;
  Timestamp?: unknown;
  ValueInMgPerDl?: unknown;
  TrendArrow?: unknown;
  [field: string]: unknown;
}

/**
 * What fetch hands to transform: only readings. The `/graph` body also carries a refreshed auth ticket and the
 * patient's name, neither of which may travel further than the fetch.
 */
export interface LibreGraphFrame {
  patientId?: string;
  /** The newest reading (connection.glucoseMeasurement, else connection.glucoseItem); graphData lags it by 15–20 min. */
  current: LibreGlucoseItem | null;
  graph: LibreGlucoseItem[];
}

const FACTORY_TIMESTAMP = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})\s*([AaPp][Mm])\s*$/;

/**
 * `M/D/YYYY h:mm:ss AM/PM`, read as UTC → epoch ms; undefined when the text is not exactly that shape or names an
 * impossible instant (a misdated reading is worse than a missing one).
 */
export function parseFactoryTimestamp(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = FACTORY_TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [month, day, year, hour12, minute, second] = m.slice(1, 7).map(Number);
  const pm = m[7].toUpperCase() === 'PM';
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour12 < 1 || hour12 > 12 || minute > 59 || second > 59)
    return undefined;
  // 12:xx AM is just after midnight, 12:xx PM just after noon.
  const hour = (hour12 % 12) + (pm ? 12 : 0);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 2/30 over into March; refuse instead of shifting the reading by days.
  const back = new Date(ms);
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) return undefined;
  return ms;
}

/** Libre's 1–5 arrow. Anything else (missing, 0, 6, text) is NOT COMPUTABLE: claiming Flat would hide a fall. */
export function mapTrendArrow(arrow: unknown): Direction {
  switch (arrow) {
    case 1:
      return 'SingleDown';
    case 2:
      return 'FortyFiveDown';
    case 3:
      return 'Flat';
    case 4:
      return 'FortyFiveUp';
    case 5:
      return 'SingleUp';
    default:
      return 'NOT COMPUTABLE';
  }
}

/** Reduce a `/llu/connections/<id>/graph` body to a frame; tolerant of missing parts (an empty frame is fine). */
export function pickGraphFrame(body: unknown): LibreGraphFrame {
  const data = isRecord(body) && isRecord(body.data) ? body.data : undefined;
  const connection = data && isRecord(data.connection) ? data.connection : undefined;
  const currentRaw = connection
    ? isRecord(connection.glucoseMeasurement)
      ? connection.glucoseMeasurement
      : isRecord(connection.glucoseItem)
        ? connection.glucoseItem
        : null
    : null;
  const graphRaw = data && Array.isArray(data.graphData) ? data.graphData : [];
  const patientId = connection && typeof connection.patientId === 'string' ? connection.patientId : undefined;
  return {
    ...(patientId !== undefined ? { patientId } : {}),
    current: currentRaw ? pickItem(currentRaw) : null,
    graph: graphRaw.filter(isRecord).map(pickItem),
  };
}

/** Readings dated further ahead than this are dropped: one would push the cursor past every real reading to come. */
export const MAX_FUTURE_SKEW_MS = 10 * 60_000;

/**
 * graphData rows plus the current reading → SGV entries, oldest first, one per reading, dated after
 * `cursor − reread.windowMs` (default: after the cursor).
 * Graph rows carry no arrow (NOT COMPUTABLE). A graph row at, or within `sameReadingMs` of, the current reading is
 * the same reading: the current one is kept, because it carries the arrow and its instant is the one that was (or
 * will be) written on the poll that first saw it.
 */
export function libreFrameToBatch(
  frame: LibreGraphFrame,
  ctx: { device: string; cursor: Cursor | null; now: number; reread?: RereadWindow },
): Batch {
  const byDate = new Map<number, SgvEntry>();
  for (const row of frame.graph ?? []) {
    const entry = toEntry(row, ctx.device, false);
    if (entry) byDate.set(entry.date, entry);
  }
  const current = frame.current ? toEntry(frame.current, ctx.device, true) : undefined;
  if (current) {
    const same = ctx.reread?.sameReadingMs ?? 0;
    for (const date of [...byDate.keys()]) if (Math.abs(date - current.date) < same) byDate.delete(date);
    byDate.set(current.date, current);
  }

  const after = ctx.cursor?.entries === undefined ? undefined : ctx.cursor.entries - (ctx.reread?.windowMs ?? 0);
  const batch = emptyBatch();
  batch.entries = [...byDate.values()]
    .filter((e) => (after === undefined || e.date > after) && e.date <= ctx.now + MAX_FUTURE_SKEW_MS)
    .sort((a, b) => a.date - b.date);
  return batch;
}

function toEntry(item: LibreGlucoseItem, device: string, withArrow: boolean): SgvEntry | undefined {
  const date = parseFactoryTimestamp(item.FactoryTimestamp);
  const value =
    typeof item.ValueInMgPerDl === 'number'
      ? item.ValueInMgPerDl
      : typeof item.ValueInMgPerDl === 'string'
        ? Number(item.ValueInMgPerDl)
        : NaN;
  if (date === undefined || !Number.isFinite(value) || value <= 0) return undefined;
  return {
    type: 'sgv',
    sgv: Math.round(value),
    date,
    dateString: toIso(date),
    direction: withArrow ? mapTrendArrow(item.TrendArrow) : 'NOT COMPUTABLE',
    device,
    identifier: entryIdentifier(device, date),
  };
}

function pickItem(raw: Record<string, unknown>): LibreGlucoseItem {
  // Only what transform reads: Timestamp is kept for diagnosis, never used for dating.
  const { FactoryTimestamp, Timestamp, ValueInMgPerDl, TrendArrow } = raw;
  return { FactoryTimestamp, Timestamp, ValueInMgPerDl, ...(TrendArrow !== undefined ? { TrendArrow } : {}) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
