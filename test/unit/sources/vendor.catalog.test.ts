/**
 * The registered vendors and what is derived from them: kinds and aliases, machine specs from declarations (the
 * LibreLinkUp interval is a setting), drivers assembled from declaration and implementation, and the guards that
 * keep a declaration honest.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/domain/errors.js';
import { emptyBatch } from '../../../lib/domain/records.js';
import { assembleDriver, driverBuilder } from '../../../lib/sources/driver.builder.js';
import { integer } from '../../../lib/sources/settings.fields.js';
import {
  declarationFor,
  driverFor,
  KIND_LIST,
  PARKED_HINTS,
  SOURCE_KINDS,
  scheduleFor,
  specFor,
  VENDORS,
  vendorFor,
} from '../../../lib/sources/vendor.catalog.js';
import { defineVendor } from '../../../lib/sources/vendor.declaration.js';

const MIN = 60_000;

describe('registered vendors', () => {
  it("lists the vendors by kind, with nightscout-connect's names accepted in any case", () => {
    expect(SOURCE_KINDS).toEqual(
      expect.arrayContaining(['dexcomshare', 'glooko', 'librelinkup', 'minimedcarelink', 'nightscout']),
    );
    expect(SOURCE_KINDS).toEqual([...SOURCE_KINDS].sort());
    expect(KIND_LIST).toBe(SOURCE_KINDS.join(', '));
    expect(vendorFor('LinkUp').kind).toBe('librelinkup');
    expect(vendorFor(' DexcomShare ').kind).toBe('dexcomshare');
  });

  it('refuses an unknown kind naming every accepted one', () => {
    let error: unknown;
    try {
      vendorFor('fakedriver');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const accepted = VENDORS.flatMap((v) => [v.kind, ...v.aliases]).join(', ');
    expect((error as ConfigError).message).toBe(`CONNECT_SOURCE: unknown source "fakedriver"; accepted: ${accepted}`);
    expect(accepted).toContain('librelinkup, linkup, ');
  });

  it('gathers the parked hints the vendors declare', () => {
    expect(Object.keys(PARKED_HINTS)).toEqual(
      expect.arrayContaining(['CARELINK.LOGIN_REQUIRED', 'LIBRELINKUP.TERMS_REQUIRED']),
    );
    expect(Object.keys(PARKED_HINTS)).toEqual(VENDORS.flatMap((v) => Object.keys(v.parked)));
    expect(vendorFor('minimedcarelink').login?.summary).toMatch(/browser/);
    expect(vendorFor('minimedcarelink').checkLogin?.unavailable).toMatch(/rotate/);
    expect(vendorFor('dexcomshare').login).toBeUndefined();
    expect(vendorFor('dexcomshare').checkLogin).toBeUndefined();
  });

  it('gives every vendor a plain-data machine spec from its declaration, even for settings that no longer validate', () => {
    for (const kind of SOURCE_KINDS) {
      const spec = specFor({ kind, settings: {} });
      expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
      expect(spec.kind).toBe(kind);
      expect(spec.loops.length).toBeGreaterThan(0);
    }
  });
});

describe('LibreLinkUp: the loop timing follows CONNECT_LINK_UP_INTERVAL', () => {
  it('one-minute polls retry within the minute and back off from one minute', () => {
    const [loop] = specFor({ kind: 'librelinkup', settings: { linkUpInterval: '1' } }).loops;
    expect(loop).toMatchObject({
      name: 'LibreLinkUp',
      intervalMs: MIN,
      retry: { baseMs: 60_000, capMs: 60_000 },
      backoff: { baseMs: MIN, capMs: 30 * MIN },
    });
    const [fifteen] = specFor({ kind: 'linkup', settings: { linkUpInterval: 15 } }).loops;
    expect(fifteen).toMatchObject({ intervalMs: 15 * MIN, retry: { capMs: 15 * MIN }, backoff: { baseMs: 15 * MIN } });
  });

  it('a stored interval that no longer validates falls back to the default for the schedule (fetch still reports it)', () => {
    expect(specFor({ kind: 'librelinkup', settings: { linkUpInterval: '0' } }).loops[0].intervalMs).toBe(5 * MIN);
    expect(() => vendorFor('librelinkup').parseSettings({ linkUpInterval: '0' })).toThrow(ConfigError);
  });

  it('the assembled driver carries the same timing and the declared look-back and re-read window', async () => {
    const driver = await driverFor({ kind: 'librelinkup', settings: { linkUpInterval: '2' } });
    expect(driver.loops[0]).toMatchObject({
      intervalMs: 2 * MIN,
      maxLookbackMs: 12 * 60 * MIN,
      reread: { windowMs: 60 * MIN, sameReadingMs: 30_000 },
    });
    expect(typeof driver.loops[0].fetch).toBe('function');
    expect(driver.session.lifetimeMs).toBe(60 * MIN);
    expect(scheduleFor({ kind: 'librelinkup', settings: { linkUpInterval: '2' } })[0].intervalMs).toBe(2 * MIN);
  });
});

describe('driverFor', () => {
  it('loads each implementation once per kind and settings, and keeps drivers of different settings apart', async () => {
    const a = await driverFor({ kind: 'librelinkup', settings: { linkUpInterval: '3' } });
    const b = await driverFor({ kind: 'linkup', settings: { linkUpInterval: '3' } });
    const c = await driverFor({ kind: 'librelinkup', settings: { linkUpInterval: '4' } });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(c.loops[0].intervalMs).toBe(4 * MIN);
  });

  it('assembles every vendor: its device, its declared session lifetime, one implementation per declared loop', async () => {
    for (const vendor of VENDORS) {
      const driver = await driverFor({ kind: vendor.kind, settings: {} });
      expect(driver.kind).toBe(vendor.kind);
      expect(driver.device).toBe(vendor.device);
      expect(driver.session.lifetimeMs).toBe(vendor.sessionLifetimeMs);
      expect(driver.loops.map((l) => l.name)).toEqual(vendor.schedule({}).map((l) => l.name));
      expect(Boolean(driver.login)).toBe(Boolean(vendor.login));
    }
  });
});

describe('declarationFor', () => {
  it('gives persist the device and loop facts the assembled driver carries, for every vendor, without a driver', async () => {
    for (const vendor of VENDORS) {
      const variants: Array<Record<string, string>> = [
        {},
        vendor.kind === 'librelinkup' ? { linkUpInterval: '2' } : {},
      ];
      for (const settings of variants) {
        const declared = declarationFor({ kind: vendor.kind, settings });
        const driver = await driverFor({ kind: vendor.kind, settings });
        expect(declared.device).toBe(driver.device);
        expect(declared.loops).toEqual(driver.loops.map(({ fetch: _f, transform: _t, ...schedule }) => schedule));
      }
    }
  });

  it('takes aliases and rejects unknown kinds as the other lookups do', () => {
    expect(declarationFor({ kind: 'linkup', settings: {} }).device).toBe(vendorFor('librelinkup').device);
    expect(() => declarationFor({ kind: 'nope', settings: {} })).toThrow(ConfigError);
  });
});

describe('declarations are checked', () => {
  const timing = {
    intervalMs: 5 * MIN,
    align: { lagMs: 0, jitterMs: 0 },
    attempts: 1,
    retry: { baseMs: 1, capMs: 1 },
    backoff: { baseMs: 1, capMs: 1 },
    maxLookbackMs: 60 * MIN,
  };
  const implementation = driverBuilder<unknown>()
    .supportSession({ authenticate: async () => ({}), authorize: async () => ({ session: {} }) })
    .registerLoop('Main', { fetch: async () => null, transform: () => emptyBatch() })
    .build();

  it('refuses a setting key that is not the camelCase of a CONNECT_* name', () => {
    expect(() =>
      defineVendor({
        kind: 'toy',
        displayName: 'Toy',
        device: 'toy',
        settings: { toy_interval: integer({ min: 1, max: 2 }) },
        secrets: {},
        sessionLifetimeMs: MIN,
        schedule: () => [{ name: 'Main', ...timing }],
        load: async () => implementation,
      }),
    ).toThrow(/camelCase/);
  });

  it('refuses a driver whose declared and implemented loops differ', () => {
    const declared = (names: string[]) =>
      defineVendor({
        kind: 'toy',
        displayName: 'Toy',
        device: 'toy',
        settings: {},
        secrets: {},
        sessionLifetimeMs: MIN,
        schedule: () => names.map((name) => ({ name, ...timing })),
        load: async () => implementation,
      });
    expect(() => assembleDriver(declared(['Other']), implementation, {})).toThrow(
      /Other is declared but not implemented/,
    );
    expect(() => assembleDriver(declared(['Main', 'Other']), implementation, {})).toThrow(/not implemented/);
    expect(assembleDriver(declared(['Main']), implementation, {}).loops.map((l) => l.name)).toEqual(['Main']);
    expect(() => declared(['Main', 'Main']).schedule({})).toThrow(/declared twice/);
  });

  it('checks required secrets generically, with a stand-in where the vendor allows one, never echoing values', () => {
    const nightscout = vendorFor('nightscout');
    expect(() => nightscout.checkCredentials({ vendor: { token: 'reader-0123456789' }, nightscout: {} })).not.toThrow();
    expect(() => nightscout.checkCredentials({ vendor: {}, nightscout: {} })).toThrow(/CONNECT_SOURCE_API_SECRET/);
    const numeric = (() => {
      try {
        vendorFor('glooko').checkCredentials({
          vendor: { email: 'e@x.invalid', password: 20250101 as unknown as string },
          nightscout: {},
        });
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    })();
    expect(numeric).toEqual(['CONNECT_GLOOKO_PASSWORD must be text; quote numeric values']);
  });
});
