// Pure parts of the Dexcom Share driver: settings, credential checks, read window, transform, code mapping, loop spec.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/domain/errors.js';
import { dexcomShareSource, mapShareCode, readWindow } from '../../../lib/sources/dexcom-share/dexcom-share.source.js';
import { DEXCOM_DEVICE, dexcomShareVendor } from '../../../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { assembleDriver } from '../../../lib/sources/driver.builder.js';
import { specFor } from '../../../lib/sources/vendor.catalog.js';

const dexcomShareDriver = assembleDriver(dexcomShareVendor, dexcomShareSource, {});

const US_APP = 'd89443d2-327c-4a6f-89e5-496bbb0317db';
const JP_APP = 'd8665ade-9673-4e27-9ff6-92db4ce13d13';

function configProblem(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseSettings', () => {
  const parse = dexcomShareDriver.parseSettings;

  it('defaults to the US server', () => {
    expect(parse({})).toEqual({ baseUrl: 'https://share2.dexcom.com', applicationId: US_APP, region: 'us' });
  });

  it('selects host and application id per region, case-insensitively', () => {
    expect(parse({ shareRegion: 'OUS' })).toEqual({
      baseUrl: 'https://shareous1.dexcom.com',
      applicationId: US_APP,
      region: 'ous',
    });
    expect(parse({ shareRegion: 'jp' })).toEqual({
      baseUrl: 'https://share.dexcom.jp',
      applicationId: JP_APP,
      region: 'jp',
    });
  });

  it('lets shareServer choose the host while the application id follows the region', () => {
    expect(parse({ shareRegion: 'jp', shareServer: 'share-mirror.example.jp' })).toMatchObject({
      baseUrl: 'https://share-mirror.example.jp',
      applicationId: JP_APP,
    });
    expect(parse({ shareServer: 'https://shareous1.dexcom.com/' }).baseUrl).toBe('https://shareous1.dexcom.com');
    expect(parse({ shareServer: 'http://127.0.0.1:4567' }).baseUrl).toBe('http://127.0.0.1:4567');
    expect(parse({ shareServer: 'http://localhost:80' }).baseUrl).toBe('http://localhost');
    expect(parse({ shareServer: 'http://[::1]:9' }).baseUrl).toBe('http://[::1]:9');
  });

  it('refuses plain http to non-loopback hosts, paths and embedded credentials', () => {
    expect(configProblem(() => parse({ shareServer: 'http://share2.dexcom.com' }))).toMatch(
      /CONNECT_SHARE_SERVER must use https/,
    );
    expect(configProblem(() => parse({ shareServer: 'https://share2.dexcom.com/ShareWebServices' }))).toMatch(
      /without a path/,
    );
    const message = configProblem(() => parse({ shareServer: 'https://me:hunter2@share2.dexcom.com' }));
    expect(message).toMatch(/CONNECT_SHARE_SERVER/);
    expect(message).not.toContain('hunter2');
    expect(configProblem(() => parse({ shareServer: 'ftp://share2.dexcom.com' }))).toMatch(/https/);
  });

  it('names CONNECT_SHARE_REGION and the accepted values for an unknown region', () => {
    const message = configProblem(() => parse({ shareRegion: 'eu' }));
    expect(message).toContain('CONNECT_SHARE_REGION');
    expect(message).toContain('us, ous, jp');
  });

  it('accepts an optional http timeout', () => {
    expect(parse({ httpTimeoutMs: 250 }).httpTimeoutMs).toBe(250);
    expect(parse({ httpTimeoutMs: '1000' }).httpTimeoutMs).toBe(1000);
    expect(configProblem(() => parse({ httpTimeoutMs: -5 }))).toMatch(/httpTimeoutMs/);
  });
});

describe('checkCredentials', () => {
  const check = (vendor: Record<string, unknown>) =>
    dexcomShareDriver.checkCredentials({ vendor: vendor as Record<string, string>, nightscout: {} });

  it('accepts a name and a numeric-looking password string', () => {
    expect(() => check({ accountName: 'parent@example.com', password: '0123456' })).not.toThrow();
  });

  it('names the missing settings without echoing values', () => {
    const message = configProblem(() => check({ accountName: '  ', password: '' }));
    expect(message).toContain('CONNECT_SHARE_ACCOUNT_NAME');
    expect(message).toContain('CONNECT_SHARE_PASSWORD');
    const numeric = configProblem(() => check({ accountName: 'parent', password: 123456 }));
    expect(numeric).toMatch(/CONNECT_SHARE_PASSWORD must be text/);
    expect(numeric).not.toContain('123456');
  });
});

