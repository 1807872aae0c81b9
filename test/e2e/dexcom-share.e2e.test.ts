/**
 * End to end through the real handlers on a simulated clock: Dexcom Share simulator → tick → fetch-frame → persist →
 * Nightscout simulator, with the real DynamoDB adapter on dynalite. Each test checks one guarantee of the engine.
 */

import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { runTick, TICK_LOOKAHEAD_MS } from '../../lib/app/run-tick.js';
import type { SourceContext } from '../../lib/machines/source/source.types.js';
import { DEXCOM_DEVICE } from '../../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { specFor } from '../../lib/sources/vendor.catalog.js';
import { startNightscoutSimulator } from '../../local/nightscout/nightscout.simulator.js';
import { countReadings, type Scenario } from '../../local/scenarios.js';
import { createSimWorld, type SimWorld, TABLE } from '../../local/sim-runner.js';
import {
  type DexcomShareSimulator,
  startDexcomShareSimulator,
} from '../../local/vendors/dexcom-share/dexcom-share.simulator.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 10, 23, 6, 0, 7);
const CANARY_PASSWORD = 'canary-PW-7f3a9c1e';
const CANARY_SECRET = 'canary-API-SECRET-42b8d';

let world: SimWorld | undefined;
let scenario: Scenario | undefined;
let share: DexcomShareSimulator;
afterEach(async () => {
  await scenario?.close();
  await world?.close();
  world = scenario = undefined;
});

async function setup(options: { password?: string; configPassword?: string } = {}) {
  world = await createSimWorld({ start: START });
  const clock = world.clock;
  const password = options.password ?? CANARY_PASSWORD;
  share = await startDexcomShareSimulator({ clock, accounts: [{ accountName: 'e2e-account', password }] });
  const nightscout = await startNightscoutSimulator({ apiSecret: CANARY_SECRET, clock });
  const vendor = share;
  scenario = {
    kind: 'dexcomshare',
    config: {
      id: 'e2e-dexcom',
      kind: 'dexcomshare',
      settings: { shareRegion: 'us', shareServer: share.url },
      nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
    },
    credentials: { vendor: { accountName: 'e2e-account', password }, nightscout: { apiSecret: CANARY_SECRET } },
    nightscout,
    vendorReadings: (from, until) =>
      vendor
        .readingsUpTo(until)
        .map((r) => r.date)
        .filter((d) => d >= from),
    vendorStats: () => ({ ...vendor.stats, readingsServed: vendor.stats.readingsServed.size }),
    async close() {
      await vendor.close();
      await nightscout.close();
    },
  };
  const credentials = structuredClone(scenario.credentials);
  if (options.configPassword) credentials.vendor.password = options.configPassword;
  await world.addSource(scenario.config, credentials);
  return { world, scenario };
}

/** Readings that were published at least `settle` before the end must all be in Nightscout. */
function check(w: SimWorld, s: Scenario, until: number) {
  return countReadings(s, START - DAY, until - 10 * MIN, DEXCOM_DEVICE);
}

