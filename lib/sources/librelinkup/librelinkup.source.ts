/**
 * Abbott LibreLinkUp driver (kind `librelinkup`; nightscout-connect calls the same source `linkup`, and the config
 * layer maps both names here). A follower account logs in, picks the patient it follows, and polls that patient's
 * `/graph` every few minutes.
 *
 * Safety choices, each because a real account or a real alarm is at stake:
 * - one login request per authenticate for a refused password (no internal retry: 3 failures/min lock the account);
 * - a lock is reported with its end instant so nothing logs in before it;
 * - terms-of-use steps park the source (authRejected) unless the user opted into auto-accepting them;
 * - region redirects are followed at most twice, and the resolved region is remembered (`RegionMemo`) so later logins
 *   go straight to the home region instead of costing an extra login each time;
 * - the auth ticket is reused until its real expiry (≈180 days) rather than re-logging every hour.
 * Secrets (password, auth ticket) never reach a log line or an error message.
 */
import { createHash } from 'node:crypto';
import type { AxiosInstance, AxiosResponse } from 'axios';
import {
  classifyStatus,
  classifyTransportError,
  createHttpClient,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
} from '../../adapters/http/http.client.js';
import {
  SessionInvalidError,
  SourceAuthRejectedError,
  type SourceError,
  SourceLockedOutError,
  SourceRejectedError,
  SourceUnavailableError,
} from '../../domain/errors.js';
import type { DriverContext, SessionGrant } from '../../ports/driver.port.js';
import { driverBuilder, type SourceImplementation } from '../driver.builder.js';
import { type LibreGraphFrame, libreFrameToBatch, pickGraphFrame } from './librelinkup.parse.js';
import {
  canonicalRegion,
  LIBRELINKUP_DEVICE,
  LIBRELINKUP_REREAD,
  type LibreLinkUpSettings,
  safeLabel,
} from './librelinkup.vendor.js';

/** A mobile browser string: Abbott's edge (Cloudflare) has refused obviously scripted agents. */
export const DEFAULT_LINK_UP_USER_AGENT =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36';

const MAX_REDIRECTS = 2;
const MAX_TERMS_STEPS = 4;
/** Abbott's observed policy (3 failures / 60 s → 300 s); used when a 429 does not say how long. */
const DEFAULT_LOCKOUT_MS = 300_000;
/** Cloudflare's HTTP 430 rate limit: back off for a long time, never loop. */
const CLOUDFLARE_BACKOFF_MS = 15 * 60_000;
/** Result of a login: secret (holds the ticket). */
export interface LibreAuth {
  token: string;
  /** Epoch ms the ticket expires, when the vendor said. */
  expiresAt?: number;
  /** Lower-case hex SHA-256 of the user id: the `Account-Id` header. */
  accountIdHash: string;
  /** Region the login finally succeeded on (after redirects), when known. */
  region?: string;
  baseUrl: string;
  /** True when a redirect was followed, i.e. the configured region is not the account's home. */
  redirected: boolean;
}

/** Session material kept in the session store (secret). */
export interface LibreSession {
  token: string;
  accountIdHash: string;
  patientId: string;
  /** Resolved region host, so fetches never go through a redirecting host. */
  baseUrl: string;
  region?: string;
}

/**
 * Where a resolved home region is remembered between logins. The in-memory default survives only a warm process; a
 * durable implementation can be plugged in by whoever owns the stores (the driver contract gives authenticate no
 * access to the previous session).
 */
export interface RegionMemo {
  get(key: string): string | undefined;
  set(key: string, region: string): void;
}

