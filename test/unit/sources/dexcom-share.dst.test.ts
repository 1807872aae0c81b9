/**
 * Dexcom Share stamps across DST changes in three zones (Europe/Berlin, America/New_York, Australia/Sydney; spring gap
 * and fall-back repeated hour in each). Rows are shaped like recorded Share bodies: `WT`/`ST` are .NET dates holding
 * the UTC epoch (both the old `/Date(ms)/` and the newer `Date(ms)` style), `DT` adds the phone's local offset, which
 * changes at the transition. The offsets below are what the tz database says for each instant (checked in the first
 * test), so the fixture is a real DST crossing, not a made-up one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseDexcomDate,
  parseGlucoseValuesDetailed,
  toEntries,
} from '../../../lib/sources/dexcom-share/dexcom-share.parse.js';
import { DEXCOM_DEVICE } from '../../../lib/sources/dexcom-share/dexcom-share.vendor.js';

interface Case {
  zone: string;
  change: 'spring' | 'fall';
  rows: Array<Record<string, unknown>>;
  /** The true instants, written out by hand. */
  expected: string[];
  /** For fall-back: indexes of two rows whose local wall clock reads the same. */
  sameWallClock?: [number, number];
}

const CASES: Case[] = [
  {
    zone: 'Europe/Berlin',
    change: 'spring', // 2026-03-29 02:00 CET → 03:00 CEST (01:00 UTC)
    rows: [
      {
        WT: '/Date(1774745400000)/',
        ST: '/Date(1774745400000)/',
        DT: '/Date(1774745400000+0100)/',
        Value: 100,
        Trend: 'Flat',
      }, // 01:50 CET
      {
        WT: '/Date(1774745700000)/',
        ST: '/Date(1774745700000)/',
        DT: '/Date(1774745700000+0100)/',
        Value: 101,
        Trend: 'Flat',
      }, // 01:55 CET
      {
        WT: '/Date(1774746000000)/',
        ST: '/Date(1774746000000)/',
        DT: '/Date(1774746000000+0200)/',
        Value: 102,
        Trend: 'Flat',
      }, // 03:00 CEST
      {
        WT: '/Date(1774746300000)/',
        ST: '/Date(1774746300000)/',
        DT: '/Date(1774746300000+0200)/',
        Value: 103,
        Trend: 'Flat',
      }, // 03:05 CEST
    ],
    expected: [
      '2026-03-29T00:50:00.000Z',
      '2026-03-29T00:55:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:05:00.000Z',
    ],
  },
  {
    zone: 'Europe/Berlin',
    change: 'fall', // 2026-10-25 03:00 CEST → 02:00 CET (01:00 UTC): 02:00–02:59 twice
    rows: [
      {
        WT: '/Date(1792887900000)/',
        ST: '/Date(1792887900000)/',
        DT: '/Date(1792887900000+0200)/',
        Value: 104,
        Trend: 'Flat',
      }, // 02:25 CEST
      {
        WT: '/Date(1792888200000)/',
        ST: '/Date(1792888200000)/',
        DT: '/Date(1792888200000+0200)/',
        Value: 105,
        Trend: 'Flat',
      }, // 02:30 CEST
      {
        WT: '/Date(1792891500000)/',
        ST: '/Date(1792891500000)/',
        DT: '/Date(1792891500000+0100)/',
        Value: 106,
        Trend: 'Flat',
      }, // 02:25 CET
      {
        WT: '/Date(1792891800000)/',
        ST: '/Date(1792891800000)/',
        DT: '/Date(1792891800000+0100)/',
        Value: 107,
        Trend: 'Flat',
      }, // 02:30 CET
    ],
    expected: [
      '2026-10-25T00:25:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:25:00.000Z',
      '2026-10-25T01:30:00.000Z',
    ],
    sameWallClock: [1, 3],
  },
  {
    zone: 'America/New_York',
    change: 'spring', // 2026-03-08 02:00 EST → 03:00 EDT (07:00 UTC)
    rows: [
      {
        WT: 'Date(1772952600000)',
        ST: 'Date(1772952600000)',
        DT: 'Date(1772952600000-0500)',
        Value: 108,
        Trend: 'Flat',
      }, // 01:50 EST
      {
        WT: 'Date(1772952900000)',
        ST: 'Date(1772952900000)',
        DT: 'Date(1772952900000-0500)',
        Value: 109,
        Trend: 'Flat',
      }, // 01:55 EST
      {
        WT: 'Date(1772953200000)',
        ST: 'Date(1772953200000)',
        DT: 'Date(1772953200000-0400)',
        Value: 110,
        Trend: 'Flat',
      }, // 03:00 EDT
      {
        WT: 'Date(1772953500000)',
        ST: 'Date(1772953500000)',
        DT: 'Date(1772953500000-0400)',
        Value: 111,
        Trend: 'Flat',
      }, // 03:05 EDT
    ],
    expected: [
      '2026-03-08T06:50:00.000Z',
      '2026-03-08T06:55:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T07:05:00.000Z',
    ],
  },
  {
    zone: 'America/New_York',
    change: 'fall', // 2026-11-01 02:00 EDT → 01:00 EST (06:00 UTC): 01:00–01:59 twice
    rows: [
      {
        WT: 'Date(1793510700000)',
        ST: 'Date(1793510700000)',
        DT: 'Date(1793510700000-0400)',
        Value: 112,
        Trend: 'Flat',
      }, // 01:25 EDT
      {
        WT: 'Date(1793511000000)',
        ST: 'Date(1793511000000)',
        DT: 'Date(1793511000000-0400)',
        Value: 113,
        Trend: 'Flat',
      }, // 01:30 EDT
      {
        WT: 'Date(1793514300000)',
        ST: 'Date(1793514300000)',
        DT: 'Date(1793514300000-0500)',
        Value: 114,
        Trend: 'Flat',
      }, // 01:25 EST
      {
        WT: 'Date(1793514600000)',
        ST: 'Date(1793514600000)',
        DT: 'Date(1793514600000-0500)',
        Value: 115,
        Trend: 'Flat',
      }, // 01:30 EST
    ],
    expected: [
      '2026-11-01T05:25:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:25:00.000Z',
      '2026-11-01T06:30:00.000Z',
    ],
    sameWallClock: [0, 2],
  },
  {
    zone: 'Australia/Sydney',
    change: 'fall', // 2026-04-05 03:00 AEDT → 02:00 AEST (04-04 16:00 UTC): 02:00–02:59 twice
    rows: [
      {
        WT: '/Date(1775316300000)/',
        ST: '/Date(1775316300000)/',
        DT: '/Date(1775316300000+1100)/',
        Value: 116,
        Trend: 'Flat',
      }, // 02:25 AEDT
      {
        WT: '/Date(1775316600000)/',
        ST: '/Date(1775316600000)/',
        DT: '/Date(1775316600000+1100)/',
        Value: 117,
        Trend: 'Flat',
      }, // 02:30 AEDT
      {
        WT: '/Date(1775319900000)/',
        ST: '/Date(1775319900000)/',
        DT: '/Date(1775319900000+1000)/',
        Value: 118,
        Trend: 'Flat',
      }, // 02:25 AEST
      {
        WT: '/Date(1775320200000)/',
        ST: '/Date(1775320200000)/',
        DT: '/Date(1775320200000+1000)/',
        Value: 119,
        Trend: 'Flat',
      }, // 02:30 AEST
    ],
    expected: [
      '2026-04-04T15:25:00.000Z',
      '2026-04-04T15:30:00.000Z',
      '2026-04-04T16:25:00.000Z',
      '2026-04-04T16:30:00.000Z',
    ],
    sameWallClock: [1, 3],
  },
  {
    zone: 'Australia/Sydney',
    change: 'spring', // 2026-10-04 02:00 AEST → 03:00 AEDT (10-03 16:00 UTC)
    rows: [
      {
        WT: 'Date(1791042600000)',
        ST: 'Date(1791042600000)',
        DT: 'Date(1791042600000+1000)',
        Value: 120,
        Trend: 'Flat',
      }, // 01:50 AEST
      {
        WT: 'Date(1791042900000)',
        ST: 'Date(1791042900000)',
        DT: 'Date(1791042900000+1000)',
        Value: 121,
        Trend: 'Flat',
      }, // 01:55 AEST
      {
        WT: 'Date(1791043200000)',
        ST: 'Date(1791043200000)',
        DT: 'Date(1791043200000+1100)',
        Value: 122,
        Trend: 'Flat',
      }, // 03:00 AEDT
      {
        WT: 'Date(1791043500000)',
        ST: 'Date(1791043500000)',
        DT: 'Date(1791043500000+1100)',
        Value: 123,
        Trend: 'Flat',
      }, // 03:05 AEDT
    ],
    expected: [
      '2026-10-03T15:50:00.000Z',
      '2026-10-03T15:55:00.000Z',
      '2026-10-03T16:00:00.000Z',
      '2026-10-03T16:05:00.000Z',
    ],
  },
];

