/**
 * Writes a batch to Nightscout through API v3: one document per POST, bounded concurrency, Bearer JWT obtained from
 * `/api/v2/authorization/request/<token>` and cached until 60 s before it expires.
 *
 * Every document carries a stable `identifier` (the document's own, else the same UUID v5 Nightscout itself derives),
 * so a re-send deduplicates server-side in every collection, devicestatus included: 201 = written, 200 with
 * `isDeduplication` = already there (success, counted apart). A 401 refreshes the JWT once, then is authRejected.
 * Note that deduplication needs `api:<collection>:update` as well as `:create`; without it Nightscout answers 403.
 * Entries inside the driver's re-read window (dated in (cursor − window, cursor]) are first checked with one dated
 * search of this device's entries, and only what Nightscout lacks is created: a dedup is a whole-document replace,
 * which would erase the arrow of a stored current reading under an arrowless graph row of the same instant.
 */
import { createHash } from 'node:crypto';
import type { AxiosInstance, AxiosResponse } from 'axios';
import { ConfigError, SourceError } from '../../domain/errors.js';
import type { WriteCounts } from '../../domain/messages.js';
import type { Batch, Cursor } from '../../domain/records.js';
import { NO_REREAD, toIso } from '../../domain/records.js';
import type { NightscoutWriter, PersistRequest, PersistResult } from '../../ports/nightscout.writer.port.js';
import { classifyStatus, classifyTransportError, createHttpClient } from '../http/http.client.js';
import {
  afterCursor,
  assertInstants,
  type CollectionName,
  createdAtInstant,
  dedupBatch,
  mergeCursor,
  newestInstants,
  toStoredReadings,
  withoutStoredBehindCursor,
} from './nightscout-batch.helper.js';
import {
  errorForResponse,
  NIGHTSCOUT_ERROR_PREFIX,
  parseNightscoutEndpoint,
  unexpectedBody,
  withQuery,
} from './nightscout-endpoint.helper.js';

export interface NightscoutV3WriterOptions {
  endpoint: string;
  token: string;
  timeoutMs?: number;
  concurrency?: number;
  app?: string;
}

export interface V3PersistResult extends PersistResult {
  /** Documents Nightscout already had (HTTP 200 `isDeduplication`): stored, but not written by this persist. */
  deduplicated: WriteCounts;
}

export const DEFAULT_V3_APP = 'nightscout-connect-serverless';
export const DEFAULT_V3_CONCURRENCY = 4;
/** Refresh this long before the JWT's `exp`, so a token never expires in flight. */
export const JWT_REFRESH_MARGIN_MS = 60_000;

const V3_COLLECTION: Record<CollectionName, string> = {
  entries: 'entries',
  treatments: 'treatments',
  devicestatus: 'devicestatus',
  profiles: 'profile',
};
/** cgm-remote-monitor's UUID v5 namespace: the 16 ASCII bytes of "NightscoutRocks!". */
const IDENTIFIER_NAMESPACE = Buffer.from('NightscoutRocks!', 'ascii');

/**
 * The identifier Nightscout derives for a document without one: UUID v5 (SHA-1) of `${device}_${date}[_${eventType}]`
 * in Nightscout's namespace. Computing the same value here keeps re-sends and server-side derivation in agreement.
 */
