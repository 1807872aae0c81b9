/**
 * Fault runs for LibreLinkUp and Glooko, end to end through the real handlers on a simulated clock (createSimWorld:
 * tick → fetch-frame → persist, real DynamoDB adapter on dynalite, memory queues), with the vendor and Nightscout
 * simulators on 127.0.0.1. Per source: a simulated day (every published reading exactly once, to the millisecond; the
 * canary password and API secret nowhere), each documented error outcome the simulators can produce, and a two-hour
 * Nightscout outage.
 *
 * Request bounds are not measured figures: `policyBound` derives the most requests a loop's own retry and backoff
 * policy allows in a window when every attempt fails (shortest jittered delays, Retry-After honoured), so a change
 * that tightens a retry loop fails here while a retuned policy does not need the test edited.
 */

import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { updateCredentials } from '../../lib/app/manage-sources.js';
import { type BackoffPolicy, backoffCeiling } from '../../lib/domain/backoff.js';
import type { SourceConfig, SourceCredentials } from '../../lib/domain/source.js';
import type { SourceContext } from '../../lib/machines/source/source.types.js';
import { assembleDriver } from '../../lib/sources/driver.builder.js';
import { GLOOKO_DEVICE } from '../../lib/sources/glooko/glooko.vendor.js';
import { libreLinkUpSource } from '../../lib/sources/librelinkup/librelinkup.source.js';
import {
  DEFAULT_LINK_UP_PRODUCT,
  DEFAULT_LINK_UP_VERSION,
  LIBRELINKUP_DEVICE,
  libreLinkUpVendor,
} from '../../lib/sources/librelinkup/librelinkup.vendor.js';
import { scheduleFor } from '../../lib/sources/vendor.catalog.js';
import {
  type NightscoutSimulator,
  type StoredDocument,
  startNightscoutSimulator,
} from '../../local/nightscout/nightscout.simulator.js';
import { RecordingLog } from '../../local/recording.observability.js';
import { createSimWorld, type SimWorld, TABLE } from '../../local/sim-runner.js';
import { type GlookoSimulator, startGlookoSimulator } from '../../local/vendors/glooko/glooko.simulator.js';
import {
  type LibreEndpoint,
  type LibreLinkUpSimulator,
  startLibreLinkUpSimulator,
} from '../../local/vendors/librelinkup/librelinkup.simulator.js';

const libreLinkUpDriver = assembleDriver(libreLinkUpVendor, libreLinkUpSource, {});
const parseLibreLinkUpSettings = libreLinkUpVendor.parseSettings;

const SEC = 1000;
const MIN = 60 * SEC;
const FIVE_MIN = 5 * MIN;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Readings must have been published at least this long before the end of a run to be owed. */
const SETTLE_MS = 10 * MIN;
/** Margin at the old edge of the look-back window (the first frame starts a little after the run does). */
const EDGE_MS = 10 * MIN;
/** The LibreLinkUp simulator's graph lag (newest graph row behind the current reading) and graphData window. */
const GRAPH_LAG_MS = 15 * MIN;
const GRAPH_WINDOW_MS = 12 * HOUR;
const CANARY_PASSWORD = 'canary-PW-5d1e0b77';
const CANARY_SECRET = 'canary-API-SECRET-9c4f21';
const WRONG_PASSWORD = 'canary-WRONG-PW-33aa';
/** Every e2e test here simulates at most a day and a bit; this is wall time. */
const TEST_TIMEOUT_MS = 60_000;

