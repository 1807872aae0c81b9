/**
 * NightscoutV3Writer against the Nightscout simulator: JWT caching and refresh, stable identifiers, deduplication
 * (200 isDeduplication is success), seeding, failure kinds, and the token never reaching an error.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NightscoutV1Writer } from '../../lib/adapters/nightscout/nightscout-v1.writer.js';
import { NightscoutV3Writer, stableIdentifier } from '../../lib/adapters/nightscout/nightscout-v3.writer.js';
import { SourceError } from '../../lib/domain/errors.js';
import {
  type Batch,
  type DeviceStatus,
  emptyBatch,
  type SgvEntry,
  type Treatment,
  toIso,
} from '../../lib/domain/records.js';
import type { PersistRequest } from '../../lib/ports/nightscout.writer.port.js';
import { type NightscoutSimulator, startNightscoutSimulator } from '../../local/nightscout/nightscout.simulator.js';

const SECRET = 'correct-horse-battery-staple';
const TOKEN = 'bridge-0123456789abcdef';
const WRITE_ONLY = 'writeonly-0123456789abcdef';
const DEVICE = 'nightscout-connect-librelinkup';
const START = Date.parse('2025-03-10T12:00:00.000Z');
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const AUTH_REQUESTS = 'GET /api/v2/authorization/request/:token';

const entry = (date: number): SgvEntry => ({
  type: 'sgv',
  sgv: 140,
  date,
  dateString: toIso(date),
  direction: 'Flat',
  device: DEVICE,
});
const treatment = (at: number, eventType = 'Correction Bolus'): Treatment => ({
  eventType,
  created_at: toIso(at),
  enteredBy: DEVICE,
  insulin: 1,
});
const status = (at: number): DeviceStatus => ({ device: DEVICE, created_at: toIso(at), uploader: { battery: 80 } });

function batchOf(parts: Partial<Batch>): Batch {
  return { ...emptyBatch(), ...parts };
}

async function caught(promise: Promise<unknown>): Promise<SourceError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SourceError) return err;
    throw err;
  }
  throw new Error('expected the promise to reject');
}

describe('NightscoutV3Writer', () => {
  let sim: NightscoutSimulator;
  let now = START;
  const request = (batch: Batch, cursor: PersistRequest['cursor']): PersistRequest => ({
    batch,
    cursor,
    device: DEVICE,
    now,
    seedLookbackMs: 30 * DAY,
  });
  const writer = (extra: Partial<ConstructorParameters<typeof NightscoutV3Writer>[0]> = {}) =>
    new NightscoutV3Writer({ endpoint: sim.url, token: TOKEN, timeoutMs: 2_000, ...extra });

  beforeEach(async () => {
    now = START;
    sim = await startNightscoutSimulator({
      apiSecret: SECRET,
      clock: { now: () => now },
      tokens: { [TOKEN]: ['*'], [WRITE_ONLY]: ['api:*:read', 'api:*:create'] },
    });
  });
  afterEach(async () => {
    await sim.close();
  });

  it('writes one document per POST with identifier, app and date in ms', async () => {
    const result = await writer().persist(
      request(
        batchOf({
          entries: [entry(now - 5 * MIN), entry(now)],
          treatments: [treatment(now - 10 * MIN)],
          devicestatus: [status(now)],
        }),
        {},
      ),
    );
    expect(result.written).toEqual({ entries: 2, treatments: 1, devicestatus: 1, profiles: 0 });
    expect(result.deduplicated).toEqual({ entries: 0, treatments: 0, devicestatus: 0, profiles: 0 });
    expect(sim.requests['POST /api/v3/entries']).toBe(2);
    const stored = sim.store.entries.find((e) => e.date === now);
    expect(stored).toMatchObject({
      app: 'nightscout-connect-serverless',
      dateString: toIso(now),
      identifier: stableIdentifier({ device: DEVICE, date: now }),
    });
    expect(sim.store.treatments[0]).toMatchObject({
      date: now - 10 * MIN,
      created_at: toIso(now - 10 * MIN),
      identifier: stableIdentifier({ device: DEVICE, date: now - 10 * MIN, eventType: 'Correction Bolus' }),
    });
    expect(result.cursor).toEqual({ entries: now, treatments: now - 10 * MIN, devicestatus: now });
  });

  it('derives the same identifier Nightscout derives for a document without one', async () => {
    const auth = await fetch(`${sim.url}/api/v2/authorization/request/${TOKEN}`);
    const { token: jwt } = (await auth.json()) as { token: string };
    const date = now - 42 * MIN;
    const res = await fetch(`${sim.url}/api/v3/devicestatus`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body: JSON.stringify({ device: DEVICE, date, created_at: toIso(date), app: 'other-uploader' }),
    });
    expect(res.status).toBe(201);
    const { identifier } = (await res.json()) as { identifier: string };
    expect(identifier).toBe(stableIdentifier({ device: DEVICE, date }));
  });

  it('caches the JWT across persists and refreshes it 60 s before exp', async () => {
    const w = writer();
    await w.persist(request(batchOf({ entries: [entry(now)] }), {}));
    now += 5 * MIN;
    await w.persist(request(batchOf({ entries: [entry(now)] }), {}));
    now += 5 * MIN;
    await w.persist(request(batchOf({ entries: [entry(now)] }), {}));
    expect(sim.requests[AUTH_REQUESTS]).toBe(1);

    // The JWT lives 8 h; 7 h 59 min 30 s after it was issued it is inside the refresh margin.
    now = START + 8 * 3600_000 - 30_000;
    await w.persist(request(batchOf({ entries: [entry(now)] }), {}));
    expect(sim.requests[AUTH_REQUESTS]).toBe(2);
    expect(sim.store.entries).toHaveLength(4);
  });

  it('a rejected JWT is refreshed once, and concurrent requests share that refresh', async () => {
    const w = writer({ concurrency: 4 });
    await w.persist(request(batchOf({ entries: [entry(now - 60 * MIN)] }), {}));
    sim.revokeJwts();
    const entries = Array.from({ length: 8 }, (_, i) => entry(now - i * 5 * MIN));
    const result = await w.persist(request(batchOf({ entries }), {}));
    expect(result.written.entries).toBe(8);
    expect(sim.requests[AUTH_REQUESTS]).toBe(2);
  });

  it('an unknown token is authRejected and never appears in the error', async () => {
    const token = 'stranger-fedcba9876543210';
    const err = await caught(writer({ token }).persist(request(batchOf({ entries: [entry(now)] }), {})));
    expect(err.kind).toBe('authRejected');
    expect(err.code).toBe('NIGHTSCOUT.HTTP_401');
    expect(`${err.message} ${JSON.stringify(err)} ${String(err.stack)}`).not.toContain(token);
  });

  it('re-sending deduplicates: HTTP 200 isDeduplication is success, counted apart', async () => {
    const batch = batchOf({
      entries: [entry(now - 5 * MIN), entry(now)],
      treatments: [treatment(now)],
      devicestatus: [status(now)],
    });
    const w = writer();
    await w.persist(request(batch, {}));
    const again = await w.persist(request(batch, {}));
    expect(again.written).toEqual({ entries: 0, treatments: 0, devicestatus: 0, profiles: 0 });
    expect(again.deduplicated).toEqual({ entries: 2, treatments: 1, devicestatus: 1, profiles: 0 });
    expect(again.cursor).toEqual({ entries: now, treatments: now, devicestatus: now });
    expect(sim.store.entries).toHaveLength(2);
    expect(sim.store.treatments).toHaveLength(1);
    expect(sim.store.devicestatus).toHaveLength(1);
  });

  it('deduplicates against documents an earlier v1 writer stored (fallback keys)', async () => {
    const batch = batchOf({ entries: [entry(now)], devicestatus: [status(now)] });
    await new NightscoutV1Writer({ endpoint: sim.url, apiSecret: SECRET }).persist(request(batch, {}));
    const result = await writer().persist(request(batch, {}));
    expect(result.deduplicated).toMatchObject({ entries: 1, devicestatus: 1 });
    expect(sim.store.entries).toHaveLength(1);
    expect(sim.store.devicestatus).toHaveLength(1);
  });

  it('deduplication without the update permission is a 403, reported as authRejected', async () => {
    const batch = batchOf({ entries: [entry(now)] });
    await writer({ token: WRITE_ONLY }).persist(request(batch, {}));
    const err = await caught(writer({ token: WRITE_ONLY }).persist(request(batch, {})));
    expect(err.kind).toBe('authRejected');
    expect(err.code).toBe('NIGHTSCOUT.HTTP_403');
  });

  it('seeds the cursor on the first run with explicit date filters', async () => {
    const old = now - 5 * DAY;
    await writer().persist(
      request(batchOf({ entries: [entry(old)], treatments: [treatment(old)], devicestatus: [status(old)] }), {}),
    );
    sim.requestLog.length = 0;
    const result = await writer().persist(
      request(
        batchOf({
          entries: [entry(old), entry(now)],
          treatments: [treatment(now)],
          devicestatus: [status(old), status(now)],
        }),
        null,
      ),
    );
    const gets = sim.requestLog.filter((r) => r.method === 'GET' && r.path.startsWith('/api/v3/'));
    expect(gets.find((r) => r.path === '/api/v3/entries')?.query).toEqual([
      ['date$gte', String(now - 30 * DAY)],
      ['device$eq', DEVICE],
      ['sort$desc', 'date'],
      ['limit', '1'],
    ]);
    expect(gets.find((r) => r.path === '/api/v3/devicestatus')?.query).toEqual([
      ['created_at$gte', toIso(now - 30 * DAY)],
      ['device$eq', DEVICE],
      ['sort$desc', 'created_at'],
      ['limit', '1'],
    ]);
    expect(gets.find((r) => r.path === '/api/v3/treatments')?.query[0]).toEqual([
      'created_at$gte',
      toIso(now - 30 * DAY),
    ]);
    expect(result.written).toEqual({ entries: 1, treatments: 1, devicestatus: 1, profiles: 0 });
    expect(result.deduplicated).toEqual({ entries: 0, treatments: 0, devicestatus: 0, profiles: 0 });
    expect(result.cursor).toEqual({ entries: now, treatments: now, devicestatus: now });
  });

  it('5xx is retryable and the cursor is not reported', async () => {
    sim.inject({ kind: 'http5xx', status: 500, after: 2 });
    const entries = Array.from({ length: 6 }, (_, i) => entry(now - i * 5 * MIN));
    const err = await caught(writer({ concurrency: 2 }).persist(request(batchOf({ entries }), {})));
    expect(err.kind).toBe('retryable');
    expect(err.code).toBe('NIGHTSCOUT.HTTP_500');
    // A re-run completes the set without duplicates.
    await writer().persist(request(batchOf({ entries }), {}));
    expect(sim.store.entries).toHaveLength(6);
  });

  it('a request that never answers is a retryable timeout', async () => {
    sim.inject({ kind: 'timeout', after: 1 });
    const err = await caught(writer({ timeoutMs: 150 }).persist(request(batchOf({ entries: [entry(now)] }), {})));
    expect(err.kind).toBe('retryable');
    expect(err.code).toBe('NIGHTSCOUT.TIMEOUT');
  });

  it('the API secret is not accepted by API v3', async () => {
    const { createHash } = await import('node:crypto');
    const res = await fetch(`${sim.url}/api/v3/entries?limit=1`, {
      headers: { 'api-secret': createHash('sha1').update(SECRET).digest('hex') },
    });
    expect(res.status).toBe(401);
  });
});

/**
 * The re-read window through API v3: a create that matches a stored identifier is a whole-document replace, so
 * without the read-back a graph row re-sent at the current reading's instant would erase its arrow.
 */
