/**
 * Every source kind end to end through the same engine: vendor simulator → tick → fetch-frame → persist → Nightscout
 * simulator, real handlers on a simulated clock, real DynamoDB adapter on dynalite (see local/sim-runner.ts and
 * the scenarios found in local/vendors/<vendor>/<vendor>.scenario.ts: every vendor with a scenario runs here, each from
 * the start instant its scenario names for end-to-end runs). Per kind, six simulated hours:
 * - every reading the vendor published inside the source's look-back window, at least 10 min before the end, is in
 *   Nightscout exactly once with `date` equal to the vendor's instant to the millisecond, and nothing is invented;
 * - logins stay at a handful; the configured passwords, API secrets and tokens appear in no log line, no queue body,
 *   no DynamoDB item and no Nightscout document;
 * - Glooko: treatments are written once despite the 24 h re-read on every poll, and the run crosses the Europe/Berlin
 *   spring-forward (2026-03-29 01:00 UTC) so re-zoning is checked end to end.
 * - LibreLinkUp: "published" is both the 5-minute graph rows and every current (1-minute) reading a `/graph` answer
 *   carried; each is in Nightscout exactly once (the graph history lags the current reading by 15 min, so this
 *   checks the driver's 1-hour re-read window end to end), every stored current reading keeps its trend arrow on the
 *   whole-document-replacing 15.0.6 server, and a 40-minute vendor outage leaves no hole.
 * - the work stays within what the schedule asks for: one tick per simulated minute, at most two frames per expected
 *   reading slot, and per frame no more DynamoDB requests and queue messages than its path needs. Work, not wall time:
 *   a loaded machine is slow, not wrong (the wall time is printed with the figures, and the benchmark reports speed).
 * Per-source figures (logins, vendor data requests per new reading, freshness p50/p95) are printed; no secrets.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SOURCE_TABLE_SCHEMA } from '../../lib/adapters/aws/dynamodb-source.store.js';
import { LIBRELINKUP_DEVICE } from '../../lib/sources/librelinkup/librelinkup.vendor.js';
import { scheduleFor } from '../../lib/sources/vendor.catalog.js';
import { startNightscoutSimulator } from '../../local/nightscout/nightscout.simulator.js';
import { percentile } from '../../local/recording.observability.js';
import { countReadings, loadScenarios, type Scenario, startScenario } from '../../local/scenarios.js';
import { createSimWorld, type SimWorld } from '../../local/sim-runner.js';
import {
  type LibreLinkUpSimulator,
  startLibreLinkUpSimulator,
} from '../../local/vendors/librelinkup/librelinkup.simulator.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const RUN_MS = 6 * HOUR;
/** Readings must have been published at least this long before the end of the run. */
const SETTLE_MS = 10 * MIN;
/** Margin at the old edge of the look-back window (the first frame starts a little after the run does). */
const EDGE_MS = 10 * MIN;
/** A loop polls once per expected reading slot, plus at most one early re-check (the machine's MAX_RECHECKS). */
const FRAMES_PER_SLOT = 2;
/**
 * DynamoDB requests on one frame's path, at most: the tick's BatchGetItem and save, fetch-frame's session read and
 * write (on a login or refresh), the outcome's read and save. Healthy runs write no trace items.
 */
const DYNAMODB_REQUESTS_PER_FRAME = 6;
/** A fetch message and a persist message. */
const QUEUE_MESSAGES_PER_FRAME = 2;

interface Case {
  kind: string;
  start: number;
  note: string;
}

/** A start instant off the reading grid, for a scenario that names none. */
const DEFAULT_START = Date.UTC(2026, 10, 23, 6, 0, 7);

/** One case per scenario found by convention, so a new vendor's scenario runs here without an edit. */
const CASES: Case[] = (await loadScenarios()).map((s) => ({
  kind: s.kind,
  start: s.e2e?.start ?? DEFAULT_START,
  note: s.e2e?.note ?? '',
}));

it('finds a scenario for every vendor of the product', () => {
  expect(CASES.map((c) => c.kind)).toEqual(
    expect.arrayContaining(['dexcomshare', 'librelinkup', 'glooko', 'nightscout', 'minimedcarelink']),
  );
});

let world: SimWorld | undefined;
let scenario: Scenario | undefined;
const summary: string[] = [];

/** The LibreLinkUp demo scenario, built here so the test can read the simulator's served current readings and inject faults. */
interface LibreScenario extends Scenario {
  libre: LibreLinkUpSimulator;
}

