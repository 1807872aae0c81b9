import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SessionInvalidError,
  SourceAuthRejectedError,
  SourceLockedOutError,
  SourceRejectedError,
  SourceUnavailableError,
} from '../../lib/domain/errors.js';
import type { DriverContext } from '../../lib/ports/driver.port.js';
import type { LogPort } from '../../lib/ports/observability.port.js';
import { assembleDriver } from '../../lib/sources/driver.builder.js';
import {
  createLibreLinkUpSource,
  type LibreAuth,
  type LibreSession,
} from '../../lib/sources/librelinkup/librelinkup.source.js';
import {
  LIBRELINKUP_DEVICE,
  type LibreLinkUpSettings,
  libreLinkUpVendor,
} from '../../lib/sources/librelinkup/librelinkup.vendor.js';
import {
  type LibreLinkUpSimulator,
  type LibreLinkUpSimulatorOptions,
  type SimulatedLibreAccount,
  sha256Hex,
  startLibreLinkUpSimulator,
} from '../../local/vendors/librelinkup/librelinkup.simulator.js';

/**
 * A driver with its own region memo (each test starts with none), its loops declared for the given interval setting
 * (CONNECT_LINK_UP_INTERVAL) as a stored source would have them.
 */
function createLibreLinkUpDriver(options: { intervalMinutes?: number } = {}) {
  return assembleDriver(
    libreLinkUpVendor,
    createLibreLinkUpSource(),
    options.intervalMinutes === undefined ? {} : { linkUpInterval: String(options.intervalMinutes) },
  );
}

const EMAIL = 'parent@example.invalid';
const PASSWORD = 'correct horse battery staple';
const START = Date.UTC(2024, 5, 1, 12, 0, 7);
const MINUTE = 60_000;

let now = START;
const clock = { now: () => now };
let sim: LibreLinkUpSimulator | undefined;
/** Every secret the tests saw; no error message or log line may contain one. */
const secrets = new Set<string>([PASSWORD]);
const logLines: string[] = [];
const log: LogPort = {
  debug: (m, f) => logLines.push(m + JSON.stringify(f ?? {})),
  info: (m, f) => logLines.push(m + JSON.stringify(f ?? {})),
  warn: (m, f) => logLines.push(m + JSON.stringify(f ?? {})),
  error: (m, f) => logLines.push(m + JSON.stringify(f ?? {})),
};

afterEach(async () => {
  for (const line of logLines) for (const secret of secrets) expect(line).not.toContain(secret);
  logLines.length = 0;
  await sim?.close();
  sim = undefined;
  now = START;
});

function account(overrides: Partial<SimulatedLibreAccount> = {}): SimulatedLibreAccount {
  return {
    email: EMAIL,
    password: PASSWORD,
    userId: 'b1f3c7e2-0000-4000-8000-00000000abcd',
    region: 'eu',
    patients: [{ patientId: 'patient-one', firstName: 'Alex', glucose: (t) => 140 + 30 * Math.sin(t / 3_600_000) }],
    ...overrides,
  };
}

async function start(
  accounts: SimulatedLibreAccount[] = [account()],
  extra: Partial<LibreLinkUpSimulatorOptions> = {},
) {
  sim = await startLibreLinkUpSimulator({ clock, accounts, ...extra });
  return sim;
}

function settingsFor(s: LibreLinkUpSimulator, raw: Record<string, unknown> = {}): LibreLinkUpSettings {
  const driver = createLibreLinkUpDriver();
  const hosts: Record<string, string> = {};
  for (const region of ['AE', 'AP', 'AU', 'CA', 'DE', 'EU', 'EU2', 'FR', 'JP', 'US', 'LA', 'RU', 'CN'])
    hosts[region] = s.hostFor(region);
  return driver.parseSettings({ linkUpRegion: 'EU', linkUpHosts: JSON.stringify(hosts), httpTimeoutMs: 500, ...raw });
}

