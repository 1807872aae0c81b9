import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../lib/adapters/system/system.observability.js';
import { SessionInvalidError, SourceAuthRejectedError, SourceError } from '../../lib/domain/errors.js';
import type { Cursor } from '../../lib/domain/records.js';
import { assembleDriver } from '../../lib/sources/driver.builder.js';
import { type NightscoutSourceSession, nightscoutSource } from '../../lib/sources/nightscout/nightscout.source.js';
import { type NightscoutSourceSettings, nightscoutVendor } from '../../lib/sources/nightscout/nightscout.vendor.js';
import { type NightscoutSimulator, startNightscoutSimulator } from '../../local/nightscout/nightscout.simulator.js';

const nightscoutSourceDriver = assembleDriver(nightscoutVendor, nightscoutSource, {});
const parseNightscoutSourceSettings = nightscoutVendor.parseSettings;

const API_SECRET = 'source-api-secret-0001';
const TOKEN = 'reader-0123456789abcdef';
const ENTRIES_ONLY_TOKEN = 'glucose-fedcba9876543210';
const NOW = Date.parse('2026-07-01T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

let sim: NightscoutSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function manualClock(start: number) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

let seq = 0;
const objectId = () => (0x66a1f000 + seq++).toString(16).padStart(24, '0');

/** A source site with a morning of data: v1-style documents (Loop, xDrip+) and v3-style ones (AAPS). */
function seed(target: NightscoutSimulator) {
  for (let t = NOW - 3 * HOUR; t <= NOW; t += 5 * MIN) {
    target.store.entries.push({
      _id: objectId(),
      type: 'sgv',
      sgv: 100 + ((t / MIN) % 50),
      date: t,
      dateString: new Date(t).toISOString(),
      direction: 'Flat',
      device: 'xDrip-DexcomG7',
      sysTime: new Date(t).toISOString(),
      utcOffset: 0,
    });
  }
  target.store.treatments.push(
    {
      _id: objectId(),
      eventType: 'Correction Bolus',
      created_at: new Date(NOW - 2 * HOUR).toISOString(),
      insulin: 1.5,
      enteredBy: 'loop://iPhone',
      utcOffset: 0,
    },
    {
      _id: objectId(),
      eventType: 'Meal Bolus',
      created_at: new Date(NOW - 20 * MIN).toISOString(),
      insulin: 3,
      carbs: 40,
      enteredBy: 'loop://iPhone',
      utcOffset: 0,
    },
    // Written through v3 by AAPS: has `date` and an identifier.
    {
      _id: objectId(),
      identifier: 'a1b2c3d4-0000-5000-8000-000000000001',
      eventType: 'Temp Basal',
      date: NOW - 10 * MIN,
      created_at: new Date(NOW - 10 * MIN).toISOString(),
      rate: 0.7,
      absolute: 0.7,
      duration: 30,
      app: 'AAPS',
      srvCreated: NOW,
      srvModified: NOW,
      subject: 'aaps',
      isValid: true,
      utcOffset: 120,
    },
    {
      _id: objectId(),
      identifier: 'a1b2c3d4-0000-5000-8000-000000000002',
      eventType: 'Note',
      date: NOW - 5 * MIN,
      notes: 'v3 only, no created_at',
      app: 'AAPS',
      srvCreated: NOW,
      srvModified: NOW,
      isValid: true,
      utcOffset: 120,
    },
  );
  target.store.devicestatus.push(
    {
      _id: objectId(),
      device: 'loop://iPhone',
      created_at: new Date(NOW - 90 * MIN).toISOString(),
      uploader: { battery: 90 },
    },
    {
      _id: objectId(),
      device: 'loop://iPhone',
      created_at: new Date(NOW - 15 * MIN).toISOString(),
      uploader: { battery: 88 },
    },
  );
  target.store.profiles.push(
    {
      _id: objectId(),
      defaultProfile: 'Old',
      startDate: new Date(NOW - 10 * 24 * HOUR).toISOString(),
      created_at: new Date(NOW - 10 * 24 * HOUR).toISOString(),
      store: { Old: { dia: 4 } },
    },
    {
      _id: objectId(),
      defaultProfile: 'Default',
      startDate: new Date(NOW - 30 * MIN).toISOString(),
      created_at: new Date(NOW - 30 * MIN).toISOString(),
      store: { Default: { dia: 5 } },
    },
  );
}

async function setup(options: { settings?: Record<string, unknown>; vendor: Record<string, string> }) {
  const clock = manualClock(NOW);
  sim = await startNightscoutSimulator({
    apiSecret: API_SECRET,
    clock,
    tokens: { [TOKEN]: ['*:*:read'], [ENTRIES_ONLY_TOKEN]: ['api:entries:read'] },
  });
  seed(sim);
  const settings = parseNightscoutSourceSettings({ sourceEndpoint: sim.url, ...options.settings });
  const ctx = () => ({
    sourceId: 'ns-source-1',
    settings,
    credentials: { vendor: options.vendor, nightscout: {} },
    now: clock.now(),
    log: silentLog,
  });
  return { sim, clock, settings, ctx };
}

type Ctx = ReturnType<Awaited<ReturnType<typeof setup>>['ctx']>;

async function login(ctx: Ctx) {
  const auth = await nightscoutSourceDriver.session.authenticate(ctx);
  return nightscoutSourceDriver.session.authorize(ctx, auth);
}

async function poll(ctx: Ctx, session: NightscoutSourceSession, cursor: Cursor | null, since = NOW - 6 * HOUR) {
  const loop = nightscoutSourceDriver.loops[0];
  const raw = await loop.fetch({ ...ctx, session, cursor, since });
  return loop.transform(raw, {
    sourceId: ctx.sourceId,
    settings: ctx.settings as NightscoutSourceSettings,
    cursor,
    now: ctx.now,
  });
}

const SECRETS = [API_SECRET, createHash('sha1').update(API_SECRET).digest('hex'), TOKEN, '0123456789abcdef'];

async function failure(promise: Promise<unknown>, jwt?: string): Promise<SourceError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SourceError);
    const text = JSON.stringify({ message: (err as Error).message, stack: (err as Error).stack, ...(err as object) });
    for (const secret of [...SECRETS, ...(jwt ? [jwt] : [])]) expect(text).not.toContain(secret);
    return err as SourceError;
  }
  throw new Error('expected a failure');
}

