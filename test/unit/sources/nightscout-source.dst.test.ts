/**
 * Nightscout-as-source documents across DST changes in three zones (Europe/Berlin, America/New_York, Australia/Sydney;
 * spring gap and fall-back repeated hour in each). Documents are shaped like what a site serves for an xDrip+/Loop
 * uploader in that zone: numeric `date`, a local `dateString` with the uploader's offset (xDrip+ writes `+0100`, others
 * `+01:00`), `utcOffset` in minutes, server-owned `sysTime`; treatments with a local-offset `created_at`. The true UTC
 * instants are written out by hand; the offsets are checked against the tz database so the fixture is a real crossing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  documentInstant,
  instantOf,
  type NightscoutRaw,
  transformNightscout,
} from '../../../lib/sources/nightscout/nightscout.parse.js';

interface Case {
  zone: string;
  change: 'spring' | 'fall';
  /** [true UTC instant, the uploader's local dateString] per reading, oldest first. */
  readings: Array<[string, string]>;
  /** [true UTC instant, local created_at] of two boluses; in a fall-back they share a wall clock. */
  boluses: Array<[string, string]>;
}

const CASES: Case[] = [
  {
    zone: 'Europe/Berlin',
    change: 'spring', // 2026-03-29 01:00 UTC
    readings: [
      ['2026-03-29T00:50:00.000Z', '2026-03-29T01:50:00.000+0100'],
      ['2026-03-29T00:55:00.000Z', '2026-03-29T01:55:00.000+0100'],
      ['2026-03-29T01:00:00.000Z', '2026-03-29T03:00:00.000+0200'],
      ['2026-03-29T01:05:00.000Z', '2026-03-29T03:05:00.000+0200'],
    ],
    boluses: [
      ['2026-03-29T00:45:00.000Z', '2026-03-29T01:45:00.000+01:00'],
      ['2026-03-29T01:15:00.000Z', '2026-03-29T03:15:00.000+02:00'],
    ],
  },
  {
    zone: 'Europe/Berlin',
    change: 'fall', // 2026-10-25 01:00 UTC: 02:00–02:59 twice
    readings: [
      ['2026-10-25T00:25:00.000Z', '2026-10-25T02:25:00.000+0200'],
      ['2026-10-25T00:30:00.000Z', '2026-10-25T02:30:00.000+0200'],
      ['2026-10-25T01:25:00.000Z', '2026-10-25T02:25:00.000+0100'],
      ['2026-10-25T01:30:00.000Z', '2026-10-25T02:30:00.000+0100'],
    ],
    boluses: [
      ['2026-10-25T00:40:00.000Z', '2026-10-25T02:40:00.000+02:00'],
      ['2026-10-25T01:40:00.000Z', '2026-10-25T02:40:00.000+01:00'],
    ],
  },
  {
    zone: 'America/New_York',
    change: 'spring', // 2026-03-08 07:00 UTC
    readings: [
      ['2026-03-08T06:50:00.000Z', '2026-03-08T01:50:00.000-0500'],
      ['2026-03-08T06:55:00.000Z', '2026-03-08T01:55:00.000-0500'],
      ['2026-03-08T07:00:00.000Z', '2026-03-08T03:00:00.000-0400'],
      ['2026-03-08T07:05:00.000Z', '2026-03-08T03:05:00.000-0400'],
    ],
    boluses: [
      ['2026-03-08T06:45:00.000Z', '2026-03-08T01:45:00.000-05:00'],
      ['2026-03-08T07:15:00.000Z', '2026-03-08T03:15:00.000-04:00'],
    ],
  },
  {
    zone: 'America/New_York',
    change: 'fall', // 2026-11-01 06:00 UTC: 01:00–01:59 twice
    readings: [
      ['2026-11-01T05:25:00.000Z', '2026-11-01T01:25:00.000-0400'],
      ['2026-11-01T05:30:00.000Z', '2026-11-01T01:30:00.000-0400'],
      ['2026-11-01T06:25:00.000Z', '2026-11-01T01:25:00.000-0500'],
      ['2026-11-01T06:30:00.000Z', '2026-11-01T01:30:00.000-0500'],
    ],
    boluses: [
      ['2026-11-01T05:40:00.000Z', '2026-11-01T01:40:00.000-04:00'],
      ['2026-11-01T06:40:00.000Z', '2026-11-01T01:40:00.000-05:00'],
    ],
  },
  {
    zone: 'Australia/Sydney',
    change: 'fall', // 2026-04-04 16:00 UTC: 02:00–02:59 twice
    readings: [
      ['2026-04-04T15:25:00.000Z', '2026-04-05T02:25:00.000+1100'],
      ['2026-04-04T15:30:00.000Z', '2026-04-05T02:30:00.000+1100'],
      ['2026-04-04T16:25:00.000Z', '2026-04-05T02:25:00.000+1000'],
      ['2026-04-04T16:30:00.000Z', '2026-04-05T02:30:00.000+1000'],
    ],
    boluses: [
      ['2026-04-04T15:40:00.000Z', '2026-04-05T02:40:00.000+11:00'],
      ['2026-04-04T16:40:00.000Z', '2026-04-05T02:40:00.000+10:00'],
    ],
  },
  {
    zone: 'Australia/Sydney',
    change: 'spring', // 2026-10-03 16:00 UTC
    readings: [
      ['2026-10-03T15:50:00.000Z', '2026-10-04T01:50:00.000+1000'],
      ['2026-10-03T15:55:00.000Z', '2026-10-04T01:55:00.000+1000'],
      ['2026-10-03T16:00:00.000Z', '2026-10-04T03:00:00.000+1100'],
      ['2026-10-03T16:05:00.000Z', '2026-10-04T03:05:00.000+1100'],
    ],
    boluses: [
      ['2026-10-03T15:45:00.000Z', '2026-10-04T01:45:00.000+10:00'],
      ['2026-10-03T16:15:00.000Z', '2026-10-04T03:15:00.000+11:00'],
    ],
  },
];

