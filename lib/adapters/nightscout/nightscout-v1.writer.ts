/**
 * Writes a batch to Nightscout through API v1 (`api-secret` = SHA-1 of the secret, or `?token=`).
 *
 * Exactly-once per collection:
 * - entries and treatments: Nightscout upserts on {sysTime,type} and {created_at,eventType}, so a re-send is harmless;
 *   the cursor filter only saves writes.
 * - entries inside the driver's re-read window (dated in (cursor − window, cursor]): one dated read-back of this
 *   device's entries, and only what Nightscout lacks is posted. Not for idempotence but because the upsert replaces
 *   the whole document on Nightscout ≤ 15.0.6: re-posting an arrowless graph row over the current reading stored at
 *   the same instant would erase its arrow, and a row a few seconds off would show the reading twice.
 * - devicestatus: Nightscout inserts blindly. Before writing, the newest devicestatus this device already has in
 *   Nightscout is read back (explicit date filter) and only strictly newer documents are sent. Chunks go oldest
 *   first and sequentially, so after any partial failure — a failed chunk, or a crash after the write but before the
 *   caller saved the cursor — the read-back marks exactly where to resume. Limits: two persists of the same frame
 *   running at the same moment (an SQS duplicate delivery) can both pass the read-back; and a chunk that Nightscout
 *   stores only partly and out of order could leave an older document unwritten (never duplicated).
 * - profiles: inserted too. Candidates whose created_at is already stored are dropped after a read-back of
 *   `/api/v1/profiles` (skipped on servers without that route, where only the cursor filter applies).
 *
 * Seeding (cursor === null) reads this device's newest document per collection with an explicit date filter, because
 * v1 silently limits undated queries to the last 4 days.
 */
import type { AxiosInstance, AxiosResponse } from 'axios';
import { ConfigError, SourceError } from '../../domain/errors.js';
import type { Batch, Cursor, DeviceStatus, Profile } from '../../domain/records.js';
import { NO_REREAD, toIso } from '../../domain/records.js';
import type { NightscoutWriter, PersistRequest, PersistResult } from '../../ports/nightscout.writer.port.js';
import { classifyTransportError, createHttpClient } from '../http/http.client.js';
import {
  afterCursor,
  assertInstants,
  chunk,
  createdAtInstant,
  dedupBatch,
  mergeCursor,
  newestInstants,
  toStoredReadings,
  withoutId,
  withoutStoredBehindCursor,
} from './nightscout-batch.helper.js';
import {
  errorForResponse,
  hashApiSecret,
  NIGHTSCOUT_ERROR_PREFIX,
  parseNightscoutEndpoint,
  unexpectedBody,
  withQuery,
} from './nightscout-endpoint.helper.js';

export interface NightscoutV1WriterOptions {
  endpoint: string;
  apiSecret?: string;
  token?: string;
  timeoutMs?: number;
  /** Documents per POST for every collection; defaults: 200 for entries/treatments/profiles, 50 for devicestatus. */
  chunkSize?: number;
}

export const DEFAULT_V1_CHUNK_SIZE = 200;
export const DEFAULT_V1_DEVICESTATUS_CHUNK_SIZE = 50;
/** Nightscout refuses to start with a shorter API_SECRET, so a shorter one is a configuration mistake. */
const MIN_API_SECRET_LENGTH = 12;
/** Profiles are written a handful at a time; this bounds the read-back. */
const PROFILE_READBACK_LIMIT = 100;

type Query = Array<[string, string | number]>;

export class NightscoutV1Writer implements NightscoutWriter {
  private readonly http: AxiosInstance;
  private readonly token?: string;
  private readonly chunkSize?: number;

  constructor(options: NightscoutV1WriterOptions) {
    const endpoint = parseNightscoutEndpoint(options.endpoint);
    const problems: string[] = [];
    if (!options.apiSecret && !options.token)
      problems.push('nightscout credentials: an API secret or an access token is required');
    if (options.apiSecret && options.apiSecret.length < MIN_API_SECRET_LENGTH) {
      problems.push(`nightscout.apiSecret: Nightscout requires at least ${MIN_API_SECRET_LENGTH} characters`);
    }
    if (options.chunkSize !== undefined && !(Number.isInteger(options.chunkSize) && options.chunkSize >= 1)) {
      problems.push('nightscout.chunkSize: must be a positive integer');
    }
    if (problems.length > 0) throw new ConfigError(problems);
    // The secret itself is never kept: only its hash, inside the client's default headers.
    this.http = createHttpClient({
      baseURL: endpoint,
      timeoutMs: options.timeoutMs,
      headers: options.apiSecret
        ? { 'api-secret': hashApiSecret(options.apiSecret), accept: 'application/json' }
        : { accept: 'application/json' },
    });
    this.token = options.apiSecret ? undefined : options.token;
    this.chunkSize = options.chunkSize;
  }

