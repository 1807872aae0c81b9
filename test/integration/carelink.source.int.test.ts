import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SessionInvalidError,
  SourceAuthRejectedError,
  type SourceError,
  SourceRejectedError,
  SourceUnavailableError,
} from '../../lib/domain/errors.js';
import type { DriverContext, FetchContext } from '../../lib/ports/driver.port.js';
import type { LogPort } from '../../lib/ports/observability.port.js';
import type { CareLinkSettings } from '../../lib/sources/carelink/carelink.settings.js';
import { type CareLinkSession, careLinkSource } from '../../lib/sources/carelink/carelink.source.js';
import { careLinkVendor } from '../../lib/sources/carelink/carelink.vendor.js';
import {
  type CareLinkVendorCredentials,
  completeCareLinkLogin,
  runCareLinkLoginCommand,
  startCareLinkLogin,
} from '../../lib/sources/carelink/carelink-login.flow.js';
import { assembleDriver } from '../../lib/sources/driver.builder.js';
import { type CareLinkSimulator, startCareLinkSimulator } from '../../local/vendors/carelink/carelink.simulator.js';

const careLinkDriver = assembleDriver(careLinkVendor, careLinkSource, {});

const clock = {
  t: Date.parse('2024-05-10T12:00:00Z'),
  now() {
    return this.t;
  },
};
let sim: CareLinkSimulator;

/** Everything the code under test said or threw, checked at the end for secrets. */
const output: string[] = [];
const log: LogPort = {
  debug: (m, f) => output.push(inspect([m, f], { depth: 8 })),
  info: (m, f) => output.push(inspect([m, f], { depth: 8 })),
  warn: (m, f) => output.push(inspect([m, f], { depth: 8 })),
  error: (m, f) => output.push(inspect([m, f], { depth: 8 })),
};

async function failure(promise: Promise<unknown>): Promise<SourceError> {
  try {
    await promise;
  } catch (err) {
    output.push(inspect(err, { depth: 8, showHidden: true }), String((err as Error).stack), JSON.stringify(err));
    return err as SourceError;
  }
  throw new Error('expected a failure');
}

const PASSWORD = 'correct-horse-battery-staple-42';

function settings(extra: Record<string, unknown> = {}): CareLinkSettings {
  return careLinkDriver.parseSettings({
    carelinkRegion: 'eu',
    countryCode: 'gb',
    carelinkServer: sim.url,
    carelinkDiscoveryUrl: sim.discoveryUrl,
    httpTimeoutMs: 2000,
    ...extra,
  });
}

function ctx(vendor: Record<string, string>, extra: Record<string, unknown> = {}): DriverContext<CareLinkSettings> {
  return {
    sourceId: 'carelink-1',
    settings: settings(extra),
    credentials: { vendor, nightscout: { apiSecret: 'ns-secret' } },
    now: clock.now(),
    log,
  };
}

function fetchCtx(
  c: DriverContext<CareLinkSettings>,
  session: CareLinkSession,
): FetchContext<CareLinkSettings, CareLinkSession> {
  return { ...c, now: clock.now(), session, cursor: null, since: clock.now() - 24 * 3_600_000 };
}

