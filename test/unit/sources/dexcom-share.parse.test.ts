// Parser tests on hand-written fixtures shaped like documented Share payloads (both date styles, both trend styles).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SourceRejectedError } from '../../../lib/domain/errors.js';
import {
  entryIdentifier,
  parseDexcomDate,
  parseGlucoseValues,
  parseGlucoseValuesDetailed,
  toEntries,
  trendToDirection,
} from '../../../lib/sources/dexcom-share/dexcom-share.parse.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../fixtures/dexcom-share/${name}`, import.meta.url), 'utf8'));
}

describe('parseDexcomDate', () => {
  it('reads slashed, bare and offset forms as the UTC epoch inside the parentheses', () => {
    expect(parseDexcomDate('/Date(1426292039000)/')).toBe(1426292039000);
    expect(parseDexcomDate('Date(1691455258000)')).toBe(1691455258000);
    expect(parseDexcomDate('/Date(1426292016000-0700)/')).toBe(1426292016000);
    expect(parseDexcomDate('Date(1426292016000+0530)')).toBe(1426292016000);
  });

  it('rejects anything that is not a .NET date', () => {
    for (const value of [
      '2023-11-14T22:13:20Z',
      '/Date()/',
      'Date(abc)',
      '',
      1426292039000,
      null,
      undefined,
      '/Date(0)/',
    ]) {
      expect(parseDexcomDate(value)).toBeUndefined();
    }
  });
});

describe('trendToDirection', () => {
  it('maps every numeric code', () => {
    const expected = [
      'NONE',
      'DoubleUp',
      'SingleUp',
      'FortyFiveUp',
      'Flat',
      'FortyFiveDown',
      'SingleDown',
      'DoubleDown',
      'NOT COMPUTABLE',
      'RATE OUT OF RANGE',
    ];
    expected.forEach((direction, trend) => expect(trendToDirection(trend)).toEqual({ trend, direction }));
  });

  it('matches names ignoring case, spaces and underscores', () => {
    expect(trendToDirection('FortyFiveUp')).toEqual({ trend: 3, direction: 'FortyFiveUp' });
    expect(trendToDirection('Forty Five Up')).toEqual({ trend: 3, direction: 'FortyFiveUp' });
    expect(trendToDirection('fortyfivedown')).toEqual({ trend: 5, direction: 'FortyFiveDown' });
    expect(trendToDirection('NotComputable')).toEqual({ trend: 8, direction: 'NOT COMPUTABLE' });
    expect(trendToDirection('NOT_COMPUTABLE')).toEqual({ trend: 8, direction: 'NOT COMPUTABLE' });
    expect(trendToDirection('RateOutOfRange')).toEqual({ trend: 9, direction: 'RATE OUT OF RANGE' });
    expect(trendToDirection('None')).toEqual({ trend: 0, direction: 'NONE' });
    expect(trendToDirection(' Flat ')).toEqual({ trend: 4, direction: 'Flat' });
  });

  it('turns unknown trends into NOT COMPUTABLE, never Flat', () => {
    for (const value of [42, -1, 3.5, 'Sideways', '', null, undefined, {}]) {
      expect(trendToDirection(value)).toEqual({ trend: 8, direction: 'NOT COMPUTABLE' });
    }
  });
});

describe('parseGlucoseValues', () => {
  it('parses numeric-trend payloads using WT for time', () => {
    const readings = parseGlucoseValues(fixture('numeric-trends.json'));
    expect(readings).toEqual([
      { date: 1426292639000, value: 112, trend: 3, direction: 'FortyFiveUp' },
      { date: 1426292339000, value: 104, trend: 4, direction: 'Flat' },
      { date: 1426292039000, value: 101, trend: 4, direction: 'Flat' },
    ]);
  });

  it('parses string-trend payloads with bare Date(ms)', () => {
    const readings = parseGlucoseValues(fixture('string-trends.json'));
    expect(readings.map((r) => [r.date, r.value, r.direction])).toEqual([
      [1691455558000, 180, 'SingleUp'],
      [1691455258000, 165, 'FortyFiveUp'],
      [1691454958000, 158, 'Flat'],
      [1691454658000, 157, 'NOT COMPUTABLE'],
      [1691454358000, 155, 'RATE OUT OF RANGE'],
      [1691454058000, 150, 'NONE'],
    ]);
  });

  it('skips and counts malformed rows, keeping the good ones', () => {
    const { readings, skipped } = parseGlucoseValuesDetailed(fixture('malformed-rows.json'));
    expect(skipped).toBe(6);
    expect(readings).toEqual([
      { date: 1700000900000, value: 95, trend: 4, direction: 'Flat' },
      { date: 1700000000000, value: 110, trend: 4, direction: 'Flat' },
    ]);
  });

  it('rejects a body that is not a list as a permanent error', () => {
    for (const body of [
      fixture('error-session-not-found.json'),
      fixture('error-password-invalid.json'),
      fixture('error-max-attempts.json'),
      '<html></html>',
      null,
      42,
    ]) {
      let thrown: unknown;
      try {
        parseGlucoseValues(body);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(SourceRejectedError);
      expect(thrown).toMatchObject({ kind: 'permanent', code: 'DEXCOM.UNEXPECTED_RESPONSE' });
    }
  });

  it('accepts an empty list', () => {
    expect(parseGlucoseValuesDetailed([])).toEqual({ readings: [], skipped: 0 });
  });
});

describe('toEntries', () => {
  it('dedups by date, sorts oldest first and maps unknown trends to NOT COMPUTABLE', () => {
    const entries = toEntries(parseGlucoseValues(fixture('mixed.json')), 'nightscout-connect');
    expect(entries.map((e) => [e.date, e.sgv, e.trend, e.direction])).toEqual([
      [1699999700000, 112, 8, 'NOT COMPUTABLE'],
      [1700000000000, 110, 8, 'NOT COMPUTABLE'],
      [1700000300000, 104, 7, 'DoubleDown'],
      [1700000600000, 99, 6, 'SingleDown'],
      [1700000900000, 95, 5, 'FortyFiveDown'],
    ]);
  });

  it('writes Nightscout sgv documents whose dateString is the same instant as date', () => {
    const [entry] = toEntries([{ date: 1426292039000, value: 101, trend: 4, direction: 'Flat' }], 'nightscout-connect');
    expect(entry).toEqual({
      type: 'sgv',
      sgv: 101,
      date: 1426292039000,
      dateString: '2015-03-14T00:13:59.000Z',
      trend: 4,
      direction: 'Flat',
      device: 'nightscout-connect',
      identifier: entryIdentifier('nightscout-connect', 1426292039000),
    });
    expect(Date.parse(entry.dateString)).toBe(entry.date);
  });
});

describe('entryIdentifier', () => {
  it('is UUID-shaped, deterministic, and differs by device and date', () => {
    const id = entryIdentifier('nightscout-connect', 1426292039000);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(entryIdentifier('nightscout-connect', 1426292039000)).toBe(id);
    expect(entryIdentifier('share2', 1426292039000)).not.toBe(id);
    expect(entryIdentifier('nightscout-connect', 1426292039001)).not.toBe(id);
  });
});
