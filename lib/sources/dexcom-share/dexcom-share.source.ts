/**
 * Dexcom Share driver: two-step publisher login (account name → account id → session id) and one polling loop that
 * reads the latest glucose values. Share reports every failure as HTTP 500 with a `{Code, Message}` body, so vendor
 * codes are mapped before the generic status rules; a bad password must never look retryable, because retrying it
 * locks the account and silences the real Dexcom Follow alarms.
 */
import type { AxiosResponse } from 'axios';
import {
  ConfigError,
  SessionInvalidError,
  SourceAuthRejectedError,
  SourceError,
  SourceLockedOutError,
  SourceRejectedError,
} from '../../domain/errors.js';
import { emptyBatch, type Batch, type Cursor } from '../../domain/records.js';
import type { SourceCredentials } from '../../domain/source.js';
import { driverBuilder, type Driver, type DriverContext } from '../driver.builder.js';
import { classifyStatus, classifyTransportError, createHttpClient, DEFAULT_HTTP_TIMEOUT_MS, isLoopbackHost, parseRetryAfter } from '../../adapters/http/http.client.js';
import { parseGlucoseValuesDetailed, toEntries, type DexcomReading } from './dexcom-share.parse.js';

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

/** Session material: a bearer secret, kept only in the session store. */
export interface DexcomSession {
  sessionId: string;
}

const REGIONS: Record<DexcomRegion, { host: string; applicationId: string }> = {
  us: { host: 'share2.dexcom.com', applicationId: 'd89443d2-327c-4a6f-89e5-496bbb0317db' },
  ous: { host: 'shareous1.dexcom.com', applicationId: 'd89443d2-327c-4a6f-89e5-496bbb0317db' },
  jp: { host: 'share.dexcom.jp', applicationId: 'd8665ade-9673-4e27-9ff6-92db4ce13d13' },
};

const SERVICES = '/ShareWebServices/Services';
export const AUTHENTICATE_PATH = `${SERVICES}/General/AuthenticatePublisherAccount`;
export const LOGIN_PATH = `${SERVICES}/General/LoginPublisherAccountById`;
export const READ_PATH = `${SERVICES}/Publisher/ReadPublisherLatestGlucoseValues`;

const USER_AGENT = 'nightscout-connect-serverless, "Dexcom Share"';
const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Share's read limits as other clients enforce them (pydexcom: minutes 1–1440, maxCount 1–288). */
export const MAX_MINUTES = 1440;
export const MAX_COUNT = 288;
/**
 * Dexcom documents neither the lockout threshold nor its duration. One hour is a conservative guess: long enough
 * that we do not extend a real lock by poking it, short enough that a fixed password resumes data the same day.
 */
export const LOCKOUT_ASSUMED_MS = HOUR;

// ---------------------------------------------------------------------------------------------------------------
// Settings and credentials

function pickString(raw: Record<string, unknown>, key: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

/** `shareServer` as a host name or a URL → origin. Plain http only for loopback (tests, local simulators). */
function parseShareServer(value: string, problems: string[]): string | undefined {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  let url: URL;
  try {
    url = new URL(hasScheme ? value : `https://${value}`);
  } catch {
    problems.push('CONNECT_SHARE_SERVER must be a host name (e.g. share2.dexcom.com) or an https:// URL');
    return undefined;
  }
  if (url.username || url.password) {
    problems.push('CONNECT_SHARE_SERVER must not contain a user name or password');
    return undefined;
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    problems.push('CONNECT_SHARE_SERVER must be a host name or origin only, without a path (e.g. https://share2.dexcom.com)');
    return undefined;
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    problems.push('CONNECT_SHARE_SERVER must use https:// (plain http:// is allowed only for 127.0.0.1, localhost or [::1])');
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push('CONNECT_SHARE_SERVER must use https://');
    return undefined;
  }
  return url.origin;
}

export function parseDexcomShareSettings(raw: Record<string, unknown>): DexcomShareSettings {
  const problems: string[] = [];
  const regionText = (pickString(raw, 'shareRegion') ?? 'us').toLowerCase();
  const region = Object.hasOwn(REGIONS, regionText) ? (regionText as DexcomRegion) : undefined;
  if (!region) problems.push('CONNECT_SHARE_REGION must be one of: us, ous, jp');

  const server = pickString(raw, 'shareServer');
  const serverOrigin = server === undefined ? undefined : parseShareServer(server, problems);

  let httpTimeoutMs: number | undefined;
  if (raw.httpTimeoutMs !== undefined && raw.httpTimeoutMs !== null && raw.httpTimeoutMs !== '') {
    const n = Number(raw.httpTimeoutMs);
    if (Number.isInteger(n) && n >= 1 && n <= 120_000) httpTimeoutMs = n;
    else problems.push('httpTimeoutMs must be a whole number of milliseconds between 1 and 120000');
  }

  if (problems.length > 0 || !region) throw new ConfigError(problems);
  const defaults = REGIONS[region];
  const settings: DexcomShareSettings = {
    // An explicit server wins for the host; the application id still follows the region (JP needs its own id).
    baseUrl: serverOrigin ?? `https://${defaults.host}`,
    applicationId: defaults.applicationId,
    region,
  };
  if (httpTimeoutMs !== undefined) settings.httpTimeoutMs = httpTimeoutMs;
  return settings;
}

export function checkDexcomShareCredentials(credentials: SourceCredentials): void {
  const problems: string[] = [];
  const vendor = (credentials?.vendor ?? {}) as Record<string, unknown>;
  const check = (key: string, setting: string) => {
    const value = vendor[key];
    // A number here means a config loader parsed a numeric password (and may have dropped leading zeros).
    if (typeof value === 'number') problems.push(`${setting} must be text; quote numeric values`);
    else if (typeof value !== 'string' || value.trim() === '') problems.push(`${setting} is required`);
  };
  check('accountName', 'CONNECT_SHARE_ACCOUNT_NAME');
  check('password', 'CONNECT_SHARE_PASSWORD');
  if (problems.length > 0) throw new ConfigError(problems);
}

// ---------------------------------------------------------------------------------------------------------------
// Error mapping

type Phase = 'login' | 'read';

function vendorCode(body: unknown): string | undefined {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const code = record.Code ?? record.code;
    if (typeof code === 'string' && /^[A-Za-z0-9_.]{1,80}$/.test(code)) return code;
  }
  return undefined;
}

