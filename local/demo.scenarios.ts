/**
 * Demo scenarios: a vendor simulator and a simulated Nightscout on 127.0.0.1, wired to one configured source, for
 * every driver kind (dexcomshare, librelinkup, glooko, nightscout, minimedcarelink). Each scenario knows which readings
 * its vendor published, so a run can be checked end to end: `readings: vendor=<N> nightscout=<M> duplicates=<D>`.
 *
 * Simulators listen on 127.0.0.1, so their plain-http URLs pass every driver's "https except loopback" rule. Settings
 * are non-secret (they are stored beside the snapshot); every password and token lives in `credentials` only, and
 * `secrets()` lists them for leak checks.
 *
 * What "published" means per vendor (what `vendorReadings` returns):
 * - Dexcom Share: every 5-minute reading once its publish lag has passed (the simulator's own record).
 * - LibreLinkUp: the 5-minute `graphData` history (15 min lag, 12 h window). The 1-minute "current" reading a poll
 *   also carries is written too, but the minutes between polls are never retrievable later, so they are not
 *   counted as published history.
 * - Glooko: the CGM readings of the simulator's ground truth (real instants; the API serves wall-time labels).
 * - Nightscout: a second Nightscout simulator is the source site; an uploader "posts" one sgv every 5 minutes
 *   (at :02:13.456 past each 5-minute slot, 20 s after the reading, so the millisecond part is exercised). Posting
 *   happens lazily: whenever anything reads the source site's entries, every reading whose post instant has passed
 *   on the shared clock is inserted first, so the site grows as the simulated clock advances without a runner hook.
 * - CareLink: every 5-minute SG slot at least one minute old, except the simulator's fixed sensor dropout (sg 0).
 */
import { randomBytes } from 'node:crypto';
import { startDexcomShareSimulator } from './vendors/dexcom-share/dexcom-share.simulator.js';
import { startNightscoutSimulator, type NightscoutSimulator, type StoredDocument } from './nightscout/nightscout.simulator.js';
import { startLibreLinkUpSimulator } from './vendors/librelinkup/librelinkup.simulator.js';
import { startGlookoSimulator } from './vendors/glooko/glooko.simulator.js';
import { careLinkSimDropout, startCareLinkSimulator } from './vendors/carelink/carelink.simulator.js';
import { completeCareLinkLogin, startCareLinkLogin } from '../lib/sources/carelink/carelink-login.flow.js';
import { careLinkDriver } from '../lib/sources/carelink/carelink.source.js';
import { DEXCOM_DEVICE } from '../lib/sources/dexcom-share/dexcom-share.source.js';
import { LIBRELINKUP_DEVICE } from '../lib/sources/librelinkup/librelinkup.source.js';
import { GLOOKO_DEVICE } from '../lib/sources/glooko/glooko.parse.js';
import type { SourceConfig, SourceCredentials } from '../lib/domain/source.js';

export interface Scenario {
  kind: string;
  config: SourceConfig;
  credentials: SourceCredentials;
  nightscout: NightscoutSimulator;
  /** Reading instants the vendor had published by `until` and that the source is responsible for (≥ from). */
  vendorReadings(from: number, until: number): number[];
  /** Vendor counters; every scenario reports at least `logins` and `dataRequests`. */
  vendorStats(): Record<string, unknown>;
  /** Treatments the vendor had published by `until` (Glooko only): real instant and Nightscout event type. */
  vendorTreatments?(from: number, until: number): Array<{ at: number; eventType: string }>;
  /** `device` of the entries this source writes, when it is fixed (for countReadings). */
  device?: string;
  /** Every password, API secret and token the scenario configured (for "never leaked" checks). Optional so hand-built
   * scenarios in older tests still type-check; every scenario in SCENARIOS provides it. */
  secrets?(): string[];
  close(): Promise<void>;
}

export const DEMO_API_SECRET = 'demo-api-secret-not-a-real-one';

export interface ScenarioOptions {
  clock: { now(): number };
  id?: string;
  /** Share one Nightscout simulator between sources (bench). */
  nightscout?: NightscoutSimulator;
  password?: string;
  apiSecret?: string;
  /** Where this sensor's 5-minute grid sits, 0–299,999 ms (Dexcom Share). Real sensors each have their own phase; a
   * bench of many sources sets it so that they are not all due at the same instant. Default 0. */
  phaseMs?: number;
}

