/**
 * Nightscout-as-source and Medtronic CareLink end to end, with their fault outcomes: vendor simulator → tick →
 * fetch-frame → persist → target Nightscout simulator, the real handlers on a simulated clock and the real DynamoDB
 * adapters on dynalite (local/sim-runner.ts). What each test proves is in its name; the figures it measured are
 * printed at the end (no secrets).
 *
 * Nightscout source site: an uploader posts an sgv every 5 minutes (at :02:13.456, 20 s later), a Loop-style
 * devicestatus every 5 minutes and treatments (temp basal every 30 min, meal bolus every 4 h), all with non-zero
 * milliseconds, from three days back. Documents are posted lazily: whenever anything reads the site, everything due
 * on the shared clock is inserted first. The site refuses anonymous reads (AUTH_DEFAULT_ROLES=denied), so the API
 * secret mode can only read through the hashed `api-secret` header.
 *
 * CareLink: the person's browser login is played against the simulator's login form once per setup; from then on
 * the source lives on the rotating refresh token kept in the session store (lib/sources/carelink/carelink.source.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SOURCE_TABLE_SCHEMA } from '../../lib/adapters/aws/dynamodb-source.store.js';
import { pauseSource, resumeSource, updateCredentials } from '../../lib/app/manage-sources.js';
import { backoffCeiling } from '../../lib/domain/backoff.js';
import type { SourceConfig, SourceCredentials } from '../../lib/domain/source.js';
import type { LoopSpec } from '../../lib/ports/driver.port.js';
import { ACCESS_EXPIRY_MARGIN_MS, careLinkSource } from '../../lib/sources/carelink/carelink.source.js';
import {
  CARELINK_DEVICE_PREFIX,
  CARELINK_RELOGIN_HINT,
  careLinkVendor,
} from '../../lib/sources/carelink/carelink.vendor.js';
import { completeCareLinkLogin, startCareLinkLogin } from '../../lib/sources/carelink/carelink-login.flow.js';
import { assembleDriver } from '../../lib/sources/driver.builder.js';
import { nightscoutSource } from '../../lib/sources/nightscout/nightscout.source.js';
import { nightscoutVendor } from '../../lib/sources/nightscout/nightscout.vendor.js';
import {
  type NightscoutSimulator,
  type StoredDocument,
  startNightscoutSimulator,
} from '../../local/nightscout/nightscout.simulator.js';
import { createSimWorld, type SimWorld, TABLE } from '../../local/sim-runner.js';
import {
  type CareLinkSimulator,
  careLinkSimDropout,
  startCareLinkSimulator,
} from '../../local/vendors/carelink/carelink.simulator.js';

const nightscoutSourceDriver = assembleDriver(nightscoutVendor, nightscoutSource, {});
const careLinkDriver = assembleDriver(careLinkVendor, careLinkSource, {});

const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A reading must have been published this long before the end of a run to be required at the target. */
const SETTLE_MS = 10 * MIN;
/** Margin at the old edge of a look-back window (the first frame starts a little after the run does). */
const EDGE_MS = 10 * MIN;

// Canaries: none may appear in a log line, a queue body, a DynamoDB item or a target document.
const TARGET_SECRET = 'canary-TARGET-api-secret-5d1e7a';
const SOURCE_SECRET = 'canary-SOURCE-api-secret-93c0b4';
const SOURCE_TOKEN = 'canaryreader-7f3a9c1e42b8d605';
const WRONG_SECRET = 'canary-WRONG-api-secret-0a0a0a';
const WRONG_TOKEN = 'wrongreader-00112233445566ff';
const CARELINK_USER = 'canary.patient';
const CARELINK_PASSWORD = 'canary-CARELINK-pw-61f2d9';
/** The CareLink simulator's access-token lifetime, stated here because the token-grant bounds derive from it. */
const ACCESS_LIFETIME_S = 900;

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

const summary: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => {
  if (summary.length) console.log(['source faults (Nightscout, CareLink):', ...summary].join('\n'));
});

async function world(start: number): Promise<SimWorld> {
  const w = await createSimWorld({ start });
  closers.push(() => w.close());
  return w;
}

async function targetNightscout(w: SimWorld): Promise<NightscoutSimulator> {
  const target = await startNightscoutSimulator({ apiSecret: TARGET_SECRET, clock: w.clock });
  closers.push(() => target.close());
  return target;
}

/** Instants on a `step` grid with phase `phase`, in [from, to]. */
function grid(from: number, to: number, step: number, phase = 0): number[] {
  const out: number[] = [];
  for (let t = Math.ceil((from - phase) / step) * step + phase; t <= to; t += step) out.push(t);
  return out;
}