describe('Dexcom Share → Nightscout, a simulated day', () => {
  it('delivers every reading exactly once, correct to the millisecond, with one login', async () => {
    const { world: w, scenario: s } = await setup();
    await w.runUntil(START + DAY);
    const counts = check(w, s, START + DAY);
    expect(counts.vendor).toBeGreaterThan(560); // 24 h of backfill + 24 h live
    expect(counts).toMatchObject({ nightscout: counts.vendor, duplicates: 0, missing: 0 });
    const stored = new Set(s.nightscout.store.entries.map((e) => Number(e.date)));
    for (const date of s.vendorReadings(START - DAY, START + DAY - 10 * MIN)) expect(stored.has(date)).toBe(true);
    for (const e of s.nightscout.store.entries) expect(new Date(String(e.dateString)).getTime()).toBe(Number(e.date));
    expect(s.vendorStats().login).toBe(1);
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);

    // The canary password and API secret appear nowhere: logs, queue bodies, DynamoDB items (every item, raw).
    const items = JSON.stringify((await w.dynamo.send(new ScanCommand({ TableName: TABLE }))).Items);
    expect(items).toContain('SESSION#');
    for (const haystack of [w.log.lines.join('\n'), w.sentBodies.join('\n'), items]) {
      expect(haystack).not.toContain(CANARY_PASSWORD);
      expect(haystack).not.toContain(CANARY_SECRET);
    }
    expect(w.sentBodies.length).toBeGreaterThan(500);

    // A healthy day (~290 cycles and a login) traces nothing: no extra write per cycle.
    expect(await w.sources.recentTransitions(s.config.id, 100)).toEqual([]);
  });

  it('a wrong password causes exactly one login attempt and none more over the day', async () => {
    const { world: w, scenario: s } = await setup({ configPassword: 'wrong-password' });
    await w.runUntil(START + DAY);
    expect(s.vendorStats()).toMatchObject({ authenticate: 1, failedLogins: 1, read: 0 });
    const record = await w.sources.get(s.config.id);
    expect(record?.status.state).toContain('session:rejected');
    expect(record?.status.parkedReason).toMatch(/credentials rejected/);
    expect(record?.nextDueAt).toBeUndefined();
    expect(s.nightscout.store.entries).toHaveLength(0);
    expect((await w.sources.recentTransitions(s.config.id)).at(-1)).toMatchObject({ event: 'auth.rejected' });
  });

  it('recovers after the credentials are corrected', async () => {
    const { world: w, scenario: s } = await setup({ configPassword: 'wrong-password' });
    await w.runUntil(START + HOUR);
    const { updateCredentials } = await import('../../lib/app/manage-sources.js');
    await updateCredentials(w.manage, s.config.id, s.credentials);
    await w.runUntil(START + 2 * HOUR);
    expect(s.vendorStats()).toMatchObject({ authenticate: 2, failedLogins: 1 });
    // Share serves at most 24 h back, counted from the first successful read after the fix.
    expect(countReadings(s, START + HOUR - DAY + 5 * MIN, START + 2 * HOUR - 10 * MIN, DEXCOM_DEVICE)).toMatchObject({
      missing: 0,
      duplicates: 0,
    });
  });

  it('vendor 5xx: frames retry with capped backoff, the cycle backs off, then everything arrives', async () => {
    const { world: w, scenario: s } = await setup();
    await w.runUntil(START + HOUR);
    const readsBefore = s.vendorStats().read as number;
    // Share answers 500 to every data read for two hours.
    share.inject({ kind: 'http5xx', endpoint: 'read', until: START + 3 * HOUR });
    await w.runUntil(START + 3 * HOUR);
    const readsDuringOutage = (s.vendorStats().read as number) - readsBefore;
    // Uncapped retries every minute would be ≥ 120; capped exponential backoff keeps it far lower.
    expect(readsDuringOutage).toBeGreaterThan(3);
    expect(readsDuringOutage).toBeLessThan(30);
    await w.runUntil(START + 4 * HOUR);
    expect(check(w, s, START + 4 * HOUR)).toMatchObject({ missing: 0, duplicates: 0 });
    expect(s.vendorStats().login).toBe(1);
  });

  it('Nightscout down for two hours: all readings arrive after recovery', async () => {
    const { world: w, scenario: s } = await setup();
    await w.runUntil(START + HOUR);
    s.nightscout.inject({ kind: 'down', until: START + 3 * HOUR });
    await w.runUntil(START + 3 * HOUR);
    const during = countReadings(s, START + HOUR + 5 * MIN, START + 3 * HOUR, DEXCOM_DEVICE);
    expect(during.nightscout).toBe(0);
    await w.runUntil(START + 4 * HOUR);
    expect(check(w, s, START + 4 * HOUR)).toMatchObject({ missing: 0, duplicates: 0 });
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
  });

  it('two racing ticks lose no update and send each frame once', async () => {
    const { world: w, scenario: s } = await setup();
    const deps = {
      sources: w.sources,
      specFor,
      frameQueue: w.fetchQueue,
      clock: w.clock,
      log: w.log,
      metrics: w.metrics,
    };
    const [a, b] = await Promise.all([runTick(deps), runTick(deps)]);
    expect(a.framesSent + b.framesSent).toBe(1);
    const record = await w.sources.get(s.config.id);
    expect(record?.version).toBe(2);
    expect(record?.status.state).toContain('fetching');
  });

  it("a frame lost between the tick's save and its send is resent from the due index, and nothing is missed", async () => {
    const { world: w, scenario: s } = await setup();
    await w.runUntil(START + HOUR);
    // The next tick that dispatches saves its frame as in flight, then "crashes" before SQS accepts it.
    const send = w.fetchQueue.send.bind(w.fetchQueue);
    let lost = 0;
    w.fetchQueue.send = async (messages) => {
      if (lost === 0 && messages.length > 0) {
        lost = messages.length;
        throw new Error('simulated crash before SendMessage');
      }
      return send(messages);
    };
    // The tick invocation fails like a Lambda would (the scheduler's retry is just another tick).
    const tick = w.tick.bind(w);
    w.tick = async () => {
      try {
        await tick();
      } catch (err) {
        if (!String(err).includes('simulated crash')) throw err;
      }
    };
    await w.runUntil(START + HOUR + 5 * MIN);
    expect(lost).toBe(1);
    const record = await w.sources.get(s.config.id);
    // Still in flight and still in the due index, at an instant the tick keeps finding.
    expect(record?.status.state).toContain('fetching');
    const frame = (record?.snapshot as { context: SourceContext }).context.loops.DexcomShare.frame;
    expect(record?.nextDueAt).toBeLessThan(frame!.resendAt);
    expect(record?.nextDueAt).toBeLessThanOrEqual(w.clock.now() + TICK_LOOKAHEAD_MS);
    await w.runUntil(START + 2 * HOUR);
    expect(
      (await w.sources.recentTransitions(s.config.id)).some(
        (t) => t.event === 'clock.ticked' && t.effects.includes('requestFrame'),
      ),
    ).toBe(true);
    expect(check(w, s, START + 2 * HOUR)).toMatchObject({ missing: 0, duplicates: 0 });
  });

  it('a redelivered message duplicates nothing', async () => {
    const { world: w, scenario: s } = await setup();
    await w.runUntil(START + 30 * MIN);
    // Capture the next persist message and deliver it a second time after it succeeded.
    const sent: string[] = [];
    const original = w.persistQueue.send.bind(w.persistQueue);
    w.persistQueue.send = async (messages) => {
      sent.push(...messages.map((m) => JSON.stringify(m.body)));
      return original(messages);
    };
    await w.runUntil(START + 45 * MIN);
    expect(sent.length).toBeGreaterThan(0);
    const before = s.nightscout.store.entries.length;
    await w.persistQueue.send(sent.map((body) => ({ body: JSON.parse(body), delaySeconds: 0 })));
    await w.drain();
    expect(s.nightscout.store.entries.length).toBe(before);
    expect(check(w, s, START + 45 * MIN)).toMatchObject({ duplicates: 0, missing: 0 });
  });
});
