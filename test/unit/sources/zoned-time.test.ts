import { describe, expect, it } from 'vitest';
import {
  instantToWallMs,
  isValidTimeZone,
  parseWallLabel,
  resolveWallTime,
  wallTimeToInstant,
  zoneOffsetMs,
} from '../../../lib/sources/glooko/zoned-time.js';

const wall = (label: string) => Date.parse(`${label}Z`);
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;

describe('isValidTimeZone', () => {
  it('accepts IANA names and rejects anything else', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Europe/Berlinn')).toBe(false);
    expect(isValidTimeZone('+01:00 maybe')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});

describe('zoneOffsetMs', () => {
  it('follows DST', () => {
    expect(zoneOffsetMs('Europe/Berlin', Date.parse('2026-01-15T12:00:00Z'))).toBe(HOUR);
    expect(zoneOffsetMs('Europe/Berlin', Date.parse('2026-07-15T12:00:00Z'))).toBe(2 * HOUR);
    expect(zoneOffsetMs('America/New_York', Date.parse('2026-01-15T12:00:00Z'))).toBe(-5 * HOUR);
    expect(zoneOffsetMs('Australia/Sydney', Date.parse('2026-01-15T12:00:00Z'))).toBe(11 * HOUR);
    expect(zoneOffsetMs('Asia/Kolkata', Date.parse('2026-01-15T12:00:00Z'))).toBe(5.5 * HOUR);
  });
});

describe('resolveWallTime', () => {
  const cases: Array<{ zone: string; wall: string; disposition: string; instant: string; later?: string }> = [
    // Europe/Berlin: spring forward 2026-03-29 02:00 → 03:00, fall back 2026-10-25 03:00 → 02:00.
    {
      zone: 'Europe/Berlin',
      wall: '2026-03-29T01:30:00.000',
      disposition: 'exact',
      instant: '2026-03-29T00:30:00.000Z',
    },
    { zone: 'Europe/Berlin', wall: '2026-03-29T02:30:00.000', disposition: 'gap', instant: '2026-03-29T01:30:00.000Z' },
    {
      zone: 'Europe/Berlin',
      wall: '2026-03-29T03:30:00.000',
      disposition: 'exact',
      instant: '2026-03-29T01:30:00.000Z',
    },
    {
      zone: 'Europe/Berlin',
      wall: '2026-10-25T02:30:00.000',
      disposition: 'overlap',
      instant: '2026-10-25T00:30:00.000Z',
      later: '2026-10-25T01:30:00.000Z',
    },
    {
      zone: 'Europe/Berlin',
      wall: '2026-10-25T03:00:00.000',
      disposition: 'exact',
      instant: '2026-10-25T02:00:00.000Z',
    },
    // America/New_York: 2026-03-08 02:00 → 03:00, 2026-11-01 02:00 → 01:00.
    {
      zone: 'America/New_York',
      wall: '2026-03-08T02:15:00.000',
      disposition: 'gap',
      instant: '2026-03-08T07:15:00.000Z',
    },
    {
      zone: 'America/New_York',
      wall: '2026-03-08T01:59:59.000',
      disposition: 'exact',
      instant: '2026-03-08T06:59:59.000Z',
    },
    {
      zone: 'America/New_York',
      wall: '2026-11-01T01:30:00.000',
      disposition: 'overlap',
      instant: '2026-11-01T05:30:00.000Z',
      later: '2026-11-01T06:30:00.000Z',
    },
    {
      zone: 'America/New_York',
      wall: '2026-11-01T00:59:00.000',
      disposition: 'exact',
      instant: '2026-11-01T04:59:00.000Z',
    },
    // Australia/Sydney (southern hemisphere): fall back 2026-04-05 03:00 → 02:00, spring forward 2026-10-04 02:00 → 03:00.
    {
      zone: 'Australia/Sydney',
      wall: '2026-04-05T02:30:00.000',
      disposition: 'overlap',
      instant: '2026-04-04T15:30:00.000Z',
      later: '2026-04-04T16:30:00.000Z',
    },
    {
      zone: 'Australia/Sydney',
      wall: '2026-10-04T02:30:00.000',
      disposition: 'gap',
      instant: '2026-10-03T16:30:00.000Z',
    },
    {
      zone: 'Australia/Sydney',
      wall: '2026-10-04T03:00:00.000',
      disposition: 'exact',
      instant: '2026-10-03T16:00:00.000Z',
    },
    // A half-hour DST shift (Lord Howe) and a zone without DST.
    {
      zone: 'Australia/Lord_Howe',
      wall: '2026-10-04T02:15:00.000',
      disposition: 'gap',
      instant: '2026-10-03T15:45:00.000Z',
    },
    {
      zone: 'Asia/Kolkata',
      wall: '2026-03-29T02:30:00.000',
      disposition: 'exact',
      instant: '2026-03-28T21:00:00.000Z',
    },
  ];

  it.each(cases)('$zone $wall is $disposition', ({ zone, wall: w, disposition, instant, later }) => {
    const resolved = resolveWallTime(zone, wall(w));
    expect(resolved.disposition).toBe(disposition);
    expect(iso(resolved.instant)).toBe(instant);
    if (later) expect(iso(resolved.laterInstant!)).toBe(later);
    else expect(resolved.laterInstant).toBeUndefined();
  });

  it('a gap wall time moves forward by exactly the gap, as the clock did', () => {
    const resolved = wallTimeToInstant('Europe/Berlin', wall('2026-03-29T02:30:00.000'));
    expect(iso(instantToWallMs('Europe/Berlin', resolved))).toBe('2026-03-29T03:30:00.000Z');
  });

  it.each(['Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Pacific/Chatham', 'America/Santiago'])(
    'round-trips every 37th minute of 2026 in %s (overlaps via laterInstant)',
    (zone) => {
      const start = Date.parse('2026-01-01T00:00:00Z');
      for (let t = start; t < start + 365 * 24 * HOUR; t += 37 * 60_000) {
        const resolved = resolveWallTime(zone, instantToWallMs(zone, t));
        expect(resolved.disposition).not.toBe('gap');
        expect([resolved.instant, resolved.laterInstant]).toContain(t);
      }
    },
  );

  it('keeps milliseconds', () => {
    expect(iso(wallTimeToInstant('Europe/Berlin', wall('2026-07-01T10:00:00.123')))).toBe('2026-07-01T08:00:00.123Z');
  });

  it('throws for an unknown zone', () => {
    expect(() => resolveWallTime('Mars/Olympus', 0)).toThrow(RangeError);
  });
});

describe('parseWallLabel', () => {
  it('reads fake-UTC labels with or without Z or a zero offset', () => {
    expect(parseWallLabel('2026-03-29T01:30:00.000Z')).toEqual({ wallMs: wall('2026-03-29T01:30:00.000') });
    expect(parseWallLabel('2026-03-29T01:30:00')).toEqual({ wallMs: wall('2026-03-29T01:30:00.000') });
    expect(parseWallLabel('2026-03-29 01:30')).toEqual({ wallMs: wall('2026-03-29T01:30:00.000') });
    expect(parseWallLabel('2026-03-29T01:30:00+00:00')).toEqual({ wallMs: wall('2026-03-29T01:30:00.000') });
  });

  it('treats a label with a real non-zero offset as an instant', () => {
    expect(parseWallLabel('2026-03-29T03:30:00+02:00')).toEqual({ instant: Date.parse('2026-03-29T01:30:00Z') });
    expect(parseWallLabel('2026-03-29T03:30:00-0530')).toEqual({ instant: Date.parse('2026-03-29T09:00:00Z') });
  });

  it('rejects garbage and impossible dates', () => {
    expect(parseWallLabel('yesterday')).toBeUndefined();
    expect(parseWallLabel(1711675800000)).toBeUndefined();
    expect(parseWallLabel('2026-02-30T10:00:00Z')).toBeUndefined();
    expect(parseWallLabel('2026-03-29T24:00:00Z')).toBeUndefined();
    expect(parseWallLabel(undefined)).toBeUndefined();
  });
});
