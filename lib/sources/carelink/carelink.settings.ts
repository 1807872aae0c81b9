/**
 * CareLink settings as the driver uses them (validated by the declaration, carelink.vendor.ts), the servers they
 * default to, and the URL rule every CareLink URL follows. Non-secret plain data: stored beside the source.
 */
import { isLoopbackHost } from '../../adapters/http/http.policy.js';

export type CareLinkRegion = 'us' | 'eu';

export interface CareLinkSettings {
  region: CareLinkRegion;
  /** Origin of the CareLink data API, e.g. https://carelink.minimed.com (no trailing slash). */
  server: string;
  /** Full URL of the CarePartner discovery document. */
  discoveryUrl: string;
  /** ISO 3166 two-letter country, lower-case. */
  countryCode: string;
  languageCode: string;
  /** Care partners following several people pick one by CareLink username; otherwise the first link is used. */
  patientUsername?: string;
  httpTimeoutMs: number;
}

export const CARELINK_SERVERS: Record<CareLinkRegion, string> = {
  us: 'https://carelink.minimed.com',
  eu: 'https://carelink.minimed.eu',
};

/** The CarePartner app's discovery path; versions move, hence CONNECT_CARELINK_DISCOVERY_URL. */
export const CARELINK_DISCOVERY_PATH = '/connect/carepartner/v13/discover/android/3.6';

export const CARELINK_DISCOVERY_HOSTS: Record<CareLinkRegion, string> = {
  us: 'https://clcloud.minimed.com',
  eu: 'https://clcloud.minimed.eu',
};

/** Parse an absolute URL that is https, or http on loopback; undefined otherwise. */
export function safeUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  return undefined;
}
