/**
 * NightscoutV1Writer against the Nightscout simulator: auth, failure kinds, first-run seeding with an explicit date
 * filter, exactly-once writes in every collection (devicestatus included, across a mid-way failure), chunking, cursor.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NightscoutV1Writer } from '../../lib/adapters/nightscout/nightscout-v1.writer.js';
import { SourceAuthRejectedError, SourceError, SourceUnavailableError } from '../../lib/domain/errors.js';
import {
  type Batch,
  type DeviceStatus,
  emptyBatch,
  type Profile,
  type SgvEntry,
  type Treatment,
  toIso,
} from '../../lib/domain/records.js';
import type { PersistRequest } from '../../lib/ports/nightscout.writer.port.js';
import { type NightscoutSimulator, startNightscoutSimulator } from '../../local/nightscout/nightscout.simulator.js';

const SECRET = 'correct-horse-battery-staple';
const DEVICE = 'nightscout-connect-dexcomshare';
const NOW = Date.parse('2025-03-10T12:00:00.000Z');
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

const entry = (date: number, sgv = 120): SgvEntry => ({
  type: 'sgv',
  sgv,
  date,
  dateString: toIso(date),
  direction: 'Flat',
  device: DEVICE,
});
const treatment = (at: number, eventType = 'Meal Bolus'): Treatment => ({
  eventType,
  created_at: toIso(at),
  enteredBy: DEVICE,
  insulin: 2,
});
const status = (at: number): DeviceStatus => ({ device: DEVICE, created_at: toIso(at), pump: { reservoir: 100 } });
const profile = (at: number): Profile => ({
  defaultProfile: 'Default',
  startDate: toIso(at),
  created_at: toIso(at),
  store: { Default: { dia: 4 } },
});

function batchOf(parts: Partial<Batch>): Batch {
  return { ...emptyBatch(), ...parts };
}

function request(batch: Batch, cursor: PersistRequest['cursor']): PersistRequest {
  return { batch, cursor, device: DEVICE, now: NOW, seedLookbackMs: 30 * DAY };
}

function fullBatch(): Batch {
  return batchOf({
    entries: [entry(NOW - 10 * MIN, 110), entry(NOW - 5 * MIN, 115), entry(NOW, 120)],
    treatments: [treatment(NOW - 30 * MIN), treatment(NOW - 30 * MIN, 'Carb Correction'), treatment(NOW - 20 * MIN)],
    devicestatus: [status(NOW - 10 * MIN), status(NOW - 5 * MIN)],
    profiles: [profile(NOW - 60 * MIN)],
  });
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

describe('NightscoutV1Writer', () => {
  let sim: NightscoutSimulator;
  const writer = (extra: Partial<ConstructorParameters<typeof NightscoutV1Writer>[0]> = {}) =>
    new NightscoutV1Writer({ endpoint: sim.url, apiSecret: SECRET, timeoutMs: 2_000, ...extra });

  beforeEach(async () => {
    sim = await startNightscoutSimulator({
      apiSecret: SECRET,
      clock: { now: () => NOW },
      tokens: { 'bridge-0123456789abcdef': ['*'] },
    });
  });
  afterEach(async () => {
    await sim.close();
  });

  it('authenticates with the SHA-1 api-secret and writes every collection in order', async () => {
    const result = await writer().persist(request(fullBatch(), {}));
    expect(result.written).toEqual({ entries: 3, treatments: 3, devicestatus: 2, profiles: 1 });
    expect(sim.store.entries.map((e) => e.sgv)).toEqual([110, 115, 120]);
    expect(sim.store.treatments).toHaveLength(3);
    expect(sim.store.devicestatus).toHaveLength(2);
    expect(sim.store.profiles).toHaveLength(1);
    const posts = sim.requestLog.filter((r) => r.method === 'POST').map((r) => r.path);
    expect(posts).toEqual([
      '/api/v1/entries.json',
      '/api/v1/treatments.json',
      '/api/v1/devicestatus.json',
      '/api/v1/profile.json',
    ]);
    // Dates arrive untouched and no client _id is sent.
    expect(sim.store.entries[2].date).toBe(NOW);
    expect(sim.store.entries[2].dateString).toBe(toIso(NOW));
  });

  it('accepts an access token as ?token= and never logs it', async () => {
    const w = new NightscoutV1Writer({ endpoint: sim.url, token: 'bridge-0123456789abcdef' });
    await w.persist(request(batchOf({ entries: [entry(NOW)] }), {}));
    expect(sim.store.entries).toHaveLength(1);
    const post = sim.requestLog.find((r) => r.method === 'POST');
    expect(post?.query).toEqual([['token', '[redacted]']]);
  });

  it('a wrong secret is authRejected, and neither the secret nor its hash appears in the error', async () => {
    const wrong = 'wrong-secret-value-123';
    const err = await caught(writer({ apiSecret: wrong }).persist(request(fullBatch(), {})));
    expect(err).toBeInstanceOf(SourceAuthRejectedError);
    expect(err.kind).toBe('authRejected');
    expect(err.code).toBe('NIGHTSCOUT.HTTP_401');
    const text = `${err.message} ${err.code} ${JSON.stringify(err)} ${String(err.stack)}`;
    for (const secret of [wrong, createHash('sha1').update(wrong).digest('hex'), SECRET])
      expect(text).not.toContain(secret);
    expect(sim.store.entries).toHaveLength(0);
  });

  it('a wrong token is authRejected without the token in the error', async () => {
    const token = 'bridge-fedcba9876543210';
    const err = await caught(new NightscoutV1Writer({ endpoint: sim.url, token }).persist(request(fullBatch(), {})));
    expect(err.kind).toBe('authRejected');
    expect(`${err.message} ${JSON.stringify(err)} ${String(err.stack)}`).not.toContain(token);
  });

  it('5xx is retryable and honours Retry-After', async () => {
    sim.inject({ kind: 'http5xx', status: 503, retryAfterSeconds: 30 });
    const err = await caught(writer().persist(request(fullBatch(), {})));
    expect(err).toBeInstanceOf(SourceUnavailableError);
    expect(err.kind).toBe('retryable');
    expect(err.code).toBe('NIGHTSCOUT.HTTP_503');
    expect(err.retryAfterMs).toBe(30_000);
  });

  it('a site that is down answers 503 until it comes back', async () => {
    sim.inject({ kind: 'down', until: NOW + 1 });
    const err = await caught(writer().persist(request(fullBatch(), {})));
    expect(err.code).toBe('NIGHTSCOUT.HTTP_503');
  });

  it('a request that never answers is a retryable timeout', async () => {
    sim.inject({ kind: 'timeout' });
    const err = await caught(writer({ timeoutMs: 150 }).persist(request(fullBatch(), {})));
    expect(err.kind).toBe('retryable');
    expect(err.code).toBe('NIGHTSCOUT.TIMEOUT');
  });

  describe('first-run seeding', () => {
    const old = NOW - 5 * DAY;

    beforeEach(async () => {
      // Data this device stored 5 days ago: older than v1's silent 4-day window.
      const w = writer();
      await w.persist(
        request(
          batchOf({
            entries: [entry(old - 5 * MIN), entry(old)],
            treatments: [treatment(old)],
            devicestatus: [status(old)],
          }),
          {},
        ),
      );
      sim.requestLog.length = 0;
    });

    it('reads the newest stored document with an explicit date filter', async () => {
      const batch = batchOf({
        entries: [entry(old - 5 * MIN), entry(old), entry(NOW)],
        treatments: [treatment(old), treatment(NOW)],
        devicestatus: [status(old), status(NOW)],
      });
      const result = await writer().persist(request(batch, null));

      const seedGets = sim.requestLog.filter((r) => r.method === 'GET');
      const entriesGet = seedGets.find((r) => r.path === '/api/v1/entries.json');
      expect(entriesGet?.query).toEqual([
        ['find[date][$gte]', String(NOW - 30 * DAY)],
        ['find[device]', DEVICE],
        ['count', '1'],
      ]);
      const treatmentsGet = seedGets.find((r) => r.path === '/api/v1/treatments.json');
      expect(treatmentsGet?.query).toEqual([
        ['find[created_at][$gte]', toIso(NOW - 30 * DAY)],
        ['find[enteredBy]', DEVICE],
        ['count', '1'],
      ]);
      const statusGet = seedGets.find((r) => r.path === '/api/v1/devicestatus.json');
      expect(statusGet?.query).toEqual([
        ['find[created_at][$gte]', toIso(NOW - 30 * DAY)],
        ['find[device]', DEVICE],
        ['count', '1'],
      ]);

      // Only what is newer than the seed is written (treatments: at-or-after, absorbed by the upsert).
      expect(result.written).toEqual({ entries: 1, treatments: 2, devicestatus: 1, profiles: 0 });
      expect(sim.store.entries).toHaveLength(3);
      expect(sim.store.treatments).toHaveLength(2);
      expect(sim.store.devicestatus.map((d) => d.created_at)).toEqual([toIso(old), toIso(NOW)]);
      expect(result.cursor).toEqual({ entries: NOW, treatments: NOW, devicestatus: NOW });
    });

    it('an undated query would have missed data older than 4 days', async () => {
      const headers = { 'api-secret': createHash('sha1').update(SECRET).digest('hex') };
      const undated = await fetch(`${sim.url}/api/v1/devicestatus.json?find[device]=${DEVICE}&count=1`, { headers });
      expect(await undated.json()).toEqual([]);
      const dated = await fetch(
        `${sim.url}/api/v1/devicestatus.json?find[created_at][$gte]=${toIso(NOW - 30 * DAY)}&find[device]=${DEVICE}&count=1`,
        { headers },
      );
      expect(((await dated.json()) as Array<{ created_at: string }>).map((d) => d.created_at)).toEqual([toIso(old)]);
    });

    it('a batch with nothing new writes nothing and still returns the seeded cursor', async () => {
      const result = await writer().persist(
        request(batchOf({ entries: [entry(old)], devicestatus: [status(old)] }), null),
      );
      expect(result.written).toEqual({ entries: 0, treatments: 0, devicestatus: 0, profiles: 0 });
      expect(result.cursor).toEqual({ entries: old, devicestatus: old });
      expect(sim.store.devicestatus).toHaveLength(1);
    });
  });

  it('re-sending the same batch creates no duplicates in any collection', async () => {
    const w = writer();
    const first = await w.persist(request(fullBatch(), null));
    const again = await w.persist(request(fullBatch(), first.cursor));
    expect(again.written).toEqual({ entries: 0, treatments: 1, devicestatus: 0, profiles: 0 });
    // The cursor was lost (a crash before it was saved): Nightscout's upserts and our read-backs still hold.
    await w.persist(request(fullBatch(), {}));
    await w.persist(request(fullBatch(), null));
    expect(sim.store.entries).toHaveLength(3);
    expect(sim.store.treatments).toHaveLength(3);
    expect(sim.store.devicestatus).toHaveLength(2);
    expect(sim.store.profiles).toHaveLength(1);
  });

  it('drops in-batch duplicates before writing', async () => {
    const batch = batchOf({
      entries: [entry(NOW), entry(NOW)],
      devicestatus: [status(NOW), status(NOW)],
      treatments: [treatment(NOW), treatment(NOW)],
    });
    const result = await writer().persist(request(batch, {}));
    expect(result.written).toEqual({ entries: 1, treatments: 1, devicestatus: 1, profiles: 0 });
    expect(sim.requests['POST /api/v1/devicestatus.json']).toBe(1);
  });

  it('writes devicestatus in chunks of 50, oldest first', async () => {
    const statuses = Array.from({ length: 120 }, (_, i) => status(NOW - i * MIN));
    const result = await writer().persist(request(batchOf({ devicestatus: statuses }), {}));
    expect(result.written.devicestatus).toBe(120);
    expect(sim.requests['POST /api/v1/devicestatus.json']).toBe(3);
    const stored = sim.store.devicestatus.map((d) => Date.parse(String(d.created_at)));
    expect(stored).toEqual([...stored].sort((a, b) => a - b));
    expect(result.cursor.devicestatus).toBe(NOW);
  });

  it('honours chunkSize for entries', async () => {
    const entries = Array.from({ length: 25 }, (_, i) => entry(NOW - i * 5 * MIN));
    await writer({ chunkSize: 10 }).persist(request(batchOf({ entries }), {}));
    expect(sim.requests['POST /api/v1/entries.json']).toBe(3);
    expect(sim.store.entries).toHaveLength(25);
  });

  it('a chunk failing mid-way throws, and the re-run writes each devicestatus exactly once', async () => {
    const statuses = Array.from({ length: 120 }, (_, i) => status(NOW - i * MIN));
    // Let the read-back GET and the first chunk through, fail the second chunk.
    sim.inject({ kind: 'http5xx', status: 502, after: 2 });
    const err = await caught(writer().persist(request(batchOf({ devicestatus: statuses }), {})));
    expect(err.kind).toBe('retryable');
    expect(sim.store.devicestatus).toHaveLength(50);

    // The caller did not advance the cursor: the same frame is persisted again.
    const retry = await writer().persist(request(batchOf({ devicestatus: statuses }), {}));
    expect(retry.written.devicestatus).toBe(70);
    expect(sim.store.devicestatus).toHaveLength(120);
    expect(new Set(sim.store.devicestatus.map((d) => d.created_at)).size).toBe(120);
  });

  it('advances the cursor per collection and keeps untouched collections', async () => {
    const previous = {
      entries: NOW - 60 * MIN,
      treatments: NOW - 60 * MIN,
      devicestatus: NOW - 60 * MIN,
      profiles: NOW - 2 * DAY,
    };
    const result = await writer().persist(
      request(batchOf({ entries: [entry(NOW - 70 * MIN), entry(NOW - 5 * MIN)] }), previous),
    );
    expect(result.written.entries).toBe(1);
    expect(result.cursor).toEqual({ ...previous, entries: NOW - 5 * MIN });
  });

  it('keeps a second treatment that shares the cursor instant with another eventType', async () => {
    const at = NOW - 30 * MIN;
    const result = await writer().persist(
      request(batchOf({ treatments: [treatment(at, 'Carb Correction')] }), { treatments: at }),
    );
    expect(result.written.treatments).toBe(1);
    expect(sim.store.treatments.map((t) => t.eventType)).toEqual(['Carb Correction']);
  });

  it('seeds treatments for a device name with slashes (Nightscout parses enteredBy as a regex)', async () => {
    const device = 'connect://dexcomshare/eu';
    const t = { ...treatment(NOW - 2 * DAY), enteredBy: device };
    await writer().persist({ ...request(batchOf({ treatments: [t] }), {}), device });
    const result = await writer().persist({ ...request(batchOf({ treatments: [t] }), null), device });
    expect(result.cursor.treatments).toBe(NOW - 2 * DAY);
    expect(sim.store.treatments).toHaveLength(1);
  });

  it('refuses a batch with an undated document instead of letting Nightscout date it "now"', async () => {
    const bad = { ...treatment(NOW), created_at: 'not a date' };
    const err = await caught(writer().persist(request(batchOf({ treatments: [bad] }), {})));
    expect(err.kind).toBe('permanent');
    expect(sim.store.treatments).toHaveLength(0);
  });
});

/**
 * The re-read window (LibreLinkUp: 1 h, readings < 30 s apart are one): entries behind the cursor are written only
 * when Nightscout lacks them, judged by one dated read-back, on the 15.0.6 server whose upsert replaces the whole
 * document (a re-posted arrowless graph row would erase the current reading's arrow).
 */
