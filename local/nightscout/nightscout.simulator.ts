/**
 * An in-process Nightscout (cgm-remote-monitor 15.0.6 / 15.0.7) on 127.0.0.1 for integration tests and local runs.
 * It reproduces the behaviours a bridge can get wrong (peers.md §E): SHA-1/SHA-512 `api-secret`, `?token=`, JWTs,
 * the v1 upsert keys per collection (devicestatus and profiles are plain inserts), the silent 4-day window on undated
 * v1 queries, newest-first sorting, `count` defaulting to 10, treatment `created_at` normalisation, the regex parsing
 * of `enteredBy`, and API v3 create-with-dedup. Faults (5xx, down, hanging requests) are injected on demand.
 * The request log never records secrets: `token`/`secret` query values and v2 authorization paths are redacted.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type NightscoutVersion = '15.0.6' | '15.0.7';

export interface NightscoutSimulatorOptions {
  apiSecret: string;
  clock?: { now(): number };
  /** Access tokens (`<abbrev>-<16 hex>`) and the permissions their subject holds, e.g. `['*']`, `['api:*:read']`. */
  tokens?: Record<string, string[]>;
  version?: NightscoutVersion;
  /**
   * AUTH_DEFAULT_ROLES: `readable` (default) lets anonymous callers read; `denied` refuses them, as sites that keep
   * their data private do (then only a correct API secret or token reads anything).
   */
  defaultRoles?: 'readable' | 'denied';
}

/**
 * `count` (default 1) is how many requests the fault hits; `after` lets that many requests pass first (e.g. fail the
 * second chunk of a write); `retryAfterSeconds` adds a Retry-After header to 5xx answers.
 */
export type NightscoutFault =
  | { kind: 'http5xx'; status?: number; count?: number; after?: number; retryAfterSeconds?: number }
  | { kind: 'down'; until: number }
  | { kind: 'timeout'; count?: number; after?: number };

export interface StoredDocument {
  _id: string;
  [field: string]: unknown;
}

export interface NightscoutStore {
  entries: StoredDocument[];
  treatments: StoredDocument[];
  devicestatus: StoredDocument[];
  profiles: StoredDocument[];
}

export interface LoggedRequest {
  method: string;
  path: string;
  /** Query parameters in order, secrets redacted. */
  query: Array<[string, string]>;
}

export interface NightscoutSimulator {
  url: string;
  store: NightscoutStore;
  /** Requests by `METHOD /path` (path as sent, e.g. `POST /api/v1/entries.json`). */
  requests: Record<string, number>;
  requestLog: LoggedRequest[];
  inject(fault: NightscoutFault): void;
  clearFaults(): void;
  /** Forget every issued JWT (as a server restart with a new secret would), so the next Bearer call gets a 401. */
  revokeJwts(): void;
  close(): Promise<void>;
}

/** `TWO_DAYS * 2` in lib/server/query.js: undated v1 queries only see this far back. */
export const NIGHTSCOUT_DEFAULT_DELTA_AGO_MS = 345_600_000;
const DEFAULT_COUNT = 10;
const JWT_LIFETIME_S = 8 * 3600;
const API3_MIN_TIMESTAMP = 946_684_800_000;
const API3_DEFAULT_LIMIT = 100;
const API3_MAX_LIMIT = 1000;

type Collection = keyof NightscoutStore;
type Auth = { kind: 'anonymous' } | { kind: 'invalid' } | { kind: 'subject'; name: string; permissions: string[] };
type Filter = { field: string; op: '$eq' | '$gt' | '$gte' | '$lt' | '$lte' | '$ne'; value: unknown };

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

const UNAUTHORIZED_V1 = { status: 401, message: 'Unauthorized', description: 'Invalid/Missing' };

