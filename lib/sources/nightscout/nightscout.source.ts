/**
 * Nightscout-as-source driver: mirrors entries, treatments, device status and profiles from one Nightscout site into
 * another. With an access token it trades the token for a JWT (`/api/v2/authorization/request/<token>`, 8 h) and
 * prefers API v3 when the site has it; with only an API secret it reads API v1 with the hashed `api-secret` header
 * (v3 refuses API_SECRET). Every query carries an explicit date filter, because Nightscout silently limits undated
 * v1 queries to the last 4 days.
 *
 * Device strings: documents keep the source's own `device` (fidelity: Loop, AAPS and xDrip+ labels stay visible),
 * so the writer's first-run cursor seed, which looks for this driver's device string, finds nothing and the first
 * frame reads the whole look-back window. That is idempotent for entries and treatments (stable keys); after the
 * first write the cursor comes from the source machine, not from the target.
 */
import { createHash } from 'node:crypto';
import type { AxiosInstance } from 'axios';
import {
  classifyStatus,
  classifyTransportError,
  createHttpClient,
  parseRetryAfter,
} from '../../adapters/http/http.client.js';
import { SessionInvalidError, SourceAuthRejectedError, SourceRejectedError } from '../../domain/errors.js';
import type { Cursor } from '../../domain/records.js';
import { toIso } from '../../domain/records.js';
import type { SourceCredentials } from '../../domain/source.js';
import type { DriverContext, FetchContext } from '../../ports/driver.port.js';
import { driverBuilder } from '../driver.builder.js';
import {
  documentInstant,
  type NightscoutRaw,
  transformNightscout,
  v1Documents,
  v3ApiVersion,
  v3Documents,
} from './nightscout.parse.js';
import {
  NIGHTSCOUT_JWT_LIFETIME_MS,
  NIGHTSCOUT_MAX_LOOKBACK_MS,
  type NightscoutCollection,
  type NightscoutSourceSettings,
} from './nightscout.vendor.js';

/**
 * Session material. With a token: the JWT (a bearer secret, kept only in the session store). With only an API
 * secret there is nothing to store: fetch hashes the secret from the credentials each time.
 */
export type NightscoutSourceSession = { mode: 'jwt'; jwt: string; api: 'v1' | 'v3' } | { mode: 'apiSecret'; api: 'v1' };

type NightscoutSourceAuth = { mode: 'jwt'; jwt: string; exp?: number } | { mode: 'apiSecret' };

const PREFIX = 'NIGHTSCOUT_SOURCE';
const JWT_LIFETIME_MS = NIGHTSCOUT_JWT_LIFETIME_MS;
/** Pages per collection and frame; 20 × 1000 documents in two days is far beyond any real uploader. */
const MAX_PAGES = 20;
const USER_AGENT = 'nightscout-connect-serverless (Nightscout source)';

const CURSOR_KEY: Record<NightscoutCollection, keyof Cursor> = {
  entries: 'entries',
  treatments: 'treatments',
  devicestatus: 'devicestatus',
  profile: 'profiles',
};

function client(settings: NightscoutSourceSettings, headers: Record<string, string> = {}): AxiosInstance {
  return createHttpClient({
    baseURL: settings.endpoint,
    timeoutMs: settings.httpTimeoutMs,
    headers: { Accept: 'application/json', 'User-Agent': USER_AGENT, ...headers },
  });
}

/** Run one request; transport failures become retryable SourceErrors that carry no URL or header. */
async function send<T>(request: () => Promise<{ status: number; data: T; headers: Record<string, unknown> }>) {
  try {
    return await request();
  } catch (err) {
    throw classifyTransportError(PREFIX, err);
  }
}

function statusError(status: number, headers: Record<string, unknown>, now: number) {
  return classifyStatus(PREFIX, status, parseRetryAfter(headers['retry-after'], now));
}