const cleanups: Array<() => Promise<void>> = [];
const figures: string[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(() => {
  if (figures.length) console.log(['fault-run figures:', ...figures].join('\n'));
});

const iso = (t: number) => new Date(t).toISOString();

/** Instants on a `step` grid with phase `phase`, in [from, to]. */
function grid(from: number, to: number, step: number, phase = 0): number[] {
  const out: number[] = [];
  for (let t = Math.ceil((from - phase) / step) * step + phase; t <= to; t += step) out.push(t);
  return out;
}

/**
 * The most requests a loop's policy allows in `windowMs` when every attempt fails from the window's start on: the
 * attempts of one frame spaced by the shortest jittered retry delay (half the ceiling, see `backoffDelay`), cycles
 * spaced by the shortest cycle backoff, each never shorter than Retry-After. A permanent error ends a cycle after one
 * attempt (`attemptsPerCycle: 1`).
 */
function policyBound(
  loop: { attempts: number; retry: BackoffPolicy; backoff: BackoffPolicy },
  windowMs: number,
  options: { attemptsPerCycle?: number; retryAfterMs?: number } = {},
): number {
  const perCycle = options.attemptsPerCycle ?? loop.attempts;
  const retryAfter = options.retryAfterMs ?? 0;
  let t = 0;
  let n = 0;
  for (let cycle = 1; ; cycle++) {
    for (let attempt = 1; attempt <= perCycle; attempt++) {
      if (t >= windowMs) return n;
      n++;
      if (attempt < perCycle) t += Math.max(backoffCeiling(loop.retry, attempt) / 2, retryAfter);
    }
    t += Math.max(backoffCeiling(loop.backoff, cycle) / 2, retryAfter);
  }
}

function minGap(instants: number[]): number {
  let gap = Infinity;
  for (let i = 1; i < instants.length; i++) gap = Math.min(gap, instants[i] - instants[i - 1]);
  return gap;
}

interface Rig {
  world: SimWorld;
  nightscout: NightscoutSimulator;
  config: SourceConfig;
  /** The correct credentials (the source may have been added with a wrong password). */
  credentials: SourceCredentials;
  /** Everything that must never leak: the canary password, the API secret, and any wrong password configured. */
  secrets: string[];
}

async function baseRig(start: number): Promise<{ world: SimWorld; nightscout: NightscoutSimulator }> {
  const world = await createSimWorld({ start });
  cleanups.push(() => world.close());
  const nightscout = await startNightscoutSimulator({ apiSecret: CANARY_SECRET, clock: world.clock });
  cleanups.push(() => nightscout.close());
  return { world, nightscout };
}

/** Entries of one device in Nightscout by `date`, checking each is dated consistently to the millisecond. */
function entriesByDate(nightscout: NightscoutSimulator, device: string): Map<number, StoredDocument[]> {
  const byDate = new Map<number, StoredDocument[]>();
  for (const e of nightscout.store.entries) {
    if (e.device !== device) continue;
    expect(typeof e.date).toBe('number');
    expect(Date.parse(String(e.dateString))).toBe(e.date);
    const list = byDate.get(e.date as number) ?? [];
    list.push(e);
    byDate.set(e.date as number, list);
  }
  return byDate;
}

/** Every owed instant is in Nightscout exactly once, and no instant is there twice. */
function expectExactlyOnce(nightscout: NightscoutSimulator, device: string, owed: number[], what: string): void {
  expect(owed.length, `${what}: nothing owed, the check would be empty`).toBeGreaterThan(0);
  const byDate = entriesByDate(nightscout, device);
  const missing = owed.filter((d) => !byDate.has(d)).map(iso);
  const twice = [...byDate].filter(([, list]) => list.length > 1).map(([d]) => iso(d));
  expect({ missing, twice }, what).toEqual({ missing: [], twice: [] });
}

/** The canaries appear in no log line, queue body, DynamoDB item (raw scan, source list, session) or Nightscout document. */
async function expectNoSecrets(rig: Rig): Promise<void> {
  const { world, nightscout, config } = rig;
  const scan = await world.dynamo.send(new ScanCommand({ TableName: TABLE }));
  const session = await world.sessions.get(config.id);
  expect(scan.Items?.length ?? 0).toBeGreaterThan(0);
  expect(world.sentBodies.length).toBeGreaterThan(0);
  const haystacks: Record<string, string> = {
    log: world.log.lines.join('\n'),
    queueBodies: world.sentBodies.join('\n'),
    dynamoScan: JSON.stringify(scan.Items),
    dynamoSources: JSON.stringify(await world.sources.list()),
    dynamoSession: JSON.stringify(session ?? null),
    nightscout: JSON.stringify(nightscout.store),
  };
  for (const [where, text] of Object.entries(haystacks)) {
    for (const secret of rig.secrets) expect(text.includes(secret), `a secret appears in ${where}`).toBe(false);
  }
}

async function healthyEnd(rig: Rig): Promise<void> {
  const record = await rig.world.sources.get(rig.config.id);
  expect(record?.status.parkedReason).toBeUndefined();
  expect(rig.world.fetchDlq.depth() + rig.world.persistDlq.depth()).toBe(0);
}

function contextOfRecord(record: { snapshot: unknown } | undefined): SourceContext {
  return (record?.snapshot as { context: SourceContext }).context;
}

// ---------------------------------------------------------------------------------------------------------------
// LibreLinkUp

interface LibreRig extends Rig {
  libre: LibreLinkUpSimulator;
  email: string;
  /** Every request the simulator saw, with the simulated instant it arrived. */
  calls: Array<{ endpoint: LibreEndpoint; at: number }>;
  glucose: (t: number) => number;
}

const LIBRE_REGIONS = ['AE', 'AP', 'AU', 'CA', 'DE', 'EU', 'EU2', 'FR', 'JP', 'US', 'LA', 'RU', 'CN'];

async function libreRig(
  start: number,
  options: {
    configPassword?: string;
    minimumVersion?: string;
    termsPending?: Array<'tou' | 'pp'>;
    lockoutSeconds?: number;
    timeZone?: string;
  } = {},
): Promise<LibreRig> {
  const { world, nightscout } = await baseRig(start);
  const clock = world.clock;
  const email = 'fault-follower@example.invalid';
  const glucose = (t: number) => 130 + 50 * Math.sin((2 * Math.PI * t) / (3 * HOUR));
  const libre = await startLibreLinkUpSimulator({
    clock,
    graphLagMs: GRAPH_LAG_MS,
    ...(options.minimumVersion ? { minimumVersion: options.minimumVersion } : {}),
    lockoutPolicy: { failures: 3, windowSeconds: 60, lockoutSeconds: options.lockoutSeconds ?? 300 },
    accounts: [
      {
        email,
        password: CANARY_PASSWORD,
        region: 'eu',
        termsPending: options.termsPending,
        patients: [
          { patientId: 'fault-patient-1', firstName: 'Fault', timeZone: options.timeZone ?? 'Europe/Berlin', glucose },
        ],
      },
    ],
  });
  cleanups.push(() => libre.close());
  const calls: LibreRig['calls'] = [];
  const push = libre.requests.push.bind(libre.requests);
  libre.requests.push = (...records) => {
    for (const r of records) calls.push({ endpoint: r.endpoint, at: clock.now() });
    return push(...records);
  };
  // Every region points at the simulator, so no redirect could ever reach a real Abbott host.
  const hosts = Object.fromEntries(LIBRE_REGIONS.map((region) => [region, libre.hostFor(region)]));
  const config: SourceConfig = {
    id: 'fault-librelinkup',
    kind: 'librelinkup',
    settings: { linkUpRegion: 'EU', linkUpHosts: JSON.stringify(hosts) },
    nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
  };
  const credentials: SourceCredentials = {
    vendor: { username: email, password: CANARY_PASSWORD },
    nightscout: { apiSecret: CANARY_SECRET },
  };
  const configured = structuredClone(credentials);
  if (options.configPassword) configured.vendor.password = options.configPassword;
  await world.addSource(config, configured);
  return {
    world,
    nightscout,
    config,
    credentials,
    secrets: [CANARY_PASSWORD, CANARY_SECRET, WRONG_PASSWORD],
    libre,
    email,
    calls,
    glucose,
  };
}

const libreLoop = () => libreLinkUpDriver.loops[0];
const loginsOf = (rig: LibreRig, from = 0, to = Infinity) =>
  rig.calls.filter((c) => c.endpoint === 'login' && c.at >= from && c.at < to);
const graphCallsOf = (rig: LibreRig, from = 0, to = Infinity) =>
  rig.calls.filter((c) => c.endpoint === 'graph' && c.at >= from && c.at < to);
/** Graph rows a `/graph` call at instant t carries at its newest. */
const newestGraphRow = (t: number) => Math.floor((t - GRAPH_LAG_MS) / FIVE_MIN) * FIVE_MIN;

/** A login from outside the engine (the phone app, another tool), straight at the account's regional host. */
async function appLogin(rig: LibreRig, password: string): Promise<{ status?: number; data?: any }> {
  const res = await fetch(`${rig.libre.hostFor('eu')}/llu/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', version: DEFAULT_LINK_UP_VERSION, product: DEFAULT_LINK_UP_PRODUCT },
    body: JSON.stringify({ email: rig.email, password }),
  });
  return (await res.json()) as { status?: number; data?: any };
}

/** What a person does in the LibreLinkUp app: log in, accept the pending terms step. */
async function acceptTermsInApp(rig: LibreRig): Promise<void> {
  const login = await appLogin(rig, CANARY_PASSWORD);
  expect(login.status).toBe(4);
  const res = await fetch(`${rig.libre.hostFor('eu')}/auth/continue/${login.data.step.type}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${login.data.authTicket.token}`,
      version: DEFAULT_LINK_UP_VERSION,
      product: DEFAULT_LINK_UP_PRODUCT,
    },
  });
  expect(((await res.json()) as { status?: number }).status).toBe(0);
}

/** The driver's own error for a login now, for the human-readable reason the stored status reduces to a code. */
async function libreLoginError(rig: LibreRig): Promise<Error> {
  const ctx = {
    sourceId: 'fault-message-check',
    settings: parseLibreLinkUpSettings(rig.config.settings),
    credentials: rig.credentials,
    now: rig.world.clock.now(),
    log: new RecordingLog(),
  };
  return libreLinkUpDriver.session.authenticate(ctx).then(
    () => {
      throw new Error('login unexpectedly succeeded');
    },
    (err: Error) => err,
  );
}

/** The first frame after (re)starting has no cursor: its whole graph window must land, each row once. */
function expectLibreBackfill(rig: LibreRig, startedAt: number, what: string): void {
  const first = graphCallsOf(rig, startedAt)[0];
  expect(first, `${what}: no graph call after ${iso(startedAt)}`).toBeDefined();
  const rows = grid(startedAt - libreLoop().maxLookbackMs + EDGE_MS, newestGraphRow(first.at), FIVE_MIN);
  expectExactlyOnce(rig.nightscout, LIBRELINKUP_DEVICE, rows, what);
}

describe('LibreLinkUp fault runs', () => {
  it(
    'a simulated day across the Australia/Sydney fall-back: every graph row and current measurement exactly once, to the ms; one login; no canary anywhere',
    async () => {
      // 2026-04-04 16:00 UTC: Sydney goes from AEDT back to AEST, so the rows' local Timestamp repeats an hour.
      const start = Date.UTC(2026, 3, 4, 6, 0, 7);
      const end = start + DAY;
      const wall = performance.now();
      const rig = await libreRig(start, { timeZone: 'Australia/Sydney' });
      await rig.world.runUntil(end);

      const from = start - libreLoop().maxLookbackMs + EDGE_MS;
      const until = end - SETTLE_MS;
      const graphRows = grid(from, newestGraphRow(until), FIVE_MIN);
      const polls = graphCallsOf(rig, 0, until + 1);
      // Each poll carried the current (1-minute) measurement of its minute.
      const currents = [...new Set(polls.map((c) => Math.floor(c.at / MIN) * MIN))];
      const owed = [...new Set([...graphRows, ...currents])].sort((a, b) => a - b);
      expect(polls.length).toBeGreaterThanOrEqual(Math.floor((until - start) / libreLoop().intervalMs) - 1);
      expectExactlyOnce(
        rig.nightscout,
        LIBRELINKUP_DEVICE,
        owed,
        'LibreLinkUp day: graph rows and current measurements',
      );

      // Nothing invented, values as the vendor served them.
      // The first poll's graph window (12 h back from its newest row) is the oldest anything could come from.
      const oldestServed = newestGraphRow(polls[0].at) - GRAPH_WINDOW_MS + FIVE_MIN;
      const served = new Set([
        ...grid(oldestServed, newestGraphRow(end), FIVE_MIN),
        ...graphCallsOf(rig).map((c) => Math.floor(c.at / MIN) * MIN),
      ]);
      const byDate = entriesByDate(rig.nightscout, LIBRELINKUP_DEVICE);
      expect([...byDate.keys()].filter((d) => !served.has(d)).map(iso)).toEqual([]);
      for (const [date, [entry]] of byDate) expect(entry.sgv, iso(date)).toBe(Math.round(rig.glucose(date)));

      expect(loginsOf(rig)).toHaveLength(1);
      expect(rig.libre.stats.failedLogins).toBe(0);
      await healthyEnd(rig);
      expect(await rig.world.sessions.get(rig.config.id)).toBeDefined();
      await expectNoSecrets(rig);
      figures.push(
        `librelinkup day: polls=${polls.length} owed=${owed.length} stored=${byDate.size} logins=${loginsOf(rig).length} wall=${((performance.now() - wall) / 1000).toFixed(1)} s`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'wrong password: exactly one login attempt all day, parked as auth rejected, no data; updated credentials resume with a backfill',
    async () => {
      const start = Date.UTC(2026, 5, 1, 12, 0, 7);
      const rig = await libreRig(start, { configPassword: WRONG_PASSWORD });
      await rig.world.runUntil(start + DAY);

      expect(loginsOf(rig)).toHaveLength(1);
      expect(rig.libre.stats).toMatchObject({ failedLogins: 1, connections: 0, graph: 0 });
      const parked = await rig.world.sources.get(rig.config.id);
      expect(parked?.status.state).toContain('session:rejected');
      expect(parked?.status.parkedReason).toMatch(/credentials rejected \(LIBRELINKUP\.AUTH_REJECTED\)/);
      expect(parked?.nextDueAt).toBeUndefined();
      expect(rig.nightscout.store.entries).toHaveLength(0);

      const fixedAt = rig.world.clock.now();
      await updateCredentials(rig.world.manage, rig.config.id, rig.credentials);
      await rig.world.runUntil(fixedAt + HOUR);
      expect(loginsOf(rig)).toHaveLength(2);
      expect(loginsOf(rig, fixedAt)[0].at - fixedAt).toBeLessThanOrEqual(2 * MIN);
      expectLibreBackfill(rig, fixedAt, 'LibreLinkUp backfill after the credentials were fixed');
      await healthyEnd(rig);
      await expectNoSecrets(rig);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '429 lockout with `lockout` seconds: no login before the lock ends, then recovery with a backfill',
    async () => {
      const start = Date.UTC(2026, 5, 2, 8, 0, 7);
      const lockoutSeconds = 40 * 60;
      const rig = await libreRig(start, { lockoutSeconds });
      // Someone mistypes the password in the app three times within a minute: Abbott locks the account.
      for (let i = 0; i < 3; i++) expect((await appLogin(rig, 'mistyped-in-the-app')).status).toBe(2);
      const lockEnd = start + lockoutSeconds * SEC;
      const engineFrom = rig.calls.length;
      const engineLogins = () => rig.calls.slice(engineFrom).filter((c) => c.endpoint === 'login');

      await rig.world.runUntil(start + 10 * MIN);
      expect(engineLogins()).toHaveLength(1);
      const locked = await rig.world.sources.get(rig.config.id);
      expect(locked?.status.state).toContain('session:lockedOut');
      expect(locked?.status.lockedUntil).toBeGreaterThanOrEqual(lockEnd);
      expect(locked?.status.lastError).toMatchObject({ kind: 'lockedOut', code: 'LIBRELINKUP.LOCKED' });
      expect(locked?.nextDueAt).toBeGreaterThanOrEqual(lockEnd);

      await rig.world.runUntil(start + 2 * HOUR);
      const logins = engineLogins();
      expect(logins).toHaveLength(2);
      expect(logins[1].at).toBeGreaterThanOrEqual(lockEnd);
      expect(logins[1].at - lockEnd).toBeLessThanOrEqual(2 * MIN);
      expect(rig.libre.stats.failedLogins).toBe(3);
      expectLibreBackfill(rig, lockEnd, 'LibreLinkUp backfill after the lockout');
      await healthyEnd(rig);
      await expectNoSecrets(rig);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'terms step (status 4): parked with the terms reason, no retry loop; accepted in the app and re-saved, it resumes',
    async () => {
      const start = Date.UTC(2026, 5, 3, 8, 0, 7);
      const rig = await libreRig(start, { termsPending: ['tou'] });
      await rig.world.runUntil(start + DAY);

      expect(loginsOf(rig)).toHaveLength(1);
      expect(rig.libre.stats).toMatchObject({ termsAccepted: 0, failedLogins: 0, graph: 0 });
      const parked = await rig.world.sources.get(rig.config.id);
      expect(parked?.status.state).toContain('session:rejected');
      expect(parked?.status.parkedReason).toMatch(
        /accept the new terms in the LibreLinkUp app.*LIBRELINKUP\.TERMS_REQUIRED/,
      );
      expect(parked?.nextDueAt).toBeUndefined();
      expect(rig.nightscout.store.entries).toHaveLength(0);
      // The driver's own error says the same (what a one-off `check-login` shows).
      expect((await libreLoginError(rig)).message).toMatch(/accept the new terms in the LibreLinkUp app/);

      await acceptTermsInApp(rig);
      const resavedAt = rig.world.clock.now();
      await updateCredentials(rig.world.manage, rig.config.id, rig.credentials);
      await rig.world.runUntil(resavedAt + HOUR);
      expect(loginsOf(rig, resavedAt)).toHaveLength(3); // the message check, the app, the engine
      expect(rig.libre.stats.termsAccepted).toBe(1);
      expectLibreBackfill(rig, resavedAt, 'LibreLinkUp backfill after the terms were accepted');
      await healthyEnd(rig);
      await expectNoSecrets(rig);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'app version below the minimum (status 920): permanent, the message names the version, logins bounded by the cycle backoff',
    async () => {
      const start = Date.UTC(2026, 5, 4, 8, 0, 7);
      const minimumVersion = '9.1.0';
      const rig = await libreRig(start, { minimumVersion });
      await rig.world.runUntil(start + DAY);

      const logins = loginsOf(rig).map((c) => c.at);
      const loop = libreLoop();
      const bound = policyBound(loop, DAY, { attemptsPerCycle: 1 });
      expect(logins.length).toBeGreaterThanOrEqual(1);
      expect(logins.length).toBeLessThanOrEqual(bound);
      expect(minGap(logins)).toBeGreaterThanOrEqual(loop.backoff.baseMs / 2);
      expect(rig.libre.stats).toMatchObject({ failedLogins: 0, graph: 0 });
      const record = await rig.world.sources.get(rig.config.id);
      expect(record?.status.lastError).toMatchObject({ kind: 'permanent', code: 'LIBRELINKUP.VERSION_TOO_OLD' });
      expect(rig.nightscout.store.entries).toHaveLength(0);
      const message = (await libreLoginError(rig)).message;
      expect(message).toContain(`requires app version ${minimumVersion}`);
      expect(message).toContain(`CONNECT_LINK_UP_VERSION=${minimumVersion}`);
      await expectNoSecrets(rig);
      figures.push(
        `librelinkup 920 (version too old): logins/day=${logins.length} (policy bound ${bound}), min gap=${(minGap(logins) / MIN).toFixed(1)} min`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it.each([
    {
      fault: 'forbidden' as const,
      code: 'LIBRELINKUP.FORBIDDEN',
      kind: 'permanent',
      attemptsPerCycle: 1,
      retryAfterMs: 0,
    },
    // The driver asks for 15 min after a 430 (Cloudflare), so each retry and each cycle waits at least that long.
    {
      fault: 'http430' as const,
      code: 'LIBRELINKUP.HTTP_430',
      kind: 'retryable',
      attemptsPerCycle: undefined,
      retryAfterMs: 15 * MIN,
    },
  ])(
    '$fault on /graph for an hour: classified $code, bounded attempts, then every row since the cursor arrives',
    async ({ fault, code, kind, attemptsPerCycle, retryAfterMs }) => {
      const start = Date.UTC(2026, 5, 5, 8, 0, 7);
      const rig = await libreRig(start);
      await rig.world.runUntil(start + HOUR);
      const cursorBefore = contextOfRecord(await rig.world.sources.get(rig.config.id)).loops.LibreLinkUp.cursor
        ?.entries;
      expect(cursorBefore).toBeDefined();

      const faultStart = rig.world.clock.now();
      const faultEnd = faultStart + HOUR;
      rig.libre.inject({ kind: fault, endpoint: 'graph' });
      await rig.world.runUntil(faultEnd);
      const during = await rig.world.sources.get(rig.config.id);
      expect(during?.status.lastError).toMatchObject({ kind, code });
      expect(during?.status.parkedReason).toBeUndefined();
      const attempts = graphCallsOf(rig, faultStart, faultEnd).map((c) => c.at);
      const loop = libreLoop();
      const bound = policyBound(loop, HOUR, { attemptsPerCycle, retryAfterMs });
      expect(attempts.length).toBeGreaterThanOrEqual(1);
      expect(attempts.length).toBeLessThanOrEqual(bound);
      expect(minGap(attempts)).toBeGreaterThanOrEqual(
        Math.max(retryAfterMs, Math.min(loop.retry.baseMs, loop.backoff.baseMs) / 2),
      );

      rig.libre.clearFaults();
      await rig.world.runUntil(faultEnd + HOUR);
      const recovered = graphCallsOf(rig, faultEnd)[0];
      expect(recovered).toBeDefined();
      // The longest the loop can still be waiting when the fault clears: one capped cycle backoff (or Retry-After), plus the tick.
      expect(recovered.at - faultEnd).toBeLessThanOrEqual(Math.max(loop.backoff.capMs, retryAfterMs) + MIN);
      // Rows newer than the cursor the outage began with are owed once the vendor answers again.
      const owed = grid(cursorBefore! + 1, newestGraphRow(recovered.at), FIVE_MIN);
      expectExactlyOnce(rig.nightscout, LIBRELINKUP_DEVICE, owed, `LibreLinkUp rows across the ${fault} hour`);
      expect(loginsOf(rig)).toHaveLength(1);
      await healthyEnd(rig);
      figures.push(
        `librelinkup ${fault} 1 h: graph attempts=${attempts.length} (policy bound ${bound}), min gap=${(minGap(attempts) / MIN).toFixed(1)} min, first success ${((recovered.at - faultEnd) / MIN).toFixed(1)} min after the fault`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'Nightscout down for two hours: every row since the cursor arrives afterwards, none twice',
    async () => {
      const start = Date.UTC(2026, 5, 6, 8, 0, 7);
      const rig = await libreRig(start);
      await rig.world.runUntil(start + HOUR);
      const cursorBefore = contextOfRecord(await rig.world.sources.get(rig.config.id)).loops.LibreLinkUp.cursor
        ?.entries;
      expect(cursorBefore).toBeDefined();
      const downFrom = rig.world.clock.now();
      const downUntil = downFrom + 2 * HOUR;
      const storedBefore = rig.nightscout.store.entries.length;
      rig.nightscout.inject({ kind: 'down', until: downUntil });
      await rig.world.runUntil(downUntil);
      expect(rig.nightscout.store.entries.length).toBe(storedBefore);

      await rig.world.runUntil(downUntil + HOUR);
      const owed = grid(cursorBefore! + 1, newestGraphRow(downUntil + HOUR - SETTLE_MS), FIVE_MIN);
      expectExactlyOnce(rig.nightscout, LIBRELINKUP_DEVICE, owed, 'LibreLinkUp rows across the Nightscout outage');
      expect(loginsOf(rig)).toHaveLength(1);
      await healthyEnd(rig);
      await expectNoSecrets(rig);
    },
    TEST_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Glooko

interface GlookoRig extends Rig {
  glooko: GlookoSimulator;
  calls: Array<{ method: string; path: string; at: number }>;
}

const SIGN_IN = '/api/v2/users/sign_in';

async function glookoRig(
  start: number,
  options: { configPassword?: string; timeZone?: string } = {},
): Promise<GlookoRig> {
  const { world, nightscout } = await baseRig(start);
  const clock = world.clock;
  const email = 'fault-glooko@example.invalid';
  const timeZone = options.timeZone ?? 'Europe/Berlin';
  const glooko = await startGlookoSimulator({ email, password: CANARY_PASSWORD, timeZone, clock });
  cleanups.push(() => glooko.close());
  const calls: GlookoRig['calls'] = [];
  const push = glooko.requestLog.push.bind(glooko.requestLog);
  glooko.requestLog.push = (...records) => {
    for (const r of records) calls.push({ method: r.method, path: r.path, at: clock.now() });
    return push(...records);
  };
  const config: SourceConfig = {
    id: 'fault-glooko',
    kind: 'glooko',
    settings: { glookoServer: glooko.url, glookoTimezone: timeZone },
    nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
  };
  const credentials: SourceCredentials = {
    vendor: { email, password: CANARY_PASSWORD },
    nightscout: { apiSecret: CANARY_SECRET },
  };
  const configured = structuredClone(credentials);
  if (options.configPassword) configured.vendor.password = options.configPassword;
  await world.addSource(config, configured);
  return {
    world,
    nightscout,
    config,
    credentials,
    secrets: [CANARY_PASSWORD, CANARY_SECRET, WRONG_PASSWORD],
    glooko,
    calls,
  };
}

const glookoLoop = () => scheduleFor({ kind: 'glooko', settings: {} })[0];
const signInsOf = (rig: GlookoRig, from = 0, to = Infinity) =>
  rig.calls.filter((c) => c.method === 'POST' && c.path === SIGN_IN && c.at >= from && c.at < to);
const dataGetsOf = (rig: GlookoRig, from = 0, to = Infinity) =>
  rig.calls.filter((c) => c.method === 'GET' && c.at >= from && c.at < to);
/** One poll asks the three endpoints (boluses, basals, CGM readings) at once. */
const GLOOKO_ENDPOINTS_PER_POLL = 3;

function glookoTreatmentsOwed(rig: GlookoRig, from: number, until: number): Array<{ at: number; eventType: string }> {
  const truth = rig.glooko.truth(from, until);
  return [
    ...truth.boluses.map((b) => ({ at: b.instant, eventType: b.carbs > 0 ? 'Meal Bolus' : 'Correction Bolus' })),
    ...truth.basals.map((b) => ({ at: b.instant, eventType: 'Temp Basal' })),
  ];
}

/** Readings and treatments the vendor holds in [from, until] are in Nightscout exactly once, at their real instants. */
function expectGlookoExactlyOnce(rig: GlookoRig, from: number, until: number, what: string): void {
  expectExactlyOnce(
    rig.nightscout,
    GLOOKO_DEVICE,
    rig.glooko.truth(from, until).readings.map((r) => r.instant),
    `${what}: readings`,
  );
  const key = (at: number, eventType: string) => `${iso(at)} ${eventType}`;
  const stored = new Map<string, number>();
  for (const t of rig.nightscout.store.treatments) {
    const k = key(Date.parse(String(t.created_at)), String(t.eventType));
    stored.set(k, (stored.get(k) ?? 0) + 1);
  }
  const owed = glookoTreatmentsOwed(rig, from, until);
  expect(owed.length, `${what}: no treatment owed`).toBeGreaterThan(0);
  expect(
    owed.filter((o) => stored.get(key(o.at, o.eventType)) !== 1).map((o) => key(o.at, o.eventType)),
    `${what}: treatments`,
  ).toEqual([]);
  expect(
    [...stored].filter(([, n]) => n > 1).map(([k]) => k),
    `${what}: treatments twice`,
  ).toEqual([]);
}

describe('Glooko fault runs', () => {
  it(
    'a simulated day across the America/New_York spring-forward: every reading and treatment exactly once, to the ms; one sign-in; no canary anywhere',
    async () => {
      // 2026-03-08 07:00 UTC: New York skips 02:00–03:00 local; Glooko's wall-time labels jump an hour.
      const start = Date.UTC(2026, 2, 7, 18, 0, 0);
      const end = start + DAY;
      const wall = performance.now();
      const rig = await glookoRig(start, { timeZone: 'America/New_York' });
      await rig.world.runUntil(end);

      const lookback = glookoLoop().maxLookbackMs;
      expectGlookoExactlyOnce(rig, start - lookback + EDGE_MS, end - SETTLE_MS, 'Glooko day');
      // Nothing invented: every stored reading is one the vendor holds, with its value.
      const truth = new Map(rig.glooko.truth(start - lookback - HOUR, end).readings.map((r) => [r.instant, r.value]));
      const byDate = entriesByDate(rig.nightscout, GLOOKO_DEVICE);
      expect([...byDate.keys()].filter((d) => !truth.has(d)).map(iso)).toEqual([]);
      for (const [date, [entry]] of byDate) expect(entry.sgv, iso(date)).toBe(truth.get(date));

      expect(signInsOf(rig)).toHaveLength(1);
      await healthyEnd(rig);
      expect(await rig.world.sessions.get(rig.config.id)).toBeDefined();
      await expectNoSecrets(rig);
      figures.push(
        `glooko day: readings=${byDate.size} treatments=${rig.nightscout.store.treatments.length} sign-ins=${signInsOf(rig).length} data GETs=${dataGetsOf(rig).length} wall=${((performance.now() - wall) / 1000).toFixed(1)} s`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'wrong password: exactly one sign-in attempt all day, parked as auth rejected, no data; updated credentials resume with a backfill',
    async () => {
      const start = Date.UTC(2026, 5, 1, 12, 0, 0);
      const rig = await glookoRig(start, { configPassword: WRONG_PASSWORD });
      await rig.world.runUntil(start + DAY);

      expect(signInsOf(rig)).toHaveLength(1);
      expect(rig.glooko.signIns).toBe(0);
      expect(dataGetsOf(rig)).toHaveLength(0);
      const parked = await rig.world.sources.get(rig.config.id);
      expect(parked?.status.state).toContain('session:rejected');
      expect(parked?.status.parkedReason).toMatch(/credentials rejected \(GLOOKO\.HTTP_401\)/);
      expect(parked?.nextDueAt).toBeUndefined();
      expect(rig.nightscout.store.entries).toHaveLength(0);

      const fixedAt = rig.world.clock.now();
      await updateCredentials(rig.world.manage, rig.config.id, rig.credentials);
      await rig.world.runUntil(fixedAt + HOUR);
      expect(signInsOf(rig)).toHaveLength(2);
      expect(rig.glooko.signIns).toBe(1);
      // The look-back (48 h) reaches over the whole parked day.
      expectGlookoExactlyOnce(
        rig,
        fixedAt - glookoLoop().maxLookbackMs + EDGE_MS,
        fixedAt + HOUR - SETTLE_MS,
        'Glooko backfill after the fix',
      );
      await healthyEnd(rig);
      await expectNoSecrets(rig);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'vendor 5xx for an hour: capped backoff (requests bounded by the policy), then every reading of the outage arrives',
    async () => {
      const start = Date.UTC(2026, 5, 2, 6, 0, 0);
      const rig = await glookoRig(start);
      await rig.world.runUntil(start + HOUR);
      const outageStart = rig.world.clock.now();
      const outageEnd = outageStart + HOUR;
      rig.glooko.inject({ kind: 'status', status: 503, until: outageEnd });
      await rig.world.runUntil(outageEnd);

      const during = await rig.world.sources.get(rig.config.id);
      expect(during?.status.lastError).toMatchObject({ kind: 'retryable', code: 'GLOOKO.HTTP_503' });
      const loop = glookoLoop();
      const gets = dataGetsOf(rig, outageStart, outageEnd);
      const polls = [...new Set(gets.map((c) => c.at))];
      const bound = policyBound(loop, HOUR);
      expect(polls.length).toBeGreaterThan(loop.attempts); // it kept trying across cycles
      expect(polls.length).toBeLessThanOrEqual(bound);
      expect(gets.length).toBeLessThanOrEqual(GLOOKO_ENDPOINTS_PER_POLL * bound);
      expect(minGap(polls)).toBeGreaterThanOrEqual(Math.min(loop.retry.baseMs, loop.backoff.baseMs) / 2);

      await rig.world.runUntil(outageEnd + HOUR);
      expectGlookoExactlyOnce(rig, outageStart - HOUR, outageEnd + HOUR - SETTLE_MS, 'Glooko across the vendor outage');
      expect(signInsOf(rig)).toHaveLength(1);
      await healthyEnd(rig);
      figures.push(
        `glooko 503 1 h: polls=${polls.length} GETs=${gets.length} (policy bound ${bound} polls), min gap=${(minGap(polls) / MIN).toFixed(1)} min`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'session expiry mid-day: exactly one re-login, nothing lost or doubled',
    async () => {
      const start = Date.UTC(2026, 5, 3, 0, 0, 0);
      const rig = await glookoRig(start);
      await rig.world.runUntil(start + 12 * HOUR);
      expect(signInsOf(rig)).toHaveLength(1);
      const expiredAt = rig.world.clock.now();
      rig.glooko.expireSessions();
      await rig.world.runUntil(start + DAY);

      const signIns = signInsOf(rig);
      expect(signIns).toHaveLength(2);
      // The re-login rides on the first poll that met the dead cookie.
      const firstPollAfter = dataGetsOf(rig, expiredAt)[0];
      expect(signIns[1].at).toBe(firstPollAfter.at);
      expect(rig.world.log.lines.filter((l) => l.includes('logging in again once'))).toHaveLength(1);
      expectGlookoExactlyOnce(
        rig,
        start - glookoLoop().maxLookbackMs + EDGE_MS,
        start + DAY - SETTLE_MS,
        'Glooko across the session expiry',
      );
      await healthyEnd(rig);
      await expectNoSecrets(rig);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'Nightscout down for two hours: every reading and treatment arrives afterwards, none twice',
    async () => {
      const start = Date.UTC(2026, 5, 4, 6, 0, 0);
      const rig = await glookoRig(start);
      await rig.world.runUntil(start + HOUR);
      const downFrom = rig.world.clock.now();
      const downUntil = downFrom + 2 * HOUR;
      const storedBefore = rig.nightscout.store.entries.length;
      rig.nightscout.inject({ kind: 'down', until: downUntil });
      await rig.world.runUntil(downUntil);
      expect(rig.nightscout.store.entries.length).toBe(storedBefore);

      await rig.world.runUntil(downUntil + HOUR);
      expectGlookoExactlyOnce(
        rig,
        start - glookoLoop().maxLookbackMs + EDGE_MS,
        downUntil + HOUR - SETTLE_MS,
        'Glooko across the Nightscout outage',
      );
      expect(signInsOf(rig)).toHaveLength(1);
      await healthyEnd(rig);
      await expectNoSecrets(rig);
    },
    TEST_TIMEOUT_MS,
  );
});
