/**
 * The event source mappings' batching window, as the simulated world models it (the cost figure for a community
 * depends on it): with a window, receives carry several sources' frames; each message waits at most the window per
 * queue hop; nothing is lost or doubled.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEXCOM_DEVICE } from '../../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { countReadings, type Scenario, startScenario } from '../../local/scenarios.js';
import { createSimWorld, type SimWorld } from '../../local/sim-runner.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 10, 23, 6, 0, 7);
const SOURCES = 20;
const WINDOW_MS = 5_000;

const open: Array<{ world: SimWorld; scenarios: Scenario[] }> = [];
afterEach(async () => {
  for (const { world, scenarios } of open.splice(0)) {
    for (const s of scenarios) await s.close();
    await world.close();
  }
});

/** 20 Dexcom sources whose sensors are 1.5 s apart on the 5-minute grid, for two hours. */
async function run(batchingWindowMs: number) {
  const world = await createSimWorld({ start: START, batchingWindowMs });
  const scenarios: Scenario[] = [];
  open.push({ world, scenarios });
  const live: number[] = [];
  const record = world.metrics.timing.bind(world.metrics);
  world.metrics.timing = (name, ms) => {
    record(name, ms);
    // Readings dated after the first minutes only: the first fetch's backfill is not a freshness sample.
    if (name === 'FreshnessLagMs' && world.clock.now() - ms >= START + 10 * MIN) live.push(ms);
  };
  for (let i = 0; i < SOURCES; i++) {
    const scenario = await startScenario('dexcomshare', { clock: world.clock, id: `window-${i}`, phaseMs: i * 1_500 });
    scenarios.push(scenario);
    await world.addSource(scenario.config, scenario.credentials);
  }
  await world.runUntil(START + 2 * HOUR);
  const readings = scenarios.map((s) =>
    countReadings(s, START - DAY + 10 * MIN, START + 2 * HOUR - 10 * MIN, DEXCOM_DEVICE, START + 2 * HOUR),
  );
  return {
    receives: world.queueRequests['SQS.ReceiveMessage'] ?? 0,
    live,
    readings,
    dlq: world.fetchDlq.depth() + world.persistDlq.depth(),
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('batching window', () => {
  it('gathers several sources per receive, holds a message at most the window per hop, loses and doubles nothing', async () => {
    const none = await run(0);
    const windowed = await run(WINDOW_MS);

    for (const r of [none, windowed]) {
      expect(r.dlq).toBe(0);
      for (const c of r.readings) {
        expect(c.vendor).toBeGreaterThan(280);
        expect(c).toMatchObject({ nightscout: c.vendor, duplicates: 0, missing: 0 });
      }
    }
    // Same work, far fewer receives: the sensors' slots are 1.5 s apart, so a 5 s window gathers 3–4 of them.
    expect(windowed.receives).toBeLessThan(none.receives * 0.5);
    // Messages wait: later on average, but never more than the window on each of the two hops (plus the
    // one-second rounding of SQS delays).
    expect(windowed.live.length).toBe(none.live.length);
    expect(mean(windowed.live)).toBeGreaterThan(mean(none.live));
    expect(Math.max(...windowed.live)).toBeLessThanOrEqual(Math.max(...none.live) + 2 * WINDOW_MS + 1_000);
  }, 120_000);
});
