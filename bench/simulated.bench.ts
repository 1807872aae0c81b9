import { createHash } from 'node:crypto';
import type { SourceRecord } from '../lib/ports/source.store.port.js';
import { DEXCOM_DEVICE } from '../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { type MeteredCommand, meterCapacity } from '../local/aws-instrumentation.js';
import { percentile } from '../local/recording.observability.js';
import { countReadings, type Scenario, startScenario } from '../local/scenarios.js';
/**
 * Figures 3, 5, 6 and 7 from one simulated run: N Dexcom Share sources (each its own simulator instance and
 * account) through the real tick, fetch-frame and persist handlers on a simulated clock (createSimWorld: real
 * DynamoDB adapter on dynalite with every request counted; memory SQS queues counted the way a Lambda ESM would
 * call SQS). Nothing here is a fixed figure: every value is read from the run's counters.
 *
 * Each source writes to its own Nightscout simulator. Sharing one simulator between Dexcom sources is not sound:
 * every simulated account publishes readings on the same 5-minute instants, and Nightscout's v1 entries upsert key
 * is (sysTime, type), so sources would overwrite one another and the first-run seed would see other sources'
 * entries. One Nightscout per source is also what a real deployment looks like (one site per person).
 */
import { createSimWorld, type SimWorld } from '../local/sim-runner.js';
import { dynamoItemBytes, type IndexKey, indexWriteUnits } from './cost.model.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export interface SimBenchResult {
  sources: number;
  hours: number;
  wallSeconds: number;
  ticks: number;
  cycles: number;
  awsRequests: Record<string, number>;
  queueRequests: Record<string, number>;
  secretsManagerRequests: number;
  perCycle: Record<string, number>;
  perCycleTotal: number;
  perTickFixed: Record<string, number>;
  metrics: Record<string, number>;
  freshness: { samples: number; p50Ms?: number; p95Ms?: number; maxMs?: number; excludedBackfillSamples: number };
  readings: { vendor: number; nightscout: number; duplicates: number; missing: number; window: string };
  vendor: { logins: number; authenticates: number; reads: number; failedLogins: number };
  loginsPerSourceDay: number;
  readsPerNewReading: number;
  newReadingsWritten: number;
  dlqDepth: number;
  log: {
    infoLines: number;
    debugLines: number;
    infoBytes: number;
    infoBytesPerCycle: number;
    infoLinesPerCycle: number;
  };
  itemBytes: { mean: number; max: number };
  invocationsPerCycle: number;
  dueItemsPerCycle: number;
  capacity: CapacityTally & {
    perCycle: {
      tableWru: number;
      indexWru: number;
      rru: number;
      stateSaves: number;
      traceWrites: number;
      indexMoves: number;
    };
  };
}

export interface CapacityTally {
  tableWru: number;
  indexWru: number;
  /** Read units outside the tick's due-index queries (those are a fixed per-tick cost). */
  rru: number;
  dueQueryRru: number;
  stateSaves: number;
  traceWrites: number;
  /** Saves that moved an item's due-index key (2 index writes each). */
  indexMoves: number;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/**
 * Tallies DynamoDB capacity as the run consumes it: table units from ConsumedCapacity, index units from the
 * due-index keys each STATE write leaves behind (dynalite does not report index capacity). Conditional writes that
 * fail are not seen here (AWS still bills them); they are rare (version conflicts) and counted in the log instead.
 */
export class CapacityMeter {
  tally: CapacityTally = {
    tableWru: 0,
    indexWru: 0,
    rru: 0,
    dueQueryRru: 0,
    stateSaves: 0,
    traceWrites: 0,
    indexMoves: 0,
  };
  private readonly indexKeys = new Map<string, IndexKey>();

