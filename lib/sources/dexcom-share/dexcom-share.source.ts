/**
 * Dexcom Share driver: two-step publisher login (account name → account id → session id) and one polling loop that
 * reads the latest glucose values. Share reports every failure as HTTP 500 with a `{Code, Message}` body, so vendor
 * codes are mapped before the generic status rules; a bad password must never look retryable, because retrying it
 * locks the account and silences the real Dexcom Follow alarms.
 */
import type { AxiosResponse } from 'axios';
import {
  classifyStatus,
  classifyTransportError,
  createHttpClient,
  parseRetryAfter,
} from '../../adapters/http/http.client.js';
import {
  SessionInvalidError,
  SourceAuthRejectedError,
  type SourceError,
  SourceLockedOutError,
  SourceRejectedError,
} from '../../domain/errors.js';
import { type Batch, type Cursor, emptyBatch } from '../../domain/records.js';
import type { DriverContext } from '../../ports/driver.port.js';
import { driverBuilder } from '../driver.builder.js';
import { type DexcomReading, parseGlucoseValuesDetailed, toEntries } from './dexcom-share.parse.js';
import { DEXCOM_DEVICE, type DexcomShareSettings } from './dexcom-share.vendor.js';

/** Session material: a bearer secret, kept only in the session store. */
export interface DexcomSession {
  sessionId: string;
}

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
    return new SourceLockedOutError(
      `Dexcom Share locked the account after too many attempts (${code})`,
      'DEXCOM.LOCKED_OUT',
      now + LOCKOUT_ASSUMED_MS,
    );
  }
  if (code === 'InvalidArgument') {
    // During login the only arguments are the account name, password and ids: a malformed credential.
    if (phase === 'login')
      return new SourceAuthRejectedError(`Dexcom Share refused the login (${code})`, 'DEXCOM.AUTH_REJECTED');
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

async function post(
  ctx: DriverContext<DexcomShareSettings>,
  phase: Phase,
  path: string,
  body: unknown,
  params?: Record<string, string | number>,
): Promise<unknown> {
  const client = createHttpClient({
    baseURL: ctx.settings.baseUrl,
    timeoutMs: ctx.settings.httpTimeoutMs,
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

/** Session and loop behaviour; timings are declared in dexcom-share.vendor.ts. */
export const dexcomShareSource = driverBuilder<DexcomShareSettings>()
  .supportSession<string, DexcomSession>({
    async authenticate(ctx) {
      const { accountName, password } = ctx.credentials.vendor;
      const data = await post(ctx, 'login', AUTHENTICATE_PATH, {
        accountName,
        password,
        applicationId: ctx.settings.applicationId,
      });
      const accountId = guidFrom(data, ['accountId', 'AccountId']);
      if (accountId === undefined) throw unexpected('account id');
      if (accountId === ZERO_GUID)
        throw new SourceAuthRejectedError('Dexcom Share refused the login (empty account id)', 'DEXCOM.AUTH_REJECTED');
      return accountId;
    },
    async authorize(ctx, accountId) {
      const data = await post(ctx, 'login', LOGIN_PATH, {
        accountId,
        password: ctx.credentials.vendor.password,
        applicationId: ctx.settings.applicationId,
      });
      const sessionId = guidFrom(data, ['sessionId', 'SessionId', 'sessionID']);
      if (sessionId === undefined) throw unexpected('session id');
      // The all-zero GUID is how Share says "login failed" with a 200 (share2nightscout-bridge#46).
      if (sessionId === ZERO_GUID)
        throw new SourceAuthRejectedError('Dexcom Share refused the login (empty session)', 'DEXCOM.AUTH_REJECTED');
      // Dexcom states no expiry, so none is claimed here; the declared session lifetime applies.
      return { session: { sessionId } };
    },
  })
  .registerLoop<DexcomRaw>('DexcomShare', {
    async fetch(ctx) {
      const { minutes, maxCount } = readWindow(ctx.now, ctx.since);
      // The session id travels only in this query string, which is never logged.
      const data = await post(ctx, 'read', READ_PATH, undefined, {
        sessionID: ctx.session.sessionId,
        minutes,
        maxCount,
      });
      const { readings, skipped } = parseGlucoseValuesDetailed(data);
      if (skipped > 0)
        ctx.log.warn('dexcom share: skipped malformed glucose rows', {
          sourceId: ctx.sourceId,
          skipped,
          kept: readings.length,
        });
      ctx.log.debug('dexcom share: read glucose values', {
        sourceId: ctx.sourceId,
        minutes,
        maxCount,
        received: readings.length,
      });
      return { readings };
    },
    transform(raw, ctx) {
      return transformDexcom(raw, ctx.cursor);
    },
  })
  .build();