function ctxFor(
  settings: LibreLinkUpSettings,
  password = PASSWORD,
  sourceId = 'src-1',
): DriverContext<LibreLinkUpSettings> {
  return { sourceId, settings, credentials: { vendor: { username: EMAIL, password }, nightscout: {} }, now, log };
}

/** Await a rejection and check it leaks no secret. */
async function rejection(promise: Promise<unknown>): Promise<any> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  const texts = [String(err), (err as Error).message ?? '', (err as Error).stack ?? '', JSON.stringify(err)];
  for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
  return err;
}

async function login(
  driver = createLibreLinkUpDriver(),
  settings: LibreLinkUpSettings,
): Promise<{ auth: LibreAuth; session: LibreSession; expiresAt?: number }> {
  const auth = await driver.session.authenticate(ctxFor(settings));
  secrets.add(auth.token);
  const grant = await driver.session.authorize(ctxFor(settings), auth);
  return { auth, session: grant.session, expiresAt: grant.expiresAt };
}

function fetchCtx(settings: LibreLinkUpSettings, session: LibreSession) {
  return { ...ctxFor(settings), session, cursor: null, since: now - 12 * 60 * MINUTE };
}

describe('LibreLinkUp driver against the simulator', () => {
  it('logs in, picks the patient, fetches graph + current reading and transforms them', async () => {
    const s = await start();
    const settings = settingsFor(s);
    const driver = createLibreLinkUpDriver();
    const { auth, session, expiresAt } = await login(driver, settings);

    expect(session).toEqual({
      token: auth.token,
      accountIdHash: sha256Hex('b1f3c7e2-0000-4000-8000-00000000abcd'),
      patientId: 'patient-one',
      baseUrl: s.hostFor('eu'),
      region: 'EU',
    });
    // The real 180-day ticket expiry, not the 60-minute fallback.
    expect(expiresAt).toBe(Math.floor((START + 180 * 24 * 60 * MINUTE) / 1000) * 1000);

    const loop = driver.loops[0];
    const raw = await loop.fetch(fetchCtx(settings, session));
    expect(JSON.stringify(raw)).not.toContain(auth.token);
    const batch = loop.transform(raw, { sourceId: 'src-1', settings, cursor: null, now });
    const expected = s.readingsUpTo(now, 'patient-one');
    expect(batch.entries.map((e) => [e.date, e.sgv])).toEqual(expected.map((r) => [r.date, r.sgv]));
    // The current reading is a minute old, the graph's newest ≥ 15 min: without it the site would lag.
    const newest = batch.entries[batch.entries.length - 1];
    expect(newest.date).toBe(Math.floor(now / MINUTE) * MINUTE);
    expect(newest.direction).not.toBe('NOT COMPUTABLE');
    expect(batch.entries[batch.entries.length - 2].date).toBeLessThanOrEqual(now - 15 * MINUTE);
    expect(batch.entries.every((e) => e.device === LIBRELINKUP_DEVICE)).toBe(true);
    expect(batch.entries.length).toBeGreaterThan(140);

    expect(s.stats).toMatchObject({ logins: 1, connections: 1, graph: 1, failedLogins: 0 });
    const [loginReq, connReq, graphReq] = s.requests;
    expect(loginReq).toMatchObject({
      endpoint: 'login',
      version: '4.16.0',
      product: 'llu.android',
      hasAccountId: false,
      hasBearer: false,
    });
    expect(loginReq.userAgent).toMatch(/Mozilla\/5\.0/);
    expect(connReq).toMatchObject({ endpoint: 'connections', hasAccountId: true, hasBearer: true });
    expect(graphReq).toMatchObject({ endpoint: 'graph', hasAccountId: true, hasBearer: true });
  });

  it('the next frame carries the new current reading and the last hour of graph rows behind the cursor', async () => {
    const s = await start();
    const settings = settingsFor(s);
    const driver = createLibreLinkUpDriver();
    const { session } = await login(driver, settings);
    const loop = driver.loops[0];
    expect(loop.reread).toEqual({ windowMs: 60 * MINUTE, sameReadingMs: 30_000 });
    const first = loop.transform(await loop.fetch(fetchCtx(settings, session)), {
      sourceId: 'src-1',
      settings,
      cursor: null,
      now,
    });
    const cursor = { entries: first.entries[first.entries.length - 1].date };
    now += 5 * MINUTE;
    const second = loop.transform(await loop.fetch({ ...fetchCtx(settings, session), cursor }), {
      sourceId: 'src-1',
      settings,
      cursor,
      now,
    });
    const dates = second.entries.map((e) => e.date);
    // Newer than the cursor: only this poll's current reading.
    expect(dates.filter((d) => d > cursor.entries)).toEqual([Math.floor(now / MINUTE) * MINUTE]);
    // Behind it: every graph row of the re-read hour the vendor now serves, including the one published since.
    const graphInWindow = s
      .readingsUpTo(now, 'patient-one')
      .map((r) => r.date)
      .filter((d) => d > cursor.entries - 60 * MINUTE && d <= cursor.entries);
    expect(dates.filter((d) => d <= cursor.entries)).toEqual(graphInWindow);
    const firstDates = new Set(first.entries.map((e) => e.date));
    expect(graphInWindow.filter((d) => !firstDates.has(d))).toHaveLength(1);
  });

  it('follows a region redirect, remembers the home region, and the next login goes straight there', async () => {
    const s = await start([account({ region: 'eu2' })]);
    const settings = settingsFor(s, { linkUpRegion: 'eu' });
    const driver = createLibreLinkUpDriver();
    const first = await login(driver, settings);
    expect(first.auth).toMatchObject({ region: 'EU2', redirected: true, baseUrl: s.hostFor('eu2') });
    expect(first.session).toMatchObject({ region: 'EU2', baseUrl: s.hostFor('eu2') });
    expect(s.stats.loginsByRegion).toEqual({ eu: 1, eu2: 1 });
    expect(logLines.some((l) => l.includes('CONNECT_LINK_UP_REGION=EU2'))).toBe(true);

    const second = await login(driver, settings);
    expect(second.auth).toMatchObject({ region: 'EU2', redirected: false });
    expect(s.stats.loginsByRegion).toEqual({ eu: 1, eu2: 2 });

    // The memo is per source: another source with the same settings still pays the redirect once.
    await driver.session.authenticate(ctxFor(settings, PASSWORD, 'src-2'));
    expect(s.stats.loginsByRegion).toEqual({ eu: 2, eu2: 3 });
  });

  it('follows the global host redirect too (CONNECT_LINK_UP_SERVER without a region)', async () => {
    const s = await start([account({ region: 'us' })]);
    const settings = settingsFor(s, { linkUpRegion: undefined, linkUpServer: s.url });
    const { session } = await login(createLibreLinkUpDriver(), settings);
    expect(session.baseUrl).toBe(s.hostFor('us'));
    expect(s.stats.loginsByRegion).toEqual({ global: 1, us: 1 });
  });

  it('bounds a redirect loop: stops with a permanent error after at most two redirects', async () => {
    const s = await start([account({ region: 'eu2' })]);
    // A stale host map: EU2 points at a host that itself redirects to eu2 again.
    const settings = settingsFor(s, {
      linkUpServer: s.url,
      linkUpRegion: undefined,
      linkUpHosts: JSON.stringify({ EU2: s.hostFor('fr'), FR: s.hostFor('fr') }),
    });
    const err = await rejection(createLibreLinkUpDriver().session.authenticate(ctxFor(settings)));
    expect(err).toBeInstanceOf(SourceRejectedError);
    expect(err.code).toBe('LIBRELINKUP.REDIRECT_LOOP');
    expect(s.stats.logins).toBeLessThanOrEqual(3);
    expect(s.stats.logins).toBe(2);
  });

  it('terms pending without auto-accept: auth rejected with the reason, nothing accepted on the user’s behalf', async () => {
    const s = await start([account({ termsPending: ['tou'] })]);
    const err = await rejection(createLibreLinkUpDriver().session.authenticate(ctxFor(settingsFor(s))));
    expect(err).toBeInstanceOf(SourceAuthRejectedError);
    expect(err.kind).toBe('authRejected');
    expect(err.code).toBe('LIBRELINKUP.TERMS_REQUIRED');
    expect(err.message).toBe('accept the new terms in the LibreLinkUp app');
    expect(s.stats.termsAccepted).toBe(0);
    expect(s.stats.logins).toBe(1);
  });

  it('terms pending with CONNECT_LINK_UP_AUTO_ACCEPT_TERMS: accepts each step, then works', async () => {
    const s = await start([account({ termsPending: ['tou', 'pp'] })]);
    const settings = settingsFor(s, { linkUpAutoAcceptTerms: 'true' });
    const driver = createLibreLinkUpDriver();
    const { session } = await login(driver, settings);
    expect(s.stats.termsAccepted).toBe(2);
    expect(s.requests.filter((r) => r.endpoint === 'continue').map((r) => r.hasBearer)).toEqual([true, true]);
    const raw = (await driver.loops[0].fetch(fetchCtx(settings, session))) as { graph: unknown[] };
    expect(raw.graph.length).toBeGreaterThan(0);
  });

  it('a bad password is rejected after exactly one login request', async () => {
    const s = await start();
    const err = await rejection(
      createLibreLinkUpDriver().session.authenticate(ctxFor(settingsFor(s), 'wrong password')),
    );
    expect(err).toBeInstanceOf(SourceAuthRejectedError);
    expect(err.code).toBe('LIBRELINKUP.AUTH_REJECTED');
    expect(s.stats).toMatchObject({ logins: 1, failedLogins: 1, connections: 0 });
  });

  it('a locked account is reported locked until now + lockout, and works again after it', async () => {
    const s = await start();
    const settings = settingsFor(s);
    const driver = createLibreLinkUpDriver();
    secrets.add('wrong password');
    for (let i = 0; i < 3; i++)
      expect((await rejection(driver.session.authenticate(ctxFor(settings, 'wrong password')))).kind).toBe(
        'authRejected',
      );

    now += 10_000;
    const err = await rejection(driver.session.authenticate(ctxFor(settings)));
    expect(err).toBeInstanceOf(SourceLockedOutError);
    expect(err.kind).toBe('lockedOut');
    expect(err.code).toBe('LIBRELINKUP.LOCKED');
    // Sim locked at START for 300 s; at START+10 s it reports 290 s left. Request time is added, never subtracted.
    expect(err.lockedUntil).toBeGreaterThanOrEqual(START + 300_000);
    expect(err.lockedUntil).toBeLessThan(START + 302_000);

    now = err.lockedUntil;
    await login(driver, settings);
    expect(s.stats.logins).toBe(5);
  });

  it('app version too old (status 920): permanent, names the required version and the setting', async () => {
    const s = await start([account()], { minimumVersion: '4.12.0' });
    const err = await rejection(
      createLibreLinkUpDriver().session.authenticate(ctxFor(settingsFor(s, { linkUpVersion: '4.10.0' }))),
    );
    expect(err).toBeInstanceOf(SourceRejectedError);
    expect(err.kind).toBe('permanent');
    expect(err.code).toBe('LIBRELINKUP.VERSION_TOO_OLD');
    expect(err.message).toContain('4.12.0');
    expect(err.message).toContain('CONNECT_LINK_UP_VERSION');
  });

  it('data calls need Account-Id = sha256(user id): the simulator refuses without it, the driver sends it', async () => {
    const s = await start();
    const settings = settingsFor(s);
    const { auth } = await login(createLibreLinkUpDriver(), settings);
    const headers = { version: '4.16.0', product: 'llu.android', Authorization: `Bearer ${auth.token}` };
    const get = (extra: Record<string, string>) =>
      axios.get(`${s.hostFor('eu')}/llu/connections/patient-one/graph`, {
        headers: { ...headers, ...extra },
        validateStatus: () => true,
      });
    expect((await get({ 'Account-Id': sha256Hex('someone else') })).status).toBe(403);
    expect((await get({})).status).toBe(400);
    expect((await get({ 'Account-Id': sha256Hex('b1f3c7e2-0000-4000-8000-00000000abcd') })).status).toBe(200);
    // The driver's own data calls all carried it (and succeeded).
    expect(s.requests.filter((r) => r.endpoint === 'connections').every((r) => r.hasAccountId)).toBe(true);
    expect(auth.accountIdHash).toBe(sha256Hex('b1f3c7e2-0000-4000-8000-00000000abcd'));
  });

  it('HTTP 403 (blocked / headers refused) is permanent, not a retry loop', async () => {
    const s = await start();
    const settings = settingsFor(s);
    const driver = createLibreLinkUpDriver();
    const { session } = await login(driver, settings);
    s.inject({ kind: 'forbidden', endpoint: 'graph', count: 1 });
    const err = await rejection(driver.loops[0].fetch(fetchCtx(settings, session)));
    expect(err).toBeInstanceOf(SourceRejectedError);
    expect(err.code).toBe('LIBRELINKUP.FORBIDDEN');
    s.inject({ kind: 'forbidden', endpoint: 'login', count: 1 });
    expect((await rejection(driver.session.authenticate(ctxFor(settings)))).code).toBe('LIBRELINKUP.FORBIDDEN');
  });

  it('chooses the connection named by CONNECT_LINK_UP_PATIENT_ID', async () => {
    const patients = [
      { patientId: 'patient-one', firstName: 'Alex', glucose: () => 100 },
      { patientId: 'patient-two', firstName: 'Jo', glucose: () => 200 },
    ];
    const s = await start([account({ patients })]);
    const settings = settingsFor(s, { linkUpPatientId: 'patient-two' });
    const driver = createLibreLinkUpDriver();
    const { session } = await login(driver, settings);
    expect(session.patientId).toBe('patient-two');
    const batch = driver.loops[0].transform(await driver.loops[0].fetch(fetchCtx(settings, session)), {
      sourceId: 'src-1',
      settings,
      cursor: null,
      now,
    });
    expect(new Set(batch.entries.map((e) => e.sgv))).toEqual(new Set([200]));

    // Without the setting: the first, with a warning that names the count only.
    const first = await login(driver, settingsFor(s));
    expect(first.session.patientId).toBe('patient-one');
    expect(
      logLines.some((l) => l.includes('CONNECT_LINK_UP_PATIENT_ID') && !l.includes('Jo') && !l.includes('Alex')),
    ).toBe(true);
  });

  it('an unknown CONNECT_LINK_UP_PATIENT_ID is permanent and lists how many connections exist, not who', async () => {
    const s = await start([
      account({
        patients: [
          { patientId: 'patient-one', firstName: 'Alex' },
          { patientId: 'patient-two', firstName: 'Jo' },
        ],
      }),
    ]);
    const settings = settingsFor(s, { linkUpPatientId: 'nobody' });
    const driver = createLibreLinkUpDriver();
    const auth = await driver.session.authenticate(ctxFor(settings));
    secrets.add(auth.token);
    const err = await rejection(driver.session.authorize(ctxFor(settings), auth));
    expect(err).toBeInstanceOf(SourceRejectedError);
    expect(err.code).toBe('LIBRELINKUP.PATIENT_NOT_FOUND');
    expect(err.message).toContain('2 connection');
    expect(err.message).not.toMatch(/Alex|Jo\b|patient-one|patient-two/);
  });

  it('an account that follows nobody gets a clear reason', async () => {
    const s = await start([account({ patients: [] })]);
    const settings = settingsFor(s);
    const driver = createLibreLinkUpDriver();
    const auth = await driver.session.authenticate(ctxFor(settings));
    secrets.add(auth.token);
    const err = await rejection(driver.session.authorize(ctxFor(settings), auth));
    expect(err).toBeInstanceOf(SourceRejectedError);
    expect(err.code).toBe('LIBRELINKUP.NO_CONNECTIONS');
    expect(err.message).toBe('this LibreLinkUp account follows nobody: accept the invitation in the app');
  });

  it('5xx, timeouts, 430 and plain 429 on the graph are retryable with sensible waits', async () => {
    const s = await start();
    const settings = settingsFor(s);
    const driver = createLibreLinkUpDriver();
    const { session } = await login(driver, settings);
    const fetch = () => rejection(driver.loops[0].fetch(fetchCtx(settings, session)));

    s.inject({ kind: 'http5xx', status: 502, endpoint: 'graph', count: 1, retryAfter: '120' });
    let err = await fetch();
    expect(err).toBeInstanceOf(SourceUnavailableError);
    expect(err).toMatchObject({ kind: 'retryable', code: 'LIBRELINKUP.HTTP_502', retryAfterMs: 120_000 });

    s.inject({ kind: 'timeout', endpoint: 'graph', count: 1 });
    err = await fetch();
    expect(err).toMatchObject({ kind: 'retryable', code: 'LIBRELINKUP.TIMEOUT' });

    s.inject({ kind: 'http430', endpoint: 'graph', count: 1 });
    err = await fetch();
    expect(err).toMatchObject({ kind: 'retryable', code: 'LIBRELINKUP.HTTP_430', retryAfterMs: 15 * MINUTE });

    s.inject({ kind: 'http429', endpoint: 'graph', count: 1, retryAfter: '90' });
    err = await fetch();
    expect(err).toMatchObject({ kind: 'retryable', code: 'LIBRELINKUP.HTTP_429', retryAfterMs: 90_000 });

    // Faults were one-shot: the next fetch works.
    expect(
      ((await driver.loops[0].fetch(fetchCtx(settings, session))) as { graph: unknown[] }).graph.length,
    ).toBeGreaterThan(0);
  });

  it('a 5xx or 430 at login is retryable and costs exactly one request', async () => {
    const s = await start();
    const driver = createLibreLinkUpDriver();
    s.inject({ kind: 'http5xx', endpoint: 'login', count: 1 });
    expect((await rejection(driver.session.authenticate(ctxFor(settingsFor(s))))).kind).toBe('retryable');
    s.inject({ kind: 'http430', endpoint: 'login', count: 1 });
    expect(await rejection(driver.session.authenticate(ctxFor(settingsFor(s))))).toMatchObject({
      kind: 'retryable',
      retryAfterMs: 15 * MINUTE,
    });
    expect(s.stats.logins).toBe(2);
  });

  it('a dead session surfaces as SessionInvalidError, and a fresh login recovers', async () => {
    const s = await start();
    const settings = settingsFor(s);
    const driver = createLibreLinkUpDriver();
    const { session } = await login(driver, settings);
    s.inject({ kind: 'sessionInvalid', endpoint: 'graph', count: 1 });
    const err = await rejection(driver.loops[0].fetch(fetchCtx(settings, session)));
    expect(err).toBeInstanceOf(SessionInvalidError);
    expect(err.code).toBe('LIBRELINKUP.SESSION_INVALID');
    // The ticket really is gone at the simulator.
    expect(await rejection(driver.loops[0].fetch(fetchCtx(settings, session)))).toBeInstanceOf(SessionInvalidError);
    const fresh = await login(driver, settings);
    expect(
      ((await driver.loops[0].fetch(fetchCtx(settings, fresh.session))) as { graph: unknown[] }).graph.length,
    ).toBeGreaterThan(0);
  });

  it('loop spec follows the interval setting', () => {
    const five = createLibreLinkUpDriver().loops[0];
    expect(five).toMatchObject({
      name: 'LibreLinkUp',
      intervalMs: 5 * MINUTE,
      align: { lagMs: 10_000, jitterMs: 8_000 },
      attempts: 3,
      maxLookbackMs: 12 * 60 * MINUTE,
    });
    expect(five.retry).toEqual({ baseMs: 60_000, capMs: 5 * MINUTE });
    expect(five.backoff).toEqual({ baseMs: 5 * MINUTE, capMs: 30 * MINUTE });
    const one = createLibreLinkUpDriver({ intervalMinutes: 1 }).loops[0];
    expect(one.intervalMs).toBe(MINUTE);
    expect(one.retry).toEqual({ baseMs: 60_000, capMs: 60_000 });
  });

  it('handles the recorded-style bodies (fixtures), not only the simulator’s', async () => {
    const fixture = (name: string) => readFileSync(new URL(`../fixtures/librelinkup/${name}`, import.meta.url), 'utf8');
    let loginBody = fixture('login-success.json');
    let loginStatus = 200;
    const server = createServer((req, res) => {
      const body =
        req.url === '/llu/auth/login'
          ? loginBody
          : req.url === '/llu/connections'
            ? fixture('connections-two-patients.json')
            : fixture('graph.json');
      res.writeHead(req.url === '/llu/auth/login' ? loginStatus : 200, { 'Content-Type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const settings = createLibreLinkUpDriver().parseSettings({
        linkUpServer: base,
        linkUpPatientId: '11111111-aaaa-4bbb-8ccc-000000000001',
        // Every region points back here: a redirect must never reach a real Abbott host from a test.
        linkUpHosts: JSON.stringify({ EU: base, EU2: base }),
      });
      const driver = createLibreLinkUpDriver();
      now = 1_700_000_000_000;
      const auth = await driver.session.authenticate(ctxFor(settings));
      expect(auth).toMatchObject({
        token: 'fixture-token-not-a-real-jwt',
        expiresAt: 1_715_552_000_000,
        accountIdHash: sha256Hex('4f0e5c1a-7b2d-11ee-9a40-0242ac110002'),
      });
      secrets.add(auth.token);
      const grant = await driver.session.authorize(ctxFor(settings), auth);
      expect(grant).toMatchObject({
        expiresAt: 1_715_552_000_000,
        session: { patientId: '11111111-aaaa-4bbb-8ccc-000000000001', baseUrl: base },
      });
      now = Date.UTC(2023, 6, 1, 12, 15);
      const raw = await driver.loops[0].fetch(fetchCtx(settings, grant.session));
      expect(driver.loops[0].transform(raw, { sourceId: 'src-1', settings, cursor: null, now }).entries).toHaveLength(
        5,
      );

      const outcome = async (file: string, status = 200) => {
        loginBody = fixture(file);
        loginStatus = status;
        return rejection(driver.session.authenticate(ctxFor(settings)));
      };
      expect(await outcome('login-failed.json')).toMatchObject({
        kind: 'authRejected',
        code: 'LIBRELINKUP.AUTH_REJECTED',
      });
      expect(await outcome('login-terms.json')).toMatchObject({
        kind: 'authRejected',
        code: 'LIBRELINKUP.TERMS_REQUIRED',
      });
      expect(await outcome('login-locked.json', 429)).toMatchObject({ kind: 'lockedOut' });
      expect((await outcome('login-locked.json', 200)).lockedUntil).toBeGreaterThanOrEqual(now + 300_000);
      expect((await outcome('login-version-too-old.json')).message).toContain('4.12.0');
      // EU2 maps back to this server, which redirects again: the loop stops at the second answer.
      let logins = 0;
      server.on('request', (req) => {
        if (req.url === '/llu/auth/login') logins += 1;
      });
      const redirect = await outcome('login-redirect.json');
      expect(redirect.code).toBe('LIBRELINKUP.REDIRECT_LOOP');
      expect(logins).toBe(2);
      // A redirect to a region with no known host is refused before any request leaves.
      loginBody = JSON.stringify({ status: 0, data: { redirect: true, region: 'zz' } });
      expect((await rejection(driver.session.authenticate(ctxFor(settings)))).code).toBe('LIBRELINKUP.UNKNOWN_REGION');
      expect(logins).toBe(3);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
