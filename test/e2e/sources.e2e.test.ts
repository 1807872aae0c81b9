/**
 * Every source kind end to end through the same engine: vendor simulator → tick → fetch-frame → persist → Nightscout
 * simulator, real handlers on a simulated clock, real DynamoDB adapter on dynalite (see lib/local/sim-runner.ts and
 * the scenarios in lib/local/demo.scenarios.ts). Per kind, six simulated hours:
 * - every reading the vendor published inside the source's look-back window, at least 10 min before the end, is in
 *   Nightscout exactly once with `date` equal to the vendor's instant to the millisecond, and nothing is invented;
 * - logins stay at a handful; the configured passwords, API secrets and tokens appear in no log line, no queue body,
 *   no DynamoDB item and no Nightscout document;
 * - Glooko: treatments are written once despite the 24 h re-read on every poll, and the run crosses the Europe/Berlin
 *   spring-forward (2026-03-29 01:00 UTC) so re-zoning is checked end to end.
 * Per-source figures (logins, vendor data requests per new reading, freshness p50/p95) are printed; no secrets.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSimWorld, type SimWorld } from '../../lib/local/sim-runner.js';
import { countReadings, startScenario, type Scenario } from '../../lib/local/demo.scenarios.js';
import { percentile } from '../../lib/local/recording.observability.js';
import { driverFor } from '../../lib/sources/source.registry.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const RUN_MS = 6 * HOUR;
/** Readings must have been published at least this long before the end of the run. */
const SETTLE_MS = 10 * MIN;
/** Margin at the old edge of the look-back window (the first frame starts a little after the run does). */
const EDGE_MS = 10 * MIN;

interface Case {
  kind: string;
  start: number;
  note: string;
}

const CASES: Case[] = [
  { kind: 'dexcomshare', start: Date.UTC(2026, 10, 23, 6, 0, 7), note: '' },
  { kind: 'librelinkup', start: Date.UTC(2026, 5, 1, 12, 0, 7), note: '' },
  { kind: 'glooko', start: Date.UTC(2026, 2, 29, 0, 30, 0), note: 'crosses Europe/Berlin DST start (01:00 UTC)' },
  { kind: 'nightscout', start: Date.UTC(2026, 9, 25, 0, 10, 0), note: '' },
  { kind: 'minimedcarelink', start: Date.UTC(2026, 4, 10, 3, 0, 0), note: 'a fixed two-reading dropout at 06:00 UTC' },
];

let world: SimWorld | undefined;
let scenario: Scenario | undefined;
const summary: string[] = [];

afterEach(async () => {
  await scenario?.close();
  await world?.close();
  world = scenario = undefined;
});

afterAll(() => {
  if (summary.length) console.log(['per-source figures (6 simulated hours each):', ...summary].join('\n'));
});

