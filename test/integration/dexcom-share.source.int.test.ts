// The Dexcom Share driver against the Share simulator on 127.0.0.1: login shapes, every error-code mapping, lockout,
// read-window clamping, session loss, 5xx/timeout classification, JP selection, and no secrets in errors or logs.
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../lib/domain/errors.js';
import type { Cursor, SgvEntry } from '../../lib/domain/records.js';
import type { DriverContext } from '../../lib/ports/driver.port.js';
import type { LogPort } from '../../lib/ports/observability.port.js';
import { type DexcomSession, dexcomShareSource } from '../../lib/sources/dexcom-share/dexcom-share.source.js';
import { type DexcomShareSettings, dexcomShareVendor } from '../../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { assembleDriver } from '../../lib/sources/driver.builder.js';
import {
  type DexcomShareSimulator,
  type DexcomShareSimulatorOptions,
  startDexcomShareSimulator,
} from '../../local/vendors/dexcom-share/dexcom-share.simulator.js';

const dexcomShareDriver = assembleDriver(dexcomShareVendor, dexcomShareSource, {});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const PASSWORD = 'Pa55-w0rd-Never-Logged!';
const ACCOUNT = 'parent@example.com';
const JP_APP = 'd8665ade-9673-4e27-9ff6-92db4ce13d13';
const US_APP = 'd89443d2-327c-4a6f-89e5-496bbb0317db';

let t = T0;
const clock = { now: () => t };
const logLines: string[] = [];
const log: LogPort = {
  debug: (m, f) => logLines.push(`${m} ${JSON.stringify(f)}`),
  info: (m, f) => logLines.push(`${m} ${JSON.stringify(f)}`),
  warn: (m, f) => logLines.push(`${m} ${JSON.stringify(f)}`),
  error: (m, f) => logLines.push(`${m} ${JSON.stringify(f)}`),
};
const sessionIds: string[] = [];
let sim: DexcomShareSimulator | undefined;

afterEach(async () => {
  // Secrets must not reach logs, whatever the test did.
  for (const line of logLines) {
    expect(line).not.toContain(PASSWORD);
    for (const id of sessionIds) expect(line).not.toContain(id);
  }
  logLines.length = 0;
  await sim?.close();
  sim = undefined;
  t = T0;
});

async function start(options: Partial<DexcomShareSimulatorOptions> = {}): Promise<DexcomShareSimulator> {
  sim = await startDexcomShareSimulator({
    clock,
    accounts: [{ accountName: ACCOUNT, password: PASSWORD }],
    publishLagMs: () => 5_000,
    ...options,
  });
  return sim;
}

function context(
  raw: Record<string, unknown> = {},
  credentials: Record<string, string> = {},
): DriverContext<DexcomShareSettings> {
  const settings = dexcomShareDriver.parseSettings({ shareServer: sim!.url, ...raw });
  const vendor = { accountName: ACCOUNT, password: PASSWORD, ...credentials };
  dexcomShareDriver.checkCredentials({ vendor, nightscout: {} });
  return { sourceId: 'src-1', settings, credentials: { vendor, nightscout: {} }, now: t, log };
}

async function login(ctx = context()): Promise<DexcomSession> {
  const accountId = await dexcomShareDriver.session.authenticate(ctx);
  const grant = await dexcomShareDriver.session.authorize(ctx, accountId);
  sessionIds.push(grant.session.sessionId);
  return grant.session;
}

async function poll(
  session: DexcomSession,
  cursor: Cursor | null,
  since: number,
  ctx = context(),
): Promise<SgvEntry[]> {
  const loop = dexcomShareDriver.loops[0];
  const raw = await loop.fetch({ ...ctx, now: t, session, cursor, since });
  return loop.transform(raw, { sourceId: ctx.sourceId, settings: ctx.settings, cursor, now: t }).entries;
}

