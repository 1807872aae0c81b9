/**
 * Glooko driver: v2 cookie sign-in with a full `deviceInformation` block, then boluses, basals and CGM readings
 * (which nightscout-connect dropped) every 5 minutes. Glooko's wall-time-labelled-UTC stamps are re-zoned with a
 * required IANA zone (see glooko.parse.ts). Unlike nightscout-connect no `Host` header is forced, so EU, US and
 * development servers all work.
 */
import { createHash } from 'node:crypto';
import type { AxiosResponse } from 'axios';
import {
  classifyStatus,
  classifyTransportError,
  createHttpClient,
  parseRetryAfter,
} from '../../adapters/http/http.client.js';
import { SessionInvalidError, SourceRejectedError } from '../../domain/errors.js';
import type { DriverContext } from '../../ports/driver.port.js';
import { driverBuilder } from '../driver.builder.js';
import {
  extractArray,
  type GlookoRaw,
  glookoQueryWindow,
  parseSignInBody,
  signInRejection,
  transformGlooko,
} from './glooko.parse.js';
import { GLOOKO_MAX_LOOKBACK_MS, GLOOKO_SESSION_LIFETIME_MS, type GlookoSettings } from './glooko.vendor.js';

/** Session material: a bearer secret, kept only in the session store. */
export interface GlookoSession {
  cookie: string;
  glookoCode: string;
}

interface GlookoAuth extends GlookoSession {
  /** Cookie expiry when Glooko states one (Max-Age / Expires). */
  expiresAt?: number;
}

/**
 * Every poll re-reads at least this much history: pumps upload to Glooko in batches (when the phone app syncs) and
 * CGM data arrives hours late via Clarity, so events older than the cursor keep appearing. Stable identifiers make
 * the re-read idempotent.
 */
export const GLOOKO_REREAD_MS = 24 * 3_600_000;

const PREFIX = 'GLOOKO';

/**
 * The device block Glooko's sign-in demands. Serial and device id are derived from the source id so that the
 * same source always presents as the same phone (a new "device" per login may trigger vendor security checks)
 * while different sources never share one.
 */
export function glookoDeviceInformation(sourceId: string): Record<string, unknown> {
  const digest = createHash('sha256').update(`nightscout-connect-glooko:${sourceId}`).digest('hex');
  return {
    applicationType: 'logbook',
    os: 'android',
    osVersion: '14',
    device: 'Google Pixel 8',
    deviceManufacturer: 'Google',
    deviceModel: 'Pixel 8',
    serialNumber: digest.slice(0, 16).toUpperCase(),
    clinicalResearch: false,
    deviceId: `${digest.slice(16, 24)}-${digest.slice(24, 28)}-${digest.slice(28, 32)}-${digest.slice(32, 36)}-${digest.slice(36, 48)}`,
    applicationVersion: '6.1.3',
    buildNumber: '0',
    gitHash: 'e2b6c1f',
  };
}

function client(settings: GlookoSettings) {
  return createHttpClient({
    baseURL: settings.baseUrl,
    timeoutMs: settings.httpTimeoutMs,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
  });
}

async function signIn(ctx: DriverContext<GlookoSettings>): Promise<GlookoAuth> {
  const http = client(ctx.settings);
  const body = {
    userLogin: { email: ctx.credentials.vendor.email, password: ctx.credentials.vendor.password },
    deviceInformation: glookoDeviceInformation(ctx.sourceId),
  };
  let response: AxiosResponse;
  try {
    response = await http.post('/api/v2/users/sign_in', body);
  } catch (err) {
    throw classifyTransportError(PREFIX, err);
  }
  if (response.status === 401 || response.status === 403 || response.status === 422)
    throw signInRejection(response.status);
  if (response.status < 200 || response.status >= 300) {
    throw classifyStatus(PREFIX, response.status, parseRetryAfter(response.headers['retry-after'], ctx.now));
  }
  const { glookoCode } = parseSignInBody(response.data);
  const cookies = readSetCookies(response.headers['set-cookie'], ctx.now);
  if (cookies.pairs.length === 0) {
    throw new SourceRejectedError('Glooko sign-in answered without a session cookie', 'GLOOKO.SIGN_IN_NO_COOKIE');
  }
  return { cookie: cookies.pairs.join('; '), glookoCode, expiresAt: cookies.expiresAt };
}