const AUTH_REJECTED_CODES = new Set([
  'AccountPasswordInvalid',
  'SSO_AuthenticatePasswordInvalid',
  'SSO_AuthenticateAccountNotFound',
  // With "Cannot Authenticate by AccountName/AccountId" this is a bad login, not a server fault.
  'SSO_InternalError',
]);

/**
 * Map a Share `Code` to an error, or undefined when the code is unknown (then the HTTP status decides). The message
 * names the vendor code only: Share's `Message` text is not ours to log and could echo input.
 */
export function mapShareCode(code: string, phase: Phase, now: number): SourceError | undefined {
  if (code === 'SessionIdNotFound' || code === 'SessionNotValid') {
    return new SessionInvalidError(`Dexcom Share session is no longer valid (${code})`, 'DEXCOM.SESSION_NOT_VALID');
  }
  if (AUTH_REJECTED_CODES.has(code)) {
    return new SourceAuthRejectedError(`Dexcom Share refused the login (${code})`, 'DEXCOM.AUTH_REJECTED');
  }
  if (code === 'SSO_AuthenticateMaxAttemptsExceeded') {
    return new SourceLockedOutError(`Dexcom Share locked the account after too many attempts (${code})`, 'DEXCOM.LOCKED_OUT', now + LOCKOUT_ASSUMED_MS);
  }
  if (code === 'InvalidArgument') {
    // During login the only arguments are the account name, password and ids: a malformed credential.
    if (phase === 'login') return new SourceAuthRejectedError(`Dexcom Share refused the login (${code})`, 'DEXCOM.AUTH_REJECTED');
    return new SourceRejectedError(`Dexcom Share rejected the request (${code})`, 'DEXCOM.INVALID_ARGUMENT');
  }
  return undefined;
}

function failureFor(response: AxiosResponse, phase: Phase, now: number): SourceError {
  const code = vendorCode(response.data);
  const mapped = code === undefined ? undefined : mapShareCode(code, phase, now);
  if (mapped) return mapped;
  return classifyStatus('DEXCOM', response.status, parseRetryAfter(response.headers?.['retry-after'], now));
}