export function inMemoryRegionMemo(limit = 10_000): RegionMemo {
  const map = new Map<string, string>();
  return {
    get: (key) => map.get(key),
    set(key, region) {
      map.delete(key);
      map.set(key, region);
      // Oldest first in a Map: drop it so a long-lived process cannot grow without bound.
      if (map.size > limit) map.delete(map.keys().next().value as string);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

const PREFIX = 'LIBRELINKUP';

function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function baseHeaders(settings: LibreLinkUpSettings): Record<string, string> {
  return {
    'Content-Type': 'application/json;charset=UTF-8',
    Accept: 'application/json',
    'User-Agent': settings.linkUpUserAgent ?? DEFAULT_LINK_UP_USER_AGENT,
    version: settings.linkUpVersion,
    product: settings.linkUpProduct,
    // The official app sends these; some edges treat their absence as a scripted client.
    'Cache-Control': 'no-cache',
    Pragma: 'no-cache',
  };
}

function client(settings: LibreLinkUpSettings, baseUrl: string): AxiosInstance {
  return createHttpClient({ baseURL: baseUrl, timeoutMs: settings.httpTimeoutMs, headers: baseHeaders(settings) });
}

async function send(run: () => Promise<AxiosResponse>): Promise<AxiosResponse> {
  try {
    return await run();
  } catch (err) {
    // Axios errors hold the request config (password, token): keep only the classification.
    throw classifyTransportError(PREFIX, err);
  }
}

/** A decoded JSON object body. */
type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at `path` inside a decoded body; undefined where a step is missing or not an object. */
function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

function bodyOf(response: AxiosResponse): JsonObject | undefined {
  return isObject(response.data) ? response.data : undefined;
}

function lockoutSeconds(body: JsonObject | undefined): number | undefined {
  const seconds = at(body, 'data', 'data', 'lockout');
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/**
 * 429 (as HTTP status or as body status): a lock when the body says how long, or any 429 on login (a login during a
 * rate limit only extends it); elsewhere a retryable error honouring Retry-After.
 */
function rateLimited(
  response: AxiosResponse,
  body: JsonObject | undefined,
  now: number,
  startedAt: number,
  onLogin: boolean,
): SourceError {
  const seconds = lockoutSeconds(body);
  // Count the time the request took, so we never come back before the vendor's own clock releases the account.
  const elapsed = Math.max(0, performance.now() - startedAt);
  if (seconds !== undefined) {
    return new SourceLockedOutError(
      `LibreLinkUp locked the account for ${Math.round(seconds)} s after repeated requests`,
      `${PREFIX}.LOCKED`,
      now + Math.ceil(elapsed) + seconds * 1000,
    );
  }
  const retryAfterMs = parseRetryAfter(response.headers?.['retry-after'], now) ?? DEFAULT_LOCKOUT_MS;
  if (onLogin) {
    return new SourceLockedOutError(
      'LibreLinkUp rate-limited the login',
      `${PREFIX}.LOCKED`,
      now + Math.ceil(elapsed) + retryAfterMs,
    );
  }
  return new SourceUnavailableError('LibreLinkUp rate-limited the request (HTTP 429)', `${PREFIX}.HTTP_429`, {
    retryAfterMs,
  });
}

/** Statuses every LibreLinkUp call shares. Returns undefined for 2xx. */
function classifyHttp(
  response: AxiosResponse,
  now: number,
  startedAt: number,
  onLogin: boolean,
): SourceError | undefined {
  const status = response.status;
  if (status >= 200 && status < 300) return undefined;
  if (status === 429) return rateLimited(response, bodyOf(response), now, startedAt, onLogin);
  if (status === 430) {
    return new SourceUnavailableError(
      'LibreLinkUp edge (Cloudflare) rate-limited this client (HTTP 430)',
      `${PREFIX}.HTTP_430`,
      { retryAfterMs: Math.min(CLOUDFLARE_BACKOFF_MS, MAX_RETRY_AFTER_MS) },
    );
  }
  if (status === 403) {
    return new SourceRejectedError(
      'LibreLinkUp refused the request (HTTP 403): the app version/headers are no longer accepted or this client is blocked; check CONNECT_LINK_UP_VERSION',
      `${PREFIX}.FORBIDDEN`,
    );
  }
  if (status === 400) {
    const message = bodyOf(response)?.message;
    const reason = typeof message === 'string' && /^[A-Za-z]{1,60}$/.test(message) ? ` (${message})` : '';
    return new SourceRejectedError(
      `LibreLinkUp rejected the request as malformed (HTTP 400${reason})`,
      `${PREFIX}.BAD_REQUEST`,
    );
  }
  if (status === 401) return undefined; // caller decides: bad credentials on login, dead session elsewhere
  return classifyStatus(PREFIX, status, parseRetryAfter(response.headers?.['retry-after'], now));
}

function versionTooOld(body: JsonObject | undefined): SourceRejectedError {
  const wanted = at(body, 'data', 'minimumVersion');
  const version = typeof wanted === 'string' && /^\d+(\.\d+){0,3}$/.test(wanted) ? wanted : undefined;
  return new SourceRejectedError(
    version
      ? `LibreLinkUp requires app version ${version} or newer: set CONNECT_LINK_UP_VERSION=${version}`
      : 'LibreLinkUp says the app version is too old: set CONNECT_LINK_UP_VERSION to the current LibreLinkUp app version',
    `${PREFIX}.VERSION_TOO_OLD`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Session

function regionMemoKey(ctx: DriverContext<LibreLinkUpSettings>): string {
  // Hash the e-mail so the memo key is not personal data; a changed username starts fresh.
  return `${ctx.sourceId}:${sha256Hex(
    String(ctx.credentials.vendor.username ?? '')
      .trim()
      .toLowerCase(),
  )}`;
}

function startingPoint(
  settings: LibreLinkUpSettings,
  remembered: string | undefined,
): { baseUrl: string; region?: string } {
  if (remembered && settings.linkUpHosts[remembered])
    return { baseUrl: settings.linkUpHosts[remembered], region: remembered };
  if (settings.linkUpServer) return { baseUrl: settings.linkUpServer, region: settings.linkUpRegion };
  const region = settings.linkUpRegion ?? 'EU';
  return { baseUrl: settings.linkUpHosts[region], region };
}

async function authenticate(ctx: DriverContext<LibreLinkUpSettings>, memo: RegionMemo): Promise<LibreAuth> {
  const { settings, credentials } = ctx;
  const memoKey = regionMemoKey(ctx);
  let { baseUrl, region } = startingPoint(settings, memo.get(memoKey));
  const visited = new Set<string>(region ? [region] : []);
  let redirects = 0;
  const body = { email: String(credentials.vendor.username).trim(), password: String(credentials.vendor.password) };

  for (;;) {
    const startedAt = performance.now();
    const response = await send(() => client(settings, baseUrl).post('/llu/auth/login', body));
    const failure = classifyHttp(response, ctx.now, startedAt, true);
    if (failure) throw failure;
    if (response.status === 401) throw authRejected();
    const payload = bodyOf(response);

    if (payload?.status === 0 && at(payload, 'data', 'redirect') === true) {
      const wantedRegion = at(payload, 'data', 'region');
      const target = typeof wantedRegion === 'string' ? canonicalRegion(wantedRegion) : '';
      const targetUrl = settings.linkUpHosts[target];
      if (!targetUrl) {
        throw new SourceRejectedError(
          `LibreLinkUp redirected to region ${safeLabel(target)}, which has no known host: set CONNECT_LINK_UP_HOSTS or CONNECT_LINK_UP_SERVER`,
          `${PREFIX}.UNKNOWN_REGION`,
        );
      }
      if (redirects >= MAX_REDIRECTS || visited.has(target)) {
        throw new SourceRejectedError(
          'LibreLinkUp kept redirecting the login between regions; set CONNECT_LINK_UP_REGION to the account region',
          `${PREFIX}.REDIRECT_LOOP`,
        );
      }
      redirects += 1;
      visited.add(target);
      ctx.log.warn('LibreLinkUp account lives in another region; following the redirect', {
        region: target,
        hint: `set CONNECT_LINK_UP_REGION=${target}`,
      });
      baseUrl = targetUrl;
      region = target;
      continue;
    }

    const auth = await settleLogin(ctx, payload, baseUrl, response.status);
    if (region) memo.set(memoKey, region);
    return { ...auth, ...(region ? { region } : {}), redirected: redirects > 0 };
  }
}

function authRejected(): SourceAuthRejectedError {
  return new SourceAuthRejectedError('LibreLinkUp refused the e-mail or password', `${PREFIX}.AUTH_REJECTED`);
}

/** A non-redirect login answer (possibly a chain of terms steps) → auth, or the error that parks/locks/stops the source. */
async function settleLogin(
  ctx: DriverContext<LibreLinkUpSettings>,
  first: JsonObject | undefined,
  baseUrl: string,
  httpStatus: number,
): Promise<Omit<LibreAuth, 'redirected' | 'region'>> {
  let payload = first;
  for (let steps = 0; ; steps++) {
    const status = payload?.status;
    if (status === 0) return toAuth(payload, baseUrl);
    if (status === 2) throw authRejected();
    if (status === 429) {
      // Locked without an HTTP 429: same meaning.
      throw rateLimited(
        { status: httpStatus, headers: {} } as AxiosResponse,
        payload,
        ctx.now,
        performance.now(),
        true,
      );
    }
    if (status === 920) throw versionTooOld(payload);
    if (status !== 4) {
      throw new SourceRejectedError(
        `LibreLinkUp login answered an unexpected status ${typeof status === 'number' ? status : 'none'}`,
        `${PREFIX}.UNEXPECTED_STATUS`,
      );
    }

    const stepType = at(payload, 'data', 'step', 'type');
    const known = stepType === 'tou' || stepType === 'pp';
    if (!known) {
      throw new SourceAuthRejectedError(
        'LibreLinkUp wants a step completed in the app before it lets this account in: open the LibreLinkUp app',
        `${PREFIX}.STEP_REQUIRED`,
      );
    }
    if (!ctx.settings.linkUpAutoAcceptTerms) {
      // Parks the source until credentials or settings change: accepting terms is the user's decision.
      throw new SourceAuthRejectedError('accept the new terms in the LibreLinkUp app', `${PREFIX}.TERMS_REQUIRED`);
    }
    if (steps >= MAX_TERMS_STEPS) {
      throw new SourceRejectedError(
        'LibreLinkUp asked for more terms steps than expected: accept the new terms in the LibreLinkUp app',
        `${PREFIX}.TOO_MANY_STEPS`,
      );
    }
    const stepToken = at(payload, 'data', 'authTicket', 'token');
    if (typeof stepToken !== 'string' || stepToken === '') {
      throw new SourceRejectedError('LibreLinkUp terms step came without a ticket', `${PREFIX}.UNEXPECTED_BODY`);
    }
    ctx.log.info('LibreLinkUp terms step accepted automatically (CONNECT_LINK_UP_AUTO_ACCEPT_TERMS)', {
      step: stepType,
    });
    const startedAt = performance.now();
    const response = await send(() =>
      client(ctx.settings, baseUrl).post(`/auth/continue/${stepType}`, undefined, {
        headers: { Authorization: `Bearer ${stepToken}` },
      }),
    );
    const failure = classifyHttp(response, ctx.now, startedAt, true);
    if (failure) throw failure;
    if (response.status === 401)
      throw new SourceAuthRejectedError(
        'LibreLinkUp refused the terms step: accept the new terms in the LibreLinkUp app',
        `${PREFIX}.TERMS_REQUIRED`,
      );
    payload = bodyOf(response);
    httpStatus = response.status;
  }
}

function toAuth(payload: JsonObject | undefined, baseUrl: string): Omit<LibreAuth, 'redirected' | 'region'> {
  const token = at(payload, 'data', 'authTicket', 'token');
  const userId = at(payload, 'data', 'user', 'id');
  if (
    typeof token !== 'string' ||
    token === '' ||
    (typeof userId !== 'string' && typeof userId !== 'number') ||
    String(userId) === ''
  ) {
    throw new SourceRejectedError('LibreLinkUp login answer lacks the user or ticket', `${PREFIX}.UNEXPECTED_BODY`);
  }
  const expires = at(payload, 'data', 'authTicket', 'expires');
  let expiresAt: number | undefined;
  if (typeof expires === 'number' && Number.isFinite(expires) && expires > 0) {
    // Documented as epoch seconds; a value already in ms (> year 5138 as seconds) is taken as ms.
    expiresAt = expires > 1e11 ? expires : expires * 1000;
  }
  return {
    token,
    accountIdHash: sha256Hex(String(userId)),
    baseUrl,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

function authedHeaders(token: string, accountIdHash: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, 'Account-Id': accountIdHash };
}

/** Body status ≠ 0 on an authenticated call. */
function classifyBodyStatus(payload: JsonObject | undefined, now: number, httpStatus: number): SourceError | undefined {
  const status = payload?.status;
  if (status === 0) return undefined;
  if (status === 429)
    return rateLimited({ status: httpStatus, headers: {} } as AxiosResponse, payload, now, performance.now(), false);
  if (status === 920) return versionTooOld(payload);
  const errorMessage = at(payload, 'error', 'message');
  const message =
    typeof errorMessage === 'string' ? errorMessage : typeof payload?.message === 'string' ? payload.message : '';
  if (status === 2 || /auth|token|session|ticket/i.test(message)) {
    return new SessionInvalidError('LibreLinkUp no longer accepts the session', `${PREFIX}.SESSION_INVALID`);
  }
  return new SourceRejectedError(
    `LibreLinkUp answered an unexpected status ${typeof status === 'number' ? status : 'none'}`,
    `${PREFIX}.UNEXPECTED_STATUS`,
  );
}

async function authedGet(
  settings: LibreLinkUpSettings,
  baseUrl: string,
  path: string,
  token: string,
  accountIdHash: string,
  now: number,
): Promise<JsonObject> {
  const startedAt = performance.now();
  const response = await send(() =>
    client(settings, baseUrl).get(path, { headers: authedHeaders(token, accountIdHash) }),
  );
  const failure = classifyHttp(response, now, startedAt, false);
  if (failure) throw failure;
  if (response.status === 401)
    throw new SessionInvalidError('LibreLinkUp no longer accepts the session (HTTP 401)', `${PREFIX}.SESSION_INVALID`);
  const payload = bodyOf(response);
  const bodyFailure = classifyBodyStatus(payload, now, response.status);
  if (bodyFailure) throw bodyFailure;
  // classifyBodyStatus accepts only status 0, which needs an object body.
  return payload ?? {};
}

async function authorize(
  ctx: DriverContext<LibreLinkUpSettings>,
  auth: LibreAuth,
): Promise<SessionGrant<LibreSession>> {
  const payload = await authedGet(
    ctx.settings,
    auth.baseUrl,
    '/llu/connections',
    auth.token,
    auth.accountIdHash,
    ctx.now,
  );
  if (!Array.isArray(payload.data))
    throw new SourceRejectedError('LibreLinkUp connections answer has no list', `${PREFIX}.UNEXPECTED_BODY`);
  const connections = payload.data.filter(
    (c: unknown): c is JsonObject & { patientId: string } => isObject(c) && typeof c.patientId === 'string',
  );
  if (connections.length === 0) {
    throw new SourceRejectedError(
      'this LibreLinkUp account follows nobody: accept the invitation in the app',
      `${PREFIX}.NO_CONNECTIONS`,
    );
  }
  const wanted = ctx.settings.linkUpPatientId;
  let chosen: (JsonObject & { patientId: string }) | undefined;
  if (wanted) {
    chosen = connections.find((c) => c.patientId === wanted);
    if (!chosen) {
      throw new SourceRejectedError(
        `CONNECT_LINK_UP_PATIENT_ID matches none of the ${connections.length} connection(s) this LibreLinkUp account follows`,
        `${PREFIX}.PATIENT_NOT_FOUND`,
      );
    }
  } else {
    chosen = connections[0];
    if (connections.length > 1) {
      // Which patient is "first" is Abbott's ordering; pinning avoids ever writing another person's readings here.
      ctx.log.warn(
        'LibreLinkUp account follows several people; using the first. Set CONNECT_LINK_UP_PATIENT_ID to pin one',
        { connections: connections.length },
      );
    }
  }
  const session: LibreSession = {
    token: auth.token,
    accountIdHash: auth.accountIdHash,
    patientId: chosen.patientId,
    baseUrl: auth.baseUrl,
    ...(auth.region ? { region: auth.region } : {}),
  };
  // Reuse the ticket until its real expiry; without one the builder's 60 min default applies.
  return auth.expiresAt !== undefined && auth.expiresAt > ctx.now
    ? { session, expiresAt: auth.expiresAt }
    : { session };
}

// ---------------------------------------------------------------------------------------------------------------
// Driver

async function fetchGraph(settings: LibreLinkUpSettings, session: LibreSession, now: number): Promise<LibreGraphFrame> {
  const payload = await authedGet(
    settings,
    session.baseUrl,
    `/llu/connections/${encodeURIComponent(session.patientId)}/graph`,
    session.token,
    session.accountIdHash,
    now,
  );
  const frame = pickGraphFrame(payload);
  if (frame.patientId !== undefined && frame.patientId !== session.patientId) {
    // Never file one person's readings under another's site.
    throw new SourceRejectedError(
      'LibreLinkUp answered with a different patient than requested',
      `${PREFIX}.PATIENT_MISMATCH`,
    );
  }
  return frame;
}

/**
 * Session and loop behaviour (timings, including the per-source interval, are declared in librelinkup.vendor.ts). Each
 * implementation has its own region memo; `libreLinkUpSource` is the process-wide one.
 */
export function createLibreLinkUpSource(
  options: { regionMemo?: RegionMemo } = {},
): SourceImplementation<LibreLinkUpSettings, LibreAuth, LibreSession> {
  const memo = options.regionMemo ?? inMemoryRegionMemo();
  return driverBuilder<LibreLinkUpSettings>()
    .supportSession<LibreAuth, LibreSession>({
      authenticate: (ctx) => authenticate(ctx, memo),
      authorize,
    })
    .registerLoop<LibreGraphFrame>('LibreLinkUp', {
      // `/graph` always answers its whole 12 h window, so `since` is not needed; the transform applies the window.
      fetch: (ctx) => fetchGraph(ctx.settings, ctx.session, ctx.now),
      transform: (raw, ctx) =>
        libreFrameToBatch(raw, {
          device: LIBRELINKUP_DEVICE,
          cursor: ctx.cursor,
          now: ctx.now,
          reread: LIBRELINKUP_REREAD,
        }),
    })
    .build();
}

export const libreLinkUpSource = createLibreLinkUpSource();