/** Every read of a dated collection must carry an explicit lower date bound. */
function expectDatedQueries(target: NightscoutSimulator) {
  const reads = target.requestLog.filter(
    (r) => r.method === 'GET' && /\/api\/v[13]\/(entries|treatments|devicestatus)/.test(r.path),
  );
  expect(reads.length).toBeGreaterThan(0);
  for (const read of reads) expect(read.query.map(([k]) => k).some((k) => /\$gt\]?$/.test(k))).toBe(true);
}

describe('Nightscout source over API v1 with an API secret', () => {
  it('verifies the secret once, then reads every collection after its own cursor', async () => {
    const { sim: source, ctx } = await setup({ vendor: { apiSecret: API_SECRET } });
    const grant = await login(ctx());
    expect(grant).toEqual({ session: { mode: 'apiSecret', api: 'v1' }, expiresAt: NOW + 8 * HOUR });
    const cursor: Cursor = {
      entries: NOW - HOUR,
      treatments: NOW - HOUR,
      devicestatus: NOW - HOUR,
      profiles: NOW - HOUR,
    };
    const batch = await poll(ctx(), grant.session, cursor);

    expect(batch.entries).toHaveLength(12);
    expect(batch.entries.every((e) => e.date > NOW - HOUR && e.device === 'xDrip-DexcomG7')).toBe(true);
    // The v3-only Note has no created_at, which v1 cannot filter on: v1 mirrors what v1 can see.
    expect(batch.treatments.map((t) => t.eventType)).toEqual(['Meal Bolus', 'Temp Basal']);
    expect(batch.devicestatus.map((d) => d.created_at)).toEqual([new Date(NOW - 15 * MIN).toISOString()]);
    expect(batch.profiles.map((p) => p.defaultProfile)).toEqual(['Default']);
    for (const doc of [...batch.entries, ...batch.treatments, ...batch.devicestatus, ...batch.profiles]) {
      expect(doc).not.toHaveProperty('_id');
      expect(doc).not.toHaveProperty('srvModified');
      expect(typeof doc.identifier).toBe('string');
    }
    expect(batch.treatments.find((t) => t.eventType === 'Temp Basal')!.identifier).toBe(
      'a1b2c3d4-0000-5000-8000-000000000001',
    );
    expectDatedQueries(source);
    expect(source.requests['GET /api/v1/verifyauth']).toBe(1);
    expect(source.requestLog.find((r) => r.path === '/api/v1/entries.json')!.query).toEqual([
      ['find[date][$gt]', String(NOW - HOUR)],
      ['count', '1000'],
    ]);
  });

  it('reads a window older than 4 days only through its explicit date filter (no silent 4-day cap)', async () => {
    const { sim: source, ctx } = await setup({ vendor: { apiSecret: API_SECRET } });
    const { session } = await login(ctx());
    const batch = await poll(ctx(), session, null, NOW - 2 * 24 * HOUR);
    expect(batch.entries).toHaveLength(37);
    expect(source.requestLog.find((r) => r.path === '/api/v1/treatments.json')!.query[0]).toEqual([
      'find[created_at][$gt]',
      new Date(NOW - 2 * 24 * HOUR).toISOString(),
    ]);
  });

  it('pages backwards when a page is full, so the cursor cannot jump over older documents', async () => {
    const { sim: source, ctx } = await setup({
      vendor: { apiSecret: API_SECRET },
      settings: { sourceMaxCount: 10, sourceCollections: 'entries' },
    });
    const { session } = await login(ctx());
    const batch = await poll(ctx(), session, { entries: NOW - 3 * HOUR - MIN });
    expect(batch.entries).toHaveLength(37);
    expect(new Set(batch.entries.map((e) => e.date)).size).toBe(37);
    const pages = source.requestLog.filter((r) => r.path === '/api/v1/entries.json');
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(pages.slice(1).every((p) => p.query.some(([k]) => k === 'find[date][$lte]'))).toBe(true);
    expectDatedQueries(source);
  });

  it('a wrong API secret parks the source without echoing it', async () => {
    const { ctx } = await setup({ vendor: { apiSecret: 'wrong-secret-value-99' } });
    const err = await failure(login(ctx()));
    expect(err).toBeInstanceOf(SourceAuthRejectedError);
    expect(err.message).not.toContain('wrong-secret-value-99');
  });

  it('an API secret cannot read API v3', async () => {
    const { ctx } = await setup({ vendor: { apiSecret: API_SECRET }, settings: { sourceApiVersion: 'v3' } });
    expect(await failure(login(ctx()))).toMatchObject({ kind: 'permanent', code: 'NIGHTSCOUT_SOURCE.V3_NEEDS_TOKEN' });
  });
});

