/**
 * Medtronic CareLink (CarePartner OAuth), declared: settings, secrets, parked-state hints, the browser login and the
 * schedule (the implementation is carelink.source.ts). The first login needs a person in a browser, so the credentials
 * are a refresh token the `login` command stores; it rotates on every refresh, which is why check-login is not offered.
 */

import { DEFAULT_HTTP_TIMEOUT_MS } from '../../adapters/http/http.policy.js';
import { httpTimeout, oneOf, text, url } from '../settings.fields.js';
import { defineVendor } from '../vendor.declaration.js';
import {
  CARELINK_DISCOVERY_HOSTS,
  CARELINK_DISCOVERY_PATH,
  CARELINK_SERVERS,
  type CareLinkSettings,
  safeUrl,
} from './carelink.settings.js';

export const CARELINK_KIND = 'minimedcarelink';
/**
 * Documents carry `nightscout-connect://minimedcarelink/<family>` (family from the payload, as nightscout-connect). The
 * declared device is the family-less prefix, because the family is unknown until data arrives.
 */
export const CARELINK_DEVICE_PREFIX = 'nightscout-connect://minimedcarelink';
export const CARELINK_LOGIN_HINT = 'run `npm run login -- --source minimedcarelink` first';
/** What a person must do once CareLink refuses the refresh token: nothing but a new browser login brings it back. */
export const CARELINK_RELOGIN_HINT = 'run `npm run login -- --source minimedcarelink` again';
/**
 * Code of a refused refresh-token grant. It is the one part of the error the parked status shows, so it names what the
 * person has to do rather than what the token endpoint said.
 */
export const CARELINK_LOGIN_REQUIRED = 'CARELINK.LOGIN_REQUIRED';

export const careLinkVendor = defineVendor({
  kind: CARELINK_KIND,
  displayName: 'Medtronic CareLink',
  device: CARELINK_DEVICE_PREFIX,
  settings: {
    carelinkRegion: oneOf(['us', 'eu'], { default: 'us' }),
    carelinkServer: url({ example: 'carelink.minimed.com', path: 'refuse', query: 'drop' }),
    carelinkDiscoveryUrl: url({ example: 'clcloud.minimed.eu', bareHost: false, path: 'keep', query: 'keep' }),
    countryCode: text({
      required: 'the two-letter country of the CareLink account, e.g. "gb"',
      pattern: /^[a-z]{2}$/i,
      expected: 'be two letters (ISO 3166), e.g. "gb"',
    }),
    languageCode: text({ default: 'en', pattern: /^[a-z]{2}$/i, expected: 'be two letters, e.g. "en"' }),
    carelinkPatientUsername: text(),
    httpTimeoutMs: httpTimeout(),
  },
  resolve: (v): CareLinkSettings => {
    const region = v.carelinkRegion;
    // An origin alone means "same path, other host"; a full URL is used as is (Medtronic bumps v13/3.6).
    const discovery = v.carelinkDiscoveryUrl;
    const discoveryUrl =
      discovery === undefined
        ? `${CARELINK_DISCOVERY_HOSTS[region]}${CARELINK_DISCOVERY_PATH}`
        : new URL(discovery).pathname === '/'
          ? `${new URL(discovery).origin}${CARELINK_DISCOVERY_PATH}`
          : discovery;
    return {
      region,
      server: v.carelinkServer ?? CARELINK_SERVERS[region],
      discoveryUrl,
      countryCode: (v.countryCode ?? '').toLowerCase(),
      languageCode: v.languageCode.toLowerCase(),
      ...(v.carelinkPatientUsername ? { patientUsername: v.carelinkPatientUsername } : {}),
      httpTimeoutMs: v.httpTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    };
  },
  secrets: {
    refreshToken: {
      variable: 'CONNECT_CARELINK_REFRESH_TOKEN',
      required: true,
      missing: `CareLink needs vendor.refreshToken from a browser login: ${CARELINK_LOGIN_HINT}`,
    },
    // The OAuth client and token endpoint the login used: public by nature (they are in the login URL itself).
    clientId: { variable: 'CONNECT_CARELINK_CLIENT_ID', masked: false },
    tokenUrl: { variable: 'CONNECT_CARELINK_TOKEN_URL', masked: false },
  },
  // nightscout-connect logged in with a CareLink password; CareLink's CAPTCHA ended that, so these are dropped unread.
  ignoredSecrets: ['CONNECT_CARELINK_USERNAME', 'CONNECT_CARELINK_PASSWORD'],
  checkCredentials: (vendor, problems) => {
    if (vendor.tokenUrl !== undefined && !(typeof vendor.tokenUrl === 'string' && safeUrl(vendor.tokenUrl))) {
      problems.push('CareLink vendor.tokenUrl must be an https URL (run the login command again)');
    }
  },
  parked: {
    [CARELINK_LOGIN_REQUIRED]:
      'CareLink needs a new browser login: run `nightscout-connect login --source minimedcarelink` (locally `npm run login -- --source minimedcarelink`), which resumes the source',
  },
  login: { summary: 'browser login for CareLink (CAPTCHA and MFA need a person); stores the refresh token' },
  checkLogin: {
    unavailable:
      'its refresh tokens rotate, so a test login would invalidate the stored one. Use `sources show` instead, or run `login` again.',
  },
  // Only used when the token response states no expiry at all (neither expires_in nor a JWT exp).
  sessionLifetimeMs: 15 * 60_000,
  schedule: () => [
    {
      name: 'MinimedCarelink',
      intervalMs: 5 * 60_000,
      // nightscout-connect: CareLink publishes later than Dexcom, hence 68 s instead of 18 s.
      align: { lagMs: 68_000, jitterMs: 18_000 },
      attempts: 3,
      retry: { baseMs: 60_000, capMs: 5 * 60_000 },
      backoff: { baseMs: 5 * 60_000, capMs: 30 * 60_000 },
      // CareLink only ever returns `last24hours`.
      maxLookbackMs: 24 * 60 * 60_000,
    },
  ],
  load: async () => (await import('./carelink.source.js')).careLinkSource,
});
