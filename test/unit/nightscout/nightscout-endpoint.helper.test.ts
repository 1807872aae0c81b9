/** Endpoint validation, secret hashing and query building for the Nightscout writers. */
import { describe, expect, it } from 'vitest';
import {
  hashApiSecret,
  parseNightscoutEndpoint,
  withQuery,
} from '../../../lib/adapters/nightscout/nightscout-endpoint.helper.js';
import { ConfigError } from '../../../lib/domain/errors.js';

function problemsOf(endpoint: string): string {
  try {
    parseNightscoutEndpoint(endpoint);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseNightscoutEndpoint', () => {
  it('accepts https and keeps a sub-path prefix without the trailing slash', () => {
    expect(parseNightscoutEndpoint('https://ns.example.org/')).toBe('https://ns.example.org');
    expect(parseNightscoutEndpoint(' https://example.org/people/ana/ ')).toBe('https://example.org/people/ana');
  });

  it('accepts plain http only on loopback hosts', () => {
    expect(parseNightscoutEndpoint('http://127.0.0.1:1337')).toBe('http://127.0.0.1:1337');
    expect(parseNightscoutEndpoint('http://localhost:1337/ns')).toBe('http://localhost:1337/ns');
    expect(parseNightscoutEndpoint('http://[::1]:1337')).toBe('http://[::1]:1337');
    expect(problemsOf('http://ns.example.org')).toMatch(/must use https/);
    expect(problemsOf('ftp://ns.example.org')).toMatch(/must use https/);
    expect(problemsOf('not a url')).toMatch(/not a valid absolute URL/);
  });

  it('refuses embedded credentials and queries without echoing them', () => {
    const withUser = problemsOf('https://sometoken-0123456789abcdef@ns.example.org');
    expect(withUser).toMatch(/must not contain credentials/);
    expect(withUser).not.toContain('sometoken');
    const withQueryToken = problemsOf('https://ns.example.org/?token=sometoken-0123456789abcdef');
    expect(withQueryToken).toMatch(/must not contain a query/);
    expect(withQueryToken).not.toContain('sometoken');
  });
});

describe('hashApiSecret', () => {
  it('is the lower-case hex SHA-1 Nightscout compares against', () => {
    // sha1("abcdefghijkl") computed with coreutils sha1sum.
    expect(hashApiSecret('abcdefghijkl')).toBe('eb4608cebfcfd4df81410cbd06507ea6af978d9c');
  });
});

describe('withQuery', () => {
  it('keeps Nightscout bracket keys readable and encodes values', () => {
    expect(
      withQuery('/api/v1/entries.json', [
        ['find[date][$gte]', 1],
        ['find[device]', 'a b&c'],
        ['count', 1],
      ]),
    ).toBe('/api/v1/entries.json?find[date][$gte]=1&find[device]=a+b%26c&count=1');
    expect(withQuery('/x', [])).toBe('/x');
  });
});
