/**
 * The Glooko demo scenario. Published readings: the CGM readings of the simulator's ground truth (real instants; the
 * API serves wall-time labels). Boluses and basals are published treatments.
 */
import { glookoVendor } from '../../../lib/sources/glooko/glooko.vendor.js';
import { type ScenarioDefinition, scenarioTarget } from '../../scenarios.js';
import { startGlookoSimulator } from './glooko.simulator.js';

export const scenario: ScenarioDefinition = {
  kind: glookoVendor.kind,
  e2e: { start: Date.UTC(2026, 2, 29, 0, 30, 0), note: 'crosses Europe/Berlin DST start (01:00 UTC)' },
  economy: {
    requestsPerPoll: 3,
    requestsWhy:
      'each poll reads three endpoints (CGM readings, normal boluses, scheduled basals); the treatments are part of the yield',
    loginsPerDay: 1,
    loginsWhy: 'the session cookie lasts 24 h',
  },
  async start(o) {
    const { nightscout, apiSecret, closeTarget } = await scenarioTarget(o);
    const email = `demo-${o.id ?? 'glooko'}@example.invalid`;
    const password = o.password ?? 'demo-glooko-password-1';
    const timeZone = 'Europe/Berlin';
    const glooko = await startGlookoSimulator({ email, password, timeZone, clock: o.clock });
    const dataRequests = () => glooko.requestLog.filter((r) => r.method === 'GET').length;
    return {
      kind: 'glooko',
      config: {
        id: o.id ?? 'demo-glooko',
        kind: 'glooko',
        settings: { glookoServer: glooko.url, glookoTimezone: timeZone },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { email, password }, nightscout: { apiSecret } },
      nightscout,
      device: glookoVendor.device,
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
};