const LIBRE_GRAPH_LAG_MS = 15 * MIN;

async function startLibreScenario(
  clock: { now(): number },
  id: string,
  readingIntervalMs = MIN,
): Promise<LibreScenario> {
  const apiSecret = 'e2e-libre-api-secret-0001';
  const email = `demo-${id}@example.invalid`;
  const password = 'e2e-libre-password-0001';
  // 15.0.6: the v1 entries upsert replaces the whole document, so a re-posted arrowless graph row would show.
  const nightscout = await startNightscoutSimulator({ apiSecret, clock, version: '15.0.6' });
  const libre = await startLibreLinkUpSimulator({
    clock,
    graphLagMs: LIBRE_GRAPH_LAG_MS,
    readingIntervalMs,
    accounts: [
      {
        email,
        password,
        region: 'eu',
        patients: [{ patientId: 'demo-patient-1', firstName: 'Demo', timeZone: 'Europe/London' }],
      },
    ],
  });
  return {
    kind: 'librelinkup',
    libre,
    config: {
      id,
      kind: 'librelinkup',
      settings: { linkUpRegion: 'EU', linkUpHosts: JSON.stringify({ EU: libre.hostFor('EU') }) },
      nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
    },
    credentials: { vendor: { username: email, password }, nightscout: { apiSecret } },
    nightscout,
    device: LIBRELINKUP_DEVICE,
    vendorReadings(from, until) {
      // The graph history: every 5-minute slot that has left the publish lag by `until`.
      const out: number[] = [];
      for (let t = Math.ceil(from / (5 * MIN)) * 5 * MIN; t <= until - LIBRE_GRAPH_LAG_MS; t += 5 * MIN) out.push(t);
      return out;
    },
    vendorStats: () => ({
      logins: libre.stats.logins,
      dataRequests: libre.stats.graph + libre.stats.connections,
      failedLogins: libre.stats.failedLogins,
      connections: libre.stats.connections,
      graph: libre.stats.graph,
    }),
    secrets: () => [password, apiSecret],
    async close() {
      await libre.close();
      await nightscout.close();
    },
  };
}

/**
 * LibreLinkUp strictness: every graph row and every served current reading in [from, until] is in Nightscout exactly
 * once to the millisecond, nothing else of this device is there, and every current reading kept its arrow.
 * Returns the counts for the figures line.
 */
