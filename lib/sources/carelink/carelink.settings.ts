/**
 * CareLink settings (camelCase of the CONNECT_* variables), validated once with messages that name the variable.
 * Everything here is non-secret plain data: it is stored beside the source and shown in status.
 */
import { ConfigError } from '../../domain/errors.js';
import { DEFAULT_HTTP_TIMEOUT_MS, isLoopbackHost } from '../../adapters/http/http.client.js';

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

const MIN_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 120_000;

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

function text(raw: Record<string, unknown>, key: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  const s = String(value).trim();
  return s === '' ? undefined : s;
}

export function parseCareLinkSettings(raw: Record<string, unknown>): CareLinkSettings {
  const problems: string[] = [];

  const regionText = (text(raw, 'carelinkRegion') ?? 'us').toLowerCase();
  let region: CareLinkRegion = 'us';
  if (regionText === 'us' || regionText === 'eu') region = regionText;
  else problems.push(`CONNECT_CARELINK_REGION must be "us" or "eu" (case-insensitive), got "${regionText}"`);

  let server = CARELINK_SERVERS[region];
  const serverText = text(raw, 'carelinkServer');
  if (serverText !== undefined) {
    // A bare host name is the common way people write an override; a full URL is accepted too.
    const url = safeUrl(/^[a-z][a-z0-9+.-]*:\/\//i.test(serverText) ? serverText : `https://${serverText}`);
    if (!url || (url.pathname !== '/' && url.pathname !== '')) {
      problems.push('CONNECT_CARELINK_SERVER must be a host name or an https origin (http only for 127.0.0.1/localhost), without a path');
    } else {
      server = url.origin;
    }
  }

  let discoveryUrl = `${CARELINK_DISCOVERY_HOSTS[region]}${CARELINK_DISCOVERY_PATH}`;
  const discoveryText = text(raw, 'carelinkDiscoveryUrl');
  if (discoveryText !== undefined) {
    const url = safeUrl(discoveryText);
    if (!url) {
      problems.push('CONNECT_CARELINK_DISCOVERY_URL must be an absolute https URL (http only for 127.0.0.1/localhost)');
    } else {
      // An origin alone means "same path, other host"; a full URL is used as is (Medtronic bumps v13/3.6).
      discoveryUrl = url.pathname === '/' || url.pathname === '' ? `${url.origin}${CARELINK_DISCOVERY_PATH}` : url.href;
    }
  }

  const countryText = text(raw, 'countryCode');
  let countryCode = '';
  if (countryText === undefined) problems.push('CONNECT_COUNTRY_CODE is required for CareLink: the two-letter country of the CareLink account, e.g. "gb"');
  else if (!/^[a-z]{2}$/i.test(countryText)) problems.push(`CONNECT_COUNTRY_CODE must be two letters (ISO 3166), e.g. "gb", got "${countryText}"`);
  else countryCode = countryText.toLowerCase();

  const languageText = text(raw, 'languageCode') ?? 'en';
  let languageCode = 'en';
  if (!/^[a-z]{2}$/i.test(languageText)) problems.push(`CONNECT_LANGUAGE_CODE must be two letters, e.g. "en", got "${languageText}"`);
  else languageCode = languageText.toLowerCase();

  const patientUsername = text(raw, 'carelinkPatientUsername');

  let httpTimeoutMs = DEFAULT_HTTP_TIMEOUT_MS;
  const timeoutText = text(raw, 'httpTimeoutMs');
  if (timeoutText !== undefined) {
    const n = Number(timeoutText);
    if (!Number.isInteger(n) || n < MIN_TIMEOUT_MS || n > MAX_TIMEOUT_MS) {
      problems.push(`CONNECT_HTTP_TIMEOUT_MS must be a whole number of milliseconds between ${MIN_TIMEOUT_MS} and ${MAX_TIMEOUT_MS}`);
    } else httpTimeoutMs = n;
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { region, server, discoveryUrl, countryCode, languageCode, ...(patientUsername ? { patientUsername } : {}), httpTimeoutMs };
}