/** Play the browser: load the authorize page, submit its form, return where the redirect points. */
async function playBrowser(authorizeUrl: string, username: string, password: string): Promise<string> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no login form (HTTP ${page.status})`);
  const form = new URLSearchParams({ username, password });
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(m[1], m[2]);
  const res = await fetch(new URL(action, authorizeUrl), {
    method: 'POST',
    body: form.toString(),
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`login form answered ${res.status}`);
  return location;
}

async function login(username: string, extra: Record<string, unknown> = {}): Promise<CareLinkVendorCredentials> {
  const printed: string[] = [];
  let stored: CareLinkVendorCredentials | undefined;
  await runCareLinkLoginCommand({
    settings: settings(extra),
    print: (line) => printed.push(line),
    prompt: async () => playBrowser(printed.find((l) => l.includes('/authorize?'))!.trim(), username, PASSWORD),
    store: async (vendor) => {
      stored = vendor;
    },
    now: () => clock.now(),
  });
  output.push(...printed);
  return stored!;
}

async function session(username: string, extra: Record<string, unknown> = {}) {
  const vendor = await login(username, extra);
  const c = ctx(vendor, extra);
  const grant = await careLinkDriver.session.authorize(c, await careLinkDriver.session.authenticate(c));
  return { vendor, c, grant, session: grant.session };
}

beforeAll(async () => {
  sim = await startCareLinkSimulator({
    clock,
    accounts: [
      { username: 'pump.user', password: PASSWORD, role: 'patient', deviceFamily: 'NGP', timezoneOffset: '+02:00' },
      { username: 'cgm.user', password: PASSWORD, role: 'patient', deviceFamily: 'GUARDIAN', timezoneOffset: '-04:00' },
      {
        username: 'mum',
        password: PASSWORD,
        role: 'carepartner',
        patients: [{ username: 'cgm.user' }, { username: 'pump.user' }],
      },
      {
        username: 'dad',
        password: PASSWORD,
        role: 'carepartner',
        m2mEnabled: false,
        patients: [{ username: 'pump.user' }],
      },
      { username: 'lonely', password: PASSWORD, role: 'carepartner', patients: [] },
    ],
  });
});

afterAll(async () => {
  await sim?.close();
});

describe('CareLink login command (browser-assisted, PKCE)', () => {
  it('builds a PKCE S256 authorize URL with fresh state and verifier', async () => {
    const a = await startCareLinkLogin(settings());
    const b = await startCareLinkLogin(settings());
    const url = new URL(a.authorizeUrl);
    expect(url.origin + url.pathname).toBe(`${sim.url}/auth/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: sim.clientId,
      response_type: 'code',
      redirect_uri: sim.redirectUri,
      code_challenge_method: 'S256',
      state: a.state,
      code_challenge: createHash('sha256').update(a.codeVerifier).digest('base64url'),
    });
    expect(url.searchParams.get('audience')).toBeTruthy();
    expect(url.toString()).not.toContain(a.codeVerifier);
    expect(a.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(b.state).not.toBe(a.state);
    expect(b.codeVerifier).not.toBe(a.codeVerifier);
  });

  it('logs in end to end and stores refresh token, client id and token URL without printing them', async () => {
    const printed: string[] = [];
    let stored: CareLinkVendorCredentials | undefined;
    const result = await runCareLinkLoginCommand({
      settings: settings(),
      print: (line) => printed.push(line),
      prompt: async (question) => {
        expect(question).toMatch(/paste/i);
        return playBrowser(printed.find((l) => l.includes('/authorize?'))!.trim(), 'pump.user', PASSWORD);
      },
      store: async (vendor) => {
        stored = vendor;
      },
      now: () => clock.now(),
    });
    output.push(...printed);
    expect(stored).toEqual({
      refreshToken: expect.stringMatching(/^rt_/),
      clientId: sim.clientId,
      tokenUrl: `${sim.url}/auth/oauth/token`,
    });
    expect(result).toEqual({ clientId: sim.clientId, tokenUrl: `${sim.url}/auth/oauth/token` });
    expect(printed.join('\n')).toContain(`starts with ${sim.redirectUri}`);
    expect(printed.join('\n')).not.toContain(stored!.refreshToken);
    expect(() => careLinkDriver.checkCredentials({ vendor: stored!, nightscout: {} })).not.toThrow();
  });

  it('refuses a redirect from another login attempt, a reused code and a login error', async () => {
    const first = await startCareLinkLogin(settings());
    const second = await startCareLinkLogin(settings());
    const landed = await playBrowser(first.authorizeUrl, 'pump.user', PASSWORD);
    expect((await failure(completeCareLinkLogin(settings(), second, landed, clock.now()))).code).toBe(
      'CARELINK.LOGIN_STATE_MISMATCH',
    );
    await completeCareLinkLogin(settings(), first, landed, clock.now());
    const reused = await failure(completeCareLinkLogin(settings(), first, landed, clock.now()));
    expect(reused).toBeInstanceOf(SourceAuthRejectedError);
    expect(reused.code).toBe('CARELINK.LOGIN_CODE_REJECTED');
    const denied = await failure(
      completeCareLinkLogin(
        settings(),
        first,
        `${sim.redirectUri}?error=access_denied&state=${first.state}`,
        clock.now(),
      ),
    );
    expect(denied.code).toBe('CARELINK.LOGIN_DENIED');
    expect((await failure(completeCareLinkLogin(settings(), first, 'not a url', clock.now()))).code).toBe(
      'CARELINK.LOGIN_BAD_URL',
    );
  });

  it('rejects a code exchanged with the wrong PKCE verifier', async () => {
    const pending = await startCareLinkLogin(settings());
    const landed = await playBrowser(pending.authorizeUrl, 'pump.user', PASSWORD);
    const err = await failure(
      completeCareLinkLogin(settings(), { ...pending, codeVerifier: 'x'.repeat(43) }, landed, clock.now()),
    );
    expect(err).toBeInstanceOf(SourceAuthRejectedError);
  });
});

