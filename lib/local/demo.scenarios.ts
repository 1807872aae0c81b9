/**
 * Demo scenarios: a vendor simulator and a simulated Nightscout on 127.0.0.1, wired to one configured source.
 * Each scenario knows which readings its vendor published, so a run can be checked end to end:
 * `readings: vendor=<N> nightscout=<M> duplicates=<D>`.
 */
import { startDexcomShareSimulator } from '../simulators/dexcom-share.simulator.js';
import { startNightscoutSimulator, type NightscoutSimulator } from '../simulators/nightscout.simulator.js';
import type { SourceConfig, SourceCredentials } from '../domain/source.js';

export interface Scenario {
  kind: string;
  config: SourceConfig;
  credentials: SourceCredentials;
  nightscout: NightscoutSimulator;
  /** Reading instants the vendor had published by `until` and that the source is responsible for (≥ from). */
  vendorReadings(from: number, until: number): number[];
  vendorStats(): Record<string, unknown>;
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
}

export async function startScenario(kind: string, options: ScenarioOptions): Promise<Scenario> {
  const factory = SCENARIOS[kind];
  if (!factory) throw new Error(`no demo scenario for source "${kind}"; available: ${Object.keys(SCENARIOS).join(', ')}`);
  return factory(options);
}

export const SCENARIOS: Record<string, (o: ScenarioOptions) => Promise<Scenario>> = {
  async dexcomshare(o) {
    const apiSecret = o.apiSecret ?? DEMO_API_SECRET;
    const nightscout = o.nightscout ?? (await startNightscoutSimulator({ apiSecret, clock: o.clock }));
    const accountName = `demo-${o.id ?? 'dexcom'}`;
    const password = o.password ?? 'demo-password-1';
    const share = await startDexcomShareSimulator({ clock: o.clock, accounts: [{ accountName, password }] });
    return {
      kind: 'dexcomshare',
      config: {
        id: o.id ?? 'demo-dexcomshare', kind: 'dexcomshare',
        settings: { shareRegion: 'us', shareServer: share.url },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { accountName, password }, nightscout: { apiSecret } },
      nightscout,
      vendorReadings: (from, until) => share.readingsUpTo(until, accountName).map((r) => r.date).filter((d) => d >= from),
      vendorStats: () => ({ authenticate: share.stats.authenticate, login: share.stats.login, read: share.stats.read, failedLogins: share.stats.failedLogins }),
      async close() {
        await share.close();
        if (!o.nightscout) await nightscout.close();
      },
    };
  },
};

/** Count readings end to end: distinct vendor readings, distinct Nightscout entries of them, and duplicates. */
export function countReadings(scenario: Scenario, from: number, until: number, device?: string) {
  const vendor = scenario.vendorReadings(from, until);
  const entries = scenario.nightscout.store.entries.filter((e) => (device === undefined || e.device === device) && Number(e.date) >= from && Number(e.date) <= until);
  const seen = new Map<number, number>();
  for (const e of entries) seen.set(Number(e.date), (seen.get(Number(e.date)) ?? 0) + 1);
  const duplicates = [...seen.values()].reduce((sum, n) => sum + (n - 1), 0);
  const missing = vendor.filter((d) => !seen.has(d)).length;
  return { vendor: vendor.length, nightscout: seen.size, duplicates, missing };
}