/** Runs a call expected to fail and checks that the error carries no secret anywhere (message, cause, fields). */
async function failure(call: Promise<unknown>, secrets: string[] = []): Promise<SourceError> {
  let thrown: unknown;
  try {
    await call;
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(SourceError);
  const text = `${inspect(thrown, { depth: 8 })} ${JSON.stringify(thrown)} ${(thrown as Error).message}`;
  for (const secret of [PASSWORD, ...sessionIds, ...secrets]) expect(text).not.toContain(secret);
  return thrown as SourceError;
}

describe('login', () => {
  it('logs in with a bare-string account id and reads published readings', async () => {
    const s = await start();
    const session = await login();
    expect(session.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.stats).toMatchObject({ authenticate: 1, login: 1 });

    const entries = await poll(session, null, t - 30 * MINUTE);
    const expected = s.readingsUpTo(t - 5_000).filter((r) => r.date > t - 31 * MINUTE);
    expect(entries.map((e) => [e.date, e.sgv])).toEqual(expected.map((r) => [r.date, r.sgv]));
    expect(entries.length).toBeGreaterThanOrEqual(6);

    const [auth, byId, read] = s.requests;
    expect(auth).toMatchObject({
      endpoint: 'authenticate',
      applicationId: US_APP,
      contentType: expect.stringContaining('application/json'),
    });
    expect(byId).toMatchObject({ endpoint: 'login', applicationId: US_APP });
    expect(read.endpoint).toBe('read');
    expect(auth.userAgent).toMatch(/nightscout-connect-serverless/);
  });

  it('unwraps an object account id', async () => {
    await start({ accountIdAsObject: true });
    const session = await login();
    expect(await poll(session, null, t - 10 * MINUTE)).not.toHaveLength(0);
  });

  it('treats the all-zero session as a rejected login', async () => {
    await start({ accounts: [{ accountName: ACCOUNT, password: PASSWORD, zeroSession: true }] });
    const err = await failure(login());
    expect(err).toMatchObject({ kind: 'authRejected', code: 'DEXCOM.AUTH_REJECTED' });
  });

  it('maps a wrong password and an unknown account to authRejected without echoing them', async () => {
    const s = await start();
    const wrong = 'Wrong-Secret-123';
    const bad = await failure(login(context({}, { password: wrong })), [wrong]);
    expect(bad).toMatchObject({ kind: 'authRejected', code: 'DEXCOM.AUTH_REJECTED' });
    expect(bad.message).toContain('AccountPasswordInvalid');
    const unknown = await failure(login(context({}, { accountName: 'nobody@example.com' })));
    expect(unknown).toMatchObject({ kind: 'authRejected' });
    expect(unknown.message).toContain('SSO_AuthenticateAccountNotFound');
    expect(s.stats.failedLogins).toBe(2);
  });

  it.each([
    ['SSO_AuthenticatePasswordInvalid', 'authenticate', 'authRejected', 'DEXCOM.AUTH_REJECTED'],
    ['SSO_AuthenticateAccountNotFound', 'authenticate', 'authRejected', 'DEXCOM.AUTH_REJECTED'],
    ['SSO_InternalError', 'login', 'authRejected', 'DEXCOM.AUTH_REJECTED'],
    ['AccountPasswordInvalid', 'login', 'authRejected', 'DEXCOM.AUTH_REJECTED'],
    ['InvalidArgument', 'authenticate', 'authRejected', 'DEXCOM.AUTH_REJECTED'],
    ['SSO_AuthenticateMaxAttemptsExceeded', 'authenticate', 'lockedOut', 'DEXCOM.LOCKED_OUT'],
    ['SomeFutureCode', 'authenticate', 'retryable', 'DEXCOM.HTTP_500'],
  ] as const)('maps %s at %s to %s', async (code, endpoint, kind, errorCode) => {
    const s = await start();
    s.inject({ kind: 'code', code, endpoint });
    const err = await failure(login());
    expect(err).toMatchObject({ kind, code: errorCode });
  });

  it('tolerates an error Code sent with HTTP 400', async () => {
    const s = await start();
    s.inject({ kind: 'code', code: 'AccountPasswordInvalid', status: 400, endpoint: 'authenticate' });
    expect(await failure(login())).toMatchObject({ kind: 'authRejected', code: 'DEXCOM.AUTH_REJECTED' });
  });

  it('locks out after repeated bad logins, until the lockout passes', async () => {
    const s = await start({ lockoutAfter: 3 });
    for (let i = 0; i < 3; i++) {
      expect(await failure(login(context({}, { password: 'nope' })))).toMatchObject({ kind: 'authRejected' });
    }
    // Even the right password is refused while locked, and the driver reports when to try again.
    const locked = await failure(login());
    expect(locked).toMatchObject({ kind: 'lockedOut', code: 'DEXCOM.LOCKED_OUT', lockedUntil: t + HOUR });
    t += HOUR;
    await expect(login()).resolves.toMatchObject({ sessionId: expect.any(String) });
    expect(s.stats.failedLogins).toBe(3);
  });

  it('uses the JP application id when the region is jp, even with an explicit server', async () => {
    const s = await start({ applicationIds: [JP_APP] });
    const ctx = context({ shareRegion: 'JP' });
    expect(ctx.settings).toMatchObject({ region: 'jp', applicationId: JP_APP, baseUrl: s.url });
    const session = await login(ctx);
    await poll(session, null, t - 10 * MINUTE, ctx);
    expect(s.requests.filter((r) => r.endpoint !== 'read').every((r) => r.applicationId === JP_APP)).toBe(true);
    // A US id against a JP-only server is refused as a bad login, not retried.
    expect(await failure(login(context({ shareRegion: 'us' })))).toMatchObject({ kind: 'authRejected' });
  });
});

describe('reading', () => {
  it('clamps minutes and maxCount to the limits a strict server enforces', async () => {
    const s = await start({ readingEpoch: T0 - 3 * 24 * HOUR });
    const session = await login();
    t += 10_000; // the slot at T0 is published, so the full 24 h window holds 288 readings
    const entries = await poll(session, null, t - 3 * 24 * HOUR);
    expect(s.requests.at(-1)).toMatchObject({ minutes: 1440, maxCount: 288 });
    expect(entries).toHaveLength(288);
    await poll(session, { entries: t - 5 * MINUTE }, t - 5 * MINUTE);
    expect(s.requests.at(-1)).toMatchObject({ minutes: 6, maxCount: 3 });
  });

  it('reports a lost session as SessionInvalidError, and a fresh login recovers', async () => {
    const s = await start();
    const session = await login();
    s.inject({ kind: 'sessionInvalid' });
    const err = await failure(poll(session, null, t - 10 * MINUTE));
    expect(err).toMatchObject({ name: 'SessionInvalidError', kind: 'retryable', code: 'DEXCOM.SESSION_NOT_VALID' });
    // The simulator really dropped it: re-use keeps failing until a new login.
    expect(await failure(poll(session, null, t - 10 * MINUTE))).toMatchObject({ code: 'DEXCOM.SESSION_NOT_VALID' });
    const fresh = await login();
    expect(await poll(fresh, null, t - 10 * MINUTE)).not.toHaveLength(0);
  });

  it('treats SessionNotValid and an expired (24 h) session as session loss', async () => {
    const s = await start();
    const session = await login();
    s.inject({ kind: 'code', code: 'SessionNotValid', endpoint: 'read' });
    expect(await failure(poll(session, null, t - 10 * MINUTE))).toMatchObject({ code: 'DEXCOM.SESSION_NOT_VALID' });
    t += 24 * HOUR;
    expect(await failure(poll(session, null, t - 10 * MINUTE))).toMatchObject({ code: 'DEXCOM.SESSION_NOT_VALID' });
  });

  it('maps InvalidArgument while reading to a permanent error', async () => {
    const s = await start();
    const session = await login();
    s.inject({ kind: 'code', code: 'InvalidArgument', endpoint: 'read' });
    expect(await failure(poll(session, null, t - 10 * MINUTE))).toMatchObject({
      kind: 'permanent',
      code: 'DEXCOM.INVALID_ARGUMENT',
    });
  });

  it('classifies 5xx as retryable and honours Retry-After', async () => {
    const s = await start();
    const session = await login();
    s.inject({ kind: 'http5xx', status: 503, retryAfter: '120' });
    const withHeader = await failure(poll(session, null, t - 10 * MINUTE));
    expect(withHeader).toMatchObject({ kind: 'retryable', code: 'DEXCOM.HTTP_503', retryAfterMs: 120_000 });
    s.inject({ kind: 'http5xx', status: 502 });
    const without = await failure(poll(session, null, t - 10 * MINUTE));
    expect(without).toMatchObject({ kind: 'retryable', code: 'DEXCOM.HTTP_502' });
    expect(without.retryAfterMs).toBeUndefined();
    expect(await poll(session, null, t - 10 * MINUTE)).not.toHaveLength(0);
  });

  it('keeps failing while a time-bounded outage lasts', async () => {
    const s = await start();
    const session = await login();
    s.inject({ kind: 'http5xx', until: t + 10 * MINUTE, endpoint: 'read' });
    expect(await failure(poll(session, null, t - 10 * MINUTE))).toMatchObject({ kind: 'retryable' });
    t += 5 * MINUTE;
    expect(await failure(poll(session, null, t - 10 * MINUTE))).toMatchObject({ kind: 'retryable' });
    t += 5 * MINUTE;
    expect(await poll(session, null, t - 10 * MINUTE)).not.toHaveLength(0);
  });

  it('classifies a 5xx during login as retryable (not a bad password)', async () => {
    const s = await start();
    s.inject({ kind: 'http5xx', status: 500, endpoint: 'login' });
    expect(await failure(login())).toMatchObject({ kind: 'retryable', code: 'DEXCOM.HTTP_500' });
  });

  it('classifies a server that never answers as a retryable timeout', async () => {
    const s = await start();
    const session = await login();
    s.inject({ kind: 'timeout', endpoint: 'read' });
    const err = await failure(poll(session, null, t - 10 * MINUTE, context({ httpTimeoutMs: 200 })));
    expect(err).toMatchObject({ kind: 'retryable', code: 'DEXCOM.TIMEOUT' });
  });

  it('rejects a non-JSON page as a permanent unexpected response', async () => {
    const s = await start();
    const session = await login();
    s.inject({ kind: 'malformed', endpoint: 'read' });
    expect(await failure(poll(session, null, t - 10 * MINUTE))).toMatchObject({
      kind: 'permanent',
      code: 'DEXCOM.UNEXPECTED_RESPONSE',
    });
    s.inject({ kind: 'malformed', endpoint: 'authenticate' });
    expect(await failure(login())).toMatchObject({ kind: 'permanent', code: 'DEXCOM.UNEXPECTED_RESPONSE' });
  });

  it('shows a reading only once its publish lag has passed', async () => {
    const s = await start();
    const session = await login();
    t = T0 + 4_999;
    const before = await poll(session, null, t - 10 * MINUTE);
    expect(before.at(-1)!.date).toBe(T0 - 5 * MINUTE);
    t = T0 + 5_000;
    const after = await poll(session, { entries: T0 - 5 * MINUTE }, T0 - 5 * MINUTE);
    expect(after.map((e) => e.date)).toEqual([T0]);
    expect(s.stats.readingsServed.has(T0)).toBe(true);
  });

  it('simulator refuses windows beyond 1440 minutes or 288 rows (our strictness assumption)', async () => {
    const s = await start();
    const session = await login();
    const read = (minutes: number, maxCount: number) =>
      fetch(
        `${s.url}/ShareWebServices/Services/Publisher/ReadPublisherLatestGlucoseValues?sessionID=${session.sessionId}&minutes=${minutes}&maxCount=${maxCount}`,
        { method: 'POST' },
      );
    for (const [minutes, maxCount] of [
      [1441, 1],
      [10, 289],
      [0, 1],
    ]) {
      const res = await read(minutes, maxCount);
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ Code: 'InvalidArgument' });
    }
    expect((await read(1440, 288)).status).toBe(200);
  });

  it('reads numeric trends and bare Date(ms) payloads', async () => {
    await start({ numericTrends: true, dateStyle: 'bare' });
    const entries = await poll(await login(), null, t - 30 * MINUTE);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(entry.direction).not.toBe('NOT COMPUTABLE');
      expect(entry.date % (5 * MINUTE)).toBe(0);
    }
  });

  it('polling every 5 minutes with the cursor yields every reading once, none early', async () => {
    const s = await start({ publishLagMs: undefined });
    const session = await login();
    let cursor: Cursor | null = null;
    const written: SgvEntry[] = [];
    for (let i = 0; i < 24; i++) {
      // Polls land 10–18 s after a slot, like the loop's alignment; the simulator publishes 3–9 s after it.
      t = T0 + i * 5 * MINUTE + 10_000 + ((i * 3_000) % 8_000);
      const since: number = cursor?.entries ?? t - 30 * MINUTE;
      const entries = await poll(session, cursor, since);
      for (const e of entries) expect(e.date).toBeLessThanOrEqual(t);
      written.push(...entries);
      if (entries.length > 0) cursor = { entries: entries.at(-1)!.date };
    }
    const dates = written.map((e) => e.date);
    expect(new Set(dates).size).toBe(dates.length);
    // The first window reaches one minute past `since` (T0 − 29:50), so it includes the T0 − 30 min slot.
    const expected = s.readingsUpTo(T0 + 23 * 5 * MINUTE).filter((r) => r.date >= T0 - 30 * MINUTE);
    expect(written.map((e) => [e.date, e.sgv])).toEqual(expected.map((r) => [r.date, r.sgv]));
    expect(s.stats.authenticate).toBe(1);
  });
});
