/**
 * Another Nightscout site as a source, declared: settings, secrets and schedule (the implementation is
 * nightscout.source.ts). nightscout-connect took the access token as `?token=` on CONNECT_SOURCE_ENDPOINT; the token
 * is a secret, so it is moved into the vendor credentials before anything is stored.
 */

import { DEFAULT_HTTP_TIMEOUT_MS } from '../../adapters/http/http.policy.js';
import { field, httpTimeout, integer, oneOf, textOf, url } from '../settings.fields.js';
import { defineVendor } from '../vendor.declaration.js';

export const NIGHTSCOUT_SOURCE_DEVICE = 'nightscout-connect-nightscout';

export type NightscoutCollection = 'entries' | 'treatments' | 'devicestatus' | 'profile';
export const NIGHTSCOUT_COLLECTIONS: NightscoutCollection[] = ['entries', 'treatments', 'devicestatus', 'profile'];

export interface NightscoutSourceSettings {
  /** Base URL, path kept (sites behind a sub-path), no query, no trailing slash. */
  endpoint: string;
  collections: NightscoutCollection[];
  maxCount: number;
  apiVersion: 'auto' | 'v1' | 'v3';
  httpTimeoutMs: number;
}

const HOUR = 3_600_000;
export const NIGHTSCOUT_JWT_LIFETIME_MS = 8 * HOUR;
export const NIGHTSCOUT_MAX_LOOKBACK_MS = 2 * 24 * HOUR;

const baseUrl = url({
  example: 'source.example.org',
  path: 'keep',
  query: 'drop',
  required: 'the source Nightscout URL, e.g. https://source.example.org',
});

const endpoint = field((raw, variable, problems) => {
  // Never echo the value: it may still carry a token.
  if (/[?&]token=/i.test(textOf(raw) ?? '')) {
    problems.push(
      `${variable} still contains ?token=; the access token belongs in the credentials (vendor.token), not in settings`,
    );
    return undefined;
  }
  return baseUrl.parse(raw, variable, problems);
});

const collections = field((raw, variable, problems): NightscoutCollection[] => {
  const text = textOf(raw);
  if (text === undefined) return [...NIGHTSCOUT_COLLECTIONS];
  const chosen = new Set<NightscoutCollection>();
  let bad = false;
  for (const part of text
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean)) {
    const name = part === 'profiles' ? 'profile' : part;
    if ((NIGHTSCOUT_COLLECTIONS as string[]).includes(name)) chosen.add(name as NightscoutCollection);
    else bad = true;
  }
  if (bad) problems.push(`${variable} must list some of ${NIGHTSCOUT_COLLECTIONS.join(', ')}`);
  else if (chosen.size === 0) problems.push(`${variable} names no collection`);
  return NIGHTSCOUT_COLLECTIONS.filter((c) => chosen.has(c));
});

export const nightscoutVendor = defineVendor({
  kind: 'nightscout',
  displayName: 'Nightscout (another site)',
  device: NIGHTSCOUT_SOURCE_DEVICE,
  settings: {
    sourceEndpoint: endpoint,
    sourceCollections: collections,
    sourceMaxCount: integer({ min: 1, max: 1000, default: 1000 }),
    sourceApiVersion: oneOf(['auto', 'v1', 'v3'], { default: 'auto' }),
    httpTimeoutMs: httpTimeout(),
  },
  resolve: (v): NightscoutSourceSettings => ({
    endpoint: v.sourceEndpoint ?? '',
    collections: v.sourceCollections,
    maxCount: v.sourceMaxCount,
    apiVersion: v.sourceApiVersion,
    httpTimeoutMs: v.httpTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
  }),
  secrets: {
    token: { variable: 'CONNECT_SOURCE_TOKEN' },
    apiSecret: {
      variable: 'CONNECT_SOURCE_API_SECRET',
      required: { unless: 'token' },
      missing:
        'the source Nightscout needs an access token (?token= on CONNECT_SOURCE_ENDPOINT) or CONNECT_SOURCE_API_SECRET',
    },
  },
  checkCredentials: (vendor, problems) => {
    const token = vendor.token;
    const secret = vendor.apiSecret;
    // Nightscout refuses to start with a shorter API_SECRET, so a shorter one cannot be right.
    if (
      !(typeof token === 'string' && token.trim() !== '') &&
      typeof secret === 'string' &&
      secret !== '' &&
      secret.length < 12
    ) {
      problems.push('CONNECT_SOURCE_API_SECRET must be at least 12 characters (Nightscout requires it)');
    }
  },
  secretsInSettings: (settings) => {
    // nightscout-connect accepted `?token=` inside CONNECT_SOURCE_ENDPOINT; the token is a secret, so move it.
    const out = { ...settings };
    if (!out.sourceEndpoint) return { settings: out, vendor: {} };
    try {
      const at = new URL(out.sourceEndpoint);
      const token = at.searchParams.get('token');
      at.searchParams.delete('token');
      out.sourceEndpoint = at.toString().replace(/\?$/, '');
      const vendor: Record<string, string> = token === null ? {} : { token };
      return { settings: out, vendor };
    } catch {
      return { settings: out, vendor: {} }; // the endpoint field reports the malformed URL
    }
  },
  sessionLifetimeMs: NIGHTSCOUT_JWT_LIFETIME_MS,
  schedule: () => [
    {
      name: 'Nightscout',
      intervalMs: 5 * 60_000,
      align: { lagMs: 18_000, jitterMs: 18_000 },
      attempts: 4,
      retry: { baseMs: 10_000, capMs: 5 * 60_000 },
      backoff: { baseMs: 5 * 60_000, capMs: 30 * 60_000 },
      maxLookbackMs: NIGHTSCOUT_MAX_LOOKBACK_MS,
    },
  ],
  load: async () => (await import('./nightscout.source.js')).nightscoutSource,
});
