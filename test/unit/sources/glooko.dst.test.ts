/**
 * Glooko re-zoning through the setting a user writes (CONNECT_GLOOKO_TIMEZONE → parseGlookoSettings → transform), for
 * three hours of CGM readings across each DST change of Europe/Berlin, America/New_York and Australia/Sydney. The
 * readings are labelled the way Glooko serves them (the patient's wall time written as if it were UTC, 37 s past each
 * 5-minute boundary like a CGM's own clock); the labels are made here with Intl, independently of the driver's
 * zoned-time code, and the true instants are known.
 * - spring gap: every reading lands on its true instant;
 * - fall-back: each label of the repeated hour is served twice; served in order, the first gets the earlier instant and
 *   the second the later one (glooko.parse.ts `mapRecords`), so the whole hour survives, nothing collapses or shifts.
 */
import { describe, expect, it } from 'vitest';
import { transformGlooko } from '../../../lib/sources/glooko/glooko.parse.js';
import { glookoVendor } from '../../../lib/sources/glooko/glooko.vendor.js';

const parseGlookoSettings = glookoVendor.parseSettings;

const MIN = 60_000;
const HOUR = 60 * MIN;
const PHASE_MS = 37_000;

const CASES = [
  { zone: 'Europe/Berlin', change: 'spring', at: Date.UTC(2026, 2, 29, 1) },
  { zone: 'Europe/Berlin', change: 'fall', at: Date.UTC(2026, 9, 25, 1) },
  { zone: 'America/New_York', change: 'spring', at: Date.UTC(2026, 2, 8, 7) },
  { zone: 'America/New_York', change: 'fall', at: Date.UTC(2026, 10, 1, 6) },
  { zone: 'Australia/Sydney', change: 'fall', at: Date.UTC(2026, 3, 4, 16) },
  { zone: 'Australia/Sydney', change: 'spring', at: Date.UTC(2026, 9, 3, 16) },
] as const;

/** Glooko's label for an instant: the zone's wall clock, written with a `Z`. */
function label(zone: string, instant: number): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return new Date(
    Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'), instant % 1000),
  ).toISOString();
}

describe.each(CASES)('Glooko $zone $change change (CONNECT_GLOOKO_TIMEZONE)', ({ zone, change, at }) => {
  const instants: number[] = [];
  for (let t = at - 90 * MIN + PHASE_MS; t <= at + 90 * MIN; t += 5 * MIN) instants.push(t);
  const readings = instants.map((instant, i) => ({ timestamp: label(zone, instant), value: 100 + i }));
  const settings = parseGlookoSettings({ glookoServer: 'https://eu.api.glooko.com', glookoTimezone: zone });
  const entries = transformGlooko({ normalBoluses: [], scheduledBasals: [], readings }, settings.zone).entries;
  const labelCount = new Map<string, number>();
  for (const r of readings) labelCount.set(r.timestamp, (labelCount.get(r.timestamp) ?? 0) + 1);
  const repeated = instants.filter((_t, i) => labelCount.get(readings[i].timestamp)! > 1);

  it('the series really crosses the change: its labels jump or repeat by an hour at the transition', () => {
    const before = Date.parse(label(zone, at - 1000)) - (at - 1000);
    const after = Date.parse(label(zone, at)) - at;
    expect(Math.abs(after - before)).toBe(HOUR);
    expect(settings.zone).toEqual({ kind: 'iana', zone });
    if (change === 'spring') expect(repeated).toEqual([]);
    else expect(repeated.length).toBe(2 * (HOUR / (5 * MIN)));
  });

  it('every reading lands on its true instant, to the millisecond, with its own value', () => {
    const byDate = new Map(entries.map((e) => [e.date, e]));
    expect(instants.filter((t) => !byDate.has(t)).map((t) => new Date(t).toISOString())).toEqual([]);
    instants.forEach((t, i) => expect(byDate.get(t)!.sgv, new Date(t).toISOString()).toBe(100 + i));
    for (const e of entries) expect(Date.parse(e.dateString)).toBe(e.date);
  });

  it('nothing is invented or doubled: one entry per reading, distinct identifiers', () => {
    const real = new Set(instants);
    expect(entries.filter((e) => !real.has(e.date)).map((e) => e.dateString)).toEqual([]);
    expect(entries).toHaveLength(instants.length);
    expect(new Set(entries.map((e) => e.identifier)).size).toBe(instants.length);
  });
});