/** Start a simulator on an ephemeral loopback port. */
export async function startNightscoutSimulator(options: NightscoutSimulatorOptions): Promise<NightscoutSimulator> {
  const clock = options.clock ?? { now: () => Date.now() };
  const version: NightscoutVersion = options.version ?? '15.0.6';
  const tokens = options.tokens ?? {};
  const anonymousPermissions = options.defaultRoles === 'denied' ? [] : ['*:*:read'];
  const secretSha1 = sha1(options.apiSecret);
  const secretSha512 = createHash('sha512').update(options.apiSecret).digest('hex');
  const store: NightscoutStore = { entries: [], treatments: [], devicestatus: [], profiles: [] };
  const requests: Record<string, number> = {};
  const requestLog: LoggedRequest[] = [];
  const jwts = new Map<string, { name: string; permissions: string[]; exp: number }>();
  let faults: NightscoutFault[] = [];
  const held = new Set<ServerResponse>();

  function resolveAuth(req: IncomingMessage, url: URL): Auth {
    const header = req.headers['api-secret'];
    const bearer = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const querySecret = url.searchParams.get('secret');
    const queryToken = url.searchParams.get('token');
    if (typeof header === 'string' || querySecret !== null) {
      const presented = String(header ?? querySecret).trim();
      const lower = presented.toLowerCase();
      if (lower === secretSha1 || lower === secretSha512) return { kind: 'subject', name: 'admin', permissions: ['*'] };
      // The api-secret header may also carry an access token, raw or as its SHA-1.
      for (const [token, permissions] of Object.entries(tokens)) {
        if (presented === token || lower === sha1(token))
          return { kind: 'subject', name: subjectName(token), permissions };
      }
      return { kind: 'invalid' };
    }
    if (queryToken !== null) {
      const permissions = tokens[queryToken];
      return permissions ? { kind: 'subject', name: subjectName(queryToken), permissions } : { kind: 'invalid' };
    }
    if (bearer !== undefined) {
      const known = jwts.get(bearer);
      if (!known || known.exp * 1000 <= clock.now()) return { kind: 'invalid' };
      return { kind: 'subject', name: known.name, permissions: known.permissions };
    }
    return { kind: 'anonymous' };
  }

  /** v1 semantics: AUTH_DEFAULT_ROLES decides what anonymous callers may do; any failure is a 401. */
  function demandV1(auth: Auth, permission: string): void {
    if (auth.kind === 'invalid') throw new HttpFailure(401, UNAUTHORIZED_V1);
    const granted = auth.kind === 'anonymous' ? anonymousPermissions : auth.permissions;
    if (!permitted(granted, permission)) throw new HttpFailure(401, UNAUTHORIZED_V1);
  }

  /** v3 semantics: Bearer JWT only; a missing permission is a 403. */
  function demandV3(req: IncomingMessage, auth: Auth, permission: string): void {
    const isBearer = /^Bearer\s/i.test(String(req.headers.authorization ?? ''));
    if (!isBearer || auth.kind !== 'subject') {
      throw new HttpFailure(401, { status: 401, message: 'Missing or bad access token or JWT' });
    }
    if (!permitted(auth.permissions, permission)) {
      throw new HttpFailure(403, { status: 403, message: `Missing permission ${permission}` });
    }
  }

  function applyFault(res: ServerResponse): boolean {
    const now = clock.now();
    faults = faults.filter((f) => f.kind !== 'down' || now < f.until);
    const fault = faults[0];
    if (!fault) return false;
    if (fault.kind === 'down') {
      send(res, 503, { status: 503, message: 'Service Unavailable' });
      return true;
    }
    if ((fault.after ?? 0) > 0) {
      faults[0] = { ...fault, after: (fault.after ?? 0) - 1 };
      return false;
    }
    const remaining = (fault.count ?? 1) - 1;
    if (remaining <= 0) faults.shift();
    else faults[0] = { ...fault, count: remaining };
    if (fault.kind === 'http5xx') {
      const headers =
        fault.retryAfterSeconds === undefined ? undefined : { 'retry-after': String(fault.retryAfterSeconds) };
      send(res, fault.status ?? 500, { status: fault.status ?? 500, message: 'Injected failure' }, headers);
    } else {
      // Hold the request open: the client's timeout must fire. Released on close().
      held.add(res);
      res.on('close', () => held.delete(res));
    }
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const loggedPath = url.pathname.startsWith('/api/v2/authorization/request/')
      ? '/api/v2/authorization/request/:token'
      : url.pathname;
    const key = `${method} ${loggedPath}`;
    requests[key] = (requests[key] ?? 0) + 1;
    requestLog.push({
      method,
      path: loggedPath,
      query: [...url.searchParams.entries()].map(([k, v]) => [k, k === 'token' || k === 'secret' ? '[redacted]' : v]),
    });
    const body = await readBody(req);
    if (applyFault(res)) return;

    const path = url.pathname.replace(/\.json$/, '').replace(/\/+$/, '');
    const auth = resolveAuth(req, url);
    try {
      const result = route(method, path, url, body, auth, req);
      send(res, result.status, result.body, result.headers);
    } catch (err) {
      if (err instanceof HttpFailure) send(res, err.status, err.body);
      else send(res, 500, { status: 500, message: 'Internal error' });
    }
  }

  type Reply = { status: number; body: unknown; headers?: Record<string, string> };

  function route(method: string, path: string, url: URL, body: unknown, auth: Auth, req: IncomingMessage): Reply {
    if (path === '/api/v1/verifyauth' && method === 'GET') {
      // verifyauth reports rather than rejects.
      const ok = auth.kind === 'subject';
      const perms = auth.kind === 'subject' ? auth.permissions : anonymousPermissions;
      return {
        status: 200,
        body: {
          status: 200,
          message: {
            canRead: auth.kind !== 'invalid' && permitted(perms, 'api:entries:read'),
            canWrite: ok && permitted(perms, 'api:entries:create'),
            isAdmin: ok && permitted(perms, '*:*:admin'),
            message: ok ? 'OK' : 'UNAUTHORIZED',
            rolefound: ok ? 'FOUND' : 'NOTFOUND',
            permissions: ok ? 'ROLE' : 'DEFAULT',
          },
        },
      };
    }
    if (path === '/api/v1/status' && method === 'GET') {
      demandV1(auth, 'api:status:read');
      const now = clock.now();
      return {
        status: 200,
        body: {
          status: 'ok',
          name: 'nightscout',
          version,
          serverTime: new Date(now).toISOString(),
          serverTimeEpoch: now,
          apiEnabled: true,
          careportalEnabled: true,
          boluscalcEnabled: false,
          settings: {},
          extendedSettings: {},
          authorized: null,
          runtimeState: 'loaded',
        },
      };
    }
    const authorization = /^\/api\/v2\/authorization\/request\/([^/]+)$/.exec(path);
    if (authorization && method === 'GET') return requestJwt(decodeURIComponent(authorization[1]));

    const v1 = /^\/api\/v1\/(entries|treatments|devicestatus|profile|profiles)(\/sgv)?$/.exec(path);
    if (v1) {
      const collection: Collection = v1[1] === 'profile' || v1[1] === 'profiles' ? 'profiles' : (v1[1] as Collection);
      const colName = collection === 'profiles' ? 'profile' : collection;
      if (method === 'GET') {
        demandV1(auth, `api:${colName}:read`);
        if (v1[1] === 'profile') return { status: 200, body: listProfiles(url) };
        const extra: Filter[] = v1[2] ? [{ field: 'type', op: '$eq', value: 'sgv' }] : [];
        return { status: 200, body: queryV1(collection, url, extra) };
      }
      if (method === 'POST' && !v1[2] && v1[1] !== 'profiles') {
        demandV1(auth, `api:${colName}:create`);
        return { status: 200, body: createV1(collection, body) };
      }
      throw new HttpFailure(405, { status: 405, message: 'Method not allowed' });
    }

    if (path === '/api/v3/version' && method === 'GET') {
      return {
        status: 200,
        body: {
          status: 200,
          result: {
            version,
            apiVersion: '3.0.3-alpha',
            srvDate: clock.now(),
            storage: { storage: 'mongodb', version: '4.4.0' },
          },
        },
      };
    }
    const v3 = /^\/api\/v3\/(entries|treatments|devicestatus|profile)(?:\/([^/]+))?$/.exec(path);
    if (v3) {
      const colName = v3[1];
      const collection: Collection = colName === 'profile' ? 'profiles' : (colName as Collection);
      if (method === 'GET' && v3[2] === undefined) {
        demandV3(req, auth, `api:${colName}:read`);
        return { status: 200, body: { status: 200, result: searchV3(collection, url) } };
      }
      if (method === 'GET') {
        demandV3(req, auth, `api:${colName}:read`);
        const doc = store[collection].find((d) => d.identifier === v3[2]);
        if (!doc) throw new HttpFailure(404, { status: 404 });
        return { status: 200, body: { status: 200, result: doc } };
      }
      if (method === 'POST' && v3[2] === undefined) return createV3(req, auth, colName, collection, body);
    }
    throw new HttpFailure(404, { status: 404, message: 'Not found' });
  }

  function requestJwt(token: string): Reply {
    const permissions = tokens[token];
    if (!permissions) throw new HttpFailure(401, UNAUTHORIZED_V1);
    const iat = Math.floor(clock.now() / 1000);
    const exp = iat + JWT_LIFETIME_S;
    const name = subjectName(token);
    const jwt = [
      base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })),
      base64url(JSON.stringify({ sub: name, iat, exp })),
      randomBytes(24).toString('base64url'),
    ].join('.');
    jwts.set(jwt, { name, permissions, exp });
    return { status: 200, body: { token: jwt, sub: name, permissionGroups: [permissions], iat, exp } };
  }

  // ---- API v1 ----

  function queryV1(collection: Collection, url: URL, extra: Filter[]): StoredDocument[] {
    const dateField = collection === 'entries' ? 'date' : collection === 'profiles' ? 'startDate' : 'created_at';
    const filters = [...parseV1Find(collection, url), ...extra];
    if (!filters.some((f) => f.field === dateField || f.field === 'dateString')) {
      // lib/server/query.js enforceDateFilter: the silent window every undated query gets.
      const min = clock.now() - NIGHTSCOUT_DEFAULT_DELTA_AGO_MS;
      filters.push({
        field: dateField,
        op: '$gte',
        value: collection === 'entries' ? min : new Date(min).toISOString(),
      });
    }
    const count = parseCount(url.searchParams.get('count'));
    return sortDesc(
      store[collection].filter((d) => matches(d, filters)),
      dateField,
    ).slice(0, count);
  }

  function listProfiles(url: URL): StoredDocument[] {
    const count = parseCount(url.searchParams.get('count'));
    return sortDesc([...store.profiles], 'startDate').slice(0, count);
  }

  function parseV1Find(collection: Collection, url: URL): Filter[] {
    const filters: Filter[] = [];
    for (const [key, raw] of url.searchParams.entries()) {
      const m = /^find\[([^\]]+)\](?:\[(\$[a-z]+)\])?$/.exec(key);
      if (!m) continue;
      const field = m[1];
      const op = (m[2] ?? '$eq') as Filter['op'];
      if (!['$eq', '$gt', '$gte', '$lt', '$lte', '$ne'].includes(op))
        throw new HttpFailure(400, { status: 400, message: `Unsupported operator ${op}` });
      filters.push({ field, op, value: coerceV1(collection, field, raw) });
    }
    return filters;
  }

  function coerceV1(collection: Collection, field: string, raw: string): unknown {
    if (collection === 'entries' && (field === 'date' || field === 'sgv')) return parseInt(raw, 10);
    if (collection === 'treatments' && ['insulin', 'carbs', 'glucose'].includes(field)) return parseInt(raw, 10);
    const dateField = collection === 'entries' ? 'date' : collection === 'profiles' ? 'startDate' : 'created_at';
    if (field === dateField && Number.isNaN(Number(raw))) {
      // Date strings are rewritten to ISO UTC; unescaped '+' arrives as a space.
      const fixed = raw.replace(' ', '+');
      const ms = Date.parse(fixed);
      if (Number.isNaN(ms)) throw new HttpFailure(500, { status: 500, message: 'Cannot parse date' });
      return new Date(ms).toISOString();
    }
    if (collection === 'treatments' && ['notes', 'eventType', 'enteredBy'].includes(field)) return parseRegEx(raw);
    return raw;
  }

  function createV1(collection: Collection, body: unknown): StoredDocument[] {
    let docs: Record<string, unknown>[];
    if (Array.isArray(body)) docs = body.filter(isObject);
    else if (isObject(body)) {
      // A single entry object is only accepted when it has a `date`.
      if (collection === 'entries' && !('date' in body)) return [];
      docs = [body];
    } else throw new HttpFailure(400, { status: 400, message: 'Bad body' });
    return docs.map((doc) => {
      const copy = structuredClone(doc);
      switch (collection) {
        case 'entries':
          return upsertEntry(copy);
        case 'treatments':
          return upsertTreatment(copy);
        case 'devicestatus':
          if (!copy.created_at) copy.created_at = new Date(clock.now()).toISOString();
          return insert('devicestatus', copy);
        case 'profiles':
          if (!copy.created_at) copy.created_at = new Date(clock.now()).toISOString();
          return insert('profiles', copy);
      }
    });
  }

  function upsertEntry(doc: Record<string, unknown>): StoredDocument {
    normaliseUuidId(doc);
    const fromString = typeof doc.dateString === 'string' ? Date.parse(doc.dateString) : NaN;
    const ms = !Number.isNaN(fromString) ? fromString : typeof doc.date === 'number' ? doc.date : clock.now();
    doc.sysTime = new Date(ms).toISOString();
    doc.utcOffset = typeof doc.dateString === 'string' ? offsetMinutes(doc.dateString) : 0;
    const existing = store.entries.findIndex((d) => d.sysTime === doc.sysTime && d.type === doc.type);
    if (existing < 0) return insert('entries', doc);
    const old = store.entries[existing];
    // 15.0.6: update(key, doc, upsert) replaces the whole document; 15.0.7: $set merges.
    const replaced: StoredDocument = version === '15.0.6' ? { ...doc, _id: old._id } : { ...old, ...doc, _id: old._id };
    store.entries[existing] = replaced;
    return replaced;
  }

  function upsertTreatment(doc: Record<string, unknown>): StoredDocument {
    if (version === '15.0.7') normaliseUuidId(doc);
    else delete doc._id;
    const original =
      typeof doc.created_at === 'string' || typeof doc.created_at === 'number' ? String(doc.created_at) : '';
    const created = Date.parse(original);
    // A missing or invalid created_at becomes server time: every re-post then creates a new row.
    doc.created_at = new Date(Number.isNaN(created) ? clock.now() : created).toISOString();
    doc.utcOffset = offsetMinutes(original);
    if (doc.eventTime) {
      doc.created_at = new Date(String(doc.eventTime)).toISOString();
      delete doc.eventTime;
    }
    const existing = store.treatments.findIndex((d) =>
      version === '15.0.7' && doc.identifier
        ? d.identifier === doc.identifier
        : d.created_at === doc.created_at && d.eventType === doc.eventType,
    );
    if (existing < 0) return insert('treatments', doc);
    const replaced: StoredDocument = { ...doc, _id: store.treatments[existing]._id };
    store.treatments[existing] = replaced;
    return replaced;
  }

  function normaliseUuidId(doc: Record<string, unknown>): void {
    if (typeof doc._id === 'string' && !/^[0-9a-f]{24}$/i.test(doc._id)) {
      if (version === '15.0.7' && !doc.identifier) doc.identifier = doc._id;
      delete doc._id;
    }
  }

  function insert(collection: Collection, doc: Record<string, unknown>): StoredDocument {
    const stored: StoredDocument = { ...doc, _id: typeof doc._id === 'string' ? doc._id : objectId() };
    store[collection].push(stored);
    return stored;
  }

  // ---- API v3 ----

  function searchV3(collection: Collection, url: URL): StoredDocument[] {
    const filters: Filter[] = [];
    let sortField: string | undefined;
    let descending = false;
    let limit = API3_DEFAULT_LIMIT;
    let skip = 0;
    for (const [key, raw] of url.searchParams.entries()) {
      if (key === 'token') throw new HttpFailure(401, { status: 401, message: 'Missing or bad access token or JWT' });
      if (key === 'limit') limit = Number(raw);
      else if (key === 'skip') skip = Number(raw);
      else if (key === 'sort') sortField = raw;
      else if (key === 'sort$desc') {
        sortField = raw;
        descending = true;
      } else if (key === 'fields' || key === 'now') continue;
      else {
        const m = /^([^$]+)(?:\$(eq|ne|gt|gte|lt|lte))?$/.exec(key);
        if (!m) throw new HttpFailure(400, { status: 400, message: `Unsupported filter ${key}` });
        filters.push({
          field: m[1],
          op: `$${m[2] ?? 'eq'}` as Filter['op'],
          value: /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw,
        });
      }
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > API3_MAX_LIMIT)
      throw new HttpFailure(400, { status: 400, message: 'Parameter limit out of tolerance' });
    let docs = store[collection].filter((d) => d.isValid !== false && matches(d, filters));
    if (sortField) docs = descending ? sortDesc(docs, sortField) : sortDesc(docs, sortField).reverse();
    return docs.slice(skip, skip + limit);
  }

  function createV3(req: IncomingMessage, auth: Auth, colName: string, collection: Collection, body: unknown): Reply {
    // Authentication first (401), the create/update permission once we know which one applies (403).
    demandV3(req, auth, 'api');
    if (!isObject(body) || Object.keys(body).length === 0)
      throw new HttpFailure(400, { status: 400, message: 'Bad or missing request body' });
    const doc = structuredClone(body);
    if (typeof doc.date === 'string') doc.date = Date.parse(doc.date);
    else if (typeof doc.date === 'number' && doc.date < 100_000_000_000) doc.date = doc.date * 1000;
    if (typeof doc.date !== 'number' || !(doc.date > API3_MIN_TIMESTAMP))
      throw new HttpFailure(400, { status: 400, message: 'Bad or missing date field' });
    if (typeof doc.app !== 'string' || doc.app.trim() === '')
      throw new HttpFailure(400, { status: 400, message: 'Bad or missing app field' });
    if (doc.utcOffset === undefined) doc.utcOffset = 0;
    if (typeof doc.identifier !== 'string' || doc.identifier === '') {
      doc.identifier = uuidV5(`${doc.device}_${doc.date}${doc.eventType ? `_${doc.eventType}` : ''}`);
    }
    const fallback: Record<Collection, string[]> = {
      entries: ['date', 'type'],
      treatments: ['created_at', 'eventType'],
      devicestatus: ['created_at', 'device'],
      profiles: ['created_at'],
    };
    const found = store[collection].findIndex(
      (d) =>
        d.identifier === doc.identifier ||
        d._id === doc.identifier ||
        (d.identifier === undefined && fallback[collection].every((f) => d[f] !== undefined && d[f] === doc[f])),
    );
    const now = clock.now();
    const subject = auth.kind === 'subject' ? auth.name : undefined;
    if (found >= 0) {
      demandV3(req, auth, `api:${colName}:update`);
      const old = store[collection][found];
      const identifier = typeof old.identifier === 'string' ? old.identifier : String(doc.identifier);
      store[collection][found] = {
        ...doc,
        identifier,
        _id: old._id,
        srvCreated: old.srvCreated ?? now,
        srvModified: now,
        subject,
      };
      const fields: Record<string, unknown> = { status: 200, identifier, lastModified: now, isDeduplication: true };
      if (identifier !== doc.identifier) fields.deduplicatedIdentifier = identifier;
      return { status: 200, body: fields };
    }
    demandV3(req, auth, `api:${colName}:create`);
    insert(collection, { ...doc, srvCreated: now, srvModified: now, subject });
    return {
      status: 201,
      body: { status: 201, identifier: doc.identifier, lastModified: now },
      headers: {
        location: `/api/v3/${colName}/${String(doc.identifier)}`,
        'last-modified': new Date(now).toUTCString(),
      },
    };
  }

  // ---- shared ----

  function matches(doc: StoredDocument, filters: Filter[]): boolean {
    return filters.every((f) => {
      const actual = doc[f.field];
      if (f.value instanceof RegExp) return typeof actual === 'string' && f.value.test(actual);
      if (f.op === '$eq') return actual === f.value;
      if (f.op === '$ne') return actual !== f.value;
      // MongoDB only compares values of the same BSON type.
      const sameType =
        (typeof actual === 'number' && typeof f.value === 'number') ||
        (typeof actual === 'string' && typeof f.value === 'string');
      if (!sameType) return false;
      const a = actual as number | string;
      const b = f.value as number | string;
      switch (f.op) {
        case '$gt':
          return a > b;
        case '$gte':
          return a >= b;
        case '$lt':
          return a < b;
        case '$lte':
          return a <= b;
      }
    });
  }

  function parseCount(raw: string | null): number {
    const n = raw === null ? DEFAULT_COUNT : parseInt(raw, 10);
    return Number.isNaN(n) ? DEFAULT_COUNT : n;
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { status: 500, message: 'Internal error' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    store,
    requests,
    requestLog,
    inject(fault) {
      faults.push(fault);
    },
    clearFaults() {
      faults = [];
    },
    revokeJwts() {
      jwts.clear();
    },
    async close() {
      for (const res of held) res.destroy();
      held.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function sortDesc(docs: StoredDocument[], field: string): StoredDocument[] {
  return [...docs].sort((a, b) => {
    const x = a[field] as number | string | undefined;
    const y = b[field] as number | string | undefined;
    if (x === y) return 0;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return x < y ? 1 : -1;
  });
}

/** Shiro-style wildcard permissions: `*` matches any part, missing trailing parts imply `*`. */
function permitted(granted: string[], wanted: string): boolean {
  const want = wanted.split(':');
  return granted.some((permission) => {
    const parts = permission.split(':');
    return want.every((part, i) => i >= parts.length || parts[i] === '*' || parts[i].split(',').includes(part));
  });
}

/** lib/server/query.js parseRegEx: anything shaped `/pattern/flags` becomes a RegExp (an invalid one is a 500). */
function parseRegEx(raw: string): string | RegExp {
  const m = /\/(.*)\/(.*)/.exec(raw);
  if (!m) return raw;
  try {
    return new RegExp(m[1], m[2]);
  } catch {
    throw new HttpFailure(500, { status: 500, message: 'Invalid regular expression' });
  }
}

function offsetMinutes(iso: string): number {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(iso);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

function subjectName(token: string): string {
  return token.replace(/-[0-9a-f]{16}$/i, '') || 'subject';
}

function objectId(): string {
  return randomBytes(12).toString('hex');
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** RFC 4122 v5 with cgm-remote-monitor's namespace (the 16 ASCII bytes of "NightscoutRocks!"). */
function uuidV5(name: string): string {
  const hash = createHash('sha1').update(Buffer.from('NightscoutRocks!', 'ascii')).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
