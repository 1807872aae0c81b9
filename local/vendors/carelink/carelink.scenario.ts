/**
 * The Medtronic CareLink demo scenario. The first login is a person in a browser: the scenario plays that browser
 * against the simulator's login form. Published readings: every 5-minute SG slot at least one minute old, except the
 * simulator's fixed sensor dropout (sg 0).
 */

import type { CareLinkSettings } from '../../../lib/sources/carelink/carelink.settings.js';
import { careLinkVendor } from '../../../lib/sources/carelink/carelink.vendor.js';
import { completeCareLinkLogin, startCareLinkLogin } from '../../../lib/sources/carelink/carelink-login.flow.js';
import { FIVE_MIN, grid, MINUTE, type ScenarioDefinition, scenarioTarget } from '../../scenarios.js';
import { careLinkSimDropout, startCareLinkSimulator } from './carelink.simulator.js';

export const scenario: ScenarioDefinition = {
  kind: careLinkVendor.kind,
  e2e: { start: Date.UTC(2026, 4, 10, 3, 0, 0), note: 'a fixed two-reading dropout at 06:00 UTC' },
  economy: {
    requestsPerPoll: 1,
    requestsWhy: 'one data request per poll; token refreshes are counted apart (tokenGrants)',
    loginsPerDay: 1,
    loginsWhy:
      'the browser login is the person, once; the 15-min access tokens are refreshed without them (tokenGrants)',
  },
  async start(o) {
    const { nightscout, apiSecret, closeTarget } = await scenarioTarget(o);
    const username = `demo.${o.id ?? 'carelink'}`;
    const password = o.password ?? 'demo-carelink-password-1';
    const carelink = await startCareLinkSimulator({
      clock: o.clock,
      accounts: [{ username, password, role: 'patient', deviceFamily: 'NGP', timezoneOffset: '+02:00' }],
    });
    const settings = {
      carelinkRegion: 'eu',
      countryCode: 'gb',
      carelinkServer: carelink.url,
      carelinkDiscoveryUrl: carelink.discoveryUrl,
    };
    // The first login is a person in a browser: play that browser against the simulator's login form.
    const parsed: CareLinkSettings = careLinkVendor.parseSettings(settings);
    const pending = await startCareLinkLogin(parsed);
    const landing = await playCareLinkBrowser(pending.authorizeUrl, username, password);
    const vendor = await completeCareLinkLogin(parsed, pending, landing, o.clock.now());
    const initialRefreshToken = vendor.refreshToken;
    const count = (route: string, method?: string) =>
      carelink.requests.filter((r) => r.route === route && (method === undefined || r.method === method)).length;
    return {
      kind: 'minimedcarelink',
      config: {
        id: o.id ?? 'demo-minimedcarelink',
        kind: 'minimedcarelink',
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
        logins: count('authorize', 'POST'),
        dataRequests: count('data'),
        tokenGrants: count('token'),
        apiRequests: count('api'),
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
    method: 'POST',
    body: form.toString(),
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`CareLink simulator: login form answered HTTP ${res.status}`);
  return location;
}
