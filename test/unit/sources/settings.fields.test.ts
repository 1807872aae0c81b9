/** The one settings-field helper every vendor declares its CONNECT_* settings with, and the rules it makes shared. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/domain/errors.js';
import {
  boolean,
  httpTimeout,
  ianaZone,
  integer,
  oneOf,
  parseFields,
  settingKey,
  settingVariable,
  text,
  url,
} from '../../../lib/sources/settings.fields.js';
import { VENDORS } from '../../../lib/sources/vendor.catalog.js';

const V = 'CONNECT_X';

/** Parse one raw value; the value and the problems it raised. */
function run<T>(
  field: { parse(raw: unknown, variable: string, problems: string[]): T },
  raw: unknown,
): { value: T; problems: string[] } {
  const problems: string[] = [];
  return { value: field.parse(raw, V, problems), problems };
}

function problemsOf(parse: () => unknown): string[] {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('setting names', () => {
  it('maps stored keys and CONNECT_* variables onto each other (nightscout-connect camel-casing)', () => {
    expect(settingVariable('shareRegion')).toBe('CONNECT_SHARE_REGION');
    expect(settingVariable('httpTimeoutMs')).toBe('CONNECT_HTTP_TIMEOUT_MS');
    expect(settingKey('CONNECT_LINK_UP_AUTO_ACCEPT_TERMS')).toBe('linkUpAutoAcceptTerms');
    expect(settingKey(settingVariable('carelinkDiscoveryUrl'))).toBe('carelinkDiscoveryUrl');
  });

  it('parses every declared field under its key and names the variable in its problems', () => {
    const problems: string[] = [];
    const values = parseFields(
      { shareRegion: oneOf(['us', 'ous'], { default: 'us' }), linkUpInterval: integer({ min: 1, max: 60 }) },
      { shareRegion: 'x', linkUpInterval: '5' },
      problems,
    );
    expect(values).toEqual({ shareRegion: 'us', linkUpInterval: 5 });
    expect(problems).toEqual(['CONNECT_SHARE_REGION must be one of: us, ous']);
  });
});

describe('fields', () => {
  it('text: trimmed, blank is absent, required and pattern problems name the variable', () => {
    expect(run(text(), '  a b  ')).toEqual({ value: 'a b', problems: [] });
    expect(run(text(), '   ')).toEqual({ value: undefined, problems: [] });
    expect(run(text({ default: 'd' }), undefined).value).toBe('d');
    expect(run(text({ required: 'what it is' }), '').problems).toEqual(['CONNECT_X is required: what it is']);
    expect(run(text({ pattern: /^\d+$/, expected: 'be digits' }), 'x1').problems).toEqual(['CONNECT_X must be digits']);
    expect(run(text({ singleLine: true }), 'a\nb').problems).toEqual(['CONNECT_X must be a single line']);
    expect(run(text(), 12).value).toBe('12');
  });

  it('oneOf: case-insensitive, the default when absent or invalid, the accepted values listed', () => {
    const region = oneOf(['us', 'ous', 'jp'], { default: 'us' });
    expect(run(region, 'OUS')).toEqual({ value: 'ous', problems: [] });
    expect(run(region, undefined)).toEqual({ value: 'us', problems: [] });
    expect(run(region, 'eu')).toEqual({ value: 'us', problems: ['CONNECT_X must be one of: us, ous, jp'] });
  });

  it('integer: whole numbers within bounds, numbers or text', () => {
    const interval = integer({ min: 1, max: 60, default: 5, unit: 'minutes' });
    expect(run(interval, '60').value).toBe(60);
    expect(run(interval, 1).value).toBe(1);
    for (const bad of ['0', 61, '2.5', 'five', -5]) {
      expect(run(interval, bad)).toEqual({
        value: 5,
        problems: ['CONNECT_X must be a whole number of minutes from 1 to 60 (default 5)'],
      });
    }
  });

  it('httpTimeout: one rule, 100 ms to 120 s, absent means the client default', () => {
    expect(run(httpTimeout(), undefined)).toEqual({ value: undefined, problems: [] });
    expect(run(httpTimeout(), '100').value).toBe(100);
    expect(run(httpTimeout(), 120_000).value).toBe(120_000);
    for (const bad of [99, 1, 0, 120_001, 'soon', 1.5]) {
      expect(run(httpTimeout(), bad).problems).toEqual([
        'CONNECT_X (httpTimeoutMs) must be a whole number of milliseconds from 100 to 120000',
      ]);
    }
  });

  it('boolean: true/false words, anything else refused', () => {
    for (const yes of ['true', 'TRUE', '1', 'yes', 'on'])
      expect(run(boolean({ default: false }), yes).value).toBe(true);
    for (const no of ['false', '0', 'no', 'off']) expect(run(boolean({ default: true }), no).value).toBe(false);
    expect(run(boolean({ default: false }), 'maybe').problems).toEqual(['CONNECT_X must be true or false']);
  });

  it('ianaZone: names the runtime knows, aliases included', () => {
    expect(run(ianaZone(), 'Europe/Berlin').value).toBe('Europe/Berlin');
    expect(run(ianaZone(), 'UTC').value).toBe('UTC');
    expect(run(ianaZone(), 'Berlin').problems[0]).toMatch(/^CONNECT_X must be an IANA time zone name/);
  });
});

describe('url field: https, plain http only on loopback, never a user or password', () => {
  const origin = url({ example: 'api.example.org', path: 'refuse' });
  const base = url({ example: 'api.example.org', path: 'keep' });

  it('takes a bare host as https and returns the origin', () => {
    expect(run(origin, 'api.example.org')).toEqual({ value: 'https://api.example.org', problems: [] });
    expect(run(origin, 'https://api.example.org/')).toEqual({ value: 'https://api.example.org', problems: [] });
  });

  it('accepts plain http for every loopback form (127.0.0.1, localhost, [::1]) and nothing else', () => {
    expect(run(origin, 'http://127.0.0.1:4567').value).toBe('http://127.0.0.1:4567');
    expect(run(origin, 'http://localhost:80').value).toBe('http://localhost');
    expect(run(origin, 'http://[::1]:9').value).toBe('http://[::1]:9');
    expect(run(base, 'http://[::1]:8080/r/eu/').value).toBe('http://[::1]:8080/r/eu');
    expect(run(origin, 'http://api.example.org').problems).toEqual([
      'CONNECT_X must use https:// (plain http:// is allowed only for 127.0.0.1, localhost or [::1])',
    ]);
    expect(run(origin, 'ftp://api.example.org').problems[0]).toMatch(/must use https/);
  });

  it('refuses a user name or password without echoing either', () => {
    const { problems } = run(base, 'https://me:hunter2@api.example.org/x');
    expect(problems).toEqual(['CONNECT_X must not contain a user name or password']);
    expect(problems.join()).not.toContain('hunter2');
  });

  it('applies the path and query modes', () => {
    expect(run(origin, 'https://api.example.org/path').problems[0]).toMatch(/without a path/);
    expect(run(url({ example: 'x', path: 'drop' }), 'https://api.example.org/api?x=1').value).toBe(
      'https://api.example.org',
    );
    expect(run(base, 'https://api.example.org/ns/').value).toBe('https://api.example.org/ns');
    expect(run(base, 'https://api.example.org/ns?x=1').problems[0]).toMatch(/query/);
    expect(run(url({ example: 'x', path: 'keep', query: 'keep' }), 'https://a.example.org/v/1?c=1').value).toBe(
      'https://a.example.org/v/1?c=1',
    );
    expect(run(url({ example: 'x', path: 'keep', bareHost: false }), 'a.example.org').problems[0]).toMatch(
      /absolute https:\/\/ URL/,
    );
  });
});

describe('the shared rules hold for every registered vendor', () => {
  it('the same HTTP timeout rule: 99 ms refused with one message, 100 ms accepted', () => {
    const message = 'CONNECT_HTTP_TIMEOUT_MS (httpTimeoutMs) must be a whole number of milliseconds from 100 to 120000';
    for (const vendor of VENDORS) {
      expect(
        problemsOf(() => vendor.parseSettings({ httpTimeoutMs: '99' })),
        vendor.kind,
      ).toContain(message);
      expect(
        problemsOf(() => vendor.parseSettings({ httpTimeoutMs: '100' })).filter((p) => p.includes('HTTP_TIMEOUT')),
        vendor.kind,
      ).toEqual([]);
    }
  });

  it('every declared setting is stored under the camelCase of its CONNECT_* name', () => {
    for (const vendor of VENDORS)
      for (const key of vendor.settingKeys) expect(settingKey(settingVariable(key)), `${vendor.kind} ${key}`).toBe(key);
  });
});
