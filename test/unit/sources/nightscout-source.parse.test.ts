import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, SourceRejectedError } from '../../../lib/domain/errors.js';
import { assembleDriver } from '../../../lib/sources/driver.builder.js';
import {
  documentInstant,
  type NightscoutRaw,
  nightscoutIdentifier,
  transformNightscout,
  v1Documents,
  v3ApiVersion,
  v3Documents,
} from '../../../lib/sources/nightscout/nightscout.parse.js';
import { collectionStart, nightscoutSource } from '../../../lib/sources/nightscout/nightscout.source.js';
import { nightscoutVendor } from '../../../lib/sources/nightscout/nightscout.vendor.js';

const nightscoutSourceDriver = assembleDriver(nightscoutVendor, nightscoutSource, {});
const parseNightscoutSourceSettings = nightscoutVendor.parseSettings;
const checkNightscoutSourceCredentials = nightscoutVendor.checkCredentials;

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/nightscout-source/${name}`, import.meta.url), 'utf8'));
const empty: NightscoutRaw = { entries: [], treatments: [], devicestatus: [], profile: [] };
const SERVER_FIELDS = ['_id', 'srvCreated', 'srvModified', 'subject', 'isValid', 'isReadOnly', 'mills', 'sysTime'];

function rawFromFixtures(): NightscoutRaw {
  return {
    entries: [
      ...v1Documents(fixture('v1-entries.json'), 'entries'),
      ...v3Documents(fixture('v3-entries.json'), 'entries'),
    ],
    treatments: [
      ...v1Documents(fixture('v1-treatments.json'), 'treatments'),
      ...v3Documents(fixture('v3-treatments.json'), 'treatments'),
    ],
    devicestatus: v1Documents(fixture('v1-devicestatus.json'), 'devicestatus'),
    profile: v1Documents(fixture('v1-profile.json'), 'profile'),
  };
}

describe('nightscoutIdentifier', () => {
  it('matches what Nightscout API v3 computes (reference values from uuid5 in the NightscoutRocks! namespace)', () => {
    expect(nightscoutIdentifier(undefined, 1727451600000, 'Meal Bolus')).toBe('a34e3798-52b6-5967-9b9c-d20bf315fe52');
    expect(nightscoutIdentifier('openaps://samsung', 1727451600000)).toBe('88273a64-813d-5421-9112-915a2888b359');
  });
});

describe('transformNightscout (fixtures)', () => {
  const batch = transformNightscout(rawFromFixtures());
  const all = [...batch.entries, ...batch.treatments, ...batch.devicestatus, ...batch.profiles] as Array<
    Record<string, unknown>
  >;

  it('strips every server-owned field', () => {
    for (const doc of all) for (const field of SERVER_FIELDS) expect(doc).not.toHaveProperty(field);
  });

  it('keeps sgv entries with their own instant, device and extra fields; drops mbg, cal and unusable ones', () => {
    expect(batch.entries.map((e) => [e.date, e.dateString, e.sgv, e.device, e.direction])).toEqual([
      [Date.parse('2026-07-01T09:45:00Z'), '2026-07-01T09:45:00.000Z', 140, 'xDrip-DexcomG7', 'NOT COMPUTABLE'],
      [1782900000000, '2026-07-01T10:00:00.000Z', 136, 'xDrip-DexcomG7', 'NOT COMPUTABLE'],
      [1782900300000, '2026-07-01T10:05:00.000Z', 134, 'xDrip-DexcomG7', 'Flat'],
      [1782900600000, '2026-07-01T10:10:00.000Z', 129, 'AndroidAPS-DexcomG6', 'FortyFiveDown'],
    ]);
    expect(batch.entries[2]).toMatchObject({ delta: -2.1, filtered: 134000, noise: 1, utcOffset: 120, type: 'sgv' });
    for (const entry of batch.entries) expect(new Date(entry.date).toISOString()).toBe(entry.dateString);
  });

  it("keeps the source's v3 identifier, else derives the one its API v3 would compute", () => {
    expect(batch.entries[3].identifier).toBe('5d1a2f4e-7c3b-5a6d-9e8f-0a1b2c3d4e5f');
    expect(batch.entries[1].identifier).toBe(nightscoutIdentifier('xDrip-DexcomG7', 1782900000000));
    const loopBolus = batch.treatments.find((t) => t.eventType === 'Correction Bolus')!;
    expect(loopBolus.identifier).toBe(
      nightscoutIdentifier('loop://iPhone', Date.parse('2026-07-01T10:12:30Z'), 'Correction Bolus'),
    );
    const careportal = batch.treatments.find((t) => t.eventType === 'Meal Bolus')!;
    expect(careportal.identifier).toBe(
      nightscoutIdentifier(undefined, Date.parse('2026-07-01T10:20:00Z'), 'Meal Bolus'),
    );
    // A UUID _id (Nightscout 15.0.7 UUID handling) is the document's identity.
    expect(batch.treatments.find((t) => t.eventType === 'Carb Correction')!.identifier).toBe(
      '2b9e8d7c-6f5e-4d3c-8b2a-1f0e9d8c7b6a',
    );
  });

  it('normalises treatment times to UTC without moving them, keeping vendor fields', () => {
    expect(batch.treatments.map((t) => [t.created_at, t.eventType])).toEqual([
      ['2026-07-01T10:12:30.000Z', 'Correction Bolus'],
      ['2026-07-01T10:20:00.000Z', 'Meal Bolus'],
      ['2026-07-01T10:20:00.000Z', 'Temp Basal'],
      ['2026-07-01T10:25:00.000Z', 'Carb Correction'],
    ]);
    expect(batch.treatments[2]).toMatchObject({
      date: 1782901200000,
      pumpId: 4242,
      app: 'AAPS',
      rate: 0.6,
      duration: 30,
    });
    expect(batch.treatments[0]).toMatchObject({ syncIdentifier: '4c6f6f70-0001', timestamp: '2026-07-01T10:12:30Z' });
  });

  it('keeps device status blocks, giving a device-less one our device string', () => {
    expect(batch.devicestatus.map((d) => [d.created_at, d.device])).toEqual([
      ['2026-07-01T10:15:00.000Z', 'loop://iPhone'],
      ['2026-07-01T10:20:00.000Z', 'nightscout-connect-nightscout'],
    ]);
    expect(batch.devicestatus[0]).toMatchObject({ loop: { iob: { iob: 1.4 } }, pump: { reservoir: 120.5 } });
  });

  it('keeps profiles with a store and default, startDate as written', () => {
    expect(batch.profiles.map((p) => [p.defaultProfile, p.startDate, p.created_at])).toEqual([
      ['Old', '2026-05-01T08:00:00.000Z', '2026-05-01T08:00:00.000Z'],
      ['Default', '2026-07-01T08:00:00.000Z', '2026-07-01T08:00:05.000Z'],
    ]);
  });

  it('is deterministic: the same documents give the same batch', () => {
    expect(transformNightscout(rawFromFixtures())).toEqual(batch);
  });

  it('collapses a document read via both v3 searches', () => {
    const doc = v3Documents(fixture('v3-treatments.json'), 'treatments')[0];
    expect(transformNightscout({ ...empty, treatments: [doc, structuredClone(doc)] }).treatments).toHaveLength(1);
  });
});

describe('answers', () => {
  it('refuses bodies that are not Nightscout lists', () => {
    expect(() => v1Documents({ status: 401 }, 'entries')).toThrow(SourceRejectedError);
    expect(() => v3Documents({ status: 200 }, 'entries')).toThrow(SourceRejectedError);
    expect(v3Documents([], 'entries')).toEqual([]);
  });

  it('reads the v3 api version', () => {
    expect(v3ApiVersion({ status: 200, result: { version: '15.0.6', apiVersion: '3.0.3-alpha' } })).toBe('3.0.3-alpha');
    expect(v3ApiVersion('<html>')).toBeUndefined();
  });

  it('files documents under the instant their cursor tracks', () => {
    expect(documentInstant('entries', { date: 5, dateString: '2026-01-01T00:00:00Z' })).toBe(5);
    expect(documentInstant('treatments', { created_at: '2026-01-01T00:00:00Z', date: 5 })).toBe(
      Date.parse('2026-01-01T00:00:00Z'),
    );
    expect(documentInstant('profile', { startDate: '2026-01-01T00:00:00Z' })).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(documentInstant('devicestatus', null)).toBeUndefined();
  });
});

describe('settings', () => {
  const problemsOf = (raw: Record<string, unknown>): string[] => {
    try {
      parseNightscoutSourceSettings(raw);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    return [];
  };

  it('defaults: all collections, 1000 per query, auto API, path kept', () => {
    expect(parseNightscoutSourceSettings({ sourceEndpoint: 'source.example.org/ns/' })).toEqual({
      endpoint: 'https://source.example.org/ns',
      collections: ['entries', 'treatments', 'devicestatus', 'profile'],
      maxCount: 1000,
      apiVersion: 'auto',
      httpTimeoutMs: 15_000,
    });
  });

  it('rejects an endpoint that still carries a token, without echoing it', () => {
    const problems = problemsOf({ sourceEndpoint: 'https://source.example.org/?token=reader-0123456789abcdef' });
    expect(problems).toEqual([expect.stringContaining('CONNECT_SOURCE_ENDPOINT still contains ?token=')]);
    expect(problems.join()).not.toContain('0123456789abcdef');
    expect(problemsOf({ sourceEndpoint: 'https://x.example.org/?a=1&token=t' })).toHaveLength(1);
  });

  it('requires https except on loopback and refuses user info', () => {
    expect(problemsOf({ sourceEndpoint: 'http://source.example.org' })).toEqual([expect.stringContaining('https')]);
    expect(parseNightscoutSourceSettings({ sourceEndpoint: 'http://127.0.0.1:1337' }).endpoint).toBe(
      'http://127.0.0.1:1337',
    );
    expect(problemsOf({ sourceEndpoint: 'https://secret123456@source.example.org' }).join()).not.toContain(
      'secret123456',
    );
    expect(problemsOf({})).toEqual([expect.stringContaining('CONNECT_SOURCE_ENDPOINT is required')]);
  });

  it('parses collections, count and API version', () => {
    const settings = parseNightscoutSourceSettings({
      sourceEndpoint: 'https://a.example',
      sourceCollections: ' Treatments,profiles ,entries',
      sourceMaxCount: '250',
      sourceApiVersion: 'V3',
    });
    expect(settings).toMatchObject({
      collections: ['entries', 'treatments', 'profile'],
      maxCount: 250,
      apiVersion: 'v3',
    });
    expect(problemsOf({ sourceEndpoint: 'https://a.example', sourceCollections: 'entries,food' })).toEqual([
      expect.stringContaining('CONNECT_SOURCE_COLLECTIONS'),
    ]);
    expect(problemsOf({ sourceEndpoint: 'https://a.example', sourceMaxCount: 1001 })).toEqual([
      expect.stringContaining('CONNECT_SOURCE_MAX_COUNT'),
    ]);
    expect(problemsOf({ sourceEndpoint: 'https://a.example', sourceMaxCount: 0 })).toEqual([
      expect.stringContaining('CONNECT_SOURCE_MAX_COUNT'),
    ]);
    expect(problemsOf({ sourceEndpoint: 'https://a.example', sourceApiVersion: 'v2' })).toEqual([
      expect.stringContaining('CONNECT_SOURCE_API_VERSION'),
    ]);
  });

  it('needs a token or an API secret of Nightscout length, without echoing them', () => {
    expect(() =>
      checkNightscoutSourceCredentials({ vendor: { token: 'reader-0123456789abcdef' }, nightscout: {} }),
    ).not.toThrow();
    expect(() =>
      checkNightscoutSourceCredentials({ vendor: { apiSecret: 'twelve-chars' }, nightscout: {} }),
    ).not.toThrow();
    expect(() => checkNightscoutSourceCredentials({ vendor: {}, nightscout: {} })).toThrow(
      /CONNECT_SOURCE_ENDPOINT.*CONNECT_SOURCE_API_SECRET/,
    );
    expect(() => checkNightscoutSourceCredentials({ vendor: { apiSecret: 'short-sec' }, nightscout: {} })).toThrow(
      /at least 12/,
    );
    try {
      checkNightscoutSourceCredentials({ vendor: { apiSecret: 'short-sec' }, nightscout: {} });
    } catch (err) {
      expect((err as Error).message).not.toContain('short-sec');
    }
  });
});

describe('driver declaration', () => {
  it('declares kind, device and the Nightscout loop', () => {
    expect(nightscoutSourceDriver.kind).toBe('nightscout');
    expect(nightscoutSourceDriver.device).toBe('nightscout-connect-nightscout');
    expect(nightscoutSourceDriver.session.lifetimeMs).toBe(8 * 3_600_000);
    const [loop] = nightscoutSourceDriver.loops;
    expect({ ...loop, fetch: undefined, transform: undefined }).toEqual({
      name: 'Nightscout',
      intervalMs: 300_000,
      align: { lagMs: 18_000, jitterMs: 18_000 },
      attempts: 4,
      retry: { baseMs: 10_000, capMs: 300_000 },
      backoff: { baseMs: 300_000, capMs: 1_800_000 },
      maxLookbackMs: 2 * 24 * 3_600_000,
      fetch: undefined,
      transform: undefined,
    });
  });

  it('starts each collection at its own cursor, within the look-back', () => {
    const now = Date.parse('2026-07-03T00:00:00Z');
    const since = now - 3_600_000;
    expect(collectionStart({ entries: now - 600_000 }, 'entries', since, now)).toBe(now - 600_000);
    expect(collectionStart({ entries: now - 600_000 }, 'treatments', since, now)).toBe(since);
    expect(collectionStart({ profiles: now - 60_000 }, 'profile', since, now)).toBe(now - 60_000);
    expect(collectionStart({ devicestatus: now - 9 * 86_400_000 }, 'devicestatus', since, now)).toBe(
      now - 2 * 86_400_000,
    );
    expect(collectionStart(null, 'entries', since, now)).toBe(since);
  });
});