describe('NightscoutV1Writer re-read window', () => {
  const LLU = 'nightscout-connect-librelinkup';
  const REREAD = { windowMs: 60 * MIN, sameReadingMs: 30_000 };
  let sim: NightscoutSimulator;
  const reading = (date: number, direction: SgvEntry['direction'] = 'NOT COMPUTABLE', sgv = 120): SgvEntry => ({
    type: 'sgv',
    sgv,
    date,
    dateString: toIso(date),
    direction,
    device: LLU,
  });
  const persist = (
    entries: SgvEntry[],
    cursor: PersistRequest['cursor'],
    reread: PersistRequest['reread'] | null = REREAD,
  ) =>
    new NightscoutV1Writer({ endpoint: sim.url, apiSecret: SECRET, timeoutMs: 2_000 }).persist({
      batch: batchOf({ entries }),
      cursor,
      device: LLU,
      now: NOW,
      seedLookbackMs: 12 * 60 * MIN,
      ...(reread ? { reread } : {}),
    });
  const stored = () => sim.store.entries.map((e) => [e.date, e.direction]).sort((a, b) => Number(a[0]) - Number(b[0]));

  beforeEach(async () => {
    sim = await startNightscoutSimulator({ apiSecret: SECRET, clock: { now: () => NOW }, version: '15.0.6' });
    // What the previous polls stored: graph rows up to NOW − 20 min and the current reading at NOW, with its arrow.
    await persist([reading(NOW - 25 * MIN), reading(NOW - 20 * MIN), reading(NOW, 'SingleUp')], {});
    sim.requestLog.length = 0;
  });
  afterEach(async () => {
    await sim.close();
  });

  it('writes only the graph rows Nightscout lacks, keeps the stored arrow, and reads back once with an explicit date', async () => {
    const result = await persist(
      [
        reading(NOW - 61 * MIN), // outside the window
        reading(NOW - 25 * MIN),
        reading(NOW - 20 * MIN), // already stored
        reading(NOW - 15 * MIN),
        reading(NOW - 10 * MIN), // published since: behind the cursor, missing
        reading(NOW + 10_000), // the current reading of 10 s later, as a graph row: the same reading
        reading(NOW), // the stored current reading, as an arrowless graph row
        reading(NOW + 5 * MIN, 'Flat'), // this poll's current reading
      ],
      { entries: NOW },
    );
    expect(result.written.entries).toBe(3);
    expect(result.cursor.entries).toBe(NOW + 5 * MIN);
    expect(stored()).toEqual([
      [NOW - 25 * MIN, 'NOT COMPUTABLE'],
      [NOW - 20 * MIN, 'NOT COMPUTABLE'],
      [NOW - 15 * MIN, 'NOT COMPUTABLE'],
      [NOW - 10 * MIN, 'NOT COMPUTABLE'],
      [NOW, 'SingleUp'],
      [NOW + 5 * MIN, 'Flat'],
    ]);
    const gets = sim.requestLog.filter((r) => r.method === 'GET');
    expect(gets).toHaveLength(1);
    expect(gets[0].query).toEqual([
      ['find[date][$gte]', String(NOW - 25 * MIN - 30_000)],
      ['find[device]', LLU],
      ['count', '1000'],
    ]);
  });

  it('re-persisting the same frame writes nothing and posts nothing', async () => {
    const frame = [reading(NOW - 15 * MIN), reading(NOW + 5 * MIN, 'Flat')];
    const first = await persist(frame, { entries: NOW });
    const again = await persist(frame, first.cursor);
    expect(again.written.entries).toBe(0);
    expect(again.cursor).toEqual(first.cursor);
    expect(sim.requestLog.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(new Set(sim.store.entries.map((e) => e.date)).size).toBe(sim.store.entries.length);
  });

  it('on the first frame (no cursor) the seeded cursor bounds the window the same way', async () => {
    const result = await persist([reading(NOW - 15 * MIN), reading(NOW), reading(NOW + 5 * MIN, 'Flat')], null);
    expect(result.written.entries).toBe(2);
    expect(stored().find(([d]) => d === NOW)?.[1]).toBe('SingleUp');
  });

  it('without a window nothing behind the cursor is written and no read-back is made (every other driver)', async () => {
    const result = await persist(
      [reading(NOW - 15 * MIN), reading(NOW), reading(NOW + 5 * MIN, 'Flat')],
      { entries: NOW },
      null,
    );
    expect(result.written.entries).toBe(1);
    expect(sim.requestLog.filter((r) => r.method === 'GET')).toEqual([]);
    expect(stored().map(([d]) => d)).toEqual([NOW - 25 * MIN, NOW - 20 * MIN, NOW, NOW + 5 * MIN]);
  });

  it("another uploader's entry at the same instant does not hide ours (read-back is by device)", async () => {
    await new NightscoutV1Writer({ endpoint: sim.url, apiSecret: SECRET }).persist({
      batch: batchOf({ entries: [{ ...reading(NOW - 14 * MIN - 50_000), device: 'xDrip-LibreReceiver' }] }),
      cursor: {},
      device: 'xDrip-LibreReceiver',
      now: NOW,
      seedLookbackMs: DAY,
    });
    const result = await persist([reading(NOW - 15 * MIN)], { entries: NOW });
    expect(result.written.entries).toBe(1);
  });
});
