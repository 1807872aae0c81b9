/**
 * The per-source benchmark's pure parts: which freshness aim a kind gets (derived from the vendors' declared
 * schedules), the login allowance of a short run, the settled bound of the end-to-end count, and how a kind's
 * counters become figures with aims and `met`.
 */
import { describe, expect, it } from 'vitest';
import {
  AIMS,
  freshnessAim,
  ISSUE_FRESHNESS,
  type KindBenchResult,
  kindFigures,
  loginAllowance,
  POLLS_PER_READING,
  type Schedule,
  SOURCE_KINDS,
  scheduleOf,
  settledBound,
} from '../../../bench/sources.bench.js';

const MIN = 60_000;
const schedule = (lagMs: number, jitterMs: number): Schedule => ({
  intervalMs: 5 * MIN,
  align: { lagMs, jitterMs },
  maxLookbackMs: 24 * 60 * MIN,
  sessionLifetimeMs: 24 * 60 * MIN,
});
const reference = schedule(10_000, 8_000);

function result(over: Partial<KindBenchResult> = {}): KindBenchResult {
  return {
    kind: 'dexcomshare',
    sources: 4,
    hours: 12,
    start: '2026-11-23T06:00:07.000Z',
    wallSeconds: 3,
    schedule: reference,
    ticks: 720,
    cycles: 576,
    freshness: { samples: 570, excludedBackfillSamples: 1152, p50Ms: 14_000, p95Ms: 18_000, maxMs: 18_000 },
    vendor: { logins: 4, dataRequests: 576 },
    newReadingsWritten: 570,
    readings: { vendor: 1700, nightscout: 1700, duplicates: 0, missing: 0, window: 'w' },
    awsRequests: { 'DynamoDB.GetItem': 1152, 'DynamoDB.Query': 5760 },
    queueRequests: { 'SQS.ReceiveMessage': 600 },
    perCycle: { 'DynamoDB.GetItem': 2, 'SQS.ReceiveMessage': 600 / 576 },
    perCycleTotal: 2 + 600 / 576,
    dlqDepth: 0,
    parkedSources: 0,
    ...over,
  };
}
const byId = (figures: ReturnType<typeof kindFigures>, suffix: string) => {
  const f = figures.find((x) => x.id.endsWith(suffix));
  if (!f) throw new Error(`no figure ${suffix}`);
  return f;
};

describe('freshnessAim', () => {
  it('keeps the issue aim for a driver that waits no longer than Dexcom Share', () => {
    expect(freshnessAim('librelinkup', schedule(10_000, 8_000), reference)).toMatchObject(ISSUE_FRESHNESS);
    expect(freshnessAim('x', schedule(5_000, 8_000), reference)).toMatchObject(ISSUE_FRESHNESS);
  });

  it('shifts the aim by the extra wait a driver declares (lag + jitter beyond the reference)', () => {
    const aim = freshnessAim('minimedcarelink', schedule(68_000, 18_000), reference);
    const extra = 68_000 + 18_000 - (10_000 + 8_000);
    expect(aim.p50Ms).toBe(ISSUE_FRESHNESS.p50Ms + extra);
    expect(aim.p95Ms).toBe(ISSUE_FRESHNESS.p95Ms + extra);
    expect(aim.why).toContain(`${extra / 1000} s more`);
  });

  it('sets no aim for a driver with no slot to align to, and says why', () => {
    const aim = freshnessAim('glooko', schedule(0, 30_000), reference);
    expect(aim.p50Ms).toBeUndefined();
    expect(aim.p95Ms).toBeUndefined();
    expect(aim.why).toMatch(/^— for glooko/);
  });

  it('reads the schedules from the registered drivers: every kind has one, Dexcom Share keeps the issue aim', () => {
    const ref = scheduleOf('dexcomshare');
    // The kinds come from the scenarios found in local/vendors: every vendor has one.
    expect(SOURCE_KINDS).toEqual(
      expect.arrayContaining(['dexcomshare', 'librelinkup', 'glooko', 'nightscout', 'minimedcarelink']),
    );
    for (const kind of SOURCE_KINDS) {
      const s = scheduleOf(kind);
      expect(s.intervalMs).toBeGreaterThan(0);
      expect(s.maxLookbackMs).toBeGreaterThan(0);
      expect(AIMS[kind], kind).toBeDefined();
    }
    expect(freshnessAim('dexcomshare', ref, ref)).toMatchObject(ISSUE_FRESHNESS);
  });
});

describe('loginAllowance', () => {
  it('allows the first session in full however short the run', () => {
    expect(loginAllowance(1, 3)).toBe(1);
    expect(loginAllowance(3, 3)).toBe(1);
  });
  it('allows a share of the daily rate, rounded up, for longer runs', () => {
    expect(loginAllowance(1, 24)).toBe(1);
    expect(loginAllowance(1, 36)).toBe(2);
    expect(loginAllowance(3, 12)).toBe(2);
    expect(loginAllowance(3, 24)).toBe(3);
  });
});