export function stableIdentifier(parts: { device: string; date: number; eventType?: string }): string {
  const name = `${parts.device}_${parts.date}${parts.eventType ? `_${parts.eventType}` : ''}`;
  const hash = createHash('sha1').update(IDENTIFIER_NAMESPACE).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

interface Jwt {
  value: string;
  /** Epoch ms after which we no longer use it (exp − margin). */
  useUntil: number;
}

type Doc = Record<string, unknown>;

export class NightscoutV3Writer implements NightscoutWriter {
  private readonly http: AxiosInstance;
  private readonly token: string;
  private readonly concurrency: number;
  private readonly app: string;
  private jwt?: Jwt;
  private jwtRequest?: Promise<Jwt>;

  constructor(options: NightscoutV3WriterOptions) {
    const endpoint = parseNightscoutEndpoint(options.endpoint);
    const problems: string[] = [];
    if (!options.token)
      problems.push('nightscout.token: API v3 needs an access token (the API secret is not accepted)');
    const concurrency = options.concurrency ?? DEFAULT_V3_CONCURRENCY;
    if (!(Number.isInteger(concurrency) && concurrency >= 1))
      problems.push('nightscout.concurrency: must be a positive integer');
    const app = options.app ?? DEFAULT_V3_APP;
    if (app.trim() === '') problems.push('nightscout.app: must not be empty (Nightscout requires it)');
    if (problems.length > 0) throw new ConfigError(problems);
    this.http = createHttpClient({
      baseURL: endpoint,
      timeoutMs: options.timeoutMs,
      headers: { accept: 'application/json' },
    });
    this.token = options.token;
    this.concurrency = concurrency;
    this.app = app;
  }

  async persist(request: PersistRequest): Promise<V3PersistResult> {
    assertInstants(request.batch);
    const batch = dedupBatch(request.batch);
    const session: Session = { now: request.now };
    const base: Cursor = request.cursor ?? (await this.seed(session, request, batch));
    const reread = request.reread ?? NO_REREAD;
    const pending = afterCursor(batch, base, reread.windowMs);
    pending.entries = await withoutStoredBehindCursor(
      pending.entries,
      base,
      reread.sameReadingMs,
      async (from, limit) => {
        const path = '/api/v3/entries';
        const { body } = await this.send(
          session,
          'GET',
          withQuery(path, [
            ['date$gte', from],
            ['device$eq', request.device],
            ['sort$desc', 'date'],
            ['limit', limit],
            ['fields', 'date,type'],
          ]),
        );
        const list = Array.isArray(body)
          ? body
          : isRecord(body) && Array.isArray(body.result)
            ? body.result
            : undefined;
        if (!list) throw unexpectedBody(path);
        return toStoredReadings(list);
      },
    );

    const written: WriteCounts = { entries: 0, treatments: 0, devicestatus: 0, profiles: 0 };
    const deduplicated: WriteCounts = { entries: 0, treatments: 0, devicestatus: 0, profiles: 0 };
    const order: CollectionName[] = ['entries', 'treatments', 'devicestatus', 'profiles'];
    for (const name of order) {
      const docs = (pending[name] as unknown as Doc[]).map((doc) => this.prepare(name, doc, request.device));
      await runBounded(docs, this.concurrency, async (doc) => {
        const outcome = await this.create(session, V3_COLLECTION[name], doc);
        if (outcome === 'created') written[name] += 1;
        else deduplicated[name] += 1;
      });
    }
    return { written, deduplicated, cursor: mergeCursor(base, newestInstants(pending)) };
  }

  /** The v3 form of a document: `date` in ms, `app`, a stable `identifier`; dates themselves are never rewritten. */
  private prepare(name: CollectionName, doc: Doc, device: string): Doc {
    const copy: Doc = { ...doc };
    delete copy._id;
    const date = name === 'entries' ? Number(doc.date) : createdAtInstant(doc as { created_at: string });
    copy.date = date;
    copy.app = this.app;
    if (typeof doc.identifier !== 'string' || doc.identifier === '') {
      const owner = typeof doc.device === 'string' && doc.device !== '' ? doc.device : device;
      const eventType = name === 'treatments' && typeof doc.eventType === 'string' ? doc.eventType : undefined;
      copy.identifier = stableIdentifier({ device: owner, date, eventType });
    }
    return copy;
  }

  private async seed(session: Session, request: PersistRequest, batch: Batch): Promise<Cursor> {
    const since = request.now - request.seedLookbackMs;
    const sinceIso = toIso(since);
    const [entries, treatments, devicestatus] = await Promise.all([
      batch.entries.length === 0
        ? undefined
        : this.newest(
            session,
            '/api/v3/entries',
            [
              ['date$gte', since],
              ['device$eq', request.device],
              ['sort$desc', 'date'],
              ['limit', 1],
            ],
            'date',
          ),
      // created_at: documents written through v1 carry no `date`.
      batch.treatments.length === 0
        ? undefined
        : this.newest(
            session,
            '/api/v3/treatments',
            [
              ['created_at$gte', sinceIso],
              ['enteredBy$eq', request.device],
              ['sort$desc', 'created_at'],
              ['limit', 1],
            ],
            'created_at',
          ),
      batch.devicestatus.length === 0
        ? undefined
        : this.newest(
            session,
            '/api/v3/devicestatus',
            [
              ['created_at$gte', sinceIso],
              ['device$eq', request.device],
              ['sort$desc', 'created_at'],
              ['limit', 1],
            ],
            'created_at',
          ),
    ]);
    return mergeCursor({ entries, treatments, devicestatus });
  }

  private async newest(
    session: Session,
    path: string,
    query: Array<[string, string | number]>,
    field: 'date' | 'created_at',
  ): Promise<number | undefined> {
    const { body } = await this.send(session, 'GET', withQuery(path, query));
    const list = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.result) ? body.result : undefined;
    if (!list) throw unexpectedBody(path);
    const first = list[0] as Doc | undefined;
    if (!first) return undefined;
    const value = field === 'date' ? Number(first.date) : Date.parse(String(first.created_at));
    return Number.isFinite(value) ? value : undefined;
  }

  private async create(session: Session, collection: string, doc: Doc): Promise<'created' | 'deduplicated'> {
    const path = `/api/v3/${collection}`;
    const { status, body } = await this.send(session, 'POST', path, doc);
    if (status === 201) return 'created';
    if (status === 200 && isRecord(body) && body.isDeduplication === true) return 'deduplicated';
    throw unexpectedBody(path);
  }

  /** A JWT valid at `now`, fetched at most once concurrently; `stale` is a JWT the server just refused. */
  private async bearer(now: number, stale?: string): Promise<string> {
    if (this.jwt && this.jwt.value !== stale && now < this.jwt.useUntil) return this.jwt.value;
    if (!this.jwtRequest) {
      this.jwtRequest = this.requestJwt(now).finally(() => {
        this.jwtRequest = undefined;
      });
    }
    this.jwt = await this.jwtRequest;
    return this.jwt.value;
  }

  private async requestJwt(now: number): Promise<Jwt> {
    let response: AxiosResponse;
    try {
      // The access token travels in the path; the request URL never reaches an error (classifier keeps codes only).
      response = await this.http.get(`/api/v2/authorization/request/${encodeURIComponent(this.token)}`);
    } catch (err) {
      throw classifyTransportError(NIGHTSCOUT_ERROR_PREFIX, err);
    }
    const failure = errorForResponse(response);
    if (failure) throw failure;
    const body: unknown = response.data;
    if (!isRecord(body) || typeof body.token !== 'string' || body.token === '')
      throw unexpectedBody('authorization request');
    // `exp` is JWT seconds; without it assume Nightscout's 8 h default counted from our clock.
    const expMs = typeof body.exp === 'number' ? body.exp * 1000 : now + 8 * 3600_000;
    return { value: body.token, useUntil: expMs - JWT_REFRESH_MARGIN_MS };
  }

  /** One request with the cached JWT; a 401 refreshes it once per persist (shared by concurrent requests). */
  private async send(
    session: Session,
    method: 'GET' | 'POST',
    url: string,
    data?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    let jwt = await this.bearer(session.now);
    let response = await this.attempt(method, url, jwt, data);
    if (response.status === 401) {
      if (!session.refresh) session.refresh = this.bearer(session.now, jwt);
      jwt = await session.refresh;
      response = await this.attempt(method, url, jwt, data);
      if (response.status === 401) throw classifyStatus(NIGHTSCOUT_ERROR_PREFIX, 401);
    }
    const failure = errorForResponse(response);
    if (failure) throw failure;
    return { status: response.status, body: response.data };
  }

  private async attempt(method: 'GET' | 'POST', url: string, jwt: string, data?: unknown) {
    try {
      return await this.http.request({ method, url, data, headers: { authorization: `Bearer ${jwt}` } });
    } catch (err) {
      throw classifyTransportError(NIGHTSCOUT_ERROR_PREFIX, err);
    }
  }
}

/** Per-persist request state. */
interface Session {
  now: number;
  refresh?: Promise<string>;
}

/** Run `work` over `items` with at most `limit` in flight; stops starting new work after the first failure. */
async function runBounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (err) {
        // Credentials problems outrank transient ones: they decide whether the source parks.
        if (failure === undefined || (err instanceof SourceError && err.kind === 'authRejected')) failure = err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