const MINUTE = 60_000;
const FIVE_MIN = 5 * MINUTE;
const HOUR = 60 * MINUTE;

export async function startScenario(kind: string, options: ScenarioOptions): Promise<Scenario> {
  const factory = SCENARIOS[kind];
  if (!factory) throw new Error(`no demo scenario for source "${kind}"; available: ${Object.keys(SCENARIOS).join(', ')}`);
  return factory(options);
}

async function target(o: ScenarioOptions): Promise<{ nightscout: NightscoutSimulator; apiSecret: string; closeTarget: () => Promise<void> }> {
  const apiSecret = o.apiSecret ?? DEMO_API_SECRET;
  const nightscout = o.nightscout ?? (await startNightscoutSimulator({ apiSecret, clock: o.clock }));
  return { nightscout, apiSecret, closeTarget: async () => { if (!o.nightscout) await nightscout.close(); } };
}

/** Instants on a `step` grid with phase `phase`, in [from, to]. */
function grid(from: number, to: number, step: number, phase = 0): number[] {
  const out: number[] = [];
  for (let t = Math.ceil((from - phase) / step) * step + phase; t <= to; t += step) out.push(t);
  return out;
}

export const SCENARIOS: Record<string, (o: ScenarioOptions) => Promise<Scenario>> = {
  async dexcomshare(o) {
    const { nightscout, apiSecret, closeTarget } = await target(o);
    const accountName = `demo-${o.id ?? 'dexcom'}`;
    const password = o.password ?? 'demo-password-1';
    const readingEpoch = Math.floor((o.clock.now() - 24 * HOUR) / FIVE_MIN) * FIVE_MIN + ((o.phaseMs ?? 0) % FIVE_MIN);
    const share = await startDexcomShareSimulator({ clock: o.clock, readingEpoch, accounts: [{ accountName, password }] });
    return {
      kind: 'dexcomshare',
      config: {
        id: o.id ?? 'demo-dexcomshare', kind: 'dexcomshare',
        settings: { shareRegion: 'us', shareServer: share.url },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { accountName, password }, nightscout: { apiSecret } },
      nightscout,
      device: DEXCOM_DEVICE,
      vendorReadings: (from, until) => share.readingsUpTo(until, accountName).map((r) => r.date).filter((d) => d >= from),
      vendorStats: () => ({
        logins: share.stats.login, dataRequests: share.stats.read,
        authenticate: share.stats.authenticate, login: share.stats.login, read: share.stats.read, failedLogins: share.stats.failedLogins,
      }),
      secrets: () => [password, apiSecret],
      async close() {
        await share.close();
        await closeTarget();
      },
    };
  },

  async librelinkup(o) {
    const { nightscout, apiSecret, closeTarget } = await target(o);
    const email = `demo-${o.id ?? 'libre'}@example.invalid`;
    const password = o.password ?? 'demo-libre-password-1';
    const patientId = 'demo-patient-1';
    const graphLagMs = 15 * MINUTE;
    const libre = await startLibreLinkUpSimulator({
      clock: o.clock,
      graphLagMs,
      accounts: [{ email, password, region: 'eu', patients: [{ patientId, firstName: 'Demo', timeZone: 'Europe/London' }] }],
    });
    const hosts: Record<string, string> = {};
    for (const region of ['AE', 'AP', 'AU', 'CA', 'DE', 'EU', 'EU2', 'FR', 'JP', 'US', 'LA', 'RU', 'CN']) hosts[region] = libre.hostFor(region);
    return {
      kind: 'librelinkup',
      config: {
        id: o.id ?? 'demo-librelinkup', kind: 'librelinkup',
        settings: { linkUpRegion: 'EU', linkUpHosts: JSON.stringify(hosts) },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { username: email, password }, nightscout: { apiSecret } },
      nightscout,
      device: LIBRELINKUP_DEVICE,
      vendorReadings(from, until) {
        // The graph history: every 5-minute point that has left the publish lag by `until`.
        const newest = Math.floor((until - graphLagMs) / FIVE_MIN) * FIVE_MIN;
        return grid(from, newest, FIVE_MIN);
      },
      vendorStats: () => ({
        logins: libre.stats.logins, dataRequests: libre.stats.graph + libre.stats.connections,
        failedLogins: libre.stats.failedLogins, connections: libre.stats.connections, graph: libre.stats.graph,
      }),
      secrets: () => [password, apiSecret],
      async close() {
        await libre.close();
        await closeTarget();
      },
    };
  },

  async glooko(o) {
    const { nightscout, apiSecret, closeTarget } = await target(o);
    const email = `demo-${o.id ?? 'glooko'}@example.invalid`;
    const password = o.password ?? 'demo-glooko-password-1';
    const timeZone = 'Europe/Berlin';
    const glooko = await startGlookoSimulator({ email, password, timeZone, clock: o.clock });
    const dataRequests = () => glooko.requestLog.filter((r) => r.method === 'GET').length;
    return {
      kind: 'glooko',
      config: {
        id: o.id ?? 'demo-glooko', kind: 'glooko',
        settings: { glookoServer: glooko.url, glookoTimezone: timeZone },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { email, password }, nightscout: { apiSecret } },
      nightscout,
      device: GLOOKO_DEVICE,
      vendorReadings: (from, until) => glooko.truth(from, until).readings.map((r) => r.instant),
      vendorTreatments(from, until) {
        const truth = glooko.truth(from, until);
        return [
          ...truth.boluses.map((b) => ({ at: b.instant, eventType: b.carbs > 0 ? 'Meal Bolus' : 'Correction Bolus' })),
          ...truth.basals.map((b) => ({ at: b.instant, eventType: 'Temp Basal' })),
        ].sort((a, b) => a.at - b.at);
      },
      vendorStats: () => ({ logins: glooko.signIns, dataRequests: dataRequests(), timeZone }),
      secrets: () => [password, apiSecret],
      async close() {
        await glooko.close();
        await closeTarget();
      },
    };
  },

  async nightscout(o) {
    const { nightscout, apiSecret, closeTarget } = await target(o);
    const sourceSecret = o.password ?? 'demo-source-api-secret-1';
    const token = `demoreader-${randomBytes(8).toString('hex')}`;
    const site = await startNightscoutSimulator({ apiSecret: sourceSecret, clock: o.clock, tokens: { [token]: ['api:*:read'] } });
    const device = 'xDrip-DexcomG6';
    // Readings on a 5-minute grid at :02:13.456, posted 20 s later; history from three days back (look-back is 2 d).
    const phase = 2 * MINUTE + 13_456;
    const postLagMs = 20_000;
    const historyStart = o.clock.now() - 3 * 24 * HOUR;
    const sgvAt = (t: number) => Math.round(140 + 50 * Math.sin(t / (2.5 * HOUR)) + ((Math.floor(t / FIVE_MIN) * 13) % 9));
    const entries = site.store.entries;
    let posted = historyStart - 1;
    const post = () => {
      const upTo = o.clock.now() - postLagMs;
      for (const date of grid(posted + 1, upTo, FIVE_MIN, phase)) {
        const doc: StoredDocument = {
          _id: randomBytes(12).toString('hex'), type: 'sgv', sgv: sgvAt(date), date, dateString: new Date(date).toISOString(),
          sysTime: new Date(date).toISOString(), utcOffset: 0, direction: 'Flat', device, noise: 1,
        };
        entries.push(doc);
      }
      if (upTo > posted) posted = upTo;
    };
    // The simulator reads `store.entries` on every request: post whatever is due first.
    Object.defineProperty(site.store, 'entries', { configurable: true, enumerable: true, get: () => { post(); return entries; } });
    return {
      kind: 'nightscout',
      config: {
        id: o.id ?? 'demo-nightscout', kind: 'nightscout',
        settings: { sourceEndpoint: site.url },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { token }, nightscout: { apiSecret } },
      nightscout,
      device,
      vendorReadings: (from, until) => grid(Math.max(from, historyStart), until - postLagMs, FIVE_MIN, phase),
      vendorStats: () => {
        const reads = Object.entries(site.requests).filter(([key]) => key.startsWith('GET /api/v1/entries') || key.startsWith('GET /api/v3/entries'))
          .reduce((sum, [, n]) => sum + n, 0);
        const all = Object.entries(site.requests).filter(([key]) => /^GET \/api\/v[13]\/(entries|treatments|devicestatus|profile)/.test(key))
          .reduce((sum, [, n]) => sum + n, 0);
        return { logins: site.requests['GET /api/v2/authorization/request/:token'] ?? 0, dataRequests: all, entriesRequests: reads };
      },
      secrets: () => [token, sourceSecret, apiSecret],
      async close() {
        await site.close();
        await closeTarget();
      },
    };
  },

  async minimedcarelink(o) {
    const { nightscout, apiSecret, closeTarget } = await target(o);
    const username = `demo.${o.id ?? 'carelink'}`;
    const password = o.password ?? 'demo-carelink-password-1';
    const carelink = await startCareLinkSimulator({
      clock: o.clock,
      accounts: [{ username, password, role: 'patient', deviceFamily: 'NGP', timezoneOffset: '+02:00' }],
    });
    const settings = { carelinkRegion: 'eu', countryCode: 'gb', carelinkServer: carelink.url, carelinkDiscoveryUrl: carelink.discoveryUrl };
    // The first login is a person in a browser: play that browser against the simulator's login form.
    const parsed = careLinkDriver.parseSettings(settings);
    const pending = await startCareLinkLogin(parsed);
    const landing = await playCareLinkBrowser(pending.authorizeUrl, username, password);
    const vendor = await completeCareLinkLogin(parsed, pending, landing, o.clock.now());
    const initialRefreshToken = vendor.refreshToken;
    const count = (route: string, method?: string) => carelink.requests.filter((r) => r.route === route && (method === undefined || r.method === method)).length;
    return {
      kind: 'minimedcarelink',
      config: {
        id: o.id ?? 'demo-minimedcarelink', kind: 'minimedcarelink',
        settings,
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { ...vendor }, nightscout: { apiSecret } },
      nightscout,
      vendorReadings(from, until) {
        const newest = Math.floor((until - MINUTE) / FIVE_MIN) * FIVE_MIN;
        return grid(from, newest, FIVE_MIN).filter((t) => !careLinkSimDropout(t));
      },
      vendorStats: () => ({
        // Browser logins (the person); token grants are the code exchange plus every refresh.
        logins: count('authorize', 'POST'), dataRequests: count('data'), tokenGrants: count('token'), apiRequests: count('api'),
      }),
      secrets: () => [password, initialRefreshToken, apiSecret],
      async close() {
        await carelink.close();
        await closeTarget();
      },
    };
  },
};

