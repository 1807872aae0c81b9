/**
 * The Dexcom Share demo scenario. Published readings: every 5-minute reading once its publish lag has passed (the
 * simulator's own record).
 */
import { dexcomShareVendor } from '../../../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { FIVE_MIN, HOUR, type ScenarioDefinition, scenarioTarget } from '../../scenarios.js';
import { startDexcomShareSimulator } from './dexcom-share.simulator.js';

export const scenario: ScenarioDefinition = {
  kind: dexcomShareVendor.kind,
  e2e: { start: Date.UTC(2026, 10, 23, 6, 0, 7), note: '' },
  economy: {
    requestsPerPoll: 1,
    requestsWhy: 'one ReadPublisherLatestGlucoseValues per poll, one reading per 5 min',
    loginsPerDay: 1,
    loginsWhy: 'the Share session lasts 24 h',
  },
  async start(o) {
    const { nightscout, apiSecret, closeTarget } = await scenarioTarget(o);
    const accountName = `demo-${o.id ?? 'dexcom'}`;
    const password = o.password ?? 'demo-password-1';
    const readingEpoch = Math.floor((o.clock.now() - 24 * HOUR) / FIVE_MIN) * FIVE_MIN + ((o.phaseMs ?? 0) % FIVE_MIN);
    const share = await startDexcomShareSimulator({
      clock: o.clock,
      readingEpoch,
      accounts: [{ accountName, password }],
    });
    return {
      kind: 'dexcomshare',
      config: {
        id: o.id ?? 'demo-dexcomshare',
        kind: 'dexcomshare',
        settings: { shareRegion: 'us', shareServer: share.url },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { accountName, password }, nightscout: { apiSecret } },
      nightscout,
      device: dexcomShareVendor.device,
      vendorReadings: (from, until) =>
        share
          .readingsUpTo(until, accountName)
          .map((r) => r.date)
          .filter((d) => d >= from),
      vendorStats: () => ({
        logins: share.stats.login,
        dataRequests: share.stats.read,
        authenticate: share.stats.authenticate,
        login: share.stats.login,
        read: share.stats.read,
        failedLogins: share.stats.failedLogins,
      }),
      secrets: () => [password, apiSecret],
      async close() {
        await share.close();
        await closeTarget();
      },
    };
  },
};
