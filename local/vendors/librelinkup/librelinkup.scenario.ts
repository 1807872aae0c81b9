/**
 * The LibreLinkUp demo scenario. Published readings: the 5-minute `graphData` history (15 min lag, 12 h window). The
 * 1-minute "current" reading a poll also carries is written too, but the minutes between polls are never retrievable
 * later, so they are not counted as published history.
 */
import { LIBRELINKUP_HOSTS, libreLinkUpVendor } from '../../../lib/sources/librelinkup/librelinkup.vendor.js';
import { FIVE_MIN, grid, MINUTE, type ScenarioDefinition, scenarioTarget } from '../../scenarios.js';
import { startLibreLinkUpSimulator } from './librelinkup.simulator.js';

export const scenario: ScenarioDefinition = {
  kind: libreLinkUpVendor.kind,
  e2e: { start: Date.UTC(2026, 5, 1, 12, 0, 7), note: '' },
  economy: {
    requestsPerPoll: 1,
    requestsWhy: 'one graph request per poll (connections only after a login)',
    loginsPerDay: 1,
    loginsWhy: 'the auth ticket lasts far longer than a day',
    writesBeyondHistory:
      'each poll also writes the 1-minute current reading, which the 5-minute graph history (the vendor count) does not list',
  },
  async start(o) {
    const { nightscout, apiSecret, closeTarget } = await scenarioTarget(o);
    const email = `demo-${o.id ?? 'libre'}@example.invalid`;
    const password = o.password ?? 'demo-libre-password-1';
    const patientId = 'demo-patient-1';
    const graphLagMs = 15 * MINUTE;
    const libre = await startLibreLinkUpSimulator({
      clock: o.clock,
      graphLagMs,
      accounts: [
        { email, password, region: 'eu', patients: [{ patientId, firstName: 'Demo', timeZone: 'Europe/London' }] },
      ],
    });
    const hosts: Record<string, string> = {};
    for (const region of Object.keys(LIBRELINKUP_HOSTS)) hosts[region] = libre.hostFor(region);
    return {
      kind: 'librelinkup',
      config: {
        id: o.id ?? 'demo-librelinkup',
        kind: 'librelinkup',
        settings: { linkUpRegion: 'EU', linkUpHosts: JSON.stringify(hosts) },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { username: email, password }, nightscout: { apiSecret } },
      nightscout,
      device: libreLinkUpVendor.device,
      vendorReadings(from, until) {
        // The graph history: every 5-minute point that has left the publish lag by `until`.
        const newest = Math.floor((until - graphLagMs) / FIVE_MIN) * FIVE_MIN;
        return grid(from, newest, FIVE_MIN);
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
        await closeTarget();
      },
    };
  },
};
