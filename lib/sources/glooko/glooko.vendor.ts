/**
 * Glooko, declared: settings, secrets and schedule (the implementation is glooko.source.ts). Glooko stamps pump and
 * CGM events with the patient's local wall time labelled UTC, so a time zone is required: guessing UTC would shift
 * every bolus by hours. An IANA zone wins over nightscout-connect's fixed offset, since only it follows DST.
 */

import { DEFAULT_HTTP_TIMEOUT_MS } from '../../adapters/http/http.policy.js';
import { field, httpTimeout, ianaZone, oneOf, text, textOf, url } from '../settings.fields.js';
import { defineVendor } from '../vendor.declaration.js';

export const GLOOKO_DEVICE = 'nightscout-connect-glooko';

/** How Glooko's wall-time labels become instants: an IANA zone (DST-aware) or the legacy fixed offset in hours. */
export type GlookoZone = { kind: 'iana'; zone: string } | { kind: 'fixed'; offsetHours: number };

export interface GlookoSettings {
  /** Origin of the Glooko API, e.g. https://eu.api.glooko.com (no trailing slash). */
  baseUrl: string;
  zone: GlookoZone;
  httpTimeoutMs: number;
}

export const GLOOKO_ENV_HOSTS = {
  default: 'api.glooko.com',
  eu: 'eu.api.glooko.com',
  development: 'api.glooko.work',
  production: 'externalapi.glooko.com',
} as const;

const HOUR = 3_600_000;
export const GLOOKO_SESSION_LIFETIME_MS = 24 * HOUR;
export const GLOOKO_MAX_LOOKBACK_MS = 2 * 24 * HOUR;

/** CONNECT_GLOOKO_ENV is read only without CONNECT_GLOOKO_SERVER (a server wins), so it is checked in `resolve`. */
const glookoEnv = oneOf(Object.keys(GLOOKO_ENV_HOSTS) as Array<keyof typeof GLOOKO_ENV_HOSTS>, { default: 'default' });

/** nightscout-connect's legacy offset, hours from UTC in quarter hours; read only without CONNECT_GLOOKO_TIMEZONE. */
const offsetHours = field((raw, variable, problems): number | undefined => {
  const text = textOf(raw);
  if (text === undefined) return undefined;
  const hours = typeof raw === 'number' ? raw : Number(text);
  if (Number.isFinite(hours) && hours >= -12 && hours <= 14 && Number.isInteger(hours * 4)) return hours;
  problems.push(
    `${variable} must be hours from UTC between -12 and 14 in quarter hours (e.g. 1, -5, 5.5); prefer CONNECT_GLOOKO_TIMEZONE`,
  );
  return undefined;
});

export const glookoVendor = defineVendor({
  kind: 'glooko',
  displayName: 'Glooko',
  device: GLOOKO_DEVICE,
  settings: {
    glookoServer: url({ example: 'eu.api.glooko.com', path: 'drop' }),
    glookoEnv: text(),
    glookoTimezone: ianaZone(),
    glookoTimezoneOffset: text(),
    httpTimeoutMs: httpTimeout(),
  },
  resolve: (v, ctx): GlookoSettings => {
    const env =
      v.glookoServer === undefined && !ctx.given('glookoServer')
        ? glookoEnv.parse(v.glookoEnv, 'CONNECT_GLOOKO_ENV', ctx.problems)
        : 'default';
    let zone: GlookoZone | undefined;
    if (v.glookoTimezone !== undefined) zone = { kind: 'iana', zone: v.glookoTimezone };
    else if (!ctx.given('glookoTimezone')) {
      const hours = offsetHours.parse(v.glookoTimezoneOffset, 'CONNECT_GLOOKO_TIMEZONE_OFFSET', ctx.problems);
      if (hours !== undefined) zone = { kind: 'fixed', offsetHours: hours };
      else if (!ctx.given('glookoTimezoneOffset')) {
        ctx.problems.push(
          'CONNECT_GLOOKO_TIMEZONE is required: the IANA time zone of the pump and CGM clocks, e.g. Europe/Berlin (Glooko stamps are local time)',
        );
      }
    }
    return {
      baseUrl: v.glookoServer ?? `https://${GLOOKO_ENV_HOSTS[env]}`,
      zone: zone ?? { kind: 'iana', zone: 'UTC' },
      httpTimeoutMs: v.httpTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    };
  },
  secrets: {
    email: { variable: 'CONNECT_GLOOKO_EMAIL', required: true },
    password: { variable: 'CONNECT_GLOOKO_PASSWORD', required: true },
  },
  sessionLifetimeMs: GLOOKO_SESSION_LIFETIME_MS,
  schedule: () => [
    {
      name: 'Glooko',
      intervalMs: 5 * 60_000,
      // Glooko publishes in uploads, not on a reading grid, so there is no slot to align to; only spread the polls.
      align: { lagMs: 0, jitterMs: 30_000 },
      attempts: 2,
      retry: { baseMs: 30_000, capMs: 5 * 60_000 },
      backoff: { baseMs: 5 * 60_000, capMs: 30 * 60_000 },
      maxLookbackMs: GLOOKO_MAX_LOOKBACK_MS,
    },
  ],
  load: async () => (await import('./glooko.source.js')).glookoSource,
});