async function authenticate(ctx: DriverContext<NightscoutSourceSettings>): Promise<NightscoutSourceAuth> {
  const token = ctx.credentials.vendor.token?.trim();
  if (token) {
    // The token travels in the path, so only the status may ever reach an error.
    const response = await send(() =>
      client(ctx.settings).get(`/api/v2/authorization/request/${encodeURIComponent(token)}`),
    );
    if (response.status === 401 || response.status === 403) {
      throw new SourceAuthRejectedError(
        `source Nightscout refused the access token (HTTP ${response.status})`,
        `${PREFIX}.TOKEN_REJECTED`,
      );
    }
    if (response.status === 404) {
      throw new SourceRejectedError(
        'source Nightscout has no /api/v2/authorization (older than 0.9?)',
        `${PREFIX}.NO_AUTHORIZATION_API`,
      );
    }
    if (response.status < 200 || response.status >= 300) throw statusError(response.status, response.headers, ctx.now);
    const body = response.data as { token?: unknown; exp?: unknown };
    if (typeof body?.token !== 'string' || body.token === '') {
      throw new SourceRejectedError(
        'source Nightscout answered the token request without a JWT',
        `${PREFIX}.UNEXPECTED_BODY`,
      );
    }
    return { mode: 'jwt', jwt: body.token, exp: typeof body.exp === 'number' ? body.exp : undefined };
  }
  // API secret only: check it once per session rather than learning it per request, because every failed
  // authentication adds a 5 s delay for all clients from our IP and notifies the site's admin.
  const response = await send(() => client(ctx.settings, secretHeader(ctx.credentials)).get('/api/v1/verifyauth'));
  if (response.status === 401 || response.status === 403) {
    throw new SourceAuthRejectedError(
      `source Nightscout refused the API secret (HTTP ${response.status})`,
      `${PREFIX}.SECRET_REJECTED`,
    );
  }
  if (response.status < 200 || response.status >= 300) throw statusError(response.status, response.headers, ctx.now);
  const report = (response.data as { message?: { canRead?: unknown; message?: unknown } })?.message;
  if (report?.canRead !== true || report.message === 'UNAUTHORIZED') {
    throw new SourceAuthRejectedError(
      'source Nightscout did not accept the API secret for reading',
      `${PREFIX}.SECRET_REJECTED`,
    );
  }
  return { mode: 'apiSecret' };
}

async function authorize(ctx: DriverContext<NightscoutSourceSettings>, auth: NightscoutSourceAuth) {
  if (auth.mode === 'apiSecret') {
    if (ctx.settings.apiVersion === 'v3') {
      throw new SourceRejectedError(
        'API v3 needs an access token; an API secret only works with v1',
        `${PREFIX}.V3_NEEDS_TOKEN`,
      );
    }
    return {
      session: { mode: 'apiSecret', api: 'v1' } as NightscoutSourceSession,
      expiresAt: ctx.now + JWT_LIFETIME_MS,
    };
  }
  const api = ctx.settings.apiVersion === 'auto' ? await detectApi(ctx) : ctx.settings.apiVersion;
  const expiresAt = auth.exp !== undefined ? auth.exp * 1000 : ctx.now + JWT_LIFETIME_MS;
  return { session: { mode: 'jwt', jwt: auth.jwt, api } as NightscoutSourceSession, expiresAt };
}

/** `GET /api/v3/version` is public; a site without v3 (404 or no apiVersion) is read with v1. */
async function detectApi(ctx: DriverContext<NightscoutSourceSettings>): Promise<'v1' | 'v3'> {
  const response = await send(() => client(ctx.settings).get('/api/v3/version'));
  if (response.status >= 500 || response.status === 429 || response.status === 408)
    throw statusError(response.status, response.headers, ctx.now);
  if (response.status !== 200) return 'v1';
  return v3ApiVersion(response.data)?.startsWith('3') ? 'v3' : 'v1';
}

function secretHeader(credentials: SourceCredentials): Record<string, string> {
  return {
    'api-secret': createHash('sha1')
      .update(credentials.vendor.apiSecret ?? '')
      .digest('hex'),
  };
}

function authHeaders(ctx: FetchContext<NightscoutSourceSettings, NightscoutSourceSession>): Record<string, string> {
  return ctx.session.mode === 'jwt' ? { Authorization: `Bearer ${ctx.session.jwt}` } : secretHeader(ctx.credentials);
}

async function getList(
  ctx: FetchContext<NightscoutSourceSettings, NightscoutSourceSession>,
  http: AxiosInstance,
  path: string,
  params: URLSearchParams,
  collection: NightscoutCollection,
): Promise<unknown[]> {
  const response = await send(() => http.get(`${path}?${params.toString()}`));
  // A JWT past its expiry, or a rotated secret: log in again once (fetch-frame's rule for SessionInvalidError).
  if (response.status === 401)
    throw new SessionInvalidError('source Nightscout refused the session', `${PREFIX}.SESSION_REJECTED`);
  // The subject exists but may not read this collection: a new JWT will not change that.
  if (response.status === 403) {
    throw new SourceAuthRejectedError(
      `source Nightscout denies reading ${collection} (HTTP 403)`,
      `${PREFIX}.READ_FORBIDDEN`,
    );
  }
  if (response.status < 200 || response.status >= 300) throw statusError(response.status, response.headers, ctx.now);
  return ctx.session.api === 'v3' ? v3Documents(response.data, collection) : v1Documents(response.data, collection);
}

/**
 * v1 answers newest first and caps at `count`, so a full page means older documents may be missing. Page backwards
 * with an upper bound (`$lte` the oldest seen, duplicates dropped) until a page is not full: returning only the
 * newest page would let the cursor jump over the rest for good.
 */
