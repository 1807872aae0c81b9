/**
 * Dexcom Share, declared: settings, secrets and schedule (the implementation is dexcom-share.source.ts).
 * `CONNECT_SHARE_SERVER` chooses the host while the application id follows `CONNECT_SHARE_REGION` (Japan needs its own).
 */

import { httpTimeout, oneOf, url } from '../settings.fields.js';
import { defineVendor } from '../vendor.declaration.js';

/** Kept from nightscout-connect so migrating users keep their labels (Nightscout dedups on sysTime+type, not device). */
export const DEXCOM_DEVICE = 'nightscout-connect';
export const DEXCOM_KIND = 'dexcomshare';

export type DexcomRegion = 'us' | 'ous' | 'jp';

export interface DexcomShareSettings {
  /** Origin only, e.g. `https://share2.dexcom.com`. */
  baseUrl: string;
  applicationId: string;
  region: DexcomRegion;
  /** Per-request timeout; optional so stored settings from before it existed stay valid. */
  httpTimeoutMs?: number;
}

const REGIONS: Record<DexcomRegion, { host: string; applicationId: string }> = {
  us: { host: 'share2.dexcom.com', applicationId: 'd89443d2-327c-4a6f-89e5-496bbb0317db' },
  ous: { host: 'shareous1.dexcom.com', applicationId: 'd89443d2-327c-4a6f-89e5-496bbb0317db' },
  jp: { host: 'share.dexcom.jp', applicationId: 'd8665ade-9673-4e27-9ff6-92db4ce13d13' },
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const dexcomShareVendor = defineVendor({
  kind: DEXCOM_KIND,
  displayName: 'Dexcom Share',
  device: DEXCOM_DEVICE,
  settings: {
    shareRegion: oneOf(['us', 'ous', 'jp'], { default: 'us' }),
    shareServer: url({ example: 'share2.dexcom.com', path: 'refuse' }),
    httpTimeoutMs: httpTimeout(),
  },
  resolve: (v): DexcomShareSettings => ({
    // An explicit server wins for the host; the application id still follows the region (JP needs its own id).
    baseUrl: v.shareServer ?? `https://${REGIONS[v.shareRegion].host}`,
    applicationId: REGIONS[v.shareRegion].applicationId,
    region: v.shareRegion,
    ...(v.httpTimeoutMs !== undefined ? { httpTimeoutMs: v.httpTimeoutMs } : {}),
  }),
  secrets: {
    accountName: { variable: 'CONNECT_SHARE_ACCOUNT_NAME', required: true },
    password: { variable: 'CONNECT_SHARE_PASSWORD', required: true },
  },
  // Dexcom states no expiry; nightscout-connect renewed daily.
  sessionLifetimeMs: 24 * HOUR,
  schedule: () => [
    {
      name: 'DexcomShare',
      intervalMs: 5 * MINUTE,
      // nightscout-connect waited 18 s + U(0, 18 s) after each slot. We poll sooner (10 s + U(0, 8 s)): Share usually
      // publishes within a few seconds, and a reading not yet there is simply picked up by the next poll's window.
      align: { lagMs: 10_000, jitterMs: 8_000 },
      attempts: 3,
      retry: { baseMs: 30_000, capMs: 5 * MINUTE },
      backoff: { baseMs: 5 * MINUTE, capMs: 30 * MINUTE },
      maxLookbackMs: 24 * HOUR,
    },
  ],
  load: async () => (await import('./dexcom-share.source.js')).dexcomShareSource,
});