  async persist(request: PersistRequest): Promise<PersistResult> {
    assertInstants(request.batch);
    const batch = dedupBatch(request.batch);
    const seeded = request.cursor === null;
    const base: Cursor = request.cursor ?? (await this.seed(request, batch));
    const reread = request.reread ?? NO_REREAD;
    const pending = afterCursor(batch, base, reread.windowMs);
    pending.entries = await withoutStoredBehindCursor(
      pending.entries,
      base,
      reread.sameReadingMs,
      async (from, limit) => {
        const path = '/api/v1/entries.json';
        // Dated, so v1's silent 4-day window does not apply; by device, so another uploader's rows are not ours.
        const body = await this.send('GET', path, [
          ['find[date][$gte]', from],
          ['find[device]', request.device],
          ['count', limit],
        ]);
        if (!Array.isArray(body)) throw unexpectedBody(path);
        return toStoredReadings(body);
      },
    );

    let storedDevicestatus: Cursor = {};
    if (pending.devicestatus.length > 0) {
      const readBack = await this.excludeStoredDevicestatus(pending.devicestatus, request, seeded);
      pending.devicestatus = readBack.remaining;
      storedDevicestatus = readBack.newest === undefined ? {} : { devicestatus: readBack.newest };
    }

    if (pending.profiles.length > 0) pending.profiles = await this.excludeStoredProfiles(pending.profiles);

    const entrySize = this.chunkSize ?? DEFAULT_V1_CHUNK_SIZE;
    const statusSize = this.chunkSize ?? DEFAULT_V1_DEVICESTATUS_CHUNK_SIZE;
    await this.postAll('/api/v1/entries.json', pending.entries, entrySize, true);
    await this.postAll('/api/v1/treatments.json', pending.treatments, entrySize, true);
    await this.postAll('/api/v1/devicestatus.json', pending.devicestatus, statusSize, true);
    // Profile POST answers `created.ops`, which newer servers leave undefined: its body proves nothing.
    await this.postAll('/api/v1/profile.json', pending.profiles, entrySize, false);

    return {
      written: {
        entries: pending.entries.length,
        treatments: pending.treatments.length,
        devicestatus: pending.devicestatus.length,
        profiles: pending.profiles.length,
      },
      cursor: mergeCursor(base, storedDevicestatus, newestInstants(pending)),
    };
  }

  /** First run: the newest instant this device already stored, per collection present in the batch. */
  private async seed(request: PersistRequest, batch: Batch): Promise<Cursor> {
    const since = request.now - request.seedLookbackMs;
    const sinceIso = toIso(since);
    const [entries, treatments, devicestatus] = await Promise.all([
      batch.entries.length === 0
        ? undefined
        : this.newest(
            '/api/v1/entries.json',
            [
              ['find[date][$gte]', since],
              ['find[device]', request.device],
              ['count', 1],
            ],
            'date',
          ),
      batch.treatments.length === 0
        ? undefined
        : this.newest(
            '/api/v1/treatments.json',
            [
              ['find[created_at][$gte]', sinceIso],
              ['find[enteredBy]', enteredByFilter(request.device)],
              ['count', 1],
            ],
            'created_at',
          ),
      batch.devicestatus.length === 0
        ? undefined
        : this.newest(
            '/api/v1/devicestatus.json',
            [
              ['find[created_at][$gte]', sinceIso],
              ['find[device]', request.device],
              ['count', 1],
            ],
            'created_at',
          ),
    ]);
    return mergeCursor({ entries, treatments, devicestatus });
  }