describe('readWindow', () => {
  const now = 1_700_000_000_000;
  it('asks for whole minutes back to since plus one, and one row per 5 minutes plus one', () => {
    expect(readWindow(now, now - 5 * 60_000)).toEqual({ minutes: 6, maxCount: 3 });
    expect(readWindow(now, now - 5 * 60_000 - 1)).toEqual({ minutes: 7, maxCount: 3 });
    expect(readWindow(now, now)).toEqual({ minutes: 1, maxCount: 2 });
  });

  it('clamps to Share limits', () => {
    expect(readWindow(now, now - 3 * 24 * 3_600_000)).toEqual({ minutes: 1440, maxCount: 288 });
    expect(readWindow(now, now + 60_000)).toEqual({ minutes: 1, maxCount: 2 });
  });
});

describe('transform', () => {
  const loop = dexcomShareDriver.loops[0];
  const readings = [
    { date: 3_000, value: 120, trend: 4, direction: 'Flat' as const },
    { date: 2_000, value: 110, trend: 4, direction: 'Flat' as const },
    { date: 1_000, value: 100, trend: 4, direction: 'Flat' as const },
  ];
  const ctx = { sourceId: 's1', settings: dexcomShareDriver.parseSettings({}), now: 10_000 };

  it('keeps only readings strictly newer than the entries cursor', () => {
    const batch = loop.transform({ readings }, { ...ctx, cursor: { entries: 2_000 } });
    expect(batch.entries.map((e) => e.date)).toEqual([3_000]);
    expect(batch).toMatchObject({ treatments: [], devicestatus: [], profiles: [] });
  });

  it('keeps everything without a cursor, oldest first, labelled with the device', () => {
    const batch = loop.transform({ readings }, { ...ctx, cursor: null });
    expect(batch.entries.map((e) => e.date)).toEqual([1_000, 2_000, 3_000]);
    expect(batch.entries.every((e) => e.device === DEXCOM_DEVICE)).toBe(true);
  });
});

describe('mapShareCode', () => {
  const now = 1_000_000;
  it.each([
    ['SessionIdNotFound', 'read', 'retryable', 'DEXCOM.SESSION_NOT_VALID', 'SessionInvalidError'],
    ['SessionNotValid', 'read', 'retryable', 'DEXCOM.SESSION_NOT_VALID', 'SessionInvalidError'],
    ['AccountPasswordInvalid', 'login', 'authRejected', 'DEXCOM.AUTH_REJECTED', 'SourceAuthRejectedError'],
    ['SSO_AuthenticatePasswordInvalid', 'login', 'authRejected', 'DEXCOM.AUTH_REJECTED', 'SourceAuthRejectedError'],
    ['SSO_AuthenticateAccountNotFound', 'login', 'authRejected', 'DEXCOM.AUTH_REJECTED', 'SourceAuthRejectedError'],
    ['SSO_InternalError', 'login', 'authRejected', 'DEXCOM.AUTH_REJECTED', 'SourceAuthRejectedError'],
    ['SSO_AuthenticateMaxAttemptsExceeded', 'login', 'lockedOut', 'DEXCOM.LOCKED_OUT', 'SourceLockedOutError'],
    ['InvalidArgument', 'login', 'authRejected', 'DEXCOM.AUTH_REJECTED', 'SourceAuthRejectedError'],
    ['InvalidArgument', 'read', 'permanent', 'DEXCOM.INVALID_ARGUMENT', 'SourceRejectedError'],
  ] as const)('%s during %s → %s', (code, phase, kind, errorCode, name) => {
    const err = mapShareCode(code, phase, now);
    expect(err).toMatchObject({ kind, code: errorCode, name });
  });

  it('locks out for one assumed hour and leaves unknown codes to the status rules', () => {
    expect(mapShareCode('SSO_AuthenticateMaxAttemptsExceeded', 'login', now)?.lockedUntil).toBe(now + 3_600_000);
    expect(mapShareCode('SomethingNew', 'read', now)).toBeUndefined();
  });
});

describe('driver spec', () => {
  it('declares one DexcomShare loop with the agreed timings', () => {
    expect(specFor({ kind: 'dexcomshare', settings: {} })).toEqual({
      kind: 'dexcomshare',
      sessionLifetimeMs: 24 * 3_600_000,
      loops: [
        {
          name: 'DexcomShare',
          intervalMs: 300_000,
          align: { lagMs: 10_000, jitterMs: 8_000 },
          attempts: 3,
          retry: { baseMs: 30_000, capMs: 300_000 },
          backoff: { baseMs: 300_000, capMs: 1_800_000 },
        },
      ],
    });
    expect(dexcomShareDriver.loops[0].maxLookbackMs).toBe(24 * 3_600_000);
    expect(dexcomShareDriver.device).toBe('nightscout-connect');
  });
});