/** `+HHMM` of a DT stamp in minutes. */
function dtOffsetMinutes(dt: unknown): number {
  const m = /([+-])(\d{2})(\d{2})\)/.exec(String(dt));
  if (!m) throw new Error(`no offset in ${String(dt)}`);
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** The zone's offset at an instant, from the tz database (independent of the code under test). */
function tzOffsetMinutes(zone: string, instant: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return (
    (Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - instant) / 60_000
  );
}

const originalTz = process.env.TZ;
afterEach(() => {
  if (originalTz === undefined) delete process.env.TZ;
  else process.env.TZ = originalTz;
});

describe.each(CASES)('Dexcom Share $zone $change change', ({ zone, rows, expected }) => {
  it('the fixture is a real crossing: DT offsets match the tz database and change by one hour', () => {
    for (const row of rows) expect(dtOffsetMinutes(row.DT)).toBe(tzOffsetMinutes(zone, parseDexcomDate(row.WT)!));
    const offsets = rows.map((r) => dtOffsetMinutes(r.DT));
    expect(Math.abs(offsets.at(-1)! - offsets[0])).toBe(60);
  });

  it('every reading keeps its WT instant to the millisecond, spacing intact, one entry each', () => {
    const { readings, skipped } = parseGlucoseValuesDetailed(rows);
    expect(skipped).toBe(0);
    const entries = toEntries(readings, DEXCOM_DEVICE);
    expect(entries.map((e) => e.dateString)).toEqual(expected);
    expect(entries.map((e) => e.date)).toEqual(expected.map((s) => Date.parse(s)));
    expect(entries.map((e) => e.sgv)).toEqual(rows.map((r) => r.Value));
    expect(new Set(entries.map((e) => e.identifier)).size).toBe(rows.length);
  });

  it('the host time zone changes nothing (Lambda runs UTC; a laptop may sit in the zone itself)', () => {
    const results: unknown[] = [];
    for (const tz of ['UTC', zone, 'Pacific/Chatham']) {
      process.env.TZ = tz;
      results.push(toEntries(parseGlucoseValuesDetailed(rows).readings, DEXCOM_DEVICE));
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});

describe.each(CASES.filter((c) => c.sameWallClock !== undefined))(
  'Dexcom Share $zone fall-back repeated hour',
  ({ rows, sameWallClock }) => {
    it('two readings that share a local wall clock stay two readings, an hour apart', () => {
      const [a, b] = sameWallClock!;
      const wall = (row: Record<string, unknown>) => parseDexcomDate(row.WT)! + dtOffsetMinutes(row.DT) * 60_000;
      expect(wall(rows[a])).toBe(wall(rows[b]));
      const entries = toEntries(parseGlucoseValuesDetailed(rows).readings, DEXCOM_DEVICE);
      expect(entries[b].date - entries[a].date).toBe(60 * 60_000);
      expect(entries[a].identifier).not.toBe(entries[b].identifier);
    });
  },
);
