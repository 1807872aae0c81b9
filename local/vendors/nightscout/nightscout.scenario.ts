/**
 * The Nightscout-as-source demo scenario: a second Nightscout simulator (local/nightscout) is the source site; an
 * uploader "posts" one sgv every 5 minutes (at :02:13.456 past each 5-minute slot, 20 s after the reading, so the
 * millisecond part is exercised). Posting happens lazily: whenever anything reads the source site's entries, every
 * reading whose post instant has passed on the shared clock is inserted first, so the site grows as the simulated clock
 * advances without a runner hook. Published readings: those posted.
 */
import { randomBytes } from 'node:crypto';
import { nightscoutVendor } from '../../../lib/sources/nightscout/nightscout.vendor.js';
import { type StoredDocument, startNightscoutSimulator } from '../../nightscout/nightscout.simulator.js';
import { FIVE_MIN, grid, HOUR, MINUTE, type ScenarioDefinition, scenarioTarget } from '../../scenarios.js';

export const scenario: ScenarioDefinition = {
  kind: nightscoutVendor.kind,
  e2e: { start: Date.UTC(2026, 9, 25, 0, 10, 0), note: '' },
  economy: {
    requestsWhy:
      'a Nightscout source copies four collections per poll (entries, treatments, devicestatus, profile; v3 searches the last three on ' +
      'both `date` and `created_at`), so requests per sgv reading measure the breadth of the copy, not waste',
    loginsPerDay: 3,
    loginsWhy: 'a token is exchanged for a JWT that lasts 8 h (no password involved)',
  },
  async start(o) {
    const { nightscout, apiSecret, closeTarget } = await scenarioTarget(o);
    const sourceSecret = o.password ?? 'demo-source-api-secret-1';
    const token = `demoreader-${randomBytes(8).toString('hex')}`;
    const site = await startNightscoutSimulator({
      apiSecret: sourceSecret,
      clock: o.clock,
      tokens: { [token]: ['api:*:read'] },
    });
    const device = 'xDrip-DexcomG6';
    // Readings on a 5-minute grid at :02:13.456, posted 20 s later; history from three days back (look-back is 2 d).
    const phase = 2 * MINUTE + 13_456;
    const postLagMs = 20_000;
    const historyStart = o.clock.now() - 3 * 24 * HOUR;
    const sgvAt = (t: number) =>
      Math.round(140 + 50 * Math.sin(t / (2.5 * HOUR)) + ((Math.floor(t / FIVE_MIN) * 13) % 9));
    const entries = site.store.entries;
    let posted = historyStart - 1;
    const post = () => {
      const upTo = o.clock.now() - postLagMs;
      for (const date of grid(posted + 1, upTo, FIVE_MIN, phase)) {
        const doc: StoredDocument = {
          _id: randomBytes(12).toString('hex'),
          type: 'sgv',
          sgv: sgvAt(date),
          date,
          dateString: new Date(date).toISOString(),
          sysTime: new Date(date).toISOString(),
          utcOffset: 0,
          direction: 'Flat',
          device,
          noise: 1,
        };
        entries.push(doc);
      }
      if (upTo > posted) posted = upTo;
    };
    // The simulator reads `store.entries` on every request: post whatever is due first.
    Object.defineProperty(site.store, 'entries', {
      configurable: true,
      enumerable: true,
      get: () => {
        post();
        return entries;
      },
    });
    return {
      kind: 'nightscout',
      config: {
        id: o.id ?? 'demo-nightscout',
        kind: 'nightscout',
        settings: { sourceEndpoint: site.url },
        nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
      },
      credentials: { vendor: { token }, nightscout: { apiSecret } },
      nightscout,
      device,
      vendorReadings: (from, until) => grid(Math.max(from, historyStart), until - postLagMs, FIVE_MIN, phase),
      vendorStats: () => {
        const reads = Object.entries(site.requests)
          .filter(([key]) => key.startsWith('GET /api/v1/entries') || key.startsWith('GET /api/v3/entries'))
          .reduce((sum, [, n]) => sum + n, 0);
        const all = Object.entries(site.requests)
          .filter(([key]) => /^GET \/api\/v[13]\/(entries|treatments|devicestatus|profile)/.test(key))
          .reduce((sum, [, n]) => sum + n, 0);
        return {
          logins: site.requests['GET /api/v2/authorization/request/:token'] ?? 0,
          dataRequests: all,
          entriesRequests: reads,
        };
      },
      secrets: () => [token, sourceSecret, apiSecret],
      async close() {
        await site.close();
        await closeTarget();
      },
    };
  },
};