function unexpected(what: string): SourceRejectedError {
  return new SourceRejectedError(`Dexcom Share returned an unexpected ${what}`, 'DEXCOM.UNEXPECTED_RESPONSE');
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

async function post(ctx: DriverContext<DexcomShareSettings>, phase: Phase, path: string, body: unknown, params?: Record<string, string | number>): Promise<unknown> {
  const client = createHttpClient({
    baseURL: ctx.settings.baseUrl,
    timeoutMs: ctx.settings.httpTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': USER_AGENT },
  });
  let response: AxiosResponse;
  try {
    response = await client.post(path, body, { params });
  } catch (err) {
    // classifyTransportError keeps no cause: the axios error holds the request body (password) and URL (session id).
    throw classifyTransportError('DEXCOM', err);
  }
  if (response.status < 200 || response.status >= 300) throw failureFor(response, phase, ctx.now);
  // Some proxies and old Share builds answer 200 with an error object; honour its code the same way.
  const code = vendorCode(response.data);
  const mapped = code === undefined ? undefined : mapShareCode(code, phase, ctx.now);
  if (mapped) throw mapped;
  return response.data;
}

/** Unwrap a bare GUID string or an object `{<key>: guid}` (Share answered both shapes over the years). */
function guidFrom(data: unknown, keys: string[]): string | undefined {
  let value: unknown = data;
  if (data && typeof data === 'object') {
    const record = data as Record<string, unknown>;
    value = keys.map((key) => record[key]).find((v) => v !== undefined);
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return GUID.test(text) ? text : undefined;
}

/** Share's read window for a frame: whole minutes back to `since` plus one, and enough rows for one per 5 min. */
export function readWindow(now: number, since: number): { minutes: number; maxCount: number } {
  const span = Math.max(0, now - since);
  const minutes = clamp(Math.ceil(span / MINUTE) + 1, 1, MAX_MINUTES);
  const maxCount = clamp(Math.ceil(minutes / 5) + 1, 1, MAX_COUNT);
  return { minutes, maxCount };
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

// ---------------------------------------------------------------------------------------------------------------
// Driver

export interface DexcomRaw {
  readings: DexcomReading[];
}

/** Pure transform: only readings strictly newer than the stored cursor, as Nightscout entries. */
export function transformDexcom(raw: DexcomRaw, cursor: Cursor | null): Batch {
  const newest = cursor?.entries;
  const fresh = newest === undefined ? raw.readings : raw.readings.filter((r) => r.date > newest);
  return { ...emptyBatch(), entries: toEntries(fresh, DEXCOM_DEVICE) };
}

export const dexcomShareDriver: Driver<DexcomShareSettings, string, DexcomSession> = driverBuilder<DexcomShareSettings>({
  kind: DEXCOM_KIND,
  device: DEXCOM_DEVICE,
  parseSettings: parseDexcomShareSettings,
  checkCredentials: checkDexcomShareCredentials,
})
  .supportSession<string, DexcomSession>({
    async authenticate(ctx) {
      const { accountName, password } = ctx.credentials.vendor;
      const data = await post(ctx, 'login', AUTHENTICATE_PATH, { accountName, password, applicationId: ctx.settings.applicationId });
      const accountId = guidFrom(data, ['accountId', 'AccountId']);
      if (accountId === undefined) throw unexpected('account id');
      if (accountId === ZERO_GUID) throw new SourceAuthRejectedError('Dexcom Share refused the login (empty account id)', 'DEXCOM.AUTH_REJECTED');
      return accountId;
    },
    async authorize(ctx, accountId) {
      const data = await post(ctx, 'login', LOGIN_PATH, { accountId, password: ctx.credentials.vendor.password, applicationId: ctx.settings.applicationId });
      const sessionId = guidFrom(data, ['sessionId', 'SessionId', 'sessionID']);
      if (sessionId === undefined) throw unexpected('session id');
      // The all-zero GUID is how Share says "login failed" with a 200 (share2nightscout-bridge#46).
      if (sessionId === ZERO_GUID) throw new SourceAuthRejectedError('Dexcom Share refused the login (empty session)', 'DEXCOM.AUTH_REJECTED');
      // Dexcom states no expiry, so none is claimed here; `lifetimeMs` applies.
      return { session: { sessionId } };
    },
    lifetimeMs: 24 * HOUR,
  })
  .registerLoop<DexcomRaw>({
    name: 'DexcomShare',
    intervalMs: 5 * MINUTE,
    // nightscout-connect waited 18 s + U(0, 18 s) after each slot. We poll sooner (10 s + U(0, 8 s)): Share usually
    // publishes within a few seconds, and a reading not yet there is simply picked up by the next poll's window.
    align: { lagMs: 10_000, jitterMs: 8_000 },
    attempts: 3,
    retry: { baseMs: 30_000, capMs: 5 * MINUTE },
    backoff: { baseMs: 5 * MINUTE, capMs: 30 * MINUTE },
    maxLookbackMs: 24 * HOUR,
    async fetch(ctx) {
      const { minutes, maxCount } = readWindow(ctx.now, ctx.since);
      // The session id travels only in this query string, which is never logged.
      const data = await post(ctx, 'read', READ_PATH, undefined, { sessionID: ctx.session.sessionId, minutes, maxCount });
      const { readings, skipped } = parseGlucoseValuesDetailed(data);
      if (skipped > 0) ctx.log.warn('dexcom share: skipped malformed glucose rows', { sourceId: ctx.sourceId, skipped, kept: readings.length });
      ctx.log.debug('dexcom share: read glucose values', { sourceId: ctx.sourceId, minutes, maxCount, received: readings.length });
      return { readings };
    },
    transform(raw, ctx) {
      return transformDexcom(raw, ctx.cursor);
    },
  })
  .build();
