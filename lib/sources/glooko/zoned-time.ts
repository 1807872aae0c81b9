/**
 * Pure IANA time-zone arithmetic on top of Intl (no moment/luxon). Glooko stamps pump and CGM events with the
 * patient's local wall time but labels it UTC ("fake UTC"); turning such a label into a real instant needs the
 * zone's offset at that wall time, which is ambiguous or undefined around DST changes.
 *
 * Wall times are represented as "wall ms": Date.UTC(...) of the wall-clock fields, i.e. exactly what Date.parse
 * returns for a fake-UTC label.
 */
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      era: 'short',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** True when the runtime's Intl knows `zone` as an IANA name (or an alias such as `UTC`). */
export function isValidTimeZone(zone: string): boolean {
  if (zone.trim() === '') return false;
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC (local − UTC, in ms) at a real instant. Throws RangeError for an unknown zone. */
export function zoneOffsetMs(zone: string, instantMs: number): number {
  return instantToWallMs(zone, instantMs) - instantMs;
}

/** The wall clock reading (as wall ms) in `zone` at a real instant. Milliseconds are carried over unchanged. */
export function instantToWallMs(zone: string, instantMs: number): number {
  const parts = formatterFor(zone).formatToParts(new Date(instantMs));
  const field = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value);
  const era = parts.find((p) => p.type === 'era')?.value;
  const year = era === 'BC' || era === 'B' ? 1 - field('year') : field('year');
  const wall = Date.UTC(year, field('month') - 1, field('day'), field('hour'), field('minute'), field('second'));
  return wall + (instantMs - floorToSecond(instantMs));
}

export type WallTimeDisposition = 'exact' | 'gap' | 'overlap';

export interface ResolvedWallTime {
  instant: number;
  disposition: WallTimeDisposition;
  /** For an overlap: the later of the two instants the wall time names (the earlier one is `instant`). */
  laterInstant?: number;
}

/**
 * Which real instant a wall time in `zone` names.
 * - exact: one instant.
 * - gap (spring forward; the wall time never happened): read it with the offset in force before the change,
 *   which moves it forward by the size of the gap, as the clock itself moved (02:30 Berlin → 03:30 CEST).
 * - overlap (fall back; the wall time happened twice): the earlier occurrence, i.e. the first time the clock
 *   showed it. The later one is returned as `laterInstant` so callers with extra evidence may choose it.
 * Assumes at most one offset change within ±24 h of the wall time, which holds for every real zone.
 */
export function resolveWallTime(zone: string, wallMs: number): ResolvedWallTime {
  const offsetBefore = zoneOffsetMs(zone, wallMs - DAY_MS);
  const offsetAfter = zoneOffsetMs(zone, wallMs + DAY_MS);
  const candidates = [...new Set([offsetBefore, offsetAfter])]
    .map((offset) => wallMs - offset)
    .filter((instant) => instantToWallMs(zone, instant) === wallMs)
    .sort((a, b) => a - b);
  if (candidates.length === 0) return { instant: wallMs - offsetBefore, disposition: 'gap' };
  if (candidates.length === 1) return { instant: candidates[0], disposition: 'exact' };
  return { instant: candidates[0], disposition: 'overlap', laterInstant: candidates[candidates.length - 1] };
}

/** Shorthand for `resolveWallTime(zone, wallMs).instant`. */
export function wallTimeToInstant(zone: string, wallMs: number): number {
  return resolveWallTime(zone, wallMs).instant;
}

/**
 * Parse a fake-UTC label ("2026-03-29T01:30:00.000Z", also without `Z` or with a zero offset) into wall ms.
 * A label carrying a non-zero offset is a real instant; it is returned as `{ instant }` so the caller does not
 * shift it a second time. Returns undefined for anything unparseable.
 */
export function parseWallLabel(label: unknown): { wallMs: number } | { instant: number } | undefined {
  if (typeof label !== 'string') return undefined;
  const match = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    label.trim(),
  );
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac, zoneText] = match;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const wallMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms);
  // Reject field overflow (Date.UTC silently rolls 2026-02-30 into March).
  const check = new Date(wallMs);
  if (
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s ?? 0) > 59
  ) {
    return undefined;
  }
  if (!zoneText || zoneText === 'Z' || /^[+-]00:?00$/.test(zoneText)) return { wallMs };
  const sign = zoneText.startsWith('-') ? -1 : 1;
  const digits = zoneText.slice(1).replace(':', '');
  const offsetMs = sign * (Number(digits.slice(0, 2)) * HOUR_MS + Number(digits.slice(2)) * 60_000);
  return { instant: wallMs - offsetMs };
}

/** Format wall ms as a fake-UTC label, the way Glooko writes them. */
export function formatWallLabel(wallMs: number): string {
  return new Date(wallMs).toISOString();
}

function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
