import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/domain/errors.js';
import { careLinkSource } from '../../../lib/sources/carelink/carelink.source.js';
import { careLinkVendor } from '../../../lib/sources/carelink/carelink.vendor.js';
import { assembleDriver } from '../../../lib/sources/driver.builder.js';
import { specFor } from '../../../lib/sources/vendor.catalog.js';

const careLinkDriver = assembleDriver(careLinkVendor, careLinkSource, {});

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('CareLink settings', () => {
  it('defaults to the US servers and English, lower-cases codes, accepts the region in any case', () => {
    expect(careLinkDriver.parseSettings({ countryCode: 'US' })).toEqual({
      region: 'us',
      server: 'https://carelink.minimed.com',
      discoveryUrl: 'https://clcloud.minimed.com/connect/carepartner/v13/discover/android/3.6',
      countryCode: 'us',
      languageCode: 'en',
      httpTimeoutMs: 15_000,
    });
    expect(
      careLinkDriver.parseSettings({
        carelinkRegion: 'EU',
        countryCode: 'gb',
        languageCode: 'DE',
        carelinkPatientUsername: 'kid',
        httpTimeoutMs: '5000',
      }),
    ).toMatchObject({
      region: 'eu',
      server: 'https://carelink.minimed.eu',
      discoveryUrl: 'https://clcloud.minimed.eu/connect/carepartner/v13/discover/android/3.6',
      languageCode: 'de',
      patientUsername: 'kid',
      httpTimeoutMs: 5000,
    });
  });

  it('accepts server and discovery overrides (host name, origin or full URL)', () => {
    expect(
      careLinkDriver.parseSettings({
        countryCode: 'gb',
        carelinkServer: 'carelink.example.org',
        carelinkDiscoveryUrl: 'https://disc.example.org',
      }),
    ).toMatchObject({
      server: 'https://carelink.example.org',
      discoveryUrl: 'https://disc.example.org/connect/carepartner/v13/discover/android/3.6',
    });
    expect(
      careLinkDriver.parseSettings({
        countryCode: 'gb',
        carelinkDiscoveryUrl: 'https://disc.example.org/connect/carepartner/v14/discover/android/3.9',
      }).discoveryUrl,
    ).toBe('https://disc.example.org/connect/carepartner/v14/discover/android/3.9');
  });

  it('names the variable for each problem', () => {
    const text = problems(() =>
      careLinkDriver.parseSettings({
        carelinkRegion: 'asia',
        languageCode: 'english',
        httpTimeoutMs: 'soon',
        carelinkServer: 'http://carelink.example.org',
      }),
    );
    expect(text).toContain('CONNECT_CARELINK_REGION');
    expect(text).toContain('CONNECT_COUNTRY_CODE is required');
    expect(text).toContain('CONNECT_LANGUAGE_CODE');
    expect(text).toContain('CONNECT_HTTP_TIMEOUT_MS');
    expect(text).toContain('CONNECT_CARELINK_SERVER');
    expect(problems(() => careLinkDriver.parseSettings({ countryCode: 'gbr' }))).toContain(
      'CONNECT_COUNTRY_CODE must be two letters',
    );
    expect(
      problems(() => careLinkDriver.parseSettings({ countryCode: 'gb', carelinkDiscoveryUrl: 'http://example.org/x' })),
    ).toContain('CONNECT_CARELINK_DISCOVERY_URL');
  });
});

describe('CareLink credentials', () => {
  it('requires a refresh token from the login command, without echoing values', () => {
    expect(problems(() => careLinkDriver.checkCredentials({ vendor: {}, nightscout: {} }))).toContain(
      'npm run login -- --source minimedcarelink',
    );
    const text = problems(() =>
      careLinkDriver.checkCredentials({
        vendor: { refreshToken: 'rt-secret-value', tokenUrl: 'ftp://secret-host/x' },
        nightscout: {},
      }),
    );
    expect(text).not.toContain('rt-secret-value');
    expect(text).not.toContain('secret-host');
    expect(() => careLinkDriver.checkCredentials({ vendor: { refreshToken: 'x' }, nightscout: {} })).not.toThrow();
  });
});

describe('CareLink machine spec', () => {
  it('polls every 5 min, 68 s + up to 18 s after each slot, 3 attempts, capped backoffs, 24 h look-back', () => {
    expect(careLinkDriver.kind).toBe('minimedcarelink');
    expect(specFor({ kind: 'minimedcarelink', settings: {} })).toEqual({
      kind: 'minimedcarelink',
      sessionLifetimeMs: 15 * 60_000,
      loops: [
        {
          name: 'MinimedCarelink',
          intervalMs: 300_000,
          align: { lagMs: 68_000, jitterMs: 18_000 },
          attempts: 3,
          retry: { baseMs: 60_000, capMs: 300_000 },
          backoff: { baseMs: 300_000, capMs: 1_800_000 },
        },
      ],
    });
    expect(careLinkDriver.loops[0].maxLookbackMs).toBe(24 * 3_600_000);
    expect(typeof careLinkDriver.session.refresh).toBe('function');
  });
});