function expectLibreExactlyOnce(s: LibreScenario, from: number, until: number, end: number) {
  const graph = s.vendorReadings(from, until);
  const current = s.libre.servedCurrent().filter((d) => d >= from && d <= until);
  const published = [...new Set([...graph, ...current])].sort((a, b) => a - b);
  const entries = s.nightscout.store.entries.filter((e) => e.type === 'sgv' && e.device === s.device);
  const count = new Map<number, number>();
  for (const e of entries) count.set(e.date as number, (count.get(e.date as number) ?? 0) + 1);
  const iso = (ds: number[]) => ds.map((d) => new Date(d).toISOString());
  expect(iso(published.filter((d) => !count.has(d))), 'published but missing').toEqual([]);
  expect(iso([...count].filter(([, n]) => n > 1).map(([d]) => d)), 'written twice').toEqual([]);
  // Nothing invented: every stored instant is a graph slot or a current reading the vendor had served by the end.
  const servedByEnd = new Set([...s.vendorReadings(from, end), ...s.libre.servedCurrent()]);
  expect(iso([...count.keys()].filter((d) => d >= from && !servedByEnd.has(d))), 'invented').toEqual([]);
  // The current reading of each poll carries the arrow; no later graph row for the same instant erased it.
  const servedCurrent = new Set(s.libre.servedCurrent());
  const arrowless = entries.filter((e) => servedCurrent.has(e.date as number) && e.direction === 'NOT COMPUTABLE');
  expect(iso(arrowless.map((e) => e.date as number)), 'current reading lost its arrow').toEqual([]);
  return { graph: graph.length, current: current.length, both: graph.length + current.length - published.length };
}

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
    scenario =
      kind === 'librelinkup'
        ? await startLibreScenario(w.clock, `e2e-${kind}`)
        : await startScenario(kind, { clock: w.clock, id: `e2e-${kind}` });
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

    let ticks = 0;
    const tick = w.tick.bind(w);
    w.tick = () => {
      ticks++;
      return tick();
    };

    await w.addSource(s.config, s.credentials);
    const end = start + RUN_MS;
    // Freshness is reported for live readings: the first 15 minutes hold the look-back backfill.
    await w.runUntil(start + 15 * MIN);
    const backfillSamples = (w.metrics.timings.FreshnessLagMs ?? []).length;
    await w.runUntil(end);
    const wallMs = performance.now() - wallStart;

    const lookbackMs = scheduleFor(s.config)[0].maxLookbackMs;
    const from = start - lookbackMs + EDGE_MS;
    const until = end - SETTLE_MS;
    const vendor = s.vendorReadings(from, until);
    expect(vendor.length).toBeGreaterThan(100);

    // Exactly once, to the millisecond: compare the exact ms values.
    const entries = s.nightscout.store.entries.filter(
      (e) => e.type === 'sgv' && (s.device === undefined || e.device === s.device),
    );
    expect(entries.length).toBeGreaterThan(0);
    const byDate = new Map<number, number>();
    for (const e of entries) {
      expect(typeof e.date).toBe('number');
      expect(Date.parse(String(e.dateString))).toBe(e.date);
      byDate.set(e.date as number, (byDate.get(e.date as number) ?? 0) + 1);
    }
    const missing = vendor.filter((d) => !byDate.has(d));
    const twice = vendor.filter((d) => (byDate.get(d) ?? 0) > 1);
    expect(missing.map((d) => new Date(d).toISOString())).toEqual([]);
    expect(twice).toEqual([]);
    expect([...byDate.values()].every((n) => n === 1)).toBe(true);
    expect(countReadings(s, from, until, s.device)).toMatchObject({ duplicates: 0, missing: 0, vendor: vendor.length });

    // Nothing invented. LibreLinkUp also writes the current (1-minute) reading of each poll: those must be readings
    // the simulator actually served, each once, and keep their arrow (no hole at start either: the graph rows
    // between the first frame's newest row and its current reading are re-read behind the cursor).
    let libreFigures = '';
    if (kind === 'librelinkup') {
      const counts = expectLibreExactlyOnce(s as LibreScenario, from, until, end);
      expect(counts.current).toBeGreaterThan(50);
      const ns = s.nightscout.requests;
      const polls = Number(s.vendorStats().graph);
      libreFigures =
        ` graphRows=${counts.graph} currentReadings=${counts.current} sameInstant=${counts.both}` +
        ` nightscoutRequestsPerPoll=${(Object.values(ns).reduce((a, b) => a + b, 0) / polls).toFixed(2)}` +
        ` (GET entries ${ns['GET /api/v1/entries.json'] ?? 0}, POST entries ${ns['POST /api/v1/entries.json'] ?? 0}, polls ${polls})`;
    } else {
      const publishedByEnd = new Set(s.vendorReadings(from, end));
      const invented = [...byDate.keys()].filter((d) => d >= from && !publishedByEnd.has(d));
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
      expect(
        published
          .filter((p) => stored.get(key(p.at, p.eventType)) !== 1)
          .map((p) => `${new Date(p.at).toISOString()} ${p.eventType}`),
      ).toEqual([]);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(treatments.map((t) => t.identifier)).size).toBe(treatments.length);
      const publishedKeys = new Set(published.map((p) => key(p.at, p.eventType)));
      const inventedTreatments = [...stored.keys()].filter(
        (k) => Number(k.split('|')[0]) >= from && Number(k.split('|')[0]) <= until && !publishedKeys.has(k),
      );
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
      for (const secret of secrets)
        expect(text.includes(secret), `a configured secret appears in ${where}`).toBe(false);
    }

    // Figures: logins, vendor data requests per new reading, freshness.
    const newReadings = s.vendorReadings(start, until).length;
    const dataRequests = Number(stats.dataRequests);
    const lag = (w.metrics.timings.FreshnessLagMs ?? []).slice(backfillSamples);
    const p50 = percentile(lag, 50);
    const p95 = percentile(lag, 95);
    expect(lag.length).toBeGreaterThan(0);
    const fmt = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);
    const line =
      `${kind}: logins=${logins} dataRequests=${dataRequests} newReadings=${newReadings} requestsPerNewReading=${(dataRequests / newReadings).toFixed(2)} ` +
      `backfilled=${vendor.length - newReadings}${libreFigures} freshness p50=${fmt(p50)} p95=${fmt(p95)} wall=${(wallMs / 1000).toFixed(1)} s ` +
      `stats=${JSON.stringify(stats)}`;
    summary.push(line);
    console.log(line);

    // Work done for six hours of one source, bounded by what the schedule and each frame's path need.
    expect(ticks).toBe(RUN_MS / MIN);
    expect(w.awsRequests.counts['DynamoDB.Query']).toBe(ticks * SOURCE_TABLE_SCHEMA.defaultDueShards);
    const frames = w.metrics.counts.FramesDispatched ?? 0;
    const slots = scheduleFor(s.config).reduce((sum, loop) => sum + Math.floor(RUN_MS / loop.intervalMs) + 1, 0);
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThanOrEqual(slots * FRAMES_PER_SLOT);
    const dynamoRequests = ['GetItem', 'PutItem', 'BatchGetItem'].reduce(
      (sum, op) => sum + (w.awsRequests.counts[`DynamoDB.${op}`] ?? 0),
      0,
    );
    expect(dynamoRequests).toBeLessThanOrEqual(frames * DYNAMODB_REQUESTS_PER_FRAME);
    expect(w.sentBodies.length).toBeLessThanOrEqual(frames * QUEUE_MESSAGES_PER_FRAME);
    expect(w.queueRequests['SQS.ReceiveMessage']).toBeLessThanOrEqual(w.sentBodies.length);
  });
});