  observe = (command: MeteredCommand): void => {
    const t = this.tally;
    if (WRITES.has(command.operation)) t.tableWru += command.capacityUnits;
    else if (command.operation === 'Query' && command.input.IndexName !== undefined)
      t.dueQueryRru += command.capacityUnits;
    else t.rru += command.capacityUnits;
    const item = command.input.Item as Record<string, { S?: string; N?: string }> | undefined;
    const key = (command.input.Key ?? item) as Record<string, { S?: string }> | undefined;
    const pk = key?.pk?.S;
    const sk = key?.sk?.S ?? '';
    if (!pk) return;
    if (sk.startsWith('TRACE#') && command.operation === 'PutItem') t.traceWrites++;
    if (sk !== 'STATE' || (command.operation !== 'PutItem' && command.operation !== 'DeleteItem')) return;
    const after: IndexKey =
      command.operation === 'PutItem' && item?.dueShard?.S && item.nextDueAt?.N
        ? `${item.dueShard.S}|${item.nextDueAt.N}`
        : undefined;
    const units = indexWriteUnits(this.indexKeys.get(pk), after);
    this.indexKeys.set(pk, after);
    t.indexWru += units;
    if (units === 2) t.indexMoves++;
    if (command.operation === 'PutItem') t.stateSaves++;
  };