describe('NightscoutV3Writer re-read window', () => {
  const REREAD = { windowMs: 60 * MIN, sameReadingMs: 30_000 };
  let sim: NightscoutSimulator;
  const reading = (date: number, direction: SgvEntry['direction'] = 'NOT COMPUTABLE'): SgvEntry => ({
    type: 'sgv',
    sgv: 120,
    date,
    dateString: toIso(date),
    direction,
    device: DEVICE,
  });
  const persist = (
    entries: SgvEntry[],
    cursor: PersistRequest['cursor'],
    reread: PersistRequest['reread'] | null = REREAD,
  ) =>
    new NightscoutV3Writer({ endpoint: sim.url, token: TOKEN, timeoutMs: 2_000 }).persist({
      batch: batchOf({ entries }),
      cursor,
      device: DEVICE,
      now: START,
      seedLookbackMs: 12 * 60 * MIN,
      ...(reread ? { reread } : {}),
    });

  beforeEach(async () => {
    sim = await startNightscoutSimulator({
      apiSecret: SECRET,
      clock: { now: () => START },
      tokens: { [TOKEN]: ['*'] },
    });
    await persist([reading(START - 20 * MIN), reading(START, 'SingleUp')], {});
    sim.requestLog.length = 0;
  });
  afterEach(async () => {
    await sim.close();
  });

  it('creates only what Nightscout lacks after one dated search, and the stored arrow survives', async () => {
    const result = await persist(
      [
        reading(START - 20 * MIN),
        reading(START - 15 * MIN),
        reading(START),
        reading(START + 10_000),
        reading(START + 5 * MIN, 'Flat'),
      ],
      { entries: START },
    );
    expect(result.written.entries).toBe(2);
    expect(result.deduplicated.entries).toBe(0);
    const byDate = new Map(sim.store.entries.map((e) => [e.date, e.direction]));
    expect([...byDate.keys()].sort()).toEqual([START - 20 * MIN, START - 15 * MIN, START, START + 5 * MIN]);
    expect(byDate.get(START)).toBe('SingleUp');
    expect(sim.store.entries).toHaveLength(4);
    const searches = sim.requestLog.filter((r) => r.method === 'GET' && r.path === '/api/v3/entries');
    expect(searches.map((r) => r.query)).toEqual([
      [
        ['date$gte', String(START - 20 * MIN - 30_000)],
        ['device$eq', DEVICE],
        ['sort$desc', 'date'],
        ['limit', '1000'],
        ['fields', 'date,type'],
      ],
    ]);
    expect(sim.requestLog.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('without a window the same batch only creates the entry newer than the cursor, with no search', async () => {
    const result = await persist(
      [reading(START - 15 * MIN), reading(START), reading(START + 5 * MIN, 'Flat')],
      { entries: START },
      null,
    );
    expect(result.written.entries).toBe(1);
    expect(sim.requestLog.filter((r) => r.method === 'GET' && r.path === '/api/v3/entries')).toEqual([]);
  });
});