describe('CareLink session and data', () => {
  it('patient with a pump: BLE endpoint as "patient", realistic entries, treatments and devicestatus', async () => {
    const { c, grant } = await session('pump.user');
    expect(grant.session.target).toMatchObject({ mode: 'ble', role: 'patient', username: 'pump.user' });
    // Refresh one minute before the access token's own 900 s expiry.
    expect(grant.expiresAt).toBe(clock.now() + 900_000 - 60_000);
    const before = sim.requests.length;
    const raw = await careLinkDriver.loops[0].fetch(fetchCtx(c, grant.session));
    expect(sim.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /connect/carepartner/v13/display/message',
    ]);
    const batch = careLinkDriver.loops[0].transform(raw, {
      sourceId: 'carelink-1',
      settings: c.settings,
      cursor: null,
      now: clock.now(),
    });
    // 288 slots in 24 h minus the simulated two-reading dropout; newest slot is 11:55 UTC (publish lag), re-zoned from +02:00 wall time.
    expect(batch.entries).toHaveLength(286);
    expect(batch.entries.at(-1)!.dateString).toBe('2024-05-10T11:55:00.000Z');
    expect(batch.entries.every((e) => e.device === 'nightscout-connect://minimedcarelink/NGP')).toBe(true);
    expect(batch.treatments.map((t) => t.eventType)).toEqual(['BG Check', 'Meal Bolus', 'Correction Bolus']);
    expect(batch.devicestatus).toHaveLength(1);
    expect(batch.devicestatus[0]).toMatchObject({ created_at: '2024-05-10T11:55:45.000Z', pump: { reservoir: 112.5 } });
  });

  it('patient with a Guardian CGM: M2M last24hours for their own username', async () => {
    const { c, session: s } = await session('cgm.user');
    expect(s.target).toEqual({ mode: 'm2m', role: 'patient', patientUsername: 'cgm.user' });
    const before = sim.requests.length;
    const raw = (await careLinkDriver.loops[0].fetch(fetchCtx(c, s))) as { sgs?: unknown };
    expect(sim.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /patient/m2m/connect/data/gc/patients/cgm.user',
    ]);
    const batch = careLinkDriver.loops[0].transform(raw, {
      sourceId: 'carelink-1',
      settings: c.settings,
      cursor: null,
      now: clock.now(),
    });
    expect(batch.entries.at(-1)!.dateString).toBe('2024-05-10T11:55:00.000Z');
    expect(batch.devicestatus[0].pump).toBeUndefined();
  });

  it('care partner: first linked patient by default, CONNECT_CARELINK_PATIENT_USERNAME otherwise, via M2M', async () => {
    const first = await session('mum');
    expect(first.session.target).toEqual({ mode: 'm2m', role: 'carepartner', patientUsername: 'cgm.user' });
    const chosen = await session('mum', { carelinkPatientUsername: 'PUMP.USER' });
    expect(chosen.session.target).toEqual({ mode: 'm2m', role: 'carepartner', patientUsername: 'pump.user' });
    const raw = await careLinkDriver.loops[0].fetch(fetchCtx(chosen.c, chosen.session));
    const batch = careLinkDriver.loops[0].transform(raw, {
      sourceId: 'carelink-1',
      settings: chosen.c.settings,
      cursor: null,
      now: clock.now(),
    });
    expect(batch.entries.at(-1)!.device).toBe('nightscout-connect://minimedcarelink/NGP');
  });

  it('care partner without M2M: BLE endpoint as "carepartner" with the patient id', async () => {
    const { c, session: s } = await session('dad');
    expect(s.target).toMatchObject({ mode: 'ble', role: 'carepartner', username: 'dad', patientUsername: 'pump.user' });
    const raw = (await careLinkDriver.loops[0].fetch(fetchCtx(c, s))) as { sgs?: unknown };
    expect(Array.isArray(raw.sgs)).toBe(true);
  });

  it('care partner following nobody, or not the configured person: permanent rejection with a clear reason', async () => {
    const vendor = await login('lonely');
    const c = ctx(vendor);
    const none = await failure(careLinkDriver.session.authorize(c, await careLinkDriver.session.authenticate(c)));
    expect(none).toBeInstanceOf(SourceRejectedError);
    expect(none.code).toBe('CARELINK.NO_PATIENT');
    expect(none.message).toMatch(/follows nobody/);

    const mum = await login('mum');
    const c2 = ctx(mum, { carelinkPatientUsername: 'stranger' });
    const wrong = await failure(careLinkDriver.session.authorize(c2, await careLinkDriver.session.authenticate(c2)));
    expect(wrong.code).toBe('CARELINK.PATIENT_NOT_LINKED');
    expect(wrong.message).toContain('CONNECT_CARELINK_PATIENT_USERNAME');
    expect(wrong.message).not.toContain('cgm.user');
  });

  it('uses discovery when the credentials hold only a refresh token', async () => {
    const vendor = await login('pump.user');
    const c = ctx({ refreshToken: vendor.refreshToken });
    const auth = await careLinkDriver.session.authenticate(c);
    expect(auth.tokens.tokenUrl).toBe(`${sim.url}/auth/oauth/token`);
  });
});