  /**
   * Read back, per device, the newest devicestatus already stored at or after the oldest candidate, and keep only
   * candidates strictly newer. Skipped right after seeding, which just read the same fact for the source's device.
   */
  private async excludeStoredDevicestatus(
    candidates: DeviceStatus[],
    request: PersistRequest,
    seeded: boolean,
  ): Promise<{ remaining: DeviceStatus[]; newest?: number }> {
    const devices = [...new Set(candidates.map((d) => d.device))];
    if (seeded && devices.every((d) => d === request.device)) return { remaining: candidates };
    const oldest = Math.min(...candidates.map(createdAtInstant));
    const newestByDevice = new Map<string, number | undefined>();
    for (const device of devices) {
      newestByDevice.set(
        device,
        await this.newest(
          '/api/v1/devicestatus.json',
          [
            ['find[created_at][$gte]', toIso(oldest)],
            ['find[device]', device],
            ['count', 1],
          ],
          'created_at',
        ),
      );
    }
    const remaining = candidates.filter((d) => {
      const stored = newestByDevice.get(d.device);
      return stored === undefined || createdAtInstant(d) > stored;
    });
    const known = [...newestByDevice.values()].filter((v): v is number => v !== undefined);
    return { remaining, newest: known.length > 0 ? Math.max(...known) : undefined };
  }

  /**
   * Profiles carry no device, and v1 lists them by startDate (undated queries get the 4-day window on startDate), so
   * the read-back asks for every startDate and the candidates' created_at range, then drops exact created_at matches.
   */
  private async excludeStoredProfiles(candidates: Profile[]): Promise<Profile[]> {
    const oldest = Math.min(...candidates.map(createdAtInstant));
    let body: unknown;
    try {
      body = await this.send('GET', '/api/v1/profiles.json', [
        ['find[startDate][$gte]', toIso(0)],
        ['find[created_at][$gte]', toIso(oldest)],
        ['count', PROFILE_READBACK_LIMIT],
      ]);
    } catch (err) {
      // Servers older than the /profiles route answer 404: fall back to the cursor filter alone.
      if (err instanceof SourceError && err.code === `${NIGHTSCOUT_ERROR_PREFIX}.HTTP_404`) return candidates;
      throw err;
    }
    if (!Array.isArray(body)) throw unexpectedBody('/api/v1/profiles.json');
    const stored = new Set(
      body.map((p) => Date.parse(String((p as Record<string, unknown>).created_at))).filter((v) => Number.isFinite(v)),
    );
    return candidates.filter((p) => !stored.has(createdAtInstant(p)));
  }

  /** The instant of the first (newest) document a v1 list query returns. */
  private async newest(path: string, query: Query, field: 'date' | 'created_at'): Promise<number | undefined> {
    const body = await this.send('GET', path, query);
    if (!Array.isArray(body)) throw unexpectedBody(path);
    const first = body[0] as Record<string, unknown> | undefined;
    if (!first) return undefined;
    const value = field === 'date' ? Number(first.date) : Date.parse(String(first.created_at));
    return Number.isFinite(value) ? value : undefined;
  }

  private async postAll(path: string, docs: object[], size: number, expectArray: boolean): Promise<void> {
    // Sequential and oldest first: a failure leaves a stored prefix, never a hole before stored data.
    for (const part of chunk(docs, size)) {
      const body = await this.send('POST', path, [], part.map(withoutId));
      if (expectArray && !Array.isArray(body)) throw unexpectedBody(path);
    }
  }

  private async send(method: 'GET' | 'POST', path: string, query: Query, data?: unknown): Promise<unknown> {
    const params: Query = this.token ? [...query, ['token', this.token]] : query;
    let response: AxiosResponse;
    try {
      response = await this.http.request({ method, url: withQuery(path, params), data });
    } catch (err) {
      // classifyTransportError keeps only a code: the URL (with ?token=) and headers never reach the error.
      throw classifyTransportError(NIGHTSCOUT_ERROR_PREFIX, err);
    }
    const failure = errorForResponse(response);
    if (failure) throw failure;
    return response.data;
  }
}

/**
 * Nightscout parses treatment `enteredBy` filters with `/(.*)\/(.*)/`: a device name holding two slashes (a URL-ish
 * name) would be read as a broken regex. Such names are sent as an anchored, escaped regex instead.
 */
export function enteredByFilter(device: string): string {
  if (!device.includes('/')) return device;
  return `/^${device.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$/`;
}