/** Keys the target holds more than once, keys it lacks, and keys it holds that were never published. */
function compare(published: string[], requiredKeys: string[], stored: string[]) {
  const counts = new Map<string, number>();
  for (const key of stored) counts.set(key, (counts.get(key) ?? 0) + 1);
  const all = new Set(published);
  return {
    required: requiredKeys.length,
    missing: requiredKeys.filter((k) => !counts.has(k)),
    twice: [...counts].filter(([, n]) => n > 1).map(([k]) => k),
    invented: [...counts.keys()].filter((k) => !all.has(k)),
  };
}

/** Every haystack an engine could leak a secret into; `session` is the raw session item (it may hold bearer tokens). */
async function haystacks(w: SimWorld, target: NightscoutSimulator) {
  const items = (await w.dynamo.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
  const isSession = (item: (typeof items)[number]) => String(item.pk?.S).startsWith(SOURCE_TABLE_SCHEMA.sessionPrefix);
  return {
    log: w.log.lines.join('\n'),
    queues: w.sentBodies.join('\n'),
    dynamo: JSON.stringify(items.filter((i) => !isSession(i))),
    session: JSON.stringify(items.filter(isSession)),
    target: JSON.stringify(target.store),
  };
}

function expectAbsent(where: Record<string, string>, secrets: string[]) {
  for (const [name, text] of Object.entries(where)) {
    for (const secret of secrets) expect(text.includes(secret), `a secret appears in ${name}`).toBe(false);
  }
}

/**
 * The most requests a loop can make during an outage of `windowMs` if its cycle backoff works: consecutive failed
 * cycles are at least half their backoff ceiling apart (equal jitter), each cycle makes at most `attempts` tries of
 * one request each, and one more cycle may already be under way when the outage begins.
 */
function outageRequestBound(
  loop: Pick<LoopSpec<unknown, unknown, unknown>, 'attempts' | 'backoff'>,
  windowMs: number,
): number {
  let cycles = 1;
  for (let n = 1, t = backoffCeiling(loop.backoff, 1) / 2; t <= windowMs; n++, t += backoffCeiling(loop.backoff, n) / 2)
    cycles++;
  return (cycles + 1) * loop.attempts;
}

async function rawSessionItem(w: SimWorld, id: string) {
  const out = await w.dynamo.send(
    new GetItemCommand({
      TableName: TABLE,
      Key: { pk: { S: `${SOURCE_TABLE_SCHEMA.sessionPrefix}${id}` }, sk: { S: SOURCE_TABLE_SCHEMA.sessionSortKey } },
    }),
  );
  return out.Item;
}

// ---------------------------------------------------------------------------------------------------------------
// Nightscout as a source
// ---------------------------------------------------------------------------------------------------------------

const NS_START = Date.UTC(2026, 9, 25, 0, 10, 0);
const NS_DEVICE = 'xDrip-DexcomG6';
const LOOP_DEVICE = 'loop://iPhone';
const NS_LOOP = nightscoutSourceDriver.loops[0];
/** The driver's session lifetime when the site states none (API-secret mode re-verifies the secret this often). */
const NS_SESSION_MS = nightscoutSourceDriver.session.lifetimeMs;

interface SourceSite {
  sim: NightscoutSimulator;
  /** Published document keys with their instant, per collection. */
  entries(from: number, until: number): number[];
  treatments(from: number, until: number): string[];
  devicestatus(from: number, until: number): string[];
  /** Data reads the site answered, by collection request key prefix. */
  reads(): number;
  authAttempts(): { verifyauth: number; jwt: number };
}

/** Treatment key as the target stores it: ISO `created_at` (to the ms) and event type. */
const treatmentKey = (at: number, eventType: string) => `${new Date(at).toISOString()}|${eventType}`;
const statusKey = (at: number, device: string) => `${new Date(at).toISOString()}|${device}`;

async function startSourceSite(w: SimWorld): Promise<SourceSite> {
  const clock = w.clock;
  const sim = await startNightscoutSimulator({
    apiSecret: SOURCE_SECRET,
    clock,
    tokens: { [SOURCE_TOKEN]: ['api:*:read'] },
    defaultRoles: 'denied',
  });
  closers.push(() => sim.close());
  const historyStart = clock.now() - 3 * DAY;
  const entryPhase = 2 * MIN + 13_456;
  const entryLag = 20 * SEC;
  const statusPhase = 3 * MIN + 27_891;
  const statusLag = 5 * SEC;
  const tempPhase = 11 * MIN + 5_321;
  const mealPhase = HOUR + 17 * MIN + 42_123;
  const treatmentLag = 10 * SEC;
  const sgvAt = (t: number) =>
    Math.round(140 + 50 * Math.sin(t / (2.5 * HOUR)) + ((Math.floor(t / (5 * MIN)) * 13) % 9));
  const temps = (from: number, to: number) => grid(from, to, 30 * MIN, tempPhase);
  const meals = (from: number, to: number) => grid(from, to, 4 * HOUR, mealPhase);

  const entries = sim.store.entries;
  const treatments = sim.store.treatments;
  const devicestatus = sim.store.devicestatus;
  let postedUpTo = historyStart - 1;
  const post = () => {
    const now = clock.now();
    if (now <= postedUpTo) return;
    const from = postedUpTo + 1;
    for (const date of grid(from - entryLag, now - entryLag, 5 * MIN, entryPhase)) {
      const iso = new Date(date).toISOString();
      entries.push({
        _id: randomBytes(12).toString('hex'),
        type: 'sgv',
        sgv: sgvAt(date),
        date,
        dateString: iso,
        sysTime: iso,
        utcOffset: 0,
        direction: 'Flat',
        device: NS_DEVICE,
        noise: 1,
      });
    }
    for (const at of grid(from - statusLag, now - statusLag, 5 * MIN, statusPhase)) {
      const iso = new Date(at).toISOString();
      devicestatus.push({
        _id: randomBytes(12).toString('hex'),
        device: LOOP_DEVICE,
        created_at: iso,
        utcOffset: 0,
        loop: { timestamp: iso, iob: { iob: 1.25, timestamp: iso }, cob: { cob: 12, timestamp: iso } },
        pump: { clock: iso, reservoir: 120.5 },
        uploaderBattery: 80,
      });
    }
    for (const at of temps(from - treatmentLag, now - treatmentLag)) {
      treatments.push({
        _id: randomBytes(12).toString('hex'),
        eventType: 'Temp Basal',
        created_at: new Date(at).toISOString(),
        duration: 30,
        rate: 0.8,
        absolute: 0.8,
        enteredBy: LOOP_DEVICE,
        utcOffset: 0,
      });
    }
    for (const at of meals(from - treatmentLag, now - treatmentLag)) {
      treatments.push({
        _id: randomBytes(12).toString('hex'),
        eventType: 'Meal Bolus',
        created_at: new Date(at).toISOString(),
        insulin: 4.25,
        carbs: 45,
        enteredBy: LOOP_DEVICE,
        utcOffset: 0,
      });
    }
    postedUpTo = now;
  };
  // The simulator reads its collections on every request: post whatever is due first.
  for (const [name, list] of [
    ['entries', entries],
    ['treatments', treatments],
    ['devicestatus', devicestatus],
  ] as const) {
    Object.defineProperty(sim.store, name, {
      configurable: true,
      enumerable: true,
      get: () => {
        post();
        return list;
      },
    });
  }
  const clip = (from: number, until: number, lag: number) => [Math.max(from, historyStart), until - lag] as const;
  return {
    sim,
    entries: (from, until) => grid(...clip(from, until, entryLag), 5 * MIN, entryPhase),
    treatments: (from, until) => [
      ...temps(...clip(from, until, treatmentLag)).map((at) => treatmentKey(at, 'Temp Basal')),
      ...meals(...clip(from, until, treatmentLag)).map((at) => treatmentKey(at, 'Meal Bolus')),
    ],
    devicestatus: (from, until) =>
      grid(...clip(from, until, statusLag), 5 * MIN, statusPhase).map((at) => statusKey(at, LOOP_DEVICE)),
    reads: () =>
      Object.entries(sim.requests)
        .filter(([key]) => /^GET \/api\/v[13]\/(entries|treatments|devicestatus|profile)/.test(key))
        .reduce((n, [, c]) => n + c, 0),
    authAttempts: () => ({
      verifyauth: sim.requests['GET /api/v1/verifyauth'] ?? 0,
      jwt: sim.requests['GET /api/v2/authorization/request/:token'] ?? 0,
    }),
  };
}

type NsMode = 'apiSecret' | 'token';

async function setupNightscout(options: { mode: NsMode; wrong?: boolean }) {
  const w = await world(NS_START);
  const target = await targetNightscout(w);
  const site = await startSourceSite(w);
  const config: SourceConfig = {
    id: `e2e-ns-${options.mode}`,
    kind: 'nightscout',
    settings: { sourceEndpoint: site.sim.url },
    nightscout: { endpoint: target.url, apiVersion: 'v1' },
  };
  const vendor = (wrong: boolean): Record<string, string> =>
    options.mode === 'apiSecret'
      ? { apiSecret: wrong ? WRONG_SECRET : SOURCE_SECRET }
      : { token: wrong ? WRONG_TOKEN : SOURCE_TOKEN };
  const credentials = (wrong: boolean): SourceCredentials => ({
    vendor: vendor(wrong),
    nightscout: { apiSecret: TARGET_SECRET },
  });
  await w.addSource(config, credentials(options.wrong ?? false));
  return { w, target, site, config, credentials };
}

/**
 * Exactly once at the target, to the millisecond: every document the site published in [from, until − settle] is
 * there once, and nothing is there that the site had not published by `now` (the simulated clock).
 */
function nightscoutDelivery(site: SourceSite, target: NightscoutSimulator, from: number, until: number, now = until) {
  const required = until - SETTLE_MS;
  const stored = target.store;
  const sgv = stored.entries.filter((e) => e.type === 'sgv' && e.device === NS_DEVICE);
  for (const e of sgv) expect(Date.parse(String(e.dateString))).toBe(e.date);
  return {
    entries: compare(
      site.entries(0, now).map(String),
      site.entries(from, required).map(String),
      sgv.map((e) => String(e.date)),
    ),
    treatments: compare(
      site.treatments(0, now),
      site.treatments(from, required),
      stored.treatments.map((t) => `${String(t.created_at)}|${String(t.eventType)}`),
    ),
    devicestatus: compare(
      site.devicestatus(0, now),
      site.devicestatus(from, required),
      stored.devicestatus.map((d) => `${String(d.created_at)}|${String(d.device)}`),
    ),
  };
}

function expectDelivered(result: ReturnType<typeof nightscoutDelivery>) {
  for (const [collection, r] of Object.entries(result)) {
    expect(r.required, `${collection}: something to check`).toBeGreaterThan(0);
    expect({ collection, missing: r.missing, twice: r.twice, invented: r.invented }).toEqual({
      collection,
      missing: [],
      twice: [],
      invented: [],
    });
  }
}

const NS_SECRETS = [SOURCE_SECRET, sha1(SOURCE_SECRET), SOURCE_TOKEN, TARGET_SECRET, sha1(TARGET_SECRET)];

describe('Nightscout as a source', () => {
  it('API secret (v1): a full simulated day, every entry, treatment and device status exactly once to the ms, no secret anywhere', async () => {
    const wall = performance.now();
    const { w, target, site, config } = await setupNightscout({ mode: 'apiSecret' });
    const end = NS_START + DAY;
    await w.runUntil(end);

    const delivery = nightscoutDelivery(site, target, NS_START - NS_LOOP.maxLookbackMs + EDGE_MS, end);
    expectDelivered(delivery);
    // A day of live data on top of the two-day backfill (5-minute grid for entries and device status).
    expect(delivery.entries.required).toBeGreaterThan(
      (NS_LOOP.maxLookbackMs + DAY - EDGE_MS - SETTLE_MS) / (5 * MIN) - 2,
    );
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
    expect((await w.sources.get(config.id))?.status.parkedReason).toBeUndefined();

    // v1 only, read with the hashed header (the site refuses anonymous reads): no JWT request, no v3 call, no secret
    // in a query string. The secret is verified once per session lifetime, not per request.
    expect((await fetch(`${site.sim.url}/api/v1/entries.json?count=1`)).status).toBe(401);
    const paths = Object.keys(site.sim.requests);
    expect(paths.filter((p) => p.includes('/api/v3/') || p.includes('/api/v2/'))).toEqual([]);
    expect(site.sim.requestLog.some((r) => r.query.some(([k]) => k === 'secret' || k === 'token'))).toBe(false);
    const { verifyauth } = site.authAttempts();
    expect(verifyauth).toBeGreaterThanOrEqual(Math.floor(DAY / NS_SESSION_MS));
    expect(verifyauth).toBeLessThanOrEqual(Math.ceil(DAY / NS_SESSION_MS) + 1);

    const where = await haystacks(w, target);
    // The haystacks hold real state (the persisted snapshot; a healthy day traces nothing), so absence means something.
    expect(where.dynamo).toContain('"snapshot"');
    expect(where.dynamo).not.toContain('TRACE#');
    expect(w.sentBodies.length).toBeGreaterThan(DAY / NS_LOOP.intervalMs);
    expectAbsent(where, NS_SECRETS);
    summary.push(
      `nightscout apiSecret day: entries=${delivery.entries.required} treatments=${delivery.treatments.required} devicestatus=${delivery.devicestatus.required} ` +
        `verifyauth=${verifyauth} dataReads=${site.reads()} queueBodies=${w.sentBodies.length} wall=${((performance.now() - wall) / 1000).toFixed(1)} s`,
    );
  });

  it('token (v3): the site revokes every JWT mid-run → exactly one re-authorization, nothing lost', async () => {
    const { w, target, site, config } = await setupNightscout({ mode: 'token' });
    const revokeAt = NS_START + 2 * HOUR;
    await w.runUntil(revokeAt);
    expect(site.authAttempts().jwt).toBe(1);
    expect(site.sim.requests['GET /api/v3/entries']).toBeGreaterThan(0);
    site.sim.revokeJwts();
    const end = NS_START + 6 * HOUR; // shorter than the JWT lifetime: no renewal of its own in the run
    expect(end - NS_START).toBeLessThan(NS_SESSION_MS);
    await w.runUntil(end);

    expect(site.authAttempts()).toEqual({ verifyauth: 0, jwt: 2 });
    expect(w.log.lines.filter((l) => l.includes('vendor says the session is gone'))).toHaveLength(1);
    const transitions = await w.sources.recentTransitions(config.id, 100);
    expect(transitions.filter((t) => t.event === 'frame.failed' || t.event === 'auth.rejected')).toEqual([]);
    expectDelivered(nightscoutDelivery(site, target, NS_START - NS_LOOP.maxLookbackMs + EDGE_MS, end));
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);

    // The JWT is a bearer secret: in the session item only.
    const jwt = ((await w.sessions.get(config.id))?.material as { jwt?: string } | undefined)?.jwt;
    expect(jwt).toEqual(expect.any(String));
    const where = await haystacks(w, target);
    expectAbsent(where, NS_SECRETS);
    const { session, ...rest } = where;
    expect(session).toContain(jwt);
    expectAbsent(rest, [jwt!]);
    summary.push(
      `nightscout token, JWTs revoked: authorizations=${site.authAttempts().jwt} (1 + one re-authorization)`,
    );
  });

  it.each<NsMode>(['apiSecret', 'token'])(
    '%s wrong → one attempt, parked as auth rejected; corrected credentials resume with backfill',
    async (mode) => {
      const { w, target, site, config, credentials } = await setupNightscout({ mode, wrong: true });
      const fixAt = NS_START + 3 * HOUR;
      await w.runUntil(fixAt);
      const attempts = () => (mode === 'apiSecret' ? site.authAttempts().verifyauth : site.authAttempts().jwt);
      expect(attempts()).toBe(1);
      expect(site.reads()).toBe(0);
      const parked = await w.sources.get(config.id);
      expect(parked?.status.state).toContain('session:rejected');
      expect(parked?.status.parkedReason).toMatch(
        mode === 'apiSecret' ? /NIGHTSCOUT_SOURCE\.SECRET_REJECTED/ : /NIGHTSCOUT_SOURCE\.TOKEN_REJECTED/,
      );
      expect(parked?.nextDueAt).toBeUndefined();
      expect(target.store.entries).toHaveLength(0);

      await updateCredentials(w.manage, config.id, credentials(false));
      const end = fixAt + HOUR;
      await w.runUntil(end);
      expect(attempts()).toBe(2);
      expect((await w.sources.get(config.id))?.status.parkedReason).toBeUndefined();
      // The look-back counts from the first frame after the fix.
      expectDelivered(nightscoutDelivery(site, target, fixAt - NS_LOOP.maxLookbackMs + EDGE_MS, end));
      expectAbsent(await haystacks(w, target), [...NS_SECRETS, WRONG_SECRET, sha1(WRONG_SECRET), WRONG_TOKEN]);
    },
  );

  it('source site down for an hour: capped backoff, then everything arrives', async () => {
    const { w, target, site, config } = await setupNightscout({ mode: 'apiSecret' });
    const downAt = NS_START + HOUR;
    const upAt = downAt + HOUR;
    await w.runUntil(downAt);
    const before = Object.values(site.sim.requests).reduce((a, b) => a + b, 0);
    const entryReads = () => site.sim.requests['GET /api/v1/entries.json'] ?? 0;
    const entryReadsBefore = entryReads();
    site.sim.inject({ kind: 'down', until: upAt });
    await w.runUntil(upAt);
    const duringOutage = entryReads() - entryReadsBefore;
    const allDuringOutage = Object.values(site.sim.requests).reduce((a, b) => a + b, 0) - before;
    // Every attempt reads entries once. Retrying every minute would be ≥ 60; the frame's retries and the cycle
    // backoff keep it to a few cycles of `attempts` tries.
    expect(duringOutage).toBeGreaterThan(NS_LOOP.attempts);
    expect(duringOutage).toBeLessThanOrEqual(outageRequestBound(NS_LOOP, HOUR));
    const failing = await w.sources.get(config.id);
    expect(failing?.status.lastError?.code).toBe('NIGHTSCOUT_SOURCE.HTTP_503');
    expect(failing?.status.parkedReason).toBeUndefined();

    // The cycle backoff is capped, so the outage window is caught up within one cap after the site returns.
    await w.runUntil(upAt + NS_LOOP.backoff.capMs + NS_LOOP.align.lagMs + NS_LOOP.align.jitterMs);
    expectDelivered(
      nightscoutDelivery(site, target, NS_START - NS_LOOP.maxLookbackMs + EDGE_MS, upAt + SETTLE_MS, w.clock.now()),
    );
    const end = upAt + 2 * HOUR;
    await w.runUntil(end);
    expectDelivered(nightscoutDelivery(site, target, NS_START - NS_LOOP.maxLookbackMs + EDGE_MS, end));
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
    summary.push(
      `nightscout site down 1 h: entries reads during outage=${duringOutage} (bound ${outageRequestBound(NS_LOOP, HOUR)}, all requests ${allDuringOutage})`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// CareLink
// ---------------------------------------------------------------------------------------------------------------

const CL_START = Date.UTC(2026, 4, 10, 3, 0, 0);
const CL_LOOP = careLinkDriver.loops[0];

/** Play the person's browser against the simulator's login form; return the URL it lands on. */
async function playBrowser(authorizeUrl: string, username: string, password: string): Promise<string> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no login form (HTTP ${page.status})`);
  const form = new URLSearchParams({ username, password });
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(m[1], m[2]);
  const res = await fetch(new URL(action, authorizeUrl), {
    method: 'POST',
    body: form.toString(),
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`login form answered HTTP ${res.status}`);
  return location;
}

async function setupCareLink() {
  const w = await world(CL_START);
  const target = await targetNightscout(w);
  const carelink: CareLinkSimulator = await startCareLinkSimulator({
    clock: w.clock,
    accessTokenLifetimeS: ACCESS_LIFETIME_S,
    accounts: [
      {
        username: CARELINK_USER,
        password: CARELINK_PASSWORD,
        role: 'patient',
        deviceFamily: 'NGP',
        timezoneOffset: '+02:00',
      },
    ],
  });
  closers.push(() => carelink.close());
  const settings = {
    carelinkRegion: 'eu',
    countryCode: 'gb',
    carelinkServer: carelink.url,
    carelinkDiscoveryUrl: carelink.discoveryUrl,
  };
  const parsed = careLinkDriver.parseSettings(settings);
  /** What the `login` command does: a browser login whose refresh token goes to the credential store. */
  const browserLogin = async (): Promise<SourceCredentials> => {
    const pending = await startCareLinkLogin(parsed);
    const vendor = await completeCareLinkLogin(
      parsed,
      pending,
      await playBrowser(pending.authorizeUrl, CARELINK_USER, CARELINK_PASSWORD),
      w.clock.now(),
    );
    return { vendor: { ...vendor }, nightscout: { apiSecret: TARGET_SECRET } };
  };
  const config: SourceConfig = {
    id: 'e2e-carelink',
    kind: 'minimedcarelink',
    settings,
    nightscout: { endpoint: target.url, apiVersion: 'v1' },
  };
  await w.addSource(config, await browserLogin());
  const count = (route: string, method?: string) =>
    carelink.requests.filter((r) => r.route === route && (method === undefined || r.method === method)).length;
  const stats = () => ({
    browserLogins: count('authorize', 'POST'),
    tokenGrants: count('token'),
    rejectedGrants: carelink.requests.filter((r) => r.route === 'token' && r.status !== 200).length,
    dataRequests: count('data'),
  });
  /** Every 5-minute SG slot at least a minute old, except the simulator's fixed sensor dropout. */
  const published = (from: number, until: number) =>
    grid(from, Math.floor((until - MIN) / (5 * MIN)) * 5 * MIN, 5 * MIN).filter((t) => !careLinkSimDropout(t));
  return { w, target, carelink, config, browserLogin, stats, published };
}

function careLinkDelivery(
  target: NightscoutSimulator,
  published: (from: number, until: number) => number[],
  from: number,
  until: number,
) {
  const sgv = target.store.entries.filter(
    (e) => e.type === 'sgv' && String(e.device).startsWith(CARELINK_DEVICE_PREFIX),
  );
  for (const e of sgv) expect(Date.parse(String(e.dateString))).toBe(e.date);
  // Nothing older than the first frame's look-back can have been read, so "published" starts there.
  return compare(
    published(CL_START - 2 * CL_LOOP.maxLookbackMs, until).map(String),
    published(from, until - SETTLE_MS).map(String),
    sgv.map((e: StoredDocument) => String(e.date)),
  );
}

function expectReadings(result: ReturnType<typeof careLinkDelivery>) {
  expect(result.required).toBeGreaterThan(0);
  expect({ missing: result.missing, twice: result.twice, invented: result.invented }).toEqual({
    missing: [],
    twice: [],
    invented: [],
  });
}

/**
 * Refreshes happen at the first frame after the access token's expiry minus the driver's margin, so consecutive
 * grants are between (lifetime − margin) and (lifetime − margin + one loop interval + alignment) apart.
 */
function grantBounds(span: number) {
  const shortest = ACCESS_LIFETIME_S * SEC - ACCESS_EXPIRY_MARGIN_MS;
  const longest = shortest + CL_LOOP.intervalMs + CL_LOOP.align.lagMs + CL_LOOP.align.jitterMs;
  return { min: Math.floor(span / longest), max: Math.ceil(span / shortest) + 1 };
}

describe('CareLink', () => {
  it('a full simulated day on a rotating refresh token: every reading once to the ms, one browser login, no secret leaked', async () => {
    const wall = performance.now();
    const { w, target, carelink, config, stats, published } = await setupCareLink();
    const atStart = stats();
    expect(atStart).toMatchObject({ browserLogins: 1, tokenGrants: 1 });
    const end = CL_START + DAY;
    await w.runUntil(end);

    const readings = careLinkDelivery(target, published, CL_START - CL_LOOP.maxLookbackMs + EDGE_MS, end);
    expectReadings(readings);
    expect(readings.required).toBeGreaterThan((CL_LOOP.maxLookbackMs + DAY - EDGE_MS - SETTLE_MS) / (5 * MIN) - 6);

    const s = stats();
    const grants = s.tokenGrants - atStart.tokenGrants;
    const bounds = grantBounds(DAY);
    expect(grants).toBeGreaterThanOrEqual(bounds.min);
    expect(grants).toBeLessThanOrEqual(bounds.max);
    // Every refresh presented the newest token (a stale one would have been refused and revoked the chain).
    expect(s).toMatchObject({ browserLogins: 1, rejectedGrants: 0 });
    expect(w.metrics.counts.Logins).toBe(1);
    expect(w.metrics.counts.SessionRefreshes).toBe(grants - 1);
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
    expect((await w.sources.get(config.id))?.status.parkedReason).toBeUndefined();

    // Password and API secret nowhere; every access and refresh token the simulator ever issued nowhere but the
    // session item, which holds exactly the current refresh token and carries no TTL (see the paused test).
    const where = await haystacks(w, target);
    expectAbsent(where, [CARELINK_PASSWORD, TARGET_SECRET, sha1(TARGET_SECRET)]);
    const tokens = carelink.secrets().filter((t) => t !== CARELINK_PASSWORD);
    expect(tokens.length).toBeGreaterThan(2 * grants);
    const { session, ...rest } = where;
    expectAbsent(rest, tokens);
    const current = ((await w.sessions.get(config.id))?.material as { refreshToken: string }).refreshToken;
    expect(tokens.filter((t) => session.includes(t)).filter((t) => t.startsWith('rt_'))).toEqual([current]);
    expect((await rawSessionItem(w, config.id))?.[SOURCE_TABLE_SCHEMA.ttlAttribute]).toBeUndefined();
    summary.push(
      `carelink day: readings=${readings.required} tokenGrants=${grants} (bounds ${bounds.min}–${bounds.max}) dataRequests=${s.dataRequests - atStart.dataRequests} ` +
        `browserLogins=${s.browserLogins} wall=${((performance.now() - wall) / 1000).toFixed(1)} s`,
    );
  });

  it('refresh token revoked → parked as auth rejected telling the person to run `login`, no further token attempts; a new login resumes', async () => {
    const { w, target, carelink, config, browserLogin, stats, published } = await setupCareLink();
    const revokeAt = CL_START + 2 * HOUR;
    await w.runUntil(revokeAt);
    carelink.revokeRefreshTokens(CARELINK_USER);
    const before = stats();
    // The next refresh is due within one access-token lifetime.
    await w.runUntil(revokeAt + ACCESS_LIFETIME_S * SEC + CL_LOOP.intervalMs);
    const parkedStats = stats();
    const attemptsAfterRevoke = parkedStats.tokenGrants - before.tokenGrants;
    // The rotated refresh token is refused, and nothing else is tried: the credential copy is an already-rotated
    // ancestor, and presenting it would trip Auth0's refresh-token reuse detection (loginWhenRefreshRejected: false).
    expect(attemptsAfterRevoke).toBe(1);
    expect(parkedStats.rejectedGrants - before.rejectedGrants).toBe(attemptsAfterRevoke);

    const parked = await w.sources.get(config.id);
    expect(parked?.status.state).toContain('session:rejected');
    expect(parked?.status.parkedReason).toMatch(
      /run `nightscout-connect login --source minimedcarelink`.*CARELINK\.LOGIN_REQUIRED/,
    );
    expect(parked?.nextDueAt).toBeUndefined();
    expect(w.log.lines.filter((l) => l.includes(CARELINK_RELOGIN_HINT))).toHaveLength(1);
    expect(await w.sessions.get(config.id)).toBeUndefined();

    // Parked means parked: no token or data request, however many ticks pass (well beyond every backoff cap).
    const parkedAt = w.clock.now();
    await w.runUntil(parkedAt + 6 * HOUR);
    expect(stats()).toEqual(parkedStats);

    // The person runs `login` again: the new refresh token un-parks the source, and CareLink's 24 h come back.
    const resumedAt = w.clock.now();
    await updateCredentials(w.manage, config.id, await browserLogin());
    const end = resumedAt + HOUR;
    await w.runUntil(end);
    expect(stats()).toMatchObject({ browserLogins: 2 });
    expect((await w.sources.get(config.id))?.status.parkedReason).toBeUndefined();
    expectReadings(careLinkDelivery(target, published, resumedAt - CL_LOOP.maxLookbackMs + EDGE_MS, end));
    expectAbsent(await haystacks(w, target), [CARELINK_PASSWORD, TARGET_SECRET]);
    summary.push(
      `carelink refresh token revoked: token attempts until parked=${attemptsAfterRevoke}, afterwards 0 for ${((resumedAt - parkedAt) / HOUR).toFixed(1)} h of ticks`,
    );
  });

  it('CareLink answers 5xx for an hour: bounded attempts, the refresh token survives, every reading arrives', async () => {
    const { w, target, carelink, config, stats, published } = await setupCareLink();
    const downAt = CL_START + HOUR;
    const upAt = downAt + HOUR;
    await w.runUntil(downAt);
    const before = stats();
    const requestsBefore = carelink.requests.length;
    carelink.inject({ route: 'any', status: 503, until: upAt });
    await w.runUntil(upAt);
    const during = carelink.requests.length - requestsBefore;
    // One request per attempt (a data read, or a refresh that fails first); per-minute retries would be ≥ 60.
    expect(during).toBeGreaterThan(CL_LOOP.attempts);
    expect(during).toBeLessThanOrEqual(outageRequestBound(CL_LOOP, HOUR));
    const failing = await w.sources.get(config.id);
    expect(failing?.status.lastError?.code).toBe('CARELINK.HTTP_503');
    expect(failing?.status.parkedReason).toBeUndefined();

    const end = upAt + 2 * HOUR;
    await w.runUntil(end);
    expectReadings(careLinkDelivery(target, published, CL_START - CL_LOOP.maxLookbackMs + EDGE_MS, end));
    const after = stats();
    expect(after.browserLogins).toBe(before.browserLogins);
    expect(carelink.requests.filter((r) => r.route === 'token' && r.status !== 200 && r.status !== 503)).toEqual([]);
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
    summary.push(`carelink 5xx for 1 h: requests during outage=${during} (bound ${outageRequestBound(CL_LOOP, HOUR)})`);
  });

  it('paused for two days, then resumed: the rotated refresh token is still in the session store and the source carries on', async () => {
    const { w, target, config, stats, published } = await setupCareLink();
    const pauseAt = CL_START + HOUR;
    await w.runUntil(pauseAt);
    await pauseSource(w.manage, config.id);
    // Let any frame already in flight finish, then take the stored session as the pause left it.
    await w.runUntil(pauseAt + 10 * MIN);
    const held = await w.sessions.get(config.id);
    const heldToken = (held?.material as { refreshToken?: string } | undefined)?.refreshToken;
    expect(heldToken).toEqual(expect.any(String));
    const pausedStats = stats();

    // Two days of ticks: hourly rather than every minute, since a paused source is in no due index either way
    // (2 880 idle ticks would only cost wall time); the session store sees the same clock.
    const resumeAt = pauseAt + 2 * DAY;
    for (let t = pauseAt + HOUR; t <= resumeAt; t += HOUR) {
      w.clock.set(t);
      await w.tick();
      await w.drain();
    }
    expect(w.clock.now()).toBe(resumeAt);
    expect(stats()).toEqual(pausedStats);
    // The session store reads with the simulated clock and treats TTL-expired items as absent, so this is the
    // store's real answer two days on (dynalite never deletes by TTL; the adapter filters).
    expect(w.clock.now()).toBeGreaterThan(held!.expiresAt + DAY);
    const kept = await w.sessions.get(config.id);
    expect((kept?.material as { refreshToken?: string } | undefined)?.refreshToken).toBe(heldToken);
    expect((await rawSessionItem(w, config.id))?.[SOURCE_TABLE_SCHEMA.ttlAttribute]).toBeUndefined();

    await resumeSource(w.manage, config.id);
    const end = resumeAt + HOUR;
    await w.runUntil(end);
    const s = stats();
    expect(s.browserLogins).toBe(pausedStats.browserLogins);
    expect(s.rejectedGrants).toBe(0);
    expect(s.tokenGrants).toBeGreaterThan(pausedStats.tokenGrants);
    const record = await w.sources.get(config.id);
    expect(record?.status.state).not.toContain('rejected');
    expect(record?.status.parkedReason).toBeUndefined();
    // CareLink serves the last 24 h only: from the resume on, that window is back.
    expectReadings(careLinkDelivery(target, published, resumeAt - CL_LOOP.maxLookbackMs + EDGE_MS, end));
    expect(w.fetchDlq.depth() + w.persistDlq.depth()).toBe(0);
  });
});