describe('Nightscout source with an access token', () => {
  it('trades the token for a JWT once, expiring when the JWT does, and prefers API v3', async () => {
    const { sim: source, ctx } = await setup({ vendor: { token: TOKEN } });
    const grant = await login(ctx());
    expect(grant.expiresAt).toBe((Math.floor(NOW / 1000) + 8 * 3600) * 1000);
    expect(grant.session).toMatchObject({ mode: 'jwt', api: 'v3' });
    await poll(ctx(), grant.session, null);
    await poll(ctx(), grant.session, null);
    expect(source.requests['GET /api/v2/authorization/request/:token']).toBe(1);
    expect(source.requests['GET /api/v3/version']).toBe(1);
  });

  it('reads v3 ascending with explicit date filters, finding v1-written and v3-written treatments', async () => {
    const { sim: source, ctx } = await setup({ vendor: { token: TOKEN } });
    const { session } = await login(ctx());
    const batch = await poll(ctx(), session, {
      entries: NOW - HOUR,
      treatments: NOW - 3 * HOUR,
      devicestatus: NOW - HOUR,
      profiles: NOW - HOUR,
    });
    expect(batch.entries).toHaveLength(12);
    expect(batch.treatments.map((t) => t.eventType)).toEqual(['Correction Bolus', 'Meal Bolus', 'Temp Basal', 'Note']);
    expect(batch.treatments.find((t) => t.eventType === 'Note')!.created_at).toBe(
      new Date(NOW - 5 * MIN).toISOString(),
    );
    expect(batch.devicestatus).toHaveLength(1);
    expect(batch.profiles.map((p) => p.defaultProfile)).toEqual(['Default']);
    expectDatedQueries(source);
    const entriesQuery = source.requestLog.find((r) => r.path === '/api/v3/entries')!.query;
    expect(entriesQuery).toEqual([
      ['date$gt', String(NOW - HOUR)],
      ['sort', 'date'],
      ['limit', '1000'],
    ]);
  });

  it('v3 pages forward with skip when a page is full', async () => {
    const { sim: source, ctx } = await setup({
      vendor: { token: TOKEN },
      settings: { sourceMaxCount: 10, sourceCollections: 'entries' },
    });
    const { session } = await login(ctx());
    const batch = await poll(ctx(), session, { entries: NOW - 3 * HOUR - MIN });
    expect(batch.entries.map((e) => e.date)).toEqual(
      Array.from({ length: 37 }, (_, i) => NOW - 3 * HOUR + i * 5 * MIN),
    );
    expect(
      source.requestLog
        .filter((r) => r.path === '/api/v3/entries')
        .map((r) => r.query.find(([k]) => k === 'skip')?.[1]),
    ).toEqual([undefined, '10', '20', '30']);
  });

  it('can be told to read v1 with the JWT', async () => {
    const { sim: source, ctx } = await setup({ vendor: { token: TOKEN }, settings: { sourceApiVersion: 'v1' } });
    const { session } = await login(ctx());
    expect(session).toMatchObject({ mode: 'jwt', api: 'v1' });
    const batch = await poll(ctx(), session, { entries: NOW - HOUR });
    expect(batch.entries).toHaveLength(12);
    expect(source.requests['GET /api/v3/version']).toBeUndefined();
    expectDatedQueries(source);
  });

  it('an unknown token is auth-rejected, never echoed', async () => {
    const { ctx } = await setup({ vendor: { token: 'reader-ffffffffffffffff' } });
    const err = await failure(login(ctx()));
    expect(err).toMatchObject({ kind: 'authRejected', code: 'NIGHTSCOUT_SOURCE.TOKEN_REJECTED' });
    expect(err.message).not.toContain('ffffffffffffffff');
  });

  it('an expired JWT asks for a new session', async () => {
    const { clock, ctx } = await setup({ vendor: { token: TOKEN } });
    const { session } = await login(ctx());
    clock.advance(8 * HOUR + MIN);
    const err = await failure(poll(ctx(), session, null), session.mode === 'jwt' ? session.jwt : undefined);
    expect(err).toBeInstanceOf(SessionInvalidError);
    const fresh = await login(ctx());
    expect((await poll(ctx(), fresh.session, null)).entries.length).toBeGreaterThan(0);
  });

  it('a token without read permission on a collection parks the source', async () => {
    const { ctx } = await setup({ vendor: { token: ENTRIES_ONLY_TOKEN } });
    const { session } = await login(ctx());
    expect(await failure(poll(ctx(), session, null))).toMatchObject({
      kind: 'authRejected',
      code: 'NIGHTSCOUT_SOURCE.READ_FORBIDDEN',
    });
  });
});

describe('Nightscout source transient failures', () => {
  it('5xx on the token request and on a read are retryable', async () => {
    const { sim: source, ctx } = await setup({ vendor: { token: TOKEN } });
    source.inject({ kind: 'http5xx', status: 503 });
    expect(await failure(login(ctx()))).toMatchObject({ kind: 'retryable', code: 'NIGHTSCOUT_SOURCE.HTTP_503' });
    const { session } = await login(ctx());
    source.inject({ kind: 'http5xx', status: 500 });
    expect(await failure(poll(ctx(), session, null), session.mode === 'jwt' ? session.jwt : undefined)).toMatchObject({
      kind: 'retryable',
      code: 'NIGHTSCOUT_SOURCE.HTTP_500',
    });
  });

  it('a hanging read times out as retryable', async () => {
    const { sim: source, ctx } = await setup({ vendor: { apiSecret: API_SECRET }, settings: { httpTimeoutMs: 200 } });
    const { session } = await login(ctx());
    source.inject({ kind: 'timeout' });
    expect(await failure(poll(ctx(), session, null))).toMatchObject({
      kind: 'retryable',
      code: 'NIGHTSCOUT_SOURCE.TIMEOUT',
    });
  });
});
