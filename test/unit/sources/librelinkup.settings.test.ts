import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/domain/errors.js';
import { assembleDriver } from '../../../lib/sources/driver.builder.js';
import { libreLinkUpSource } from '../../../lib/sources/librelinkup/librelinkup.source.js';
import { libreLinkUpVendor } from '../../../lib/sources/librelinkup/librelinkup.vendor.js';
import { specFor } from '../../../lib/sources/vendor.catalog.js';

const libreLinkUpDriver = assembleDriver(libreLinkUpVendor, libreLinkUpSource, {});
const parseLibreLinkUpSettings = libreLinkUpVendor.parseSettings;
const checkLibreLinkUpCredentials = libreLinkUpVendor.checkCredentials;

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseLibreLinkUpSettings', () => {
  it('defaults: EU, version 4.16.0, llu.android, 5 minutes, no auto-accept', () => {
    const s = parseLibreLinkUpSettings({});
    expect(s).toMatchObject({
      linkUpRegion: 'EU',
      linkUpVersion: '4.16.0',
      linkUpProduct: 'llu.android',
      linkUpInterval: 5,
      linkUpAutoAcceptTerms: false,
    });
    expect(s.linkUpServer).toBeUndefined();
    expect(s.linkUpPatientId).toBeUndefined();
    expect(s.linkUpHosts.EU).toBe('https://api-eu.libreview.io');
    expect(s.linkUpHosts.RU).toBe('https://api.libreview.ru');
    expect(s.linkUpHosts.CN).toBe('https://api-cn.myfreestyle.cn');
  });

  it('regions are case-insensitive and UK/GB mean EU2', () => {
    expect(parseLibreLinkUpSettings({ linkUpRegion: 'us' }).linkUpRegion).toBe('US');
    expect(parseLibreLinkUpSettings({ linkUpRegion: 'Eu2' }).linkUpRegion).toBe('EU2');
    expect(parseLibreLinkUpSettings({ linkUpRegion: 'uk' }).linkUpRegion).toBe('EU2');
    expect(parseLibreLinkUpSettings({ linkUpRegion: 'GB' }).linkUpRegion).toBe('EU2');
    for (const r of ['AE', 'AP', 'AU', 'CA', 'DE', 'EU', 'EU2', 'FR', 'JP', 'US', 'LA', 'RU', 'CN'])
      expect(parseLibreLinkUpSettings({ linkUpRegion: r }).linkUpRegion).toBe(r);
  });

  it('an unknown region names the variable and lists accepted values', () => {
    const err = configError(() => parseLibreLinkUpSettings({ linkUpRegion: 'XX' }));
    expect(err.message).toContain('CONNECT_LINK_UP_REGION');
    expect(err.message).toContain('AE AP AU CA DE EU EU2 FR JP US LA RU CN');
  });

  it('a server alone needs no region; plain http only for loopback', () => {
    const s = parseLibreLinkUpSettings({ linkUpServer: 'api-de.libreview.io' });
    expect(s.linkUpServer).toBe('https://api-de.libreview.io');
    expect(s.linkUpRegion).toBeUndefined();
    expect(parseLibreLinkUpSettings({ linkUpServer: 'http://127.0.0.1:8080/r/eu/' }).linkUpServer).toBe(
      'http://127.0.0.1:8080/r/eu',
    );
    expect(
      configError(() => parseLibreLinkUpSettings({ linkUpServer: 'http://api-de.libreview.io' })).message,
    ).toContain('CONNECT_LINK_UP_SERVER');
  });

  it('CONNECT_LINK_UP_HOSTS overrides and extends the region table without code changes', () => {
    const s = parseLibreLinkUpSettings({
      linkUpRegion: 'br',
      linkUpHosts: '{"BR":"api-br.libreview.io","eu":"https://eu.example.test"}',
    });
    expect(s.linkUpRegion).toBe('BR');
    expect(s.linkUpHosts.BR).toBe('https://api-br.libreview.io');
    expect(s.linkUpHosts.EU).toBe('https://eu.example.test');
    expect(configError(() => parseLibreLinkUpSettings({ linkUpHosts: 'not json' })).message).toContain(
      'CONNECT_LINK_UP_HOSTS',
    );
    expect(
      configError(() => parseLibreLinkUpSettings({ linkUpHosts: '{"EU":"http://evil.example"}' })).message,
    ).toContain('CONNECT_LINK_UP_HOSTS');
  });

  it('interval is whole minutes 1–60', () => {
    expect(parseLibreLinkUpSettings({ linkUpInterval: '1' }).linkUpInterval).toBe(1);
    expect(parseLibreLinkUpSettings({ linkUpInterval: 60 }).linkUpInterval).toBe(60);
    for (const bad of [0, 61, '2.5', 'five', -5])
      expect(configError(() => parseLibreLinkUpSettings({ linkUpInterval: bad })).message).toContain(
        'CONNECT_LINK_UP_INTERVAL',
      );
  });

  it('reads the remaining options', () => {
    const s = parseLibreLinkUpSettings({
      linkUpVersion: '4.17.1',
      linkUpProduct: 'llu.ios',
      linkUpPatientId: ' abc ',
      linkUpAutoAcceptTerms: 'TRUE',
      linkUpUserAgent: 'UA/1',
      httpTimeoutMs: '5000',
    });
    expect(s).toMatchObject({
      linkUpVersion: '4.17.1',
      linkUpProduct: 'llu.ios',
      linkUpPatientId: 'abc',
      linkUpAutoAcceptTerms: true,
      linkUpUserAgent: 'UA/1',
      httpTimeoutMs: 5000,
    });
    expect(configError(() => parseLibreLinkUpSettings({ linkUpAutoAcceptTerms: 'maybe' })).message).toContain(
      'CONNECT_LINK_UP_AUTO_ACCEPT_TERMS',
    );
    expect(configError(() => parseLibreLinkUpSettings({ linkUpVersion: 'latest' })).message).toContain(
      'CONNECT_LINK_UP_VERSION',
    );
  });
});

describe('checkLibreLinkUpCredentials', () => {
  it('names the missing variables and never echoes a value', () => {
    const err = configError(() =>
      checkLibreLinkUpCredentials({ vendor: { username: '', password: '' }, nightscout: {} }),
    );
    expect(err.problems.join('\n')).toMatch(/CONNECT_LINK_UP_USERNAME[\s\S]*CONNECT_LINK_UP_PASSWORD/);
    const onlyPassword = configError(() =>
      checkLibreLinkUpCredentials({ vendor: { password: 'hunter2-secret' }, nightscout: {} }),
    );
    expect(onlyPassword.message).toContain('CONNECT_LINK_UP_USERNAME');
    expect(onlyPassword.message).not.toContain('hunter2-secret');
    expect(() =>
      checkLibreLinkUpCredentials({ vendor: { username: 'a@b.invalid', password: 'x' }, nightscout: {} }),
    ).not.toThrow();
  });
});

describe('libreLinkUpDriver', () => {
  it('is the librelinkup kind with its device and a plain-data machine spec', () => {
    expect(libreLinkUpDriver.kind).toBe('librelinkup');
    expect(libreLinkUpDriver.device).toBe('nightscout-connect-librelinkup');
    const spec = specFor({ kind: 'linkup', settings: {} });
    expect(spec.sessionLifetimeMs).toBe(60 * 60_000);
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
    expect(spec.loops.map((l) => l.name)).toEqual(['LibreLinkUp']);
  });
});
