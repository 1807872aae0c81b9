/**
 * Medtronic CareLink driver, CarePartner OAuth flow (kind `minimedcarelink`).
 *
 * Token lifecycle (why it looks like this):
 * - The first login needs a person in a browser (Auth0 with CAPTCHA/MFA), so the `login` command
 *   (`carelink-login.flow.ts`) stores `vendor.refreshToken` (+ `clientId`, `tokenUrl`) in the credential store.
 * - `authenticate` (no stored session) exchanges that credential refresh token for tokens; `authorize` then selects the
 *   patient and the data path. `refresh` renews from the session material.
 * - Medtronic's refresh tokens rotate: every refresh returns a new one and the old one dies. The newest is kept in
 *   the session material (DynamoDB, secret) and always preferred over the credential copy, which is stale after the
 *   first refresh. The material remembers a fingerprint of the credential token it descends from: when the
 *   credentials hold a different token (the person ran `login` again), that new lineage wins.
 * - If the session material is lost after a rotation (or both tokens are dead: expired, revoked, reused), the token
 *   endpoint answers invalid_grant → SourceAuthRejectedError → the source parks until the person runs
 *   `npm run login -- --source minimedcarelink` again. Retrying cannot help, so nothing retries.
 *
 * Data path (decided once per session, see `selectPatient`): care partners read the M2M `last24hours` endpoint for the
 * selected person when CareLink reports `personal.cp.m2m.enabled`, else the BLE periodic-data endpoint as
 * 'carepartner'; patients with a Guardian CGM use M2M for themselves, pump users the BLE endpoint as 'patient'.
 *
 * Device strings: documents carry `nightscout-connect://minimedcarelink/<family>` (family from the payload, as
 * nightscout-connect). `device` (used to seed the cursor from this source's own documents) is the family-less prefix,
 * because the family is unknown until data arrives; an exact-match seed therefore finds nothing and the first frame
 * writes the 24 h window, which entries/treatments dedup by their upsert keys.
 */

import type { AxiosResponse } from 'axios';
import {
  classifyStatus,
  classifyTransportError,
  createHttpClient,
  parseRetryAfter,
} from '../../adapters/http/http.client.js';
import { SessionInvalidError, SourceAuthRejectedError, SourceRejectedError } from '../../domain/errors.js';
import type { DriverContext, SessionGrant } from '../../ports/driver.port.js';
import { driverBuilder } from '../driver.builder.js';
import { type CareLinkPayload, transformCareLink } from './carelink.parse.js';
import { type CareLinkSettings, safeUrl } from './carelink.settings.js';
import { CARELINK_LOGIN_REQUIRED, CARELINK_RELOGIN_HINT, careLinkVendor } from './carelink.vendor.js';
import { runCareLinkLoginCommand } from './carelink-login.flow.js';
import {
  CARELINK_USER_AGENT,
  type CareLinkTokens,
  discoverCareLinkSso,
  requestCareLinkTokens,
  tokenFingerprint,
} from './carelink-oauth.client.js';

/** Refresh this long before the access token's stated expiry, so a frame never starts with a token about to die. */
export const ACCESS_EXPIRY_MARGIN_MS = 60_000;

/** How the frame reads data for the selected person. */
export type CareLinkTarget =
  | { mode: 'm2m'; role: 'patient' | 'carepartner'; patientUsername: string }
  | { mode: 'ble'; role: 'patient' | 'carepartner'; username: string; patientUsername?: string; endpoint: string };

/** Stored session material (secret: lives only in the SessionStore). */
export interface CareLinkSession {
  accessToken: string;
  /** The newest (rotated) refresh token: always used before the credential copy. */
  refreshToken: string;
  clientId: string;
  tokenUrl: string;
  accessExpiresAt?: number;
  /** Fingerprint of the credential refresh token this chain started from (detects a new `login`). */
  lineage: string;
  target: CareLinkTarget;
}