/** Play the browser against the CareLink simulator: load the authorize page, submit its form, return the redirect. */
async function playCareLinkBrowser(authorizeUrl: string, username: string, password: string): Promise<string> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`CareLink simulator: no login form (HTTP ${page.status})`);
  const form = new URLSearchParams({ username, password });
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(m[1], m[2]);
  const res = await fetch(new URL(action, authorizeUrl), {
    method: 'POST', body: form.toString(), redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`CareLink simulator: login form answered HTTP ${res.status}`);
  return location;
}

/**
 * Count readings end to end: distinct vendor readings, distinct Nightscout entries of them, and duplicates, for
 * readings dated in [from, until]. `publishedBy` (default `until`) is when the vendor list is taken: a later instant
 * counts a reading dated just before `until` but published just after it, as Nightscout's date filter does.
 */
export function countReadings(scenario: Scenario, from: number, until: number, device?: string, publishedBy = until) {
  const vendor = scenario.vendorReadings(from, publishedBy).filter((d) => d <= until);
  const entries = scenario.nightscout.store.entries.filter((e) => (device === undefined || e.device === device) && Number(e.date) >= from && Number(e.date) <= until);
  const seen = new Map<number, number>();
  for (const e of entries) seen.set(Number(e.date), (seen.get(Number(e.date)) ?? 0) + 1);
  const duplicates = [...seen.values()].reduce((sum, n) => sum + (n - 1), 0);
  const missing = vendor.filter((d) => !seen.has(d)).length;
  return { vendor: vendor.length, nightscout: seen.size, duplicates, missing };
}