/** Keep only `name=value` of each Set-Cookie, and the earliest stated expiry. */
export function readSetCookies(header: unknown, now: number): { pairs: string[]; expiresAt?: number } {
  const lines = Array.isArray(header) ? header.map(String) : typeof header === 'string' ? [header] : [];
  const pairs: string[] = [];
  let expiresAt: number | undefined;
  for (const line of lines) {
    const [pair, ...attributes] = line.split(';').map((part) => part.trim());
    if (!pair?.includes('=')) continue;
    pairs.push(pair);
    for (const attribute of attributes) {
      const [name, value = ''] = attribute.split('=');
      let at: number | undefined;
      if (/^max-age$/i.test(name) && /^-?\d+$/.test(value)) at = now + Number(value) * 1000;
      else if (/^expires$/i.test(name) && !Number.isNaN(Date.parse(value))) at = Date.parse(value);
      if (at !== undefined && (expiresAt === undefined || at < expiresAt)) expiresAt = at;
    }
  }
  return { pairs, expiresAt };
}

const ENDPOINTS = [
  { key: 'normalBoluses', path: '/api/v2/pumps/normal_boluses' },
  { key: 'scheduledBasals', path: '/api/v2/pumps/scheduled_basals' },
  { key: 'readings', path: '/api/v2/cgm/readings' },
] as const;

/** The window one fetch asks for: never shorter than the re-read period, never longer than the look-back. */
export function glookoFetchStart(since: number, now: number): number {
  return Math.max(Math.min(since, now - GLOOKO_REREAD_MS), now - GLOOKO_MAX_LOOKBACK_MS);
}

/** Session and loop behaviour; timings are declared in glooko.vendor.ts. */
export const glookoSource = driverBuilder<GlookoSettings>()
  .supportSession<GlookoAuth, GlookoSession>({
    authenticate: signIn,
    async authorize(ctx, auth) {
      const expiresAt = Math.min(auth.expiresAt ?? Infinity, ctx.now + GLOOKO_SESSION_LIFETIME_MS);
      return { session: { cookie: auth.cookie, glookoCode: auth.glookoCode }, expiresAt };
    },
  })
  .registerLoop<GlookoRaw>('Glooko', {
    async fetch(ctx) {
      const http = client(ctx.settings);
      const window = glookoQueryWindow(ctx.settings.zone, glookoFetchStart(ctx.since, ctx.now), ctx.now);
      const params = { patient: ctx.session.glookoCode, startDate: window.startDate, endDate: window.endDate };
      const results = await Promise.all(
        ENDPOINTS.map(async ({ key, path }) => {
          let response: AxiosResponse;
          try {
            response = await http.get(path, { params, headers: { Cookie: ctx.session.cookie } });
          } catch (err) {
            throw classifyTransportError(PREFIX, err);
          }
          if (response.status === 401) {
            throw new SessionInvalidError('Glooko session is no longer valid', 'GLOOKO.SESSION_EXPIRED');
          }
          // A changed patient code answers 403 data_cant_view until the session is renewed (Nocturne #428).
          if (response.status === 403) {
            throw new SessionInvalidError('Glooko refused the patient data for this session', 'GLOOKO.DATA_FORBIDDEN');
          }
          if (response.status < 200 || response.status >= 300) {
            throw classifyStatus(PREFIX, response.status, parseRetryAfter(response.headers['retry-after'], ctx.now));
          }
          return extractArray(response.data, key, path);
        }),
      );
      return { normalBoluses: results[0], scheduledBasals: results[1], readings: results[2] };
    },
    transform(raw, ctx) {
      return transformGlooko(raw, ctx.settings.zone);
    },
  })
  .build();
