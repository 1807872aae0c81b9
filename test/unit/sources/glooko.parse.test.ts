import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, SourceAuthRejectedError, SourceRejectedError } from '../../../lib/domain/errors.js';
import { assembleDriver } from '../../../lib/sources/driver.builder.js';
import {
  extractArray,
  type GlookoRaw,
  glookoQueryWindow,
  parseSignInBody,
  signInRejection,
  toDirection,
  transformGlooko,
} from '../../../lib/sources/glooko/glooko.parse.js';
import {
  glookoDeviceInformation,
  glookoFetchStart,
  glookoSource,
  readSetCookies,
} from '../../../lib/sources/glooko/glooko.source.js';
import { type GlookoZone, glookoVendor } from '../../../lib/sources/glooko/glooko.vendor.js';

const glookoDriver = assembleDriver(glookoVendor, glookoSource, {});
const parseGlookoSettings = glookoVendor.parseSettings;
const checkGlookoCredentials = glookoVendor.checkCredentials;

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/glooko/${name}`, import.meta.url), 'utf8'));
const berlin: GlookoZone = { kind: 'iana', zone: 'Europe/Berlin' };

function rawFromFixtures(): GlookoRaw {
  return {
    normalBoluses: extractArray(fixture('normal-boluses.json'), 'normalBoluses', 'normal_boluses'),
    scheduledBasals: extractArray(fixture('scheduled-basals.json'), 'scheduledBasals', 'scheduled_basals'),
    readings: extractArray(fixture('cgm-readings.json'), 'readings', 'readings'),
  };
}

const empty: GlookoRaw = { normalBoluses: [], scheduledBasals: [], readings: [] };

describe('transformGlooko (fixtures, Europe/Berlin spring forward 2026-03-29)', () => {
  const batch = transformGlooko(rawFromFixtures(), berlin);

  it('maps boluses to Meal/Correction Bolus at the re-zoned instant, dropping unusable records', () => {
    expect(batch.treatments.filter((t) => t.eventType !== 'Temp Basal').map(({ identifier, ...rest }) => rest)).toEqual(
      [
        {
          eventType: 'Meal Bolus',
          created_at: '2026-03-29T00:30:00.000Z',
          enteredBy: 'nightscout-connect-glooko',
          insulin: 2.5,
          carbs: 30,
        },
        // 02:30 never happened in Berlin that night: it is read as 03:30 CEST.
        {
          eventType: 'Correction Bolus',
          created_at: '2026-03-29T01:30:00.000Z',
          enteredBy: 'nightscout-connect-glooko',
          insulin: 1.2,
        },
        {
          eventType: 'Correction Bolus',
          created_at: '2026-03-29T06:00:00.000Z',
          enteredBy: 'nightscout-connect-glooko',
          insulin: 0.8,
        },
      ],
    );
  });

  it('maps scheduled basals to Temp Basal with duration in minutes, keeping a zero rate', () => {
    expect(batch.treatments.filter((t) => t.eventType === 'Temp Basal').map(({ identifier, ...rest }) => rest)).toEqual(
      [
        {
          eventType: 'Temp Basal',
          created_at: '2026-03-28T23:00:00.000Z',
          enteredBy: 'nightscout-connect-glooko',
          rate: 0.85,
          absolute: 0.85,
          duration: 120,
        },
        {
          eventType: 'Temp Basal',
          created_at: '2026-03-29T01:00:00.000Z',
          enteredBy: 'nightscout-connect-glooko',
          rate: 0.7,
          absolute: 0.7,
          duration: 30,
        },
        {
          eventType: 'Temp Basal',
          created_at: '2026-03-29T03:00:00.000Z',
          enteredBy: 'nightscout-connect-glooko',
          rate: 0,
          absolute: 0,
          duration: 15,
        },
      ],
    );
  });

  it('turns CGM readings into sgv entries across the gap, five real minutes apart', () => {
    expect(batch.entries.map(({ identifier, ...rest }) => rest)).toEqual([
      {
        type: 'sgv',
        sgv: 142,
        date: Date.parse('2026-03-29T00:55:37Z'),
        dateString: '2026-03-29T00:55:37.000Z',
        direction: 'NOT COMPUTABLE',
        device: 'nightscout-connect-glooko',
      },
      {
        type: 'sgv',
        sgv: 145,
        date: Date.parse('2026-03-29T01:00:37Z'),
        dateString: '2026-03-29T01:00:37.000Z',
        direction: 'NOT COMPUTABLE',
        device: 'nightscout-connect-glooko',
      },
      {
        type: 'sgv',
        sgv: 151,
        date: Date.parse('2026-03-29T01:05:37Z'),
        dateString: '2026-03-29T01:05:37.000Z',
        direction: 'FortyFiveUp',
        device: 'nightscout-connect-glooko',
      },
      {
        type: 'sgv',
        sgv: 158,
        date: Date.parse('2026-03-29T01:10:37Z'),
        dateString: '2026-03-29T01:10:37.000Z',
        direction: 'FortyFiveUp',
        device: 'nightscout-connect-glooko',
      },
    ]);
    for (const entry of batch.entries) expect(new Date(entry.date).toISOString()).toBe(entry.dateString);
  });

  it('gives every document a distinct UUID-shaped identifier, identical on a re-read', () => {
    const again = transformGlooko(rawFromFixtures(), berlin);
    const ids = [...batch.entries, ...batch.treatments].map((d) => d.identifier);
    expect(
      ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id ?? '')),
    ).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...again.entries, ...again.treatments].map((d) => d.identifier)).toEqual(ids);
  });

  it('keys a treatment with a guid on the guid alone, so a corrected amount replaces rather than duplicates', () => {
    const original = {
      pumpTimestamp: '2026-03-29T01:30:00.000Z',
      insulinDelivered: 2.5,
      carbsInput: 30,
      guid: 'g-1',
      syncTimestamp: '2026-03-29T01:05:00.000Z',
    };
    const resynced = { ...original, insulinDelivered: 2.4, syncTimestamp: '2026-03-30T07:00:00.000Z' };
    const a = transformGlooko({ ...empty, normalBoluses: [original] }, berlin).treatments[0];
    const b = transformGlooko({ ...empty, normalBoluses: [resynced] }, berlin).treatments[0];
    expect(b.identifier).toBe(a.identifier);
  });

  it('keys a treatment without a guid on type, instant and amount', () => {
    const one = { pumpTimestamp: '2026-03-29T08:00:00.000Z', insulinDelivered: 0.8 };
    const two = { pumpTimestamp: '2026-03-29T08:00:00.000Z', insulinDelivered: 1.6 };
    const batchOf = (records: unknown[]) => transformGlooko({ ...empty, normalBoluses: records }, berlin).treatments;
    expect(batchOf([one])[0].identifier).toBe(batchOf([one])[0].identifier);
    const both = batchOf([one, two]);
    expect(both).toHaveLength(2);
    expect(both[0].identifier).not.toBe(both[1].identifier);
  });

  it('collapses a record served twice in one fetch', () => {
    const reading = { timestamp: '2026-03-29T12:00:00.000Z', value: 100 };
    expect(transformGlooko({ ...empty, readings: [reading, reading] }, berlin).entries).toHaveLength(1);
  });
});

describe('transformGlooko across DST in three zones', () => {
  it('Europe/Berlin fall back: a repeated wall label takes the earlier, then the later instant', () => {
    const raw = { ...empty, readings: extractArray(fixture('cgm-readings-fall-back.json'), 'readings', 'readings') };
    const entries = transformGlooko(raw, berlin).entries;
    expect(entries.map((e) => [e.dateString, e.sgv])).toEqual([
      ['2026-10-24T23:55:00.000Z', 120],
      // 02:55 appears once: documented choice, the first time the clock showed it.
      ['2026-10-25T00:00:00.000Z', 121],
      ['2026-10-25T00:55:00.000Z', 125],
      ['2026-10-25T01:00:00.000Z', 131],
      ['2026-10-25T02:00:00.000Z', 140],
    ]);
  });

  it('America/New_York: spring gap shifts forward, fall overlap prefers the earlier instant', () => {
    const zone: GlookoZone = { kind: 'iana', zone: 'America/New_York' };
    const batch = transformGlooko(
      {
        ...empty,
        normalBoluses: [
          { pumpTimestamp: '2026-03-08T02:30:00.000Z', insulinDelivered: 1, carbsInput: 0, guid: 'ny-gap' },
          { pumpTimestamp: '2026-11-01T01:30:00.000Z', insulinDelivered: 2, carbsInput: 15, guid: 'ny-overlap' },
          { pumpTimestamp: '2026-07-04T18:00:00.000Z', insulinDelivered: 3, carbsInput: 60, guid: 'ny-summer' },
        ],
      },
      zone,
    );
    expect(batch.treatments.map((t) => [t.created_at, t.eventType])).toEqual([
      ['2026-03-08T07:30:00.000Z', 'Correction Bolus'],
      ['2026-07-04T22:00:00.000Z', 'Meal Bolus'],
      ['2026-11-01T05:30:00.000Z', 'Meal Bolus'],
    ]);
  });

  it('Australia/Sydney: April overlap and October gap', () => {
    const zone: GlookoZone = { kind: 'iana', zone: 'Australia/Sydney' };
    const batch = transformGlooko(
      {
        ...empty,
        scheduledBasals: [
          { pumpTimestamp: '2026-04-05T02:30:00.000Z', rate: 0.6, duration: 3600, guid: 'syd-overlap-1' },
          { pumpTimestamp: '2026-04-05T02:30:00.000Z', rate: 0.4, duration: 3600, guid: 'syd-overlap-2' },
          { pumpTimestamp: '2026-10-04T02:30:00.000Z', rate: 0.9, duration: 1800, guid: 'syd-gap' },
        ],
      },
      zone,
    );
    expect(batch.treatments.map((t) => [t.created_at, t.rate])).toEqual([
      ['2026-04-04T15:30:00.000Z', 0.6],
      ['2026-04-04T16:30:00.000Z', 0.4],
      ['2026-10-03T16:30:00.000Z', 0.9],
    ]);
  });

  it('legacy fixed offset subtracts the hours, whatever the season', () => {
    const zone: GlookoZone = { kind: 'fixed', offsetHours: 5.5 };
    const batch = transformGlooko({ ...empty, readings: [{ timestamp: '2026-03-29T02:30:00.000Z', value: 99 }] }, zone);
    expect(batch.entries[0].dateString).toBe('2026-03-28T21:00:00.000Z');
  });

  it('does not shift a stamp that carries a real offset', () => {
    const batch = transformGlooko(
      { ...empty, readings: [{ timestamp: '2026-03-29T03:30:00+02:00', value: 99 }] },
      berlin,
    );
    expect(batch.entries[0].dateString).toBe('2026-03-29T01:30:00.000Z');
  });
});

describe('glookoQueryWindow', () => {
  const since = Date.parse('2026-07-01T10:00:00Z');
  const now = Date.parse('2026-07-01T12:00:00Z');

  it('east of UTC: starts at the instant, ends at the wall label', () => {
    expect(glookoQueryWindow(berlin, since, now)).toEqual({
      startDate: '2026-07-01T10:00:00.000Z',
      endDate: '2026-07-01T14:00:00.000Z',
    });
  });

  it('west of UTC: starts at the wall label, ends at the instant', () => {
    expect(glookoQueryWindow({ kind: 'iana', zone: 'America/New_York' }, since, now)).toEqual({
      startDate: '2026-07-01T06:00:00.000Z',
      endDate: '2026-07-01T12:00:00.000Z',
    });
  });

  it('fetch start re-reads at least a day and never more than the look-back', () => {
    expect(glookoFetchStart(now - 60_000, now)).toBe(now - 24 * 3_600_000);
    expect(glookoFetchStart(now - 30 * 3_600_000, now)).toBe(now - 30 * 3_600_000);
    expect(glookoFetchStart(now - 10 * 24 * 3_600_000, now)).toBe(now - 2 * 24 * 3_600_000);
  });
});

describe('vendor bodies', () => {
  it('reads the patient code from the sign-in body', () => {
    expect(parseSignInBody(fixture('sign-in.json'))).toEqual({ glookoCode: 'eu-west-1-fixture-patient' });
  });

  it('rejects a sign-in body without a patient code as permanent', () => {
    expect(() => parseSignInBody({ userLogin: {} })).toThrow(SourceRejectedError);
    expect(() => parseSignInBody('<html>')).toThrow(SourceRejectedError);
  });

  it('refuses a data body without its array instead of reporting no data', () => {
    expect(() => extractArray({ boluses: [] }, 'normalBoluses', '/api/v2/pumps/normal_boluses')).toThrow(
      SourceRejectedError,
    );
    expect(() => extractArray(null, 'readings', '/api/v2/cgm/readings')).toThrow(SourceRejectedError);
    expect(extractArray({ readings: [] }, 'readings', '/api/v2/cgm/readings')).toEqual([]);
  });

  it('sign-in rejections park the source', () => {
    expect(signInRejection(401)).toBeInstanceOf(SourceAuthRejectedError);
    expect(signInRejection(422)).toMatchObject({ kind: 'authRejected', code: 'GLOOKO.SIGN_IN_UNPROCESSABLE' });
  });

  it('never defaults a trend to Flat', () => {
    expect(toDirection(undefined)).toBe('NOT COMPUTABLE');
    expect(toDirection('sideways')).toBe('NOT COMPUTABLE');
    expect(toDirection(0)).toBe('NOT COMPUTABLE');
    expect(toDirection('double_up')).toBe('DoubleUp');
    expect(toDirection('Flat')).toBe('Flat');
    expect(toDirection(7)).toBe('DoubleDown');
  });

  it('keeps name=value of each Set-Cookie and the earliest expiry', () => {
    const now = Date.parse('2026-07-01T00:00:00Z');
    expect(
      readSetCookies(['a=1; path=/; Max-Age=3600', 'b=2; Expires=Wed, 01 Jul 2026 00:30:00 GMT; HttpOnly'], now),
    ).toEqual({
      pairs: ['a=1', 'b=2'],
      expiresAt: Date.parse('2026-07-01T00:30:00Z'),
    });
    expect(readSetCookies(undefined, now)).toEqual({ pairs: [], expiresAt: undefined });
  });
});

describe('settings and credentials', () => {
  const problemsOf = (raw: Record<string, unknown>): string[] => {
    try {
      parseGlookoSettings(raw);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    return [];
  };

  it('maps environments case-insensitively', () => {
    expect(parseGlookoSettings({ glookoTimezone: 'Europe/Berlin' }).baseUrl).toBe('https://api.glooko.com');
    expect(parseGlookoSettings({ glookoEnv: 'EU', glookoTimezone: 'Europe/Berlin' }).baseUrl).toBe(
      'https://eu.api.glooko.com',
    );
    expect(parseGlookoSettings({ glookoEnv: 'development', glookoTimezone: 'UTC' }).baseUrl).toBe(
      'https://api.glooko.work',
    );
    expect(parseGlookoSettings({ glookoEnv: 'Production', glookoTimezone: 'UTC' }).baseUrl).toBe(
      'https://externalapi.glooko.com',
    );
    expect(problemsOf({ glookoEnv: 'mars', glookoTimezone: 'UTC' })).toEqual([
      expect.stringContaining('CONNECT_GLOOKO_ENV'),
    ]);
  });

  it('lets a server win; plain http only on loopback', () => {
    expect(
      parseGlookoSettings({ glookoEnv: 'eu', glookoServer: 'us.api.glooko.com', glookoTimezone: 'UTC' }).baseUrl,
    ).toBe('https://us.api.glooko.com');
    expect(parseGlookoSettings({ glookoServer: 'http://127.0.0.1:4567/', glookoTimezone: 'UTC' }).baseUrl).toBe(
      'http://127.0.0.1:4567',
    );
    expect(problemsOf({ glookoServer: 'http://api.glooko.com', glookoTimezone: 'UTC' })).toEqual([
      expect.stringContaining('CONNECT_GLOOKO_SERVER'),
    ]);
    expect(problemsOf({ glookoServer: 'https://user:pw@api.glooko.com', glookoTimezone: 'UTC' })[0]).not.toContain(
      'pw',
    );
  });

  it('requires a time zone, naming the variable with an example', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/CONNECT_GLOOKO_TIMEZONE .*Europe\/Berlin/)]);
    expect(problemsOf({ glookoTimezone: 'Berlin' })).toEqual([expect.stringContaining('CONNECT_GLOOKO_TIMEZONE')]);
  });

  it('accepts the legacy offset in hours (number or text), IANA winning when both are set', () => {
    expect(parseGlookoSettings({ glookoTimezoneOffset: -5 }).zone).toEqual({ kind: 'fixed', offsetHours: -5 });
    expect(parseGlookoSettings({ glookoTimezoneOffset: '5.5' }).zone).toEqual({ kind: 'fixed', offsetHours: 5.5 });
    expect(parseGlookoSettings({ glookoTimezoneOffset: 2, glookoTimezone: 'Europe/Berlin' }).zone).toEqual({
      kind: 'iana',
      zone: 'Europe/Berlin',
    });
    expect(problemsOf({ glookoTimezoneOffset: 'two' })).toEqual([
      expect.stringContaining('CONNECT_GLOOKO_TIMEZONE_OFFSET'),
    ]);
    expect(problemsOf({ glookoTimezoneOffset: 15 })).toEqual([
      expect.stringContaining('CONNECT_GLOOKO_TIMEZONE_OFFSET'),
    ]);
  });

  it('validates the HTTP timeout', () => {
    expect(parseGlookoSettings({ glookoTimezone: 'UTC' }).httpTimeoutMs).toBe(15_000);
    expect(problemsOf({ glookoTimezone: 'UTC', httpTimeoutMs: 0 })).toEqual([expect.stringContaining('httpTimeoutMs')]);
  });

  it('requires e-mail and password without echoing them', () => {
    expect(() => checkGlookoCredentials({ vendor: { email: 'a@b.c', password: 'pw' }, nightscout: {} })).not.toThrow();
    try {
      checkGlookoCredentials({ vendor: { email: 'secret-mail@example.invalid' }, nightscout: {} });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual(['CONNECT_GLOOKO_PASSWORD is required']);
      expect((err as Error).message).not.toContain('secret-mail');
    }
  });
});

describe('driver declaration', () => {
  it('declares kind, device and the Glooko loop', () => {
    expect(glookoDriver.kind).toBe('glooko');
    expect(glookoDriver.device).toBe('nightscout-connect-glooko');
    expect(glookoDriver.session.lifetimeMs).toBe(24 * 3_600_000);
    const [loop] = glookoDriver.loops;
    expect({ ...loop, fetch: undefined, transform: undefined }).toEqual({
      name: 'Glooko',
      intervalMs: 300_000,
      align: { lagMs: 0, jitterMs: 30_000 },
      attempts: 2,
      retry: { baseMs: 30_000, capMs: 300_000 },
      backoff: { baseMs: 300_000, capMs: 1_800_000 },
      maxLookbackMs: 2 * 24 * 3_600_000,
      fetch: undefined,
      transform: undefined,
    });
  });

  it('presents a complete, stable device block per source', () => {
    const a = glookoDeviceInformation('source-a');
    expect(glookoDeviceInformation('source-a')).toEqual(a);
    expect(glookoDeviceInformation('source-b').serialNumber).not.toBe(a.serialNumber);
    expect(a).toMatchObject({
      applicationType: 'logbook',
      os: 'android',
      clinicalResearch: false,
      applicationVersion: '6.1.3',
    });
    expect(Object.keys(a).sort()).toEqual([
      'applicationType',
      'applicationVersion',
      'buildNumber',
      'clinicalResearch',
      'device',
      'deviceId',
      'deviceManufacturer',
      'deviceModel',
      'gitHash',
      'os',
      'osVersion',
      'serialNumber',
    ]);
  });
});