const PATIENT_ROLES = new Set(['PATIENT', 'PATIENT_US', 'PATIENT_OUS']);

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Bearer-authenticated JSON call to the CareLink API. 401 means the access token is dead (re-login once). */
async function carelinkCall(
  settings: CareLinkSettings,
  accessToken: string,
  now: number,
  request: { method: 'GET' | 'POST'; url: string; params?: Record<string, string | number>; body?: unknown },
): Promise<unknown> {
  const target = safeUrl(request.url);
  if (!target) throw new SourceRejectedError('CareLink endpoint URL is not https', 'CARELINK.ENDPOINT_URL');
  const http = createHttpClient({
    baseURL: target.origin,
    timeoutMs: settings.httpTimeoutMs,
    headers: { Accept: 'application/json', 'User-Agent': CARELINK_USER_AGENT },
  });
  let res: AxiosResponse;
  try {
    res = await http.request({
      method: request.method,
      url: target.pathname + target.search,
      params: request.params,
      data: request.body,
      headers: {
        Authorization: `Bearer ${accessToken}`,
        ...(request.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
    });
  } catch (err) {
    throw classifyTransportError('CARELINK', err);
  }
  if (res.status === 401)
    throw new SessionInvalidError('CareLink no longer accepts the access token', 'CARELINK.SESSION_INVALID');
  if (res.status < 200 || res.status >= 300)
    throw classifyStatus('CARELINK', res.status, parseRetryAfter(res.headers['retry-after'], now));
  return res.data;
}

/**
 * Who we read data for, and how:
 * - care partner (any role not PATIENT*): pick the linked patient (CONNECT_CARELINK_PATIENT_USERNAME, else the first).
 *   M2M `last24hours` when CareLink says M2M is enabled for care partners, else the BLE endpoint as 'carepartner'.
 * - patient: GUARDIAN (standalone CGM) uploads via M2M; pumps via the BLE endpoint as 'patient'.
 */
export async function selectPatient(
  settings: CareLinkSettings,
  accessToken: string,
  now: number,
): Promise<CareLinkTarget> {
  const api = (path: string) => `${settings.server}/patient${path}`;
  const me = asRecord(await carelinkCall(settings, accessToken, now, { method: 'GET', url: api('/users/me') }));
  const role = str(me?.role);
  if (!role) throw new SourceRejectedError('CareLink /users/me has no role', 'CARELINK.NO_ROLE');

  if (!PATIENT_ROLES.has(role.toUpperCase())) {
    const links = await carelinkCall(settings, accessToken, now, { method: 'GET', url: api('/m2m/links/patients') });
    const patients = (Array.isArray(links) ? links : [])
      .map((link) => str(asRecord(link)?.username))
      .filter((username) => username !== undefined)
      .map((username) => ({ username }));
    if (patients.length === 0) {
      throw new SourceRejectedError(
        "This CareLink care-partner account follows nobody: accept the patient's invitation in the CarePartner app first",
        'CARELINK.NO_PATIENT',
      );
    }
    const wanted = settings.patientUsername?.toLowerCase();
    const chosen = wanted ? patients.find((p) => p.username.toLowerCase() === wanted) : patients[0];
    if (!chosen) {
      // No usernames in the message: it is stored and shown; the count is enough to act on.
      throw new SourceRejectedError(
        `CONNECT_CARELINK_PATIENT_USERNAME matches none of the ${patients.length} patient(s) this care partner follows`,
        'CARELINK.PATIENT_NOT_LINKED',
      );
    }
    const patientUsername = chosen.username;
    const m2m = asRecord(
      await carelinkCall(settings, accessToken, now, {
        method: 'GET',
        url: api('/configuration/system/personal.cp.m2m.enabled'),
      }),
    );
    if (m2m?.value === true || m2m?.value === 'true') return { mode: 'm2m', role: 'carepartner', patientUsername };
    const username = await ownUsername(settings, accessToken, now, me);
    return {
      mode: 'ble',
      role: 'carepartner',
      username,
      patientUsername,
      endpoint: await bleEndpoint(settings, accessToken, now),
    };
  }

  const username = await ownUsername(settings, accessToken, now, me);
  const monitor = asRecord(
    await carelinkCall(settings, accessToken, now, { method: 'GET', url: api('/monitor/data') }),
  );
  if (str(monitor?.deviceFamily)?.toUpperCase() === 'GUARDIAN')
    return { mode: 'm2m', role: 'patient', patientUsername: username };
  return { mode: 'ble', role: 'patient', username, endpoint: await bleEndpoint(settings, accessToken, now) };
}

async function ownUsername(
  settings: CareLinkSettings,
  accessToken: string,
  now: number,
  me: Record<string, unknown> | undefined,
): Promise<string> {
  const fromMe = str(me?.username);
  if (fromMe) return fromMe;
  const profile = asRecord(
    await carelinkCall(settings, accessToken, now, {
      method: 'GET',
      url: `${settings.server}/patient/users/me/profile`,
    }),
  );
  const username = str(profile?.username);
  if (!username) throw new SourceRejectedError('CareLink profile has no username', 'CARELINK.NO_USERNAME');
  return username;
}

async function bleEndpoint(settings: CareLinkSettings, accessToken: string, now: number): Promise<string> {
  const body = asRecord(
    await carelinkCall(settings, accessToken, now, {
      method: 'GET',
      url: `${settings.server}/patient/countries/settings`,
      params: { countryCode: settings.countryCode, language: settings.languageCode },
    }),
  );
  // Medtronic's spelling.
  const endpoint = str(body?.blePereodicDataEndpoint);
  if (!endpoint || !safeUrl(endpoint)) {
    throw new SourceRejectedError(
      'CareLink country settings give no https periodic-data endpoint (check CONNECT_COUNTRY_CODE)',
      'CARELINK.NO_DATA_ENDPOINT',
    );
  }
  return endpoint;
}

function grantFor(tokens: CareLinkTokens, lineage: string, target: CareLinkTarget): SessionGrant<CareLinkSession> {
  const session: CareLinkSession = { ...tokens, lineage, target };
  return {
    session,
    ...(tokens.accessExpiresAt !== undefined ? { expiresAt: tokens.accessExpiresAt - ACCESS_EXPIRY_MARGIN_MS } : {}),
  };
}

/** Exchange the credential refresh token (a fresh lineage). Token URL and client come from the login; discovery otherwise. */
async function tokensFromCredentials(
  ctx: DriverContext<CareLinkSettings>,
): Promise<{ tokens: CareLinkTokens; lineage: string }> {
  careLinkVendor.checkCredentials(ctx.credentials);
  const vendor = ctx.credentials.vendor;
  const refreshToken = str(vendor.refreshToken);
  // checkCredentials requires it; this only narrows the type.
  if (refreshToken === undefined) throw new Error('CareLink credentials passed their check without a refresh token');
  let tokenUrl = str(vendor.tokenUrl);
  let clientId = str(vendor.clientId);
  if (!tokenUrl || !clientId) {
    const sso = await discoverCareLinkSso(ctx.settings);
    tokenUrl ??= sso.tokenUrl;
    clientId ??= sso.clientId;
  }
  let tokens: CareLinkTokens;
  try {
    tokens = await requestCareLinkTokens(
      {
        tokenUrl,
        clientId,
        timeoutMs: ctx.settings.httpTimeoutMs,
        now: ctx.now,
        rejectedCode: CARELINK_LOGIN_REQUIRED,
      },
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      refreshToken,
    );
  } catch (err) {
    // The last way in is gone (the session's rotated token, if any, was refused before this): the source parks and
    // only the person can fix it. Say how, in the log the operator reads beside the parked status.
    if (err instanceof SourceAuthRejectedError) {
      ctx.log.warn('CareLink refused the refresh token; the source parks until a new browser login', {
        sourceId: ctx.sourceId,
        code: err.code,
        action: CARELINK_RELOGIN_HINT,
      });
    }
    throw err;
  }
  return { tokens, lineage: tokenFingerprint(refreshToken) };
}

type Auth = { tokens: CareLinkTokens; lineage: string };

function sessionInfo(target: CareLinkTarget): Record<string, unknown> {
  return { mode: target.mode, role: target.role };
}

/** Session, loop and browser-login behaviour; timings are declared in carelink.vendor.ts. */
export const careLinkSource = driverBuilder<CareLinkSettings>()
  .supportSession<Auth, CareLinkSession>({
    async authenticate(ctx) {
      return tokensFromCredentials(ctx);
    },
    async authorize(ctx, auth) {
      const target = await selectPatient(ctx.settings, auth.tokens.accessToken, ctx.now);
      ctx.log.info('carelink session established', sessionInfo(target));
      return grantFor(auth.tokens, auth.lineage, target);
    },
    async refresh(ctx, session) {
      const credentialToken = str(ctx.credentials.vendor?.refreshToken);
      if (credentialToken && tokenFingerprint(credentialToken) !== session.lineage) {
        // The person logged in again (maybe as another account): start over from the new credentials.
        ctx.log.info('carelink credentials changed since the session began; using the new login');
        const auth = await tokensFromCredentials(ctx);
        const target = await selectPatient(ctx.settings, auth.tokens.accessToken, ctx.now);
        return grantFor(auth.tokens, auth.lineage, target);
      }
      try {
        const tokens = await requestCareLinkTokens(
          {
            tokenUrl: session.tokenUrl,
            clientId: session.clientId,
            timeoutMs: ctx.settings.httpTimeoutMs,
            now: ctx.now,
            rejectedCode: CARELINK_LOGIN_REQUIRED,
          },
          { grant_type: 'refresh_token', refresh_token: session.refreshToken },
          session.refreshToken,
        );
        return grantFor(tokens, session.lineage, session.target);
      } catch (err) {
        // No fallback to the credential copy (loginWhenRefreshRejected: false): say how to recover, once, here.
        if (err instanceof SourceAuthRejectedError) {
          ctx.log.warn('CareLink refused the refresh token; the source parks until a new browser login', {
            sourceId: ctx.sourceId,
            code: err.code,
            action: CARELINK_RELOGIN_HINT,
          });
        }
        throw err;
      }
    },
    // Refused rotation: the credential copy is an ancestor of the refused token, so logging in with it could only
    // trip Auth0's reuse detection. (A new `login` is a new lineage and is taken inside refresh above.)
    loginWhenRefreshRejected: false,
  })
  .registerLoop<CareLinkPayload>('MinimedCarelink', {
    async fetch(ctx) {
      const { target, accessToken } = ctx.session;
      const body =
        target.mode === 'm2m'
          ? await carelinkCall(ctx.settings, accessToken, ctx.now, {
              method: 'GET',
              url: `${ctx.settings.server}/patient/m2m/connect/data/gc/patients/${encodeURIComponent(target.patientUsername)}`,
              params: { cpSerialNumber: 'NONE', msgType: 'last24hours', requestTime: ctx.now },
            })
          : await carelinkCall(ctx.settings, accessToken, ctx.now, {
              method: 'POST',
              url: target.endpoint,
              body:
                target.role === 'carepartner'
                  ? { username: target.username, role: 'carepartner', patientId: target.patientUsername }
                  : { username: target.username, role: 'patient' },
            });
      const record = asRecord(body);
      // The BLE endpoint wraps the payload in `patientData`; M2M returns it bare.
      const payload = asRecord(record?.patientData) ?? record;
      if (!payload) throw new SourceRejectedError('CareLink data answer is not a JSON object', 'CARELINK.BAD_BODY');
      return payload as CareLinkPayload;
    },
    transform(raw, ctx) {
      return transformCareLink(raw, { cursor: ctx.cursor, now: ctx.now });
    },
  })
  .supportInteractiveLogin(async (ctx) => {
    await runCareLinkLoginCommand({
      settings: ctx.settings,
      prompt: ctx.prompt,
      print: ctx.print,
      store: ctx.store,
      now: ctx.now,
    });
  })
  .build();