describe.each(CASES)('$kind → Nightscout over six simulated hours', ({ kind, start, note }) => {
  it(`delivers every published reading exactly once, to the millisecond, with few logins and no leaked secret${note ? ` (${note})` : ''}`, async () => {
    const wallStart = performance.now();
    world = await createSimWorld({ start });
    const w = world;
    scenario = await startScenario(kind, { clock: w.clock, id: `e2e-${kind}` });
    const s = scenario;

    // Everything any handler sends to any queue, as SQS would carry it.
    const bodies: string[] = [];
    for (const queue of [w.fetchQueue, w.persistQueue, w.fetchDlq, w.persistDlq] as const) {
      const original = queue.send.bind(queue) as (m: unknown[]) => Promise<void>;
      (queue as { send: (m: unknown[]) => Promise<void> }).send = async (messages) => {
        for (const m of messages) bodies.push(JSON.stringify((m as { body: unknown }).body));
        return original(messages);
      };
    }

    await w.addSource(s.config, s.credentials);
    const end = start + RUN_MS;
    // Freshness is reported for live readings: the first 15 minutes hold the look-back backfill.
    await w.runUntil(start + 15 * MIN);
    const backfillSamples = (w.metrics.timings.FreshnessLagMs ?? []).length;
    await w.runUntil(end);
    const wallMs = performance.now() - wallStart;

    const lookbackMs = driverFor(s.config).loops[0].maxLookbackMs;
    const from = start - lookbackMs + EDGE_MS;
    const until = end - SETTLE_MS;
    const vendor = s.vendorReadings(from, until);
    expect(vendor.length).toBeGreaterThan(100);

    // Exactly once, to the millisecond: compare the exact ms values.
    const entries = s.nightscout.store.entries.filter((e) => e.type === 'sgv' && (s.device === undefined || e.device === s.device));
    expect(entries.length).toBeGreaterThan(0);
    const byDate = new Map<number, number>();
    for (const e of entries) {
      expect(typeof e.date).toBe('number');
      expect(Date.parse(String(e.dateString))).toBe(e.date);
      byDate.set(e.date as number, (byDate.get(e.date as number) ?? 0) + 1);
    }
    // LibreLinkUp: the graph history lags the 1-minute current reading by ~15 min, and the engine's cursor (newest
    // entry written; the writer drops entries at or before it) is already past a graph slot when it appears. So the
    // history is exact up to the first frame, and afterwards each 5-minute slot is covered by the current reading
    // of a poll within 5 minutes, not by the graph row itself (see docs/sources.md, "Engine limitation").
    // The slots between the newest graph row of the first frame and its current reading (≈15 min) are never
    // written: a bounded hole at every start and after every outage (at most three 5-minute slots).
    const exact = kind === 'librelinkup' ? vendor.filter((d) => d <= start - 15 * MIN) : vendor;
    const live = kind === 'librelinkup' ? vendor.filter((d) => d > start - 15 * MIN) : [];
    const dates = [...byDate.keys()].sort((a, b) => a - b);
    const uncovered = live.filter((slot) => !dates.some((d) => Math.abs(d - slot) < 5 * MIN));
    expect(uncovered.length).toBeLessThanOrEqual(3);
    expect(uncovered.every((d) => d < start)).toBe(true);
    const supersededSlots = live.filter((d) => !byDate.has(d)).length;
    const missing = exact.filter((d) => !byDate.has(d));
    const twice = vendor.filter((d) => (byDate.get(d) ?? 0) > 1);
    expect(missing.map((d) => new Date(d).toISOString())).toEqual([]);
    expect(twice).toEqual([]);
    expect([...byDate.values()].every((n) => n === 1)).toBe(true);
    expect(countReadings(s, from, until, s.device)).toMatchObject({ duplicates: 0, missing: kind === 'librelinkup' ? supersededSlots : 0, vendor: vendor.length });

    // Nothing invented. LibreLinkUp also writes the 1-minute "current" reading of each poll, which the 5-minute
    // graph history does not hold: those must still be real minute-grid instants the vendor served by then.
    const publishedByEnd = new Set(s.vendorReadings(from, end));
    const invented = [...byDate.keys()].filter((d) => d >= from && !publishedByEnd.has(d));
    if (kind === 'librelinkup') {
      expect(invented.every((d) => d % MIN === 0)).toBe(true);
      expect(invented.length).toBeLessThanOrEqual(Number(s.vendorStats().graph));
    } else {
      expect(invented.map((d) => new Date(d).toISOString())).toEqual([]);
    }
    expect([...byDate.keys()].every((d) => d <= end)).toBe(true);

    // Glooko: every bolus and basal once, re-zoned to its real instant, despite re-reading 24 h every 5 minutes.
    if (s.vendorTreatments) {
      const published = s.vendorTreatments(from, until);
      expect(published.length).toBeGreaterThan(20);
      const treatments = s.nightscout.store.treatments;
      const key = (at: number, eventType: string) => `${at}|${eventType}`;
      const stored = new Map<string, number>();
      for (const t of treatments) {
        const k = key(Date.parse(String(t.created_at)), String(t.eventType));
        stored.set(k, (stored.get(k) ?? 0) + 1);
      }
      expect(published.filter((p) => stored.get(key(p.at, p.eventType)) !== 1).map((p) => `${new Date(p.at).toISOString()} ${p.eventType}`)).toEqual([]);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(treatments.map((t) => t.identifier)).size).toBe(treatments.length);
      const publishedKeys = new Set(published.map((p) => key(p.at, p.eventType)));
      const inventedTreatments = [...stored.keys()].filter((k) => Number(k.split('|')[0]) >= from && Number(k.split('|')[0]) <= until && !publishedKeys.has(k));
      expect(inventedTreatments).toEqual([]);
    }

    // Healthy end state: nothing dead-lettered, source not parked.
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
    const record = await w.sources.get(s.config.id);
    expect(record?.status.parkedReason).toBeUndefined();

    // A handful of logins at most.
    const stats = s.vendorStats();
    const logins = Number(stats.logins);
    expect(logins).toBeGreaterThanOrEqual(1);
    expect(logins).toBeLessThanOrEqual(2);

    // No configured secret anywhere it could leak to.
    const secrets = s.secrets?.() ?? [];
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    expect(bodies.length).toBeGreaterThan(50);
    const session = await w.sessions.get(s.config.id);
    const haystacks: Record<string, string> = {
      log: w.log.lines.join('\n'),
      queues: bodies.join('\n'),
      dynamoSources: JSON.stringify(await w.sources.list()),
      dynamoSession: JSON.stringify(session ?? null),
      nightscout: JSON.stringify(s.nightscout.store),
    };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets) expect(text.includes(secret), `a configured secret appears in ${where}`).toBe(false);
    }

    // Figures: logins, vendor data requests per new reading, freshness.
    const newReadings = s.vendorReadings(start, until).length;
    const dataRequests = Number(stats.dataRequests);
    const lag = (w.metrics.timings.FreshnessLagMs ?? []).slice(backfillSamples);
    const p50 = percentile(lag, 50);
    const p95 = percentile(lag, 95);
    expect(lag.length).toBeGreaterThan(0);
    const fmt = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);
    const line = `${kind}: logins=${logins} dataRequests=${dataRequests} newReadings=${newReadings} requestsPerNewReading=${(dataRequests / newReadings).toFixed(2)} `
      + `backfilled=${vendor.length - newReadings}${kind === 'librelinkup' ? ` graphSlotsCoveredByCurrentReading=${supersededSlots}/${live.length} startHoleSlots=${uncovered.length}` : ''} freshness p50=${fmt(p50)} p95=${fmt(p95)} wall=${(wallMs / 1000).toFixed(1)} s `
      + `stats=${JSON.stringify(stats)}`;
    summary.push(line);
    console.log(line);
    expect(wallMs).toBeLessThan(40_000);
  });
});
