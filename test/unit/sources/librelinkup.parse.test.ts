import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { afterCursor, withoutStoredBehindCursor } from '../../../lib/adapters/nightscout/nightscout-batch.helper.js';
import type { SgvEntry } from '../../../lib/domain/records.js';
import { entryIdentifier } from '../../../lib/sources/dexcom-share/dexcom-share.parse.js';
import {
  type LibreGraphFrame,
  libreFrameToBatch,
  mapTrendArrow,
  parseFactoryTimestamp,
  pickGraphFrame,
} from '../../../lib/sources/librelinkup/librelinkup.parse.js';
import { LIBRELINKUP_REREAD } from '../../../lib/sources/librelinkup/librelinkup.vendor.js';
import {
  formatFactoryTimestamp,
  formatLocalTimestamp,
} from '../../../local/vendors/librelinkup/librelinkup.simulator.js';

const DEVICE = 'nightscout-connect-librelinkup';
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/librelinkup/${name}`, import.meta.url), 'utf8'));
const row = (factory: string, value: number, extra: Record<string, unknown> = {}) => ({
  FactoryTimestamp: factory,
  Timestamp: factory,
  ValueInMgPerDl: value,
  ...extra,
});

describe('parseFactoryTimestamp', () => {
  it('reads M/D/YYYY h:mm:ss AM/PM as UTC', () => {
    expect(parseFactoryTimestamp('12/30/2022 4:47:40 PM')).toBe(Date.UTC(2022, 11, 30, 16, 47, 40));
    expect(parseFactoryTimestamp('7/1/2023 11:43:20 AM')).toBe(Date.UTC(2023, 6, 1, 11, 43, 20));
  });

  it('treats 12:xx AM as just after midnight and 12:xx PM as just after noon', () => {
    expect(parseFactoryTimestamp('1/5/2024 12:00:00 AM')).toBe(Date.UTC(2024, 0, 5, 0, 0, 0));
    expect(parseFactoryTimestamp('1/5/2024 12:59:59 AM')).toBe(Date.UTC(2024, 0, 5, 0, 59, 59));
    expect(parseFactoryTimestamp('1/5/2024 12:00:00 PM')).toBe(Date.UTC(2024, 0, 5, 12, 0, 0));
    expect(parseFactoryTimestamp('1/5/2024 12:30:15 PM')).toBe(Date.UTC(2024, 0, 5, 12, 30, 15));
    expect(parseFactoryTimestamp('1/5/2024 11:59:59 PM')).toBe(Date.UTC(2024, 0, 5, 23, 59, 59));
    expect(parseFactoryTimestamp('1/5/2024 1:00:00 AM')).toBe(Date.UTC(2024, 0, 5, 1, 0, 0));
  });

  it('accepts single- and double-digit months and days, and lower-case suffixes', () => {
    expect(parseFactoryTimestamp('3/9/2024 9:05:00 am')).toBe(Date.UTC(2024, 2, 9, 9, 5, 0));
    expect(parseFactoryTimestamp('10/31/2024 10:05:00 pm')).toBe(Date.UTC(2024, 9, 31, 22, 5, 0));
    expect(parseFactoryTimestamp('02/29/2024 1:02:03 PM')).toBe(Date.UTC(2024, 1, 29, 13, 2, 3));
  });

  it('refuses anything that is not exactly that shape or names an impossible instant', () => {
    for (const bad of [
      undefined,
      null,
      1700000000,
      '',
      '2024-01-05T10:00:00Z',
      '1/5/2024 13:00:00 PM',
      '1/5/2024 0:10:00 AM',
      '13/1/2024 1:00:00 AM',
      '2/30/2023 1:00:00 AM',
      '2/29/2023 1:00:00 AM',
      '1/5/2024 1:60:00 AM',
      '1/5/2024 1:00:00',
      '1/5/24 1:00:00 AM',
    ]) {
      expect(parseFactoryTimestamp(bad), String(bad)).toBeUndefined();
    }
  });

  it('is independent of the host time zone by construction: no Date.parse or Date(string) in the parser', () => {
    // A worker cannot change its own TZ, so guard the construction instead: the only Date constructor call takes
    // the epoch number we computed with Date.UTC.
    const source = readFileSync(
      new URL('../../../lib/sources/librelinkup/librelinkup.parse.ts', import.meta.url),
      'utf8',
    );
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    expect(code).not.toMatch(/Date\.parse\s*\(/);
    expect(code.match(/new Date\(([^)]*)\)/g)).toEqual(['new Date(ms)']);
    expect(code).not.toMatch(/getTimezoneOffset|toLocale/);
    expect(code).toMatch(/Date\.UTC\(/);
  });
});

describe('mapTrendArrow', () => {
  it('maps Libre 1–5 and nothing else', () => {
    expect([1, 2, 3, 4, 5].map(mapTrendArrow)).toEqual([
      'SingleDown',
      'FortyFiveDown',
      'Flat',
      'FortyFiveUp',
      'SingleUp',
    ]);
  });

  it('never claims Flat for an unknown or missing arrow', () => {
    for (const value of [0, 6, 7, -1, undefined, null, '3', 3.5, NaN])
      expect(mapTrendArrow(value)).toBe('NOT COMPUTABLE');
  });
});

describe('libreFrameToBatch', () => {
  it('turns the recorded graph body into entries: graph rows without arrow, current reading with its arrow', () => {
    const frame = pickGraphFrame(fixture('graph.json'));
    const batch = libreFrameToBatch(frame, { device: DEVICE, cursor: null, now: Date.UTC(2023, 6, 1, 12, 15) });
    expect(batch.entries.map((e) => [e.dateString, e.sgv, e.direction])).toEqual([
      ['2023-07-01T11:43:20.000Z', 118, 'NOT COMPUTABLE'],
      ['2023-07-01T11:48:20.000Z', 121, 'NOT COMPUTABLE'],
      ['2023-07-01T11:53:20.000Z', 125, 'NOT COMPUTABLE'],
      ['2023-07-01T11:58:20.000Z', 130, 'NOT COMPUTABLE'],
      ['2023-07-01T12:13:20.000Z', 141, 'SingleUp'],
    ]);
    for (const e of batch.entries) {
      expect(e).toMatchObject({ type: 'sgv', device: DEVICE, identifier: entryIdentifier(DEVICE, e.date) });
      expect(new Date(e.dateString).getTime()).toBe(e.date);
    }
    expect(batch.treatments).toEqual([]);
    expect(batch.devicestatus).toEqual([]);
    expect(batch.profiles).toEqual([]);
  });

  it('keeps no ticket, token or name from the body in the frame', () => {
    const text = JSON.stringify(pickGraphFrame(fixture('graph.json')));
    expect(text).not.toMatch(/token|ticket|Alex|Child|device-1/);
    expect(pickGraphFrame(fixture('graph.json')).patientId).toBe('11111111-aaaa-4bbb-8ccc-000000000001');
  });

  it('falls back to glucoseItem when glucoseMeasurement is absent, and copes with empty bodies', () => {
    const body = {
      status: 0,
      data: {
        connection: { patientId: 'p', glucoseItem: row('7/1/2023 12:00:00 PM', 100, { TrendArrow: 2 }) },
        graphData: [],
      },
    };
    const batch = libreFrameToBatch(pickGraphFrame(body), {
      device: DEVICE,
      cursor: null,
      now: Date.UTC(2023, 6, 1, 12, 1),
    });
    expect(batch.entries.map((e) => [e.date, e.direction])).toEqual([[Date.UTC(2023, 6, 1, 12), 'FortyFiveDown']]);
    expect(pickGraphFrame({ status: 500 })).toEqual({ current: null, graph: [] });
    expect(pickGraphFrame('<html>')).toEqual({ current: null, graph: [] });
  });

  it('dedups the current reading against an equal graph row, keeping the arrow', () => {
    const frame: LibreGraphFrame = {
      graph: [row('7/1/2023 11:55:00 AM', 120), row('7/1/2023 12:00:00 PM', 124), row('7/1/2023 12:00:00 PM', 124)],
      current: row('7/1/2023 12:00:00 PM', 124, { TrendArrow: 1 }),
    };
    const batch = libreFrameToBatch(frame, { device: DEVICE, cursor: null, now: Date.UTC(2023, 6, 1, 12, 1) });
    expect(batch.entries.map((e) => [e.date, e.direction])).toEqual([
      [Date.UTC(2023, 6, 1, 11, 55), 'NOT COMPUTABLE'],
      [Date.UTC(2023, 6, 1, 12, 0), 'SingleDown'],
    ]);
  });

  it('ignores a TrendArrow on graph rows (only the current reading is trusted to carry one)', () => {
    const frame: LibreGraphFrame = { graph: [row('7/1/2023 11:55:00 AM', 120, { TrendArrow: 3 })], current: null };
    expect(
      libreFrameToBatch(frame, { device: DEVICE, cursor: null, now: Date.UTC(2023, 6, 1, 12) }).entries[0].direction,
    ).toBe('NOT COMPUTABLE');
  });

  it('keeps only readings newer than the cursor', () => {
    const frame: LibreGraphFrame = {
      graph: [row('7/1/2023 11:50:00 AM', 110), row('7/1/2023 11:55:00 AM', 120)],
      current: row('7/1/2023 12:01:00 PM', 126, { TrendArrow: 3 }),
    };
    const now = Date.UTC(2023, 6, 1, 12, 2);
    const at = (cursor: number | undefined) =>
      libreFrameToBatch(frame, {
        device: DEVICE,
        cursor: cursor === undefined ? {} : { entries: cursor },
        now,
      }).entries.map((e) => e.sgv);
    expect(at(undefined)).toEqual([110, 120, 126]);
    expect(at(Date.UTC(2023, 6, 1, 11, 50))).toEqual([120, 126]);
    expect(at(Date.UTC(2023, 6, 1, 11, 55))).toEqual([126]);
    expect(at(Date.UTC(2023, 6, 1, 12, 1))).toEqual([]);
  });

  it('drops rows it cannot date or value, and readings dated far in the future', () => {
    const now = Date.UTC(2023, 6, 1, 12, 0);
    const frame: LibreGraphFrame = {
      graph: [
        row('7/1/2023 11:50:00 AM', 110),
        row('2023-07-01 11:55', 115),
        { FactoryTimestamp: '7/1/2023 11:56:00 AM', ValueInMgPerDl: 'high' },
        { FactoryTimestamp: '7/1/2023 11:57:00 AM', ValueInMgPerDl: 0 },
        { Timestamp: '7/1/2023 11:58:00 AM', ValueInMgPerDl: 118 },
        row('7/1/2023 12:09:00 PM', 130),
        row('7/1/2023 12:11:00 PM', 131),
      ],
      current: null,
    };
    expect(libreFrameToBatch(frame, { device: DEVICE, cursor: null, now }).entries.map((e) => e.sgv)).toEqual([
      110, 130,
    ]);
  });
});

describe('libreFrameToBatch with the re-read window (graph history behind the cursor)', () => {
  const at = (h: number, m: number, sec = 20) => Date.UTC(2023, 6, 1, h, m, sec);
  const iso = (entries: SgvEntry[]) => entries.map((e) => [e.dateString.slice(11, 19), e.sgv, e.direction]);

  it('two consecutive recorded-style polls: the graph rows published since the first poll are kept, stored ones skipped, the arrow survives', async () => {
    // Poll 1 (12:15): graph up to 11:58:20, current 12:13:20. Nothing stored yet.
    const first = libreFrameToBatch(pickGraphFrame(fixture('graph.json')), {
      device: DEVICE,
      cursor: null,
      now: at(12, 15, 0),
      reread: LIBRELINKUP_REREAD,
    });
    const stored = first.entries;
    const cursor = { entries: at(12, 13) };
    expect(stored[stored.length - 1].date).toBe(cursor.entries);

    // Poll 2 (15 min later): graph up to 12:13:20 — three rows newer than poll 1's graph, all behind the cursor.
    const frame = pickGraphFrame(fixture('graph-15-min-later.json'));
    const now = at(12, 30, 0);
    // Without the window (the old behaviour) only the current reading survives: 12:03:20 and 12:08:20 would be lost.
    expect(iso(libreFrameToBatch(frame, { device: DEVICE, cursor, now }).entries)).toEqual([
      ['12:28:20', 150, 'FortyFiveUp'],
    ]);

    const second = libreFrameToBatch(frame, { device: DEVICE, cursor, now, reread: LIBRELINKUP_REREAD });
    expect(iso(second.entries)).toEqual([
      ['11:43:20', 118, 'NOT COMPUTABLE'],
      ['11:48:20', 121, 'NOT COMPUTABLE'],
      ['11:53:20', 125, 'NOT COMPUTABLE'],
      ['11:58:20', 130, 'NOT COMPUTABLE'],
      ['12:03:20', 134, 'NOT COMPUTABLE'],
      ['12:08:20', 138, 'NOT COMPUTABLE'],
      ['12:13:20', 141, 'NOT COMPUTABLE'],
      ['12:28:20', 150, 'FortyFiveUp'],
    ]);

    // What the writer then sends, given what Nightscout holds after poll 1: the two new rows and the new current
    // reading. The 12:13:20 graph row is poll 1's current reading; re-posting it would replace the stored document
    // and erase its SingleUp arrow (Nightscout ≤ 15.0.6), so it is skipped.
    const pending = afterCursor(second, cursor, LIBRELINKUP_REREAD.windowMs).entries;
    const toWrite = await withoutStoredBehindCursor(pending, cursor, LIBRELINKUP_REREAD.sameReadingMs, async () =>
      stored.map((e) => ({ date: e.date, type: e.type })),
    );
    expect(iso(toWrite)).toEqual([
      ['12:03:20', 134, 'NOT COMPUTABLE'],
      ['12:08:20', 138, 'NOT COMPUTABLE'],
      ['12:28:20', 150, 'FortyFiveUp'],
    ]);
    expect(stored.find((e) => e.date === at(12, 13))?.direction).toBe('SingleUp');
  });

  it('keeps rows dated strictly after cursor − window', () => {
    const cursor = at(12, 0, 0);
    const frame: LibreGraphFrame = {
      graph: [
        row('7/1/2023 11:00:00 AM', 100),
        row('7/1/2023 11:00:01 AM', 101),
        row('7/1/2023 11:45:00 AM', 102),
        row('7/1/2023 12:00:00 PM', 103),
      ],
      current: row('7/1/2023 12:05:00 PM', 104, { TrendArrow: 3 }),
    };
    const entries = libreFrameToBatch(frame, {
      device: DEVICE,
      cursor: { entries: cursor },
      now: at(12, 6, 0),
      reread: LIBRELINKUP_REREAD,
    }).entries;
    expect(entries.map((e) => e.sgv)).toEqual([101, 102, 103, 104]);
  });

  it('a graph row less than 30 s from the current reading is that reading: the current one (with its arrow) is kept', () => {
    const frame = (graphTime: string): LibreGraphFrame => ({
      graph: [row('7/1/2023 11:55:00 AM', 120), row(graphTime, 124)],
      current: row('7/1/2023 12:00:25 PM', 125, { TrendArrow: 4 }),
    });
    const ctx = { device: DEVICE, cursor: null, now: at(12, 1, 0), reread: LIBRELINKUP_REREAD };
    expect(iso(libreFrameToBatch(frame('7/1/2023 12:00:00 PM'), ctx).entries)).toEqual([
      ['11:55:00', 120, 'NOT COMPUTABLE'],
      ['12:00:25', 125, 'FortyFiveUp'],
    ]);
    // 35 s apart: two sensor minutes, two readings.
    expect(iso(libreFrameToBatch(frame('7/1/2023 11:59:50 AM'), ctx).entries)).toEqual([
      ['11:55:00', 120, 'NOT COMPUTABLE'],
      ['11:59:50', 124, 'NOT COMPUTABLE'],
      ['12:00:25', 125, 'FortyFiveUp'],
    ]);
  });
});

describe('daylight-saving changes: FactoryTimestamp is UTC, Timestamp (local) is never used', () => {
  // [zone, UTC instant, local wall time in that zone at that instant]
  const cases: Array<[string, number, string]> = [
    // Europe/London spring forward 2023-03-26 01:00 UTC (01:00 GMT → 02:00 BST)
    ['Europe/London', Date.UTC(2023, 2, 26, 0, 55), '3/26/2023 12:55:00 AM'],
    ['Europe/London', Date.UTC(2023, 2, 26, 1, 5), '3/26/2023 2:05:00 AM'],
    // Europe/London fall back 2023-10-29 01:00 UTC: 01:30 local happens twice
    ['Europe/London', Date.UTC(2023, 9, 29, 0, 30), '10/29/2023 1:30:00 AM'],
    ['Europe/London', Date.UTC(2023, 9, 29, 1, 30), '10/29/2023 1:30:00 AM'],
    // America/New_York spring forward 2023-03-12 07:00 UTC (02:00 EST → 03:00 EDT)
    ['America/New_York', Date.UTC(2023, 2, 12, 6, 55), '3/12/2023 1:55:00 AM'],
    ['America/New_York', Date.UTC(2023, 2, 12, 7, 5), '3/12/2023 3:05:00 AM'],
    // America/New_York fall back 2023-11-05 06:00 UTC: 01:30 local twice
    ['America/New_York', Date.UTC(2023, 10, 5, 5, 30), '11/5/2023 1:30:00 AM'],
    ['America/New_York', Date.UTC(2023, 10, 5, 6, 30), '11/5/2023 1:30:00 AM'],
    // Australia/Sydney fall back 2023-04-01 16:00 UTC (03:00 AEDT → 02:00 AEST): 02:30 local twice
    ['Australia/Sydney', Date.UTC(2023, 3, 1, 15, 30), '4/2/2023 2:30:00 AM'],
    ['Australia/Sydney', Date.UTC(2023, 3, 1, 16, 30), '4/2/2023 2:30:00 AM'],
    // Australia/Sydney spring forward 2023-09-30 16:00 UTC (02:00 AEST → 03:00 AEDT)
    ['Australia/Sydney', Date.UTC(2023, 8, 30, 15, 55), '10/1/2023 1:55:00 AM'],
    ['Australia/Sydney', Date.UTC(2023, 8, 30, 16, 5), '10/1/2023 3:05:00 AM'],
  ];

  it('the local wall times in the cases are what the zone really shows (checked against the tz database)', () => {
    for (const [zone, utc, local] of cases)
      expect(formatLocalTimestamp(utc, zone), `${zone} ${new Date(utc).toISOString()}`).toBe(local);
  });

  it('every reading keeps its true UTC instant and ten-/sixty-minute spacing survives the change', () => {
    for (const zone of ['Europe/London', 'America/New_York', 'Australia/Sydney']) {
      const mine = cases.filter(([z]) => z === zone);
      const frame: LibreGraphFrame = {
        graph: mine.map(([, utc, local], i) => ({
          FactoryTimestamp: formatFactoryTimestamp(utc),
          Timestamp: local,
          ValueInMgPerDl: 100 + i,
        })),
        current: null,
      };
      const entries = libreFrameToBatch(frame, { device: DEVICE, cursor: null, now: Date.UTC(2024, 0, 1) }).entries;
      expect(
        entries.map((e) => e.date),
        zone,
      ).toEqual(mine.map(([, utc]) => utc).sort((a, b) => a - b));
      // Two distinct instants sharing one local wall time stay two readings.
      expect(new Set(entries.map((e) => e.identifier)).size).toBe(mine.length);
    }
  });

  it('reading Timestamp instead would misdate readings by an hour across the change (why we ignore it)', () => {
    const [, before, beforeLocal] = cases[0];
    const [, after, afterLocal] = cases[1];
    const offsetBefore = parseFactoryTimestamp(beforeLocal)! - before;
    const offsetAfter = parseFactoryTimestamp(afterLocal)! - after;
    // A fixed-offset correction (what a "local minus offset" parse amounts to) is right on one side only.
    expect(offsetAfter - offsetBefore).toBe(60 * 60_000);
    // Our transform gives the same result whatever Timestamp says.
    const withGarbageLocal: LibreGraphFrame = {
      graph: [
        { FactoryTimestamp: formatFactoryTimestamp(after), Timestamp: '1/1/1999 1:00:00 AM', ValueInMgPerDl: 100 },
      ],
      current: null,
    };
    expect(
      libreFrameToBatch(withGarbageLocal, { device: DEVICE, cursor: null, now: Date.UTC(2024, 0, 1) }).entries[0].date,
    ).toBe(after);
  });
});