describe('settledBound', () => {
  it('is at least 10 minutes before the end and falls just before a 5-minute boundary', () => {
    const until = Date.UTC(2026, 10, 23, 9, 0, 7);
    const bound = settledBound(until);
    expect(bound).toBeLessThanOrEqual(until - 10 * MIN);
    expect((bound + 1) % (5 * MIN)).toBe(0);
    expect(until - 10 * MIN - bound).toBeLessThan(5 * MIN);
  });
});

describe('kindFigures', () => {
  it('gives seven figures per kind, ids prefixed sources.<kind>., each with a method', () => {
    const figures = kindFigures(result(), reference);
    expect(figures).toHaveLength(7);
    for (const f of figures) {
      expect(f.id.startsWith('sources.dexcomshare.')).toBe(true);
      expect(f.method.length).toBeGreaterThan(5);
    }
  });

  it('judges freshness against the aim and fails above it', () => {
    expect(byId(kindFigures(result(), reference), 'freshness.p50Ms').met).toBe(true);
    const slow = result({
      freshness: {
        samples: 5,
        excludedBackfillSamples: 0,
        p50Ms: ISSUE_FRESHNESS.p50Ms + 1,
        p95Ms: ISSUE_FRESHNESS.p95Ms + 1,
        maxMs: 60_000,
      },
    });
    expect(byId(kindFigures(slow, reference), 'freshness.p50Ms').met).toBe(false);
    expect(byId(kindFigures(slow, reference), 'freshness.p95Ms').met).toBe(false);
    const none = result({ freshness: { samples: 0, excludedBackfillSamples: 0 } });
    expect(byId(kindFigures(none, reference), 'freshness.p50Ms')).toMatchObject({ value: 'n/a', met: false });
  });

  it('reports no freshness verdict for a kind without an aim', () => {
    const glooko = result({ kind: 'glooko', schedule: schedule(0, 30_000) });
    expect(byId(kindFigures(glooko, reference), 'freshness.p50Ms')).toMatchObject({ aim: '—', met: null });
  });

  it('divides vendor data requests by new readings and applies polls per reading × requests per poll', () => {
    const requestsPerPoll = AIMS.glooko?.requestsPerPoll ?? Number.NaN;
    const within = result({
      kind: 'glooko',
      schedule: schedule(0, 30_000),
      vendor: { logins: 4, dataRequests: 300 },
      newReadingsWritten: 100,
    });
    const f = byId(kindFigures(within, reference), 'vendor.requestsPerNewReading');
    expect(f.value).toBe(3);
    expect(f.met).toBe(3 <= requestsPerPoll * POLLS_PER_READING);
    const over = result({
      kind: 'glooko',
      schedule: schedule(0, 30_000),
      vendor: { logins: 4, dataRequests: 400 },
      newReadingsWritten: 100,
    });
    expect(byId(kindFigures(over, reference), 'vendor.requestsPerNewReading').met).toBe(false);
    const ns = result({ kind: 'nightscout', vendor: { logins: 4, dataRequests: 800 }, newReadingsWritten: 100 });
    expect(byId(kindFigures(ns, reference), 'vendor.requestsPerNewReading')).toMatchObject({
      value: 8,
      aim: '—',
      met: null,
    });
  });

  it('counts logins per source-day and judges them against the allowance for the run length', () => {
    const short = result({ sources: 4, hours: 6, vendor: { logins: 4, dataRequests: 10 } });
    const f = byId(kindFigures(short, reference), 'vendor.loginsPerSourceDay');
    expect(f.value).toBe(4 / 4 / (6 / 24));
    expect(f.met).toBe(true);
    expect(
      byId(
        kindFigures(result({ sources: 4, hours: 6, vendor: { logins: 5, dataRequests: 10 } }), reference),
        'vendor.loginsPerSourceDay',
      ).met,
    ).toBe(false);
  });

  it('wants every published reading once, and nothing invented except where the kind writes beyond the history', () => {
    const ok = byId(kindFigures(result(), reference), 'readings.endToEnd');
    expect(ok).toMatchObject({ value: '1700 / 1700 / 0 / 0', met: true });
    const missing = result({ readings: { vendor: 1700, nightscout: 1699, duplicates: 0, missing: 1, window: 'w' } });
    expect(byId(kindFigures(missing, reference), 'readings.endToEnd').met).toBe(false);
    const invented = result({ readings: { vendor: 1700, nightscout: 1701, duplicates: 0, missing: 0, window: 'w' } });
    expect(byId(kindFigures(invented, reference), 'readings.endToEnd').met).toBe(false);
    expect(byId(kindFigures({ ...invented, kind: 'librelinkup' }, reference), 'readings.endToEnd').met).toBe(true);
    const dup = result({ readings: { vendor: 1700, nightscout: 1700, duplicates: 2, missing: 0, window: 'w' } });
    expect(byId(kindFigures(dup, reference), 'readings.endToEnd').met).toBe(false);
  });

  it('reports AWS requests per cycle without judging it at a few sources per kind (batching decides it)', () => {
    const figure = byId(kindFigures(result({ perCycleTotal: 7.5 }), reference), 'requests.perSourceCycle');
    expect(figure.value).toBe(7.5);
    expect(figure.met).toBeNull();
  });
});