describe('CareLink token lifecycle', () => {
  it('rotates the refresh token on every refresh; the credential copy and older tokens stop working', async () => {
    const { vendor, c, session: s1 } = await session('pump.user');
    expect(s1.refreshToken).not.toBe(vendor.refreshToken);

    const g2 = await careLinkDriver.session.refresh!(ctx(vendor), s1);
    const s2 = g2.session;
    expect(s2.refreshToken).not.toBe(s1.refreshToken);
    expect(s2.accessToken).not.toBe(s1.accessToken);
    expect(s2.target).toEqual(s1.target);
    expect(s2.lineage).toBe(s1.lineage);
    await careLinkDriver.loops[0].fetch(fetchCtx(c, s2));

    // The credential refresh token was rotated away by the first exchange: a lost session store means `login` again.
    const stale = await failure(careLinkDriver.session.authenticate(ctx(vendor)));
    expect(stale).toBeInstanceOf(SourceAuthRejectedError);
    expect(stale.kind).toBe('authRejected');
    expect(stale.code).toBe('CARELINK.LOGIN_REQUIRED');

    // Reusing a rotated token is what a stale copy looks like to Auth0: the whole chain is revoked.
    const reused = await failure(careLinkDriver.session.refresh!(ctx(vendor), s1));
    expect(reused.code).toBe('CARELINK.LOGIN_REQUIRED');
    expect((await failure(careLinkDriver.session.refresh!(ctx(vendor), s2))).code).toBe('CARELINK.LOGIN_REQUIRED');
  });

  it('prefers a new login in the credentials over the session chain it replaces', async () => {
    const { vendor, session: old } = await session('pump.user');
    sim.revokeRefreshTokens('pump.user');
    // Dead chain, and the credentials still hold its origin: auth rejected → the source parks.
    const dead = await failure(careLinkDriver.session.refresh!(ctx(vendor), old));
    expect(dead.kind).toBe('authRejected');
    expect(dead.code).toBe('CARELINK.LOGIN_REQUIRED');
    const fresh = await login('mum');
    const grant = await careLinkDriver.session.refresh!(ctx(fresh), old);
    expect(grant.session.lineage).not.toBe(old.lineage);
    expect(grant.session.target).toEqual({ mode: 'm2m', role: 'carepartner', patientUsername: 'cgm.user' });
  });

  it('an expired access token is a SessionInvalidError (401); refresh restores access', async () => {
    const { vendor, c, session: s } = await session('cgm.user');
    clock.t += 901_000;
    try {
      const err = await failure(careLinkDriver.loops[0].fetch(fetchCtx(c, s)));
      expect(err).toBeInstanceOf(SessionInvalidError);
      expect(err.code).toBe('CARELINK.SESSION_INVALID');
      const { session: renewed } = await careLinkDriver.session.refresh!({ ...ctx(vendor), now: clock.now() }, s);
      const raw = (await careLinkDriver.loops[0].fetch(fetchCtx(c, renewed))) as { sgs?: unknown };
      expect(Array.isArray(raw.sgs)).toBe(true);
    } finally {
      clock.t -= 901_000;
    }
  });

  it('a refresh token the vendor does not know is an auth rejection (park, run login again)', async () => {
    const vendor = await login('pump.user');
    const err = await failure(careLinkDriver.session.authenticate(ctx({ ...vendor, refreshToken: 'rt_never_issued' })));
    expect(err).toBeInstanceOf(SourceAuthRejectedError);
    expect(err.code).toBe('CARELINK.LOGIN_REQUIRED');
  });
});

