/**
 * CarePartner OAuth plumbing shared by the driver and the `login` command: discovery (CP region entry → SSO
 * configuration), the authorization-code exchange and the refresh-token grant. Token values only ever travel in
 * request bodies and return values: no error, log line or message built here contains one.
 */
import { createHash } from 'node:crypto';
import type { AxiosResponse } from 'axios';
import {
  classifyStatus,
  classifyTransportError,
  createHttpClient,
  parseRetryAfter,
} from '../../adapters/http/http.client.js';
import { isLoopbackHost } from '../../adapters/http/http.policy.js';
import { SourceAuthRejectedError, SourceRejectedError, SourceUnavailableError } from '../../domain/errors.js';
import { type CareLinkSettings, safeUrl } from './carelink.settings.js';

/** Medtronic refused logins from non-browser agents in 2023; a current browser string is what its apps send. */
export const CARELINK_USER_AGENT =
  'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

export interface CareLinkSsoConfig {
  clientId: string;
  scope: string;
  audience?: string;
  redirectUri: string;
  authorizeUrl: string;
  tokenUrl: string;
}

export interface CareLinkTokens {
  accessToken: string;
  refreshToken: string;
  clientId: string;
  tokenUrl: string;
  /** When the access token stops working (vendor `expires_in`, else the JWT `exp`); undefined if neither says. */
  accessExpiresAt?: number;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

async function getJson(url: string, timeoutMs: number, what: string): Promise<unknown> {
  const target = safeUrl(url);
  if (!target) throw new SourceRejectedError(`CareLink ${what} URL is not https`, 'CARELINK.DISCOVERY_URL');
  const http = createHttpClient({
    baseURL: target.origin,
    timeoutMs,
    headers: { Accept: 'application/json', 'User-Agent': CARELINK_USER_AGENT },
  });
  let res: AxiosResponse;
  try {
    res = await http.get(target.pathname + target.search);
  } catch (err) {
    throw classifyTransportError('CARELINK', err);
  }
  if (res.status < 200 || res.status >= 300) {
    // Discovery needs no credentials, so a 401/403 here is the vendor blocking us, not a bad login.
    if (res.status === 401 || res.status === 403) {
      throw new SourceUnavailableError(
        `CareLink ${what} answered HTTP ${res.status}`,
        `CARELINK.DISCOVERY_HTTP_${res.status}`,
      );
    }
    throw classifyStatus('CARELINK', res.status, parseRetryAfter(res.headers['retry-after'], Date.now()));
  }
  if (!asRecord(res.data))
    throw new SourceRejectedError(`CareLink ${what} is not a JSON object`, 'CARELINK.DISCOVERY_BODY');
  return res.data;
}

/** Build `scheme://host[:port]/prefix` from the SSO `server` block; plain http only for loopback (the simulator). */
function ssoBase(server: Record<string, unknown>): string {
  const hostname = str(server.hostname);
  if (!hostname || /[/\s@]/.test(hostname))
    throw new SourceRejectedError('CareLink SSO configuration has no usable hostname', 'CARELINK.SSO_CONFIG');
  const scheme = isLoopbackHost(hostname) ? 'http' : 'https';
  const port = Number(server.port);
  const defaultPort = scheme === 'https' ? 443 : 80;
  const portPart = Number.isInteger(port) && port > 0 && port !== defaultPort ? `:${port}` : '';
  const prefix = (str(server.prefix) ?? '').replace(/^\/+|\/+$/g, '');
  return `${scheme}://${hostname}${portPart}${prefix ? `/${prefix}` : ''}`;
}

function joinPath(base: string, path: string): string {
  return `${base}/${path.replace(/^\/+/, '')}`;
}

/**
 * Discovery: the region entry in `CP[]` names (via `UseSSOConfiguration`) the key holding the SSO configuration URL;
 * that document gives the client and the authorize/token paths. Done at login time and when credentials lack a
 * token URL; Medtronic moved identity providers twice, so nothing here is hard-coded beyond the discovery URL.
 */
export async function discoverCareLinkSso(settings: CareLinkSettings): Promise<CareLinkSsoConfig> {
  const discovery = asRecord(await getJson(settings.discoveryUrl, settings.httpTimeoutMs, 'discovery'));
  const entries = Array.isArray(discovery?.CP) ? discovery.CP : [];
  const entry = entries.map(asRecord).find((e) => str(e?.region)?.toLowerCase() === settings.region);
  if (!entry) {
    throw new SourceRejectedError(
      `CareLink discovery lists no entry for region ${settings.region.toUpperCase()}`,
      'CARELINK.DISCOVERY_REGION',
    );
  }
  const key = str(entry.UseSSOConfiguration) ?? 'Auth0SSOConfiguration';
  const ssoUrl = str(entry[key]);
  if (!ssoUrl)
    throw new SourceRejectedError(`CareLink discovery names ${key} but gives no URL for it`, 'CARELINK.DISCOVERY_SSO');

  const sso = asRecord(await getJson(ssoUrl, settings.httpTimeoutMs, 'SSO configuration'));
  const server = asRecord(sso?.server);
  const client = asRecord(sso?.client);
  const endpoints = asRecord(sso?.system_endpoints);
  const clientId = str(client?.client_id);
  const redirectUri = str(client?.redirect_uri);
  const authorizePath = str(endpoints?.authorization_endpoint_path);
  const tokenPath = str(endpoints?.token_endpoint_path);
  if (!server || !clientId || !redirectUri || !authorizePath || !tokenPath) {
    throw new SourceRejectedError(
      'CareLink SSO configuration lacks server, client or endpoint paths',
      'CARELINK.SSO_CONFIG',
    );
  }
  const base = ssoBase(server);
  return {
    clientId,
    scope: str(client?.scope) ?? 'openid profile offline_access',
    audience: str(client?.audience),
    redirectUri,
    authorizeUrl: joinPath(base, authorizePath),
    tokenUrl: joinPath(base, tokenPath),
  };
}

/** Expiry of a JWT access token from its `exp` claim; undefined for opaque tokens. Never throws. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** A short, one-way fingerprint of a token: lets stored material say which login it descends from without holding it twice. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url').slice(0, 22);
}

type Grant =
  | { grant_type: 'refresh_token'; refresh_token: string }
  | { grant_type: 'authorization_code'; code: string; code_verifier: string; redirect_uri: string };

/**
 * POST the token endpoint (form-encoded). A refused grant (400/401/403, or an OAuth `invalid_grant` body) is an auth
 * rejection: retrying a dead refresh token cannot help and a person must run `login` again.
 */
export async function requestCareLinkTokens(
  options: { tokenUrl: string; clientId: string; timeoutMs: number; now: number; rejectedCode: string },
  grant: Grant,
  previousRefreshToken?: string,
): Promise<CareLinkTokens> {
  const target = safeUrl(options.tokenUrl);
  if (!target) throw new SourceRejectedError('CareLink token URL is not https', 'CARELINK.TOKEN_URL');
  const http = createHttpClient({
    baseURL: target.origin,
    timeoutMs: options.timeoutMs,
    headers: { Accept: 'application/json', 'User-Agent': CARELINK_USER_AGENT },
  });
  const body = new URLSearchParams({ ...grant, client_id: options.clientId }).toString();
  let res: AxiosResponse;
  try {
    res = await http.post(target.pathname + target.search, body, {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  } catch (err) {
    throw classifyTransportError('CARELINK', err);
  }
  const data = asRecord(res.data);
  const oauthError = str(data?.error);
  if (res.status === 400 || res.status === 401 || res.status === 403 || oauthError === 'invalid_grant') {
    // Only the OAuth error code goes into the message: descriptions may echo submitted values.
    const detail = oauthError && /^[a-z_]{1,40}$/.test(oauthError) ? ` (${oauthError})` : '';
    throw new SourceAuthRejectedError(
      `CareLink refused the ${grant.grant_type.replace('_', ' ')} grant${detail}`,
      options.rejectedCode,
    );
  }
  if (res.status < 200 || res.status >= 300)
    throw classifyStatus('CARELINK', res.status, parseRetryAfter(res.headers['retry-after'], options.now));
  const accessToken = str(data?.access_token);
  // Non-rotating servers may omit refresh_token on refresh: the old one then stays valid.
  const refreshToken = str(data?.refresh_token) ?? previousRefreshToken;
  if (!accessToken || !refreshToken) {
    throw new SourceRejectedError('CareLink token response lacks an access or refresh token', 'CARELINK.TOKEN_BODY');
  }
  const expiresIn = Number(data?.expires_in);
  const accessExpiresAt =
    Number.isFinite(expiresIn) && expiresIn > 0 ? options.now + expiresIn * 1000 : jwtExpiry(accessToken);
  return { accessToken, refreshToken, clientId: options.clientId, tokenUrl: options.tokenUrl, accessExpiresAt };
}