  /** Start counting afresh (set-up excluded) but remember where every item sits in the index. */
  reset(): void {
    this.tally = { tableWru: 0, indexWru: 0, rru: 0, dueQueryRru: 0, stateSaves: 0, traceWrites: 0, indexMoves: 0 };
  }
}

/**
 * Counts the world's ticks and keeps the freshness samples of live readings: a reading's instant is persist's now −
 * lag, and those dated before `liveFrom` (the sources' start) are the first-run look-back backfill, counted apart.
 */
export function observeRun(world: SimWorld, liveFrom: number) {
  const live: number[] = [];
  let excluded = 0;
  let ticks = 0;
  const recordTiming = world.metrics.timing.bind(world.metrics);
  world.metrics.timing = (name: string, ms: number) => {
    recordTiming(name, ms);
    if (name !== 'FreshnessLagMs') return;
    if (world.clock.now() - ms >= liveFrom) live.push(ms);
    else excluded++;
  };
  const tick = world.tick.bind(world);
  world.tick = async () => {
    ticks++;
    await tick();
  };
  return {
    live,
    ticks: () => ticks,
    freshness: () => ({
      samples: live.length,
      excludedBackfillSamples: excluded,
      p50Ms: percentile(live, 50),
      p95Ms: percentile(live, 95),
      maxMs: live.length ? Math.max(...live) : undefined,
    }),
  };
}

/** A sensor's phase on the 5-minute grid, 0–299,999 ms: uniform and deterministic per source id. */
export function sensorPhaseMs(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % (5 * 60_000);
}

export async function runSimulatedBench(opts: {
  sources: number;
  hours: number;
  batchingWindowMs?: number;
  onProgress?: (line: string) => void;
}): Promise<SimBenchResult> {
  const start = Date.UTC(2026, 10, 23, 6, 0, 7);
  const until = start + opts.hours * HOUR;
  const wall0 = performance.now();
  const world: SimWorld = await createSimWorld({ start, batchingWindowMs: opts.batchingWindowMs });
  const meter = new CapacityMeter();
  meterCapacity(world.dynamo, meter.observe);
  const scenarios: Scenario[] = [];
  try {
    const run = observeRun(world, start);
    const { live } = run;

    for (let i = 0; i < opts.sources; i++) {
      // Demo passwords only (never printed); each source gets its own Share simulator and Nightscout simulator.
      // Each sensor gets its own phase on the 5-minute grid, as real sensors do; if every source were due at the same
      // instant, queue receives would batch far better than a real community's (and flatter the cost figure).
      const id = `bench-${String(i).padStart(4, '0')}`;
      const scenario = await startScenario('dexcomshare', { clock: world.clock, id, phaseMs: sensorPhaseMs(id) });
      scenarios.push(scenario);
      await world.addSource(scenario.config, scenario.credentials);
    }
    // Source creation (GetItem + PutItem per source) is set-up, not cycle cost.
    world.awsRequests.reset();
    meter.reset();
    for (const key of Object.keys(world.queueRequests)) delete world.queueRequests[key];

    const step = Math.max(HOUR, Math.floor(opts.hours / 6) * HOUR);
    for (let t = start + step; ; t += step) {
      await world.runUntil(Math.min(t, until));
      opts.onProgress?.(
        `  simulated ${((Math.min(t, until) - start) / HOUR).toFixed(0)}/${opts.hours} h, ${((performance.now() - wall0) / 1000).toFixed(0)} s wall`,
      );
      if (t >= until) break;
    }
    const wallSeconds = (performance.now() - wall0) / 1000;

    const counts = { ...world.metrics.counts };
    const cycles = counts.Outcome_persisted ?? 0;
    const awsRequests = { ...world.awsRequests.counts };
    const queueRequests = { ...world.queueRequests };
    const perCycle: Record<string, number> = {};
    for (const [api, n] of Object.entries(awsRequests)) if (api !== 'DynamoDB.Query') perCycle[api] = n / cycles;
    for (const [api, n] of Object.entries(queueRequests)) perCycle[api] = n / cycles;
    const secretsManagerRequests = Object.entries(awsRequests)
      .filter(([k]) => k.startsWith('SecretsManager.'))
      .reduce((s, [, n]) => s + n, 0);

    // Readings end to end, dated from start − 24 h + 10 min to until − 10 min. The look-back's oldest 10 minutes are
    // left out: the first fetch happens up to a minute after `start`, and its 24 h look-back starts from then. The last
    // 10 minutes are left out because a reading published just before `until` may be in flight; the vendor list is
    // taken at `until`, so a reading dated just before the bound but published after it counts on both sides.
    const totals = { vendor: 0, nightscout: 0, duplicates: 0, missing: 0 };
    const vendor = { logins: 0, authenticates: 0, reads: 0, failedLogins: 0 };
    for (const s of scenarios) {
      const c = countReadings(s, start - DAY + 10 * MIN, until - 10 * MIN, DEXCOM_DEVICE, until);
      totals.vendor += c.vendor;
      totals.nightscout += c.nightscout;
      totals.duplicates += c.duplicates;
      totals.missing += c.missing;
      const v = s.vendorStats() as Record<string, number>;
      vendor.logins += v.login;
      vendor.authenticates += v.authenticate;
      vendor.reads += v.read;
      vendor.failedLogins += v.failedLogins;
    }

    const infoLines = world.log.lines.filter((l) => !l.startsWith('{"level":"debug"'));
    const infoBytes = infoLines.reduce((s, l) => s + Buffer.byteLength(l) + 1, 0);
    const records = await world.sources.list();
    const toItem = (
      world.sources as unknown as { toItem(r: SourceRecord): Record<string, { S?: string; N?: string }> }
    ).toItem.bind(world.sources);
    const sizes = records.map((r) => dynamoItemBytes(toItem(r)));
    const invocations = queueRequests['SQS.ReceiveMessage'] ?? 0;

    return {
      sources: opts.sources,
      hours: opts.hours,
      wallSeconds,
      ticks: run.ticks(),
      cycles,
      awsRequests,
      queueRequests,
      secretsManagerRequests,
      perCycle,
      perCycleTotal: Object.values(perCycle).reduce((s, v) => s + v, 0),
      perTickFixed: { 'DynamoDB.Query': (awsRequests['DynamoDB.Query'] ?? 0) / run.ticks() },
      metrics: counts,
      freshness: run.freshness(),
      readings: {
        ...totals,
        window: `readings dated ${new Date(start - DAY + 10 * MIN).toISOString()} .. ${new Date(until - 10 * MIN).toISOString()}`,
      },
      vendor,
      loginsPerSourceDay: vendor.logins / opts.sources / (opts.hours / 24),
      readsPerNewReading: vendor.reads / live.length,
      newReadingsWritten: live.length,
      dlqDepth: world.fetchDlq.depth() + world.persistDlq.depth(),
      log: {
        infoLines: infoLines.length,
        debugLines: world.log.lines.length - infoLines.length,
        infoBytes,
        infoBytesPerCycle: infoBytes / cycles,
        infoLinesPerCycle: infoLines.length / cycles,
      },
      itemBytes: { mean: sizes.reduce((s, v) => s + v, 0) / Math.max(1, sizes.length), max: Math.max(0, ...sizes) },
      invocationsPerCycle: invocations / cycles,
      dueItemsPerCycle: (counts.SourcesDue ?? 0) / cycles,
      capacity: {
        ...meter.tally,
        perCycle: {
          tableWru: meter.tally.tableWru / cycles,
          indexWru: meter.tally.indexWru / cycles,
          rru: meter.tally.rru / cycles,
          stateSaves: meter.tally.stateSaves / cycles,
          traceWrites: meter.tally.traceWrites / cycles,
          indexMoves: meter.tally.indexMoves / cycles,
        },
      },
    };
  } finally {
    for (const s of scenarios) await s.close();
    await world.close();
  }
}