function offsetMinutes(local: string): number {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(local);
  if (!m) throw new Error(`no offset in ${local}`);
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

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

/** What the source site serves (v1): server `_id` and `sysTime` included, as a real site adds them. */
function served(c: Case, options: { withDate: boolean }): NightscoutRaw {
  return {
    entries: c.readings.map(([utc, local], i) => ({
      _id: `65f0c0ffee00000000000${String(i).padStart(3, '0')}`,
      type: 'sgv',
      sgv: 110 + i,
      direction: 'Flat',
      device: 'xDrip-DexcomG6',
      noise: 1,
      ...(options.withDate ? { date: Date.parse(utc) } : {}),
      dateString: local,
      sysTime: local,
      utcOffset: offsetMinutes(local),
    })),
    treatments: c.boluses.map(([, local], i) => ({
      _id: `65f0beef0000000000000${String(i).padStart(3, '0')}`,
      eventType: 'Correction Bolus',
      insulin: 1 + i,
      created_at: local,
      enteredBy: 'loop://iPhone',
      utcOffset: offsetMinutes(local),
    })),
    devicestatus: [],
    profile: [],
  };
}

const originalTz = process.env.TZ;
afterEach(() => {
  if (originalTz === undefined) delete process.env.TZ;
  else process.env.TZ = originalTz;
});

describe.each(CASES)('Nightscout source $zone $change change', (c) => {
  it('the fixture is a real crossing: every local offset matches the tz database, and it changes by an hour', () => {
    for (const [utc, local] of [...c.readings, ...c.boluses])
      expect(offsetMinutes(local), local).toBe(tzOffsetMinutes(c.zone, Date.parse(utc)));
    expect(Math.abs(offsetMinutes(c.readings.at(-1)![1]) - offsetMinutes(c.readings[0][1]))).toBe(60);
  });

  it("entries keep `date` to the millisecond, get a UTC dateString, and keep their own utcOffset; sysTime is the server's", () => {
    const batch = transformNightscout(served(c, { withDate: true }));
    expect(batch.entries.map((e) => e.dateString)).toEqual(c.readings.map(([utc]) => utc));
    expect(batch.entries.map((e) => e.date)).toEqual(c.readings.map(([utc]) => Date.parse(utc)));
    expect(batch.entries.map((e) => (e as { utcOffset?: number }).utcOffset)).toEqual(
      c.readings.map(([, local]) => offsetMinutes(local)),
    );
    for (const e of batch.entries) expect(e).not.toHaveProperty('sysTime');
    expect(new Set(batch.entries.map((e) => e.identifier)).size).toBe(c.readings.length);
  });

  it('an entry without numeric `date` is dated from its offset dateString, to the same instant', () => {
    const batch = transformNightscout(served(c, { withDate: false }));
    expect(batch.entries.map((e) => e.date)).toEqual(c.readings.map(([utc]) => Date.parse(utc)));
    expect(batch.entries.map((e) => documentInstant('entries', { dateString: e.dateString }))).toEqual(
      c.readings.map(([utc]) => Date.parse(utc)),
    );
  });

  it('treatments land on their true instants, each once, with distinct identifiers', () => {
    const batch = transformNightscout(served(c, { withDate: true }));
    expect(batch.treatments.map((t) => t.created_at)).toEqual(c.boluses.map(([utc]) => utc));
    expect(new Set(batch.treatments.map((t) => t.identifier)).size).toBe(c.boluses.length);
    expect(c.boluses.map(([, local]) => documentInstant('treatments', { created_at: local }))).toEqual(
      c.boluses.map(([utc]) => Date.parse(utc)),
    );
  });

  it('the host time zone changes nothing', () => {
    const results: unknown[] = [];
    for (const tz of ['UTC', c.zone, 'Pacific/Chatham']) {
      process.env.TZ = tz;
      results.push(transformNightscout(served(c, { withDate: false })));
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});

describe.each(CASES.filter((c) => c.change === 'fall'))('Nightscout source $zone fall-back repeated hour', (c) => {
  it('two readings and two boluses that share a local wall clock stay two each, an hour apart', () => {
    const wall = (local: string) => local.slice(0, 23);
    expect(wall(c.readings[1][1])).toBe(wall(c.readings[3][1]));
    expect(wall(c.boluses[0][1])).toBe(wall(c.boluses[1][1]));
    const batch = transformNightscout(served(c, { withDate: false }));
    expect(batch.entries[3].date - batch.entries[1].date).toBe(60 * 60_000);
    expect(Date.parse(batch.treatments[1].created_at) - Date.parse(batch.treatments[0].created_at)).toBe(60 * 60_000);
    expect(batch.treatments[0].identifier).not.toBe(batch.treatments[1].identifier);
  });
});

describe('offset-less stamps (Nightscout stores UTC)', () => {
  // Node 20 re-reads process.env.TZ when it is assigned, so each zone below really is the host zone for Date.parse;
  // the first assertion proves that, otherwise the test could pass without exercising anything.
  const HOSTS = ['America/New_York', 'Australia/Sydney', 'Europe/Berlin', 'Pacific/Chatham'];

  it.each(HOSTS)(
    'under host TZ=%s an ISO stamp without Z or offset is read as UTC, in every field that carries a time',
    (tz) => {
      process.env.TZ = tz;
      expect(Date.parse('2026-10-25T02:40:00')).not.toBe(Date.UTC(2026, 9, 25, 2, 40)); // the host zone is live
      expect(instantOf('2026-10-25T02:40:00')).toBe(Date.UTC(2026, 9, 25, 2, 40));
      expect(instantOf('2026-10-25T02:40:00.123')).toBe(Date.UTC(2026, 9, 25, 2, 40, 0, 123));
      expect(instantOf('2026-10-25 02:40')).toBe(Date.UTC(2026, 9, 25, 2, 40));
      // With a Z or an offset the stamp already names its instant and is left as it is.
      expect(instantOf('2026-10-25T02:40:00.000Z')).toBe(Date.UTC(2026, 9, 25, 2, 40));
      expect(instantOf('2026-10-25T02:40:00.000+0100')).toBe(Date.UTC(2026, 9, 25, 1, 40));
      expect(instantOf('2026-10-25T02:40:00-05:00')).toBe(Date.UTC(2026, 9, 25, 7, 40));

      const batch = transformNightscout({
        entries: [{ type: 'sgv', sgv: 120, dateString: '2026-10-25T02:40:00.000', device: 'xDrip-DexcomG6' }],
        treatments: [{ eventType: 'Correction Bolus', insulin: 1, created_at: '2026-10-25T02:45:00' }],
        devicestatus: [{ device: 'loop://iPhone', created_at: '2026-10-25T02:46:00.000' }],
        profile: [
          {
            defaultProfile: 'Default',
            store: { Default: {} },
            startDate: '2026-10-25T00:00:00',
            created_at: '2026-10-25T00:00:00',
          },
        ],
      });
      expect(batch.entries[0].date).toBe(Date.UTC(2026, 9, 25, 2, 40));
      expect(batch.treatments[0].created_at).toBe('2026-10-25T02:45:00.000Z');
      expect(batch.devicestatus[0].created_at).toBe('2026-10-25T02:46:00.000Z');
      expect(batch.profiles[0].created_at).toBe('2026-10-25T00:00:00.000Z');
      expect(documentInstant('treatments', { created_at: '2026-10-25T02:45:00' })).toBe(Date.UTC(2026, 9, 25, 2, 45));
    },
  );
});
