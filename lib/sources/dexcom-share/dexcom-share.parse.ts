/**
 * Pure parsing of Dexcom Share glucose payloads into Nightscout `sgv` entries. Share has changed its wire format
 * over the years (numeric → string trends in late 2021, `/Date(ms)/` → `Date(ms)`), so every field is read
 * tolerantly; a row we cannot trust is skipped and counted rather than guessed at, because a misdated or wrong
 * reading on a parent's phone is worse than a missing one.
 */
import { createHash } from 'node:crypto';
import { SourceRejectedError } from '../../domain/errors.js';
import { type Direction, type SgvEntry, toIso } from '../../domain/records.js';

/** One Share reading, already validated. `date` is the WT instant (UTC epoch ms). */
export interface DexcomReading {
  date: number;
  value: number;
  trend: number;
  direction: Direction;
}

export interface ParsedGlucoseValues {
  readings: DexcomReading[];
  /** Rows present in the payload but unusable (no date, no value, not an object). */
  skipped: number;
}

/** Dexcom's numeric trend codes, indexed by code (pinned by share2nightscout-bridge and nightscout-connect). */
const TREND_DIRECTIONS: readonly Direction[] = [
  'NONE',
  'DoubleUp',
  'SingleUp',
  'FortyFiveUp',
  'Flat',
  'FortyFiveDown',
  'SingleDown',
  'DoubleDown',
  'NOT COMPUTABLE',
  'RATE OUT OF RANGE',
];

export const TREND_NOT_COMPUTABLE = 8;

/** String trends, normalised (lower case, no spaces or underscores) → code. Covers modern Share names and our own directions. */
const TREND_BY_NAME: ReadonlyMap<string, number> = new Map(
  TREND_DIRECTIONS.map((direction, code) => [normalizeTrendName(direction), code] as const),
);

function normalizeTrendName(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}

/**
 * Map a Share `Trend` (number 0–9 or a name such as "FortyFiveUp", "Forty Five Up", "NotComputable") to Nightscout.
 * Anything unrecognised becomes NOT COMPUTABLE (8), never Flat: an invented "steady" arrow could hide a fast drop.
 */
export function trendToDirection(trend: unknown): { trend: number; direction: Direction } {
  let code: number | undefined;
  if (typeof trend === 'number') {
    code = Number.isInteger(trend) && trend >= 0 && trend < TREND_DIRECTIONS.length ? trend : undefined;
  } else if (typeof trend === 'string') {
    const text = trend.trim();
    if (/^\d$/.test(text)) code = Number(text);
    else code = TREND_BY_NAME.get(normalizeTrendName(text));
  }
  if (code === undefined) code = TREND_NOT_COMPUTABLE;
  return { trend: code, direction: TREND_DIRECTIONS[code] };
}

/**
 * Parse a .NET JSON date: `/Date(1426292039000)/`, `Date(1426292039000)` or `/Date(1426292016000-0700)/`.
 * The offset is display information only: the number before it is already the UTC epoch, so it is ignored.
 * Returns undefined for anything else.
 */
export function parseDexcomDate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^\s*\/?Date\((-?\d{1,16})(?:[+-]\d{4})?\)\/?\s*$/.exec(value);
  if (!match) return undefined;
  const ms = Number(match[1]);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

function parseValue(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  // Share reports mg/dL in 40–400; 0 or a negative number is a placeholder, not a reading.
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Parse a Share response body, keeping the skip count for logging. A non-array body is a permanent error. */
export function parseGlucoseValuesDetailed(body: unknown): ParsedGlucoseValues {
  if (!Array.isArray(body)) {
    throw new SourceRejectedError(
      'Dexcom Share returned glucose values that are not a list',
      'DEXCOM.UNEXPECTED_RESPONSE',
    );
  }
  const readings: DexcomReading[] = [];
  let skipped = 0;
  for (const row of body) {
    if (row === null || typeof row !== 'object') {
      skipped++;
      continue;
    }
    const record = row as Record<string, unknown>;
    // WT is the instant the reading was taken; ST/DT are system/display clocks and may be skewed or offset.
    const date = parseDexcomDate(record.WT);
    const value = parseValue(record.Value);
    if (date === undefined || value === undefined) {
      skipped++;
      continue;
    }
    readings.push({ date, value, ...trendToDirection(record.Trend) });
  }
  return { readings, skipped };
}

/** Parse a Share response body into readings (malformed rows dropped). */
export function parseGlucoseValues(body: unknown): DexcomReading[] {
  return parseGlucoseValuesDetailed(body).readings;
}

/**
 * A stable, UUID-shaped identifier for an entry: SHA-1 of `${device}_${date}` with the version (5) and variant bits
 * set, in the spirit of Nightscout v3's uuid v5. The same reading fetched twice always gets the same identifier.
 */
export function entryIdentifier(device: string, date: number): string {
  const bytes = createHash('sha1').update(`${device}_${date}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Readings → Nightscout entries, one per instant (first occurrence wins), oldest first. */
export function toEntries(readings: readonly DexcomReading[], device: string): SgvEntry[] {
  const byDate = new Map<number, DexcomReading>();
  for (const reading of readings) if (!byDate.has(reading.date)) byDate.set(reading.date, reading);
  return [...byDate.values()]
    .sort((a, b) => a.date - b.date)
    .map((reading) => ({
      type: 'sgv' as const,
      sgv: reading.value,
      date: reading.date,
      dateString: toIso(reading.date),
      trend: reading.trend,
      direction: reading.direction,
      device,
      identifier: entryIdentifier(device, reading.date),
    }));
}