describe('librelinkup → Nightscout across a 40-minute vendor outage', () => {
  it('after LibreLinkUp answers 5xx for 40 minutes, every graph slot of the outage is in Nightscout exactly once', async () => {
    const start = Date.UTC(2026, 5, 2, 8, 0, 7);
    world = await createSimWorld({ start });
    const w = world;
    // Current readings on the 5-minute grid: each one is the same instant as a graph row published 15 min later, so
    // the run also checks end to end that the later arrowless row neither duplicates it nor erases its arrow.
    const s = await startLibreScenario(w.clock, 'e2e-librelinkup-outage', 5 * MIN);
    scenario = s;
    await w.addSource(s.config, s.credentials);
    await w.runUntil(start + HOUR);
    const outageStart = w.clock.now();
    s.libre.inject({ kind: 'http5xx', status: 503, endpoint: 'graph' });
    const graphCallsBefore = s.libre.stats.graph;
    await w.runUntil(outageStart + 40 * MIN);
    const outageEnd = w.clock.now();
    s.libre.clearFaults();
    // The frame that failed last may be backing off (≤ 30 min); then the graph still holds the whole outage.
    await w.runUntil(outageEnd + 2 * HOUR);
    const end = w.clock.now();

    // The outage really refused polls, and nothing was served in it.
    expect(s.libre.stats.graph - graphCallsBefore).toBeGreaterThan(3);
    const servedInOutage = s.libre.servedCurrent().filter((d) => d > outageStart + MIN && d < outageEnd);
    expect(servedInOutage).toEqual([]);

    const lookbackMs = scheduleFor(s.config)[0].maxLookbackMs;
    const from = start - lookbackMs + EDGE_MS;
    const until = end - SETTLE_MS;
    const counts = expectLibreExactlyOnce(s, from, until, end);
    const currentWithGraphRow = s.libre.servedCurrent().filter((d) => d >= from && d <= until - LIBRE_GRAPH_LAG_MS);
    expect(currentWithGraphRow.length).toBeGreaterThan(0);
    expect(counts.both).toBe(currentWithGraphRow.length);
    // Named explicitly: the 5-minute slots of the outage (never served as current readings) came from the graph.
    const outageSlots: number[] = [];
    for (let t = Math.ceil(outageStart / (5 * MIN)) * 5 * MIN; t <= outageEnd; t += 5 * MIN) outageSlots.push(t);
    expect(outageSlots.length).toBe(8);
    const stored = new Set(s.nightscout.store.entries.map((e) => e.date as number));
    expect(outageSlots.filter((d) => !stored.has(d)).map((d) => new Date(d).toISOString())).toEqual([]);

    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
    expect((await w.sources.get(s.config.id))?.status.parkedReason).toBeUndefined();
    const firstAfter = s.libre.servedCurrent().find((d) => d >= outageEnd);
    const line =
      `librelinkup outage: 40 min of 5xx, first reading served ${firstAfter === undefined ? 'never' : `${((firstAfter - outageEnd) / MIN).toFixed(0)} min`} after it ended, ` +
      `outage slots restored ${outageSlots.length}/${outageSlots.length}, current readings sharing an instant with a graph row ${counts.both}`;
    summary.push(line);
    console.log(line);
  });
});
