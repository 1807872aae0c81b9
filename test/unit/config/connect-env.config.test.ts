/**
 * nightscout-connect's CONNECT_* variables into a stored source, as the vendors declare them: settings stored under the
 * camelCased variable names (what DynamoDB already holds), secrets split out under the declared credential keys.
 */
import { describe, expect, it } from 'vitest';
import { parseConnectSource } from '../../../lib/config/connect-env.config.js';
import { ConfigError } from '../../../lib/domain/errors.js';
import { KIND_LIST } from '../../../lib/sources/vendor.catalog.js';

const NS = { CONNECT_NIGHTSCOUT_ENDPOINT: 'https://ns.example.org/', CONNECT_API_SECRET: 'api-secret-0123456' };

function problems(env: Record<string, string>): string[] {
  try {
    parseConnectSource(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('parseConnectSource', () => {
  it("stores settings as given under camelCased keys and secrets under the vendor's credential keys", () => {
    const { config, credentials } = parseConnectSource({
      CONNECT_SOURCE: 'DexcomShare',
      CONNECT_SHARE_REGION: 'OUS',
      CONNECT_SHARE_ACCOUNT_NAME: 'parent',
      CONNECT_SHARE_PASSWORD: '0123',
      ...NS,
    });
    expect(config).toEqual({
      id: config.id,
      kind: 'dexcomshare',
      settings: { shareRegion: 'OUS' },
      nightscout: { endpoint: 'https://ns.example.org', apiVersion: 'v1' },
    });
    expect(config.id).toMatch(/^dexcomshare-[0-9a-f]{10}$/);
    expect(credentials).toEqual({
      vendor: { accountName: 'parent', password: '0123' },
      nightscout: { apiSecret: 'api-secret-0123456' },
    });
  });

  it("accepts nightscout-connect's linkup and keeps the interval as a setting", () => {
    const { config, credentials } = parseConnectSource({
      CONNECT_SOURCE: 'linkup',
      CONNECT_LINK_UP_USERNAME: 'f@x.invalid',
      CONNECT_LINK_UP_PASSWORD: 'pw',
      CONNECT_LINK_UP_INTERVAL: '2',
      ...NS,
    });
    expect(config).toMatchObject({ kind: 'librelinkup', settings: { linkUpInterval: '2' } });
    expect(credentials.vendor).toEqual({ username: 'f@x.invalid', password: 'pw' });
  });

  it('moves a ?token= out of CONNECT_SOURCE_ENDPOINT into the credentials', () => {
    const { config, credentials } = parseConnectSource({
      CONNECT_SOURCE: 'nightscout',
      CONNECT_SOURCE_ENDPOINT: 'https://src.example.org/ns/?token=reader-abc',
      ...NS,
    });
    expect(config.settings).toEqual({ sourceEndpoint: 'https://src.example.org/ns/' });
    expect(credentials.vendor).toEqual({ token: 'reader-abc' });
  });

  it('keeps secret variables of any vendor out of the settings, and drops the CareLink password it does not use', () => {
    const { config, credentials } = parseConnectSource({
      CONNECT_SOURCE: 'minimedcarelink',
      CONNECT_COUNTRY_CODE: 'gb',
      CONNECT_CARELINK_REFRESH_TOKEN: 'rt-1',
      CONNECT_CARELINK_USERNAME: 'u',
      CONNECT_CARELINK_PASSWORD: 'pw',
      CONNECT_GLOOKO_PASSWORD: 'stray',
      ...NS,
    });
    expect(config.settings).toEqual({ countryCode: 'gb' });
    expect(credentials.vendor).toEqual({ refreshToken: 'rt-1' });
  });

  it('names every problem at once: the kind list, settings and secrets', () => {
    expect(problems({ ...NS })).toEqual([`CONNECT_SOURCE is required (${KIND_LIST})`]);
    expect(KIND_LIST.split(', ')).toEqual(
      expect.arrayContaining(['dexcomshare', 'glooko', 'librelinkup', 'minimedcarelink', 'nightscout']),
    );
    expect(
      problems({
        CONNECT_SOURCE: 'dexcomshare',
        CONNECT_SHARE_REGION: 'eu',
        CONNECT_SHARE_SERVER: 'http://share.example',
        ...NS,
      }),
    ).toEqual([
      'CONNECT_SHARE_REGION must be one of: us, ous, jp',
      'CONNECT_SHARE_SERVER must use https:// (plain http:// is allowed only for 127.0.0.1, localhost or [::1])',
      'CONNECT_SHARE_ACCOUNT_NAME is required',
      'CONNECT_SHARE_PASSWORD is required',
    ]);
    expect(
      problems({
        CONNECT_SOURCE: 'glooko',
        CONNECT_GLOOKO_ENV: 'mars',
        CONNECT_GLOOKO_EMAIL: 'e',
        CONNECT_GLOOKO_PASSWORD: 'p',
        ...NS,
      }),
    ).toEqual([
      'CONNECT_GLOOKO_ENV must be one of: default, eu, development, production',
      'CONNECT_GLOOKO_TIMEZONE is required: the IANA time zone of the pump and CGM clocks, e.g. Europe/Berlin (Glooko stamps are local time)',
    ]);
  });
});
