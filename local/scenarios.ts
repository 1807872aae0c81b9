/**
 * Demo scenarios: a vendor simulator and a simulated Nightscout on 127.0.0.1, wired to one configured source. Each
 * vendor's scenario lives next to its simulator, `local/vendors/<vendor>/<vendor>.scenario.ts`, and is found there by
 * convention (`loadScenarios`): the local runner, the simulated demo, the end-to-end tests and the benchmark list that
 * folder, so a new vendor's simulator and scenario need no edit anywhere else. This module is the shared plumbing.
 *
 * Each scenario knows which readings its vendor published, so a run can be checked end to end:
 * `readings: vendor=<N> nightscout=<M> duplicates=<D>` (what "published" means is said in each scenario file).
 *
 * Simulators listen on 127.0.0.1, so their plain-http URLs pass every driver's "https except loopback" rule. Settings
 * are non-secret (they are stored beside the snapshot); every password and token lives in `credentials` only, and
 * `secrets()` lists them for leak checks.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { SourceConfig, SourceCredentials } from '../lib/domain/source.js';
import { canonicalKind } from '../lib/sources/vendor.catalog.js';
import { type NightscoutSimulator, startNightscoutSimulator } from './nightscout/nightscout.simulator.js';

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
   * scenarios in older tests still type-check; every scenario in local/vendors provides it. */
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

/** Vendor data requests one poll makes by design, and logins a source-day may take, with the reasons (the bench's aims). */
export interface VendorEconomy {
  requestsPerPoll?: number;
  requestsWhy: string;
  loginsPerDay: number;
  loginsWhy: string;
  /** Nightscout also holds readings the vendor's history does not list (LibreLinkUp's 1-minute current reading). */
  writesBeyondHistory?: string;
}

/** What `<vendor>.scenario.ts` exports as `scenario`. */
export interface ScenarioDefinition {
  /** The `CONNECT_SOURCE` kind the scenario runs (its vendor's declared kind). */
  kind: string;
  start(options: ScenarioOptions): Promise<Scenario>;
  /** The end-to-end run's start instant when this vendor has a hard part to cross (a DST change, a dropout), and why. */
  e2e?: { start: number; note: string };
  /** What one poll and one source-day should cost at this vendor, for the benchmark. */
  economy?: VendorEconomy;
}

export const MINUTE = 60_000;
export const FIVE_MIN = 5 * MINUTE;
export const HOUR = 60 * MINUTE;

const VENDORS_DIR = new URL('./vendors/', import.meta.url);
let discovered: Promise<ScenarioDefinition[]> | undefined;

/** Every `local/vendors/<vendor>/<vendor>.scenario.ts`, in folder order; each must export `scenario`. */
export function loadScenarios(): Promise<ScenarioDefinition[]> {
  discovered ??= (async () => {
    const folders = readdirSync(VENDORS_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const found: ScenarioDefinition[] = [];
    for (const folder of folders) {
      const file = new URL(`${folder}/${folder}.scenario.ts`, VENDORS_DIR);
      if (!existsSync(file)) continue;
      const module = (await import(file.href)) as { scenario?: ScenarioDefinition };
      if (!module.scenario || typeof module.scenario.start !== 'function')
        throw new Error(`local/vendors/${folder}/${folder}.scenario.ts does not export a scenario`);
      found.push(module.scenario);
    }
    return found;
  })();
  return discovered;
}

/** The kinds that have a demo scenario. */
export async function scenarioKinds(): Promise<string[]> {
  return (await loadScenarios()).map((s) => s.kind);
}

export async function scenarioFor(kind: string): Promise<ScenarioDefinition> {
  const scenarios = await loadScenarios();
  let canonical = kind.trim().toLowerCase();
  try {
    canonical = canonicalKind(kind);
  } catch {
    // not a registered kind: reported below with the kinds that do have a scenario
  }
  const found = scenarios.find((s) => s.kind === canonical);
  if (!found)
    throw new Error(`no demo scenario for source "${kind}"; available: ${scenarios.map((s) => s.kind).join(', ')}`);
  return found;
}

export async function startScenario(kind: string, options: ScenarioOptions): Promise<Scenario> {
  return (await scenarioFor(kind)).start(options);
}

/** The Nightscout the scenario writes to: the shared one (bench) or its own, and how to close it. */
export async function scenarioTarget(
  o: ScenarioOptions,
): Promise<{ nightscout: NightscoutSimulator; apiSecret: string; closeTarget: () => Promise<void> }> {
  const apiSecret = o.apiSecret ?? DEMO_API_SECRET;
  const nightscout = o.nightscout ?? (await startNightscoutSimulator({ apiSecret, clock: o.clock }));
  return {
    nightscout,
    apiSecret,
    closeTarget: async () => {
      if (!o.nightscout) await nightscout.close();
    },
  };
}

/** Instants on a `step` grid with phase `phase`, in [from, to]. */
export function grid(from: number, to: number, step: number, phase = 0): number[] {
  const out: number[] = [];
  for (let t = Math.ceil((from - phase) / step) * step + phase; t <= to; t += step) out.push(t);
  return out;
}

/**
 * Count readings end to end: distinct vendor readings, distinct Nightscout entries of them, and duplicates, for
 * readings dated in [from, until]. `publishedBy` (default `until`) is when the vendor list is taken: a later instant
 * counts a reading dated just before `until` but published just after it, as Nightscout's date filter does.
 */
export function countReadings(scenario: Scenario, from: number, until: number, device?: string, publishedBy = until) {
  const vendor = scenario.vendorReadings(from, publishedBy).filter((d) => d <= until);
  const entries = scenario.nightscout.store.entries.filter(
    (e) => (device === undefined || e.device === device) && Number(e.date) >= from && Number(e.date) <= until,
  );
  const seen = new Map<number, number>();
  for (const e of entries) seen.set(Number(e.date), (seen.get(Number(e.date)) ?? 0) + 1);
  const duplicates = [...seen.values()].reduce((sum, n) => sum + (n - 1), 0);
  const missing = vendor.filter((d) => !seen.has(d)).length;
  return { vendor: vendor.length, nightscout: seen.size, duplicates, missing };
}