async function fetchV1(
  ctx: FetchContext<NightscoutSourceSettings, NightscoutSourceSession>,
  http: AxiosInstance,
  collection: NightscoutCollection,
  from: number,
): Promise<unknown[]> {
  const count = String(ctx.settings.maxCount);
  if (collection === 'profile') {
    // Profiles take no find filter in v1; the list is short and filtered here.
    const docs = await getList(ctx, http, '/api/v1/profile.json', new URLSearchParams({ count }), collection);
    return docs.filter((doc) => (documentInstant('profile', doc) ?? -Infinity) > from);
  }
  const field = collection === 'entries' ? 'date' : 'created_at';
  const lower = collection === 'entries' ? String(from) : toIso(from);
  const seen = new Set<string>();
  const out: unknown[] = [];
  let upper: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const params = new URLSearchParams({ [`find[${field}][$gt]`]: lower, count });
    if (upper !== undefined) params.set(`find[${field}][$lte]`, upper);
    const docs = await getList(ctx, http, `/api/v1/${collection}.json`, params, collection);
    let added = 0;
    let oldest: { value: string; at: number } | undefined;
    for (const doc of docs) {
      const key = JSON.stringify((doc as { _id?: unknown })?._id ?? doc);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(doc);
        added++;
      }
      const at = documentInstant(collection, doc);
      const value = (doc as Record<string, unknown>)?.[field];
      if (at !== undefined && value !== undefined && (!oldest || at < oldest.at)) oldest = { value: String(value), at };
    }
    if (docs.length < ctx.settings.maxCount || added === 0 || !oldest) return out;
    upper = oldest.value;
  }
  throw new SourceRejectedError(
    `source Nightscout has more than ${MAX_PAGES} pages of ${collection} in the window`,
    `${PREFIX}.WINDOW_TOO_LARGE`,
  );
}

/**
 * v3 sorts ascending, so pages walk forward with `skip`. Entries always carry `date`; treatments, device status and
 * profiles written through v1 carry only `created_at`, so those are searched on both fields and merged.
 */
async function fetchV3(
  ctx: FetchContext<NightscoutSourceSettings, NightscoutSourceSession>,
  http: AxiosInstance,
  collection: NightscoutCollection,
  from: number,
): Promise<unknown[]> {
  const filters: Array<[string, string]> =
    collection === 'entries'
      ? [['date', String(from)]]
      : [
          ['date', String(from)],
          ['created_at', toIso(from)],
        ];
  const byKey = new Map<string, unknown>();
  for (const [field, value] of filters) {
    for (let page = 0; ; page++) {
      if (page === MAX_PAGES) {
        throw new SourceRejectedError(
          `source Nightscout has more than ${MAX_PAGES} pages of ${collection} in the window`,
          `${PREFIX}.WINDOW_TOO_LARGE`,
        );
      }
      const params = new URLSearchParams({ [`${field}$gt`]: value, sort: field, limit: String(ctx.settings.maxCount) });
      if (page > 0) params.set('skip', String(page * ctx.settings.maxCount));
      const docs = await getList(ctx, http, `/api/v3/${collection}`, params, collection);
      for (const doc of docs) {
        const id = (doc as { identifier?: unknown; _id?: unknown })?.identifier ?? (doc as { _id?: unknown })?._id;
        byKey.set(id === undefined ? JSON.stringify(doc) : String(id), doc);
      }
      if (docs.length < ctx.settings.maxCount) break;
    }
  }
  return [...byKey.values()];
}

/** Per collection: from its own cursor (else the frame's lower bound), never beyond the look-back. */
export function collectionStart(
  cursor: Cursor | null,
  collection: NightscoutCollection,
  since: number,
  now: number,
): number {
  const own = cursor?.[CURSOR_KEY[collection]];
  return Math.max(own ?? since, now - NIGHTSCOUT_MAX_LOOKBACK_MS);
}

/** Session and loop behaviour; timings are declared in nightscout.vendor.ts. */
export const nightscoutSource = driverBuilder<NightscoutSourceSettings>()
  .supportSession<NightscoutSourceAuth, NightscoutSourceSession>({
    authenticate,
    authorize,
  })
  .registerLoop<NightscoutRaw>('Nightscout', {
    async fetch(ctx) {
      const http = client(ctx.settings, authHeaders(ctx));
      const raw: NightscoutRaw = { entries: [], treatments: [], devicestatus: [], profile: [] };
      await Promise.all(
        ctx.settings.collections.map(async (collection) => {
          const from = collectionStart(ctx.cursor, collection, ctx.since, ctx.now);
          raw[collection] =
            ctx.session.api === 'v3'
              ? await fetchV3(ctx, http, collection, from)
              : await fetchV1(ctx, http, collection, from);
        }),
      );
      return raw;
    },
    transform(raw) {
      return transformNightscout(raw);
    },
  })
  .build();