describe('CareLink faults', () => {
  it('5xx from the token endpoint is retryable', async () => {
    const vendor = await login('pump.user');
    sim.inject({ route: 'token', status: 503 });
    const err = await failure(careLinkDriver.session.authenticate(ctx(vendor)));
    expect(err).toBeInstanceOf(SourceUnavailableError);
    expect(err.kind).toBe('retryable');
    // The token was not consumed by the failed call.
    await careLinkDriver.session.authenticate(ctx(vendor));
  });

  it('a data endpoint that never answers times out as retryable', async () => {
    const { session: s } = await session('cgm.user');
    sim.inject({ route: 'data', hang: true });
    const c = ctx({ refreshToken: 'unused' }, { httpTimeoutMs: 300 });
    const err = await failure(careLinkDriver.loops[0].fetch(fetchCtx(c, s)));
    expect(err).toBeInstanceOf(SourceUnavailableError);
    expect(err.code).toBe('CARELINK.TIMEOUT');
  });

  it('5xx on data and on discovery are retryable', async () => {
    const { c, session: s } = await session('cgm.user');
    sim.inject({ route: 'data', status: 502 });
    expect((await failure(careLinkDriver.loops[0].fetch(fetchCtx(c, s)))).code).toBe('CARELINK.HTTP_502');
    sim.inject({ route: 'discovery', status: 500 });
    expect((await failure(startCareLinkLogin(settings()))).kind).toBe('retryable');
  });
});

describe('CareLink secrecy', () => {
  // Runs last in this file: every error, log line and printed line above was collected in `output`.
  it('never lets a password, code or token into an error, a log line or printed output', () => {
    const secrets = sim.secrets();
    expect(secrets.length).toBeGreaterThan(20);
    expect(output.length).toBeGreaterThan(20);
    const all = output.join('\n');
    const leaked = secrets.filter((secret) => all.includes(secret));
    expect(leaked).toEqual([]);
  });
});
