/**
 * A local stand-in for Medtronic CareLink's CarePartner cloud, on 127.0.0.1 (port 0), for tests and local runs.
 * It serves the discovery document and SSO configuration, an Auth0-like authorize page (a plain HTML form a test can
 * "play browser" against), a token endpoint with PKCE verification and rotating refresh tokens (reusing a rotated
 * token is invalid_grant and revokes the whole chain, as Auth0 reuse detection does), short-lived JWT-shaped access
 * tokens (401 after expiry), the /patient API (users/me, profile, links, M2M flag, monitor, country settings), M2M and
 * BLE data endpoints with realistic payloads computed from the injected clock, and injectable faults (5xx, hangs).
 * Payload times follow CareLink's quirk: local pump wall-clock times written with a bogus `Z`, the real offset only on
 * `lastConduitDateTime`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../../lib/ports/observability.port.js';

export type CareLinkSimFamily = 'GUARDIAN' | 'NGP';

export interface CareLinkSimPatient {
  username: string;
  deviceFamily?: CareLinkSimFamily;
  /** `±HH:MM`; default +00:00. */
  timezoneOffset?: string;
}

export interface CareLinkSimAccount {
  username: string;
  password: string;
  role: 'patient' | 'carepartner';
  /** Care partners: the people they follow (matched with patient accounts of the same username when present). */
  patients?: CareLinkSimPatient[];
  deviceFamily?: CareLinkSimFamily;
  timezoneOffset?: string;
  /** Care partners: what `personal.cp.m2m.enabled` answers (default true). */
  m2mEnabled?: boolean;
}

export type CareLinkSimRoute = 'discovery' | 'sso' | 'authorize' | 'token' | 'api' | 'data' | 'any';

export interface CareLinkSimFault {
  route: CareLinkSimRoute;
  /** Answer with this status (JSON error body)… */
  status?: number;
  /** …or never answer (until close), to exercise client timeouts. */
  hang?: boolean;
  /** How many matching requests it affects (default 1)… */
  times?: number;
  /** …or every matching request while the clock is before this instant (an outage); `times` is then ignored. */
  until?: number;
}

export interface CareLinkSimulatorOptions {
  clock: Clock;
  accounts: CareLinkSimAccount[];
  /** Access token lifetime (default 900 s, in the range Auth0 tenants commonly use for mobile apps). */
  accessTokenLifetimeS?: number;
}

export interface CareLinkSimRequest {
  method: string;
  path: string;
  route: CareLinkSimRoute;
  status: number;
}

export interface CareLinkSimulator {
  /** Origin, e.g. http://127.0.0.1:43210 — use as CONNECT_CARELINK_SERVER. */
  url: string;
  /** Use as CONNECT_CARELINK_DISCOVERY_URL. */
  discoveryUrl: string;
  clientId: string;
  redirectUri: string;
  /** Requests seen (path without query), oldest first. */
  requests: CareLinkSimRequest[];
  inject(fault: CareLinkSimFault): void;
  /** Every password, code, access and refresh token the simulator knows: for "no secret leaked" assertions. */
  secrets(): string[];
  /** Kill every refresh token of an account (as a password change or "log out everywhere" would). */
  revokeRefreshTokens(username: string): void;
  close(): Promise<void>;
}

const CLIENT_ID = 'sim-carepartner-android';
const REDIRECT_URI = 'com.medtronic.carepartner:/sso';
const SCOPE = 'openid profile offline_access';
const AUDIENCE = 'https://carelink.sim/api';
const PREFIX = 'auth';
const FIVE_MIN = 5 * 60_000;
const HOUR = 60 * 60_000;

interface CodeRecord {
  username: string;
  challenge: string;
  redirectUri: string;
  expiresAt: number;
  used: boolean;
}
interface RefreshRecord {
  username: string;
  family: string;
  active: boolean;
}

function parseOffset(text: string | undefined): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(text ?? '+00:00');
  if (!m) throw new Error(`simulator: bad timezoneOffset ${text}`);
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

/** Local wall-clock time with CareLink's misleading `Z`. */
function bogusZ(utcMs: number, offsetMs: number): string {
  return new Date(utcMs + offsetMs).toISOString();
}

function withOffset(utcMs: number, offsetText: string): string {
  return new Date(utcMs + parseOffset(offsetText)).toISOString().replace('Z', offsetText);
}

function glucoseAt(t: number): number {
  // A smooth daily-ish curve between ~70 and ~190 mg/dL; deterministic for a given instant.
  return Math.round(130 + 55 * Math.sin(t / (3 * HOUR)) + 8 * Math.sin(t / (37 * 60_000)));
}

function trendAt(t: number): string {
  const delta = glucoseAt(t) - glucoseAt(t - 15 * 60_000);
  if (delta >= 45) return 'UP_TRIPLE';
  if (delta >= 30) return 'UP_DOUBLE';
  if (delta >= 15) return 'UP';
  if (delta <= -45) return 'DOWN_TRIPLE';
  if (delta <= -30) return 'DOWN_DOUBLE';
  if (delta <= -15) return 'DOWN';
  return 'NONE';
}

/**
 * The simulated sensor dropout: the 06:00 and 06:05 UTC slots of every day read sg 0. It is fixed in real time (a
 * dropout relative to `now` would show one reading as 0 in one poll and valid in the next, which no CGM does), and
 * every 24 h payload (288 slots) holds exactly one such pair.
 */
export function careLinkSimDropout(t: number): boolean {
  const slot = ((Math.floor(t / FIVE_MIN) % 288) + 288) % 288;
  return slot === 72 || slot === 73;
}

/** A `last24hours` payload for one person at `now`. Exported for fixture generation and direct parser tests. */
export function careLinkSimPayload(patient: CareLinkSimPatient, now: number): Record<string, unknown> {
  const family = patient.deviceFamily ?? 'NGP';
  const offsetText = patient.timezoneOffset ?? '+00:00';
  const offset = parseOffset(offsetText);
  // The newest reading is the last 5-minute slot at least a minute old (publish lag).
  const newest = Math.floor((now - 60_000) / FIVE_MIN) * FIVE_MIN;
  const sgs = [];
  for (let t = newest - 24 * HOUR + FIVE_MIN; t <= newest; t += FIVE_MIN) {
    // A two-reading sensor dropout, as CareLink reports it: sg 0.
    const gap = careLinkSimDropout(t);
    sgs.push({
      sg: gap ? 0 : glucoseAt(t),
      datetime: bogusZ(t, offset),
      kind: 'SG',
      version: 1,
      sensorState: gap ? 'SG_BELOW_40_MGDL' : 'NO_ERROR_MESSAGE',
      timeChange: false,
    });
  }
  const at = (t: number) => bogusZ(t, offset);
  const markers: Array<Record<string, unknown>> = [
    {
      type: 'CALIBRATION',
      index: 210,
      kind: 'MARKER',
      version: 1,
      dateTime: at(newest - 3 * HOUR),
      value: 132,
      bgUnits: 'MG_DL',
    },
  ];
  if (family !== 'GUARDIAN') {
    markers.push(
      { type: 'MEAL', index: 220, kind: 'MARKER', version: 1, dateTime: at(newest - 2 * HOUR), amount: 45 },
      {
        type: 'INSULIN',
        index: 220,
        kind: 'MARKER',
        version: 1,
        dateTime: at(newest - 2 * HOUR),
        activationType: 'RECOMMENDED',
        bolusType: 'FAST',
        programmedFastAmount: 4.5,
        deliveredFastAmount: 4.5,
        programmedExtendedAmount: 0,
        deliveredExtendedAmount: 0,
        programmedDuration: 0,
        effectiveDuration: 0,
        completed: true,
      },
      {
        type: 'INSULIN',
        index: 231,
        kind: 'MARKER',
        version: 1,
        dateTime: at(newest - HOUR),
        activationType: 'AUTOCORRECTION',
        bolusType: 'FAST',
        programmedFastAmount: 0.8,
        deliveredFastAmount: 0.8,
        completed: true,
      },
      {
        type: 'AUTO_BASAL_DELIVERY',
        index: 232,
        kind: 'MARKER',
        version: 1,
        dateTime: at(newest - 30 * 60_000),
        bolusAmount: 0.05,
      },
    );
  }
  const newestSg = glucoseAt(newest);
  return {
    lastSensorTS: newest,
    medicalDeviceTimeAsString: at(newest + 30_000),
    lastSensorTSAsString: at(newest),
    kind: 'Main',
    version: 1,
    pumpModelNumber: family === 'GUARDIAN' ? 'CSS7200' : 'MMT-1886',
    currentServerTime: now,
    lastConduitTime: newest + 30_000,
    lastConduitUpdateServerTime: newest + 45_000,
    lastConduitDateTime: withOffset(newest + 30_000, offsetText),
    lastMedicalDeviceDataUpdateServerTime: newest + 45_000,
    sMedicalDeviceTime: at(newest + 30_000),
    firstName: 'Sim',
    lastName: patient.username,
    conduitSerialNumber: 'SIM-PHONE',
    conduitBatteryLevel: 88,
    conduitBatteryStatus: 'FULL',
    conduitInRange: true,
    conduitMedicalDeviceInRange: true,
    conduitSensorInRange: true,
    medicalDeviceFamily: family,
    sensorState: 'NO_ERROR_MESSAGE',
    medicalDeviceSerialNumber: 'SIM123456',
    medicalDeviceTime: newest + 30_000,
    reservoirLevelPercent: 50,
    reservoirAmount: 150,
    reservoirRemainingUnits: family === 'GUARDIAN' ? undefined : 112.5,
    medicalDeviceBatteryLevelPercent: 75,
    sensorDurationHours: 101,
    timeToNextCalibHours: 6,
    calibStatus: 'LESS_THAN_TWELVE_HRS',
    bgUnits: 'MGDL',
    timeFormat: 'HR_24',
    lastSG: { sg: newestSg, datetime: at(newest), kind: 'SG', version: 1, sensorState: 'NO_ERROR_MESSAGE' },
    lastSGTrend: trendAt(newest),
    limits: [{ index: 0, lowLimit: 70, highLimit: 180, kind: 'Limits', version: 1 }],
    belowHypoLimit: 0,
    aboveHyperLimit: 0,
    timeInRange: 80,
    averageSG: 130,
    activeInsulin:
      family === 'GUARDIAN'
        ? undefined
        : { code: 0, datetime: at(newest + 30_000), version: 1, amount: 1.35, precision: 'MAX', kind: 'Insulin' },
    sgs,
    markers,
    notificationHistory: { clearedNotifications: [], activeNotifications: [] },
  };
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><body>${body}</body></html>`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function routeOf(path: string): CareLinkSimRoute {
  if (path.startsWith('/connect/carepartner/v13/discover/')) return 'discovery';
  if (path.startsWith('/configs/')) return 'sso';
  if (path === `/${PREFIX}/oauth/token`) return 'token';
  if (path.startsWith(`/${PREFIX}/`)) return 'authorize';
  if (path.startsWith('/patient/m2m/connect/data/') || path === '/connect/carepartner/v13/display/message')
    return 'data';
  return 'api';
}

export async function startCareLinkSimulator(options: CareLinkSimulatorOptions): Promise<CareLinkSimulator> {
  const { clock, accounts } = options;
  const lifetimeS = options.accessTokenLifetimeS ?? 900;
  const faults: Array<Required<Pick<CareLinkSimFault, 'route' | 'times'>> & CareLinkSimFault> = [];
  const requests: CareLinkSimRequest[] = [];
  const transactions = new Map<string, { state: string; challenge: string; redirectUri: string }>();
  const codes = new Map<string, CodeRecord>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const revokedFamilies = new Set<string>();
  const accessTokens = new Map<string, { username: string; expiresAt: number }>();
  let base = '';

  const account = (username: string) => accounts.find((a) => a.username === username);
  const patientOf = (entry: CareLinkSimPatient): CareLinkSimPatient => {
    const own = account(entry.username);
    return own && own.role === 'patient'
      ? { username: own.username, deviceFamily: own.deviceFamily, timezoneOffset: own.timezoneOffset }
      : entry;
  };
  const linked = (carepartner: CareLinkSimAccount, username: string) =>
    (carepartner.patients ?? []).find((p) => p.username === username);

  function issueTokens(username: string, family: string): Record<string, unknown> {
    const now = clock.now();
    const access = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ sub: username, aud: AUDIENCE, iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + lifetimeS })}.${randomBytes(24).toString('base64url')}`;
    const refresh = `rt_${randomBytes(24).toString('base64url')}`;
    accessTokens.set(access, { username, expiresAt: now + lifetimeS * 1000 });
    refreshTokens.set(refresh, { username, family, active: true });
    return {
      access_token: access,
      refresh_token: refresh,
      id_token: `${b64url({ alg: 'none' })}.${b64url({ sub: username })}.`,
      token_type: 'Bearer',
      expires_in: lifetimeS,
      scope: SCOPE,
    };
  }

  function bearer(req: IncomingMessage): CareLinkSimAccount | undefined {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const record = accessTokens.get(token);
    if (!record || record.expiresAt <= clock.now()) return undefined;
    return account(record.username);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    const method = req.method ?? 'GET';

    if (method === 'GET' && path === '/connect/carepartner/v13/discover/android/3.6') {
      const region = (name: string) => ({
        region: name,
        UseSSOConfiguration: 'Auth0SSOConfiguration',
        SSOConfiguration: `${base}/configs/v1/carepartner_layer7_${name.toLowerCase()}_sso_config_v1.json`,
        Auth0SSOConfiguration: `${base}/configs/v1/carepartner_auth0_${name.toLowerCase()}_sso_config_v1.json`,
        baseUrlCareLink: `${base}/api/carepartner/v2`,
        baseUrlCumulus: `${base}/connect/carepartner/v13`,
      });
      return json(res, 200, {
        supportedCountries: [{ US: { region: 'US' } }, { GB: { region: 'EU' } }],
        CP: [region('US'), region('EU')],
      });
    }
    if (method === 'GET' && /^\/configs\/v1\/carepartner_auth0_(us|eu)_sso_config_v1\.json$/.test(path)) {
      const { hostname, port } = new URL(base);
      return json(res, 200, {
        server: { hostname, port: Number(port), prefix: PREFIX },
        client: { client_id: CLIENT_ID, scope: SCOPE, audience: AUDIENCE, redirect_uri: REDIRECT_URI },
        system_endpoints: { authorization_endpoint_path: '/authorize', token_endpoint_path: '/oauth/token' },
      });
    }

    if (method === 'GET' && path === `/${PREFIX}/authorize`) {
      const q = url.searchParams;
      if (
        q.get('client_id') !== CLIENT_ID ||
        q.get('redirect_uri') !== REDIRECT_URI ||
        q.get('response_type') !== 'code' ||
        q.get('code_challenge_method') !== 'S256' ||
        !q.get('code_challenge') ||
        !q.get('state')
      ) {
        return html(res, 400, '<h1>Invalid authorization request</h1>');
      }
      const tx = randomBytes(12).toString('base64url');
      transactions.set(tx, { state: q.get('state')!, challenge: q.get('code_challenge')!, redirectUri: REDIRECT_URI });
      return html(
        res,
        200,
        `<h1>CareLink (simulated) log in</h1>
<form method="POST" action="/${PREFIX}/u/login?tx=${tx}">
<input type="hidden" name="tx" value="${tx}">
<input name="username" autocomplete="username"><input type="password" name="password"><button type="submit">Log in</button>
</form>`,
      );
    }
    if (method === 'POST' && path === `/${PREFIX}/u/login`) {
      const form = new URLSearchParams(await readBody(req));
      const tx = transactions.get(form.get('tx') ?? '');
      if (!tx) return html(res, 400, '<h1>Login session expired</h1>');
      const who = account(form.get('username') ?? '');
      if (!who || who.password !== form.get('password'))
        return html(res, 200, '<p class="error">Wrong username or password</p>');
      transactions.delete(form.get('tx')!);
      const code = `code_${randomBytes(18).toString('base64url')}`;
      codes.set(code, {
        username: who.username,
        challenge: tx.challenge,
        redirectUri: tx.redirectUri,
        expiresAt: clock.now() + 5 * 60_000,
        used: false,
      });
      res.writeHead(302, {
        Location: `${tx.redirectUri}?code=${encodeURIComponent(code)}&state=${encodeURIComponent(tx.state)}`,
      });
      return void res.end();
    }
    if (method === 'POST' && path === `/${PREFIX}/oauth/token`) {
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
        return json(res, 415, { error: 'invalid_request' });
      const form = new URLSearchParams(await readBody(req));
      if (form.get('client_id') !== CLIENT_ID)
        return json(res, 401, { error: 'invalid_client', error_description: 'Unknown client.' });
      const grant = form.get('grant_type');
      if (grant === 'authorization_code') {
        const record = codes.get(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (
          !record ||
          record.used ||
          record.expiresAt <= clock.now() ||
          record.redirectUri !== form.get('redirect_uri') ||
          challenge !== record.challenge
        ) {
          if (record) record.used = true;
          return json(res, 403, { error: 'invalid_grant', error_description: 'Invalid authorization code' });
        }
        record.used = true;
        return json(res, 200, issueTokens(record.username, randomBytes(8).toString('hex')));
      }
      if (grant === 'refresh_token') {
        const record = refreshTokens.get(form.get('refresh_token') ?? '');
        if (!record || revokedFamilies.has(record.family))
          return json(res, 403, { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' });
        if (!record.active) {
          // Reuse of a rotated token: someone holds a stale copy. Revoke the whole chain.
          revokedFamilies.add(record.family);
          return json(res, 403, { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' });
        }
        record.active = false;
        return json(res, 200, issueTokens(record.username, record.family));
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }

    // Everything below needs a live access token.
    const user = bearer(req);
    if (!user) return json(res, 401, { error: 'unauthorized' });

    if (method === 'GET' && path === '/patient/users/me') {
      return json(res, 200, {
        loginDateUTC: new Date(clock.now()).toISOString(),
        id: `sim-${user.username}`,
        country: 'GB',
        language: 'EN',
        lastName: user.username,
        firstName: 'Sim',
        accountId: 1,
        role: user.role === 'patient' ? 'PATIENT_OUS' : 'CARE_PARTNER_OUS',
        cpRegistrationStatus: null,
        accountSuspended: null,
        needToReconsent: false,
        mfaRequired: false,
        mfaEnabled: false,
      });
    }
    if (method === 'GET' && path === '/patient/users/me/profile')
      return json(res, 200, { username: user.username, firstName: 'Sim', lastName: user.username });
    if (method === 'GET' && path === '/patient/m2m/links/patients') {
      if (user.role !== 'carepartner') return json(res, 403, { error: 'forbidden' });
      return json(
        res,
        200,
        (user.patients ?? []).map((p) => ({
          patientId: `id-${p.username}`,
          username: p.username,
          firstName: 'Sim',
          lastName: p.username,
          status: 'ACTIVE',
        })),
      );
    }
    if (method === 'GET' && path === '/patient/configuration/system/personal.cp.m2m.enabled')
      return json(res, 200, { value: user.role === 'carepartner' ? user.m2mEnabled !== false : false });
    if (method === 'GET' && path === '/patient/monitor/data')
      return json(res, 200, { deviceFamily: user.role === 'patient' ? (user.deviceFamily ?? 'NGP') : null });
    if (method === 'GET' && path === '/patient/countries/settings') {
      if (!/^[a-z]{2}$/i.test(url.searchParams.get('countryCode') ?? ''))
        return json(res, 400, { error: 'countryCode required' });
      return json(res, 200, {
        name: 'Simland',
        languages: [{ key: 'en', name: 'English' }],
        blePereodicDataEndpoint: `${base}/connect/carepartner/v13/display/message`,
        mfa: { status: 'OPTIONAL' },
      });
    }
    const m2m = /^\/patient\/m2m\/connect\/data\/gc\/patients\/([^/]+)$/.exec(path);
    if (method === 'GET' && m2m) {
      const wanted = decodeURIComponent(m2m[1]);
      const q = url.searchParams;
      if (
        q.get('msgType') !== 'last24hours' ||
        q.get('cpSerialNumber') !== 'NONE' ||
        !/^\d+$/.test(q.get('requestTime') ?? '')
      )
        return json(res, 400, { error: 'bad query' });
      const entry =
        user.role === 'patient'
          ? user.username === wanted
            ? { username: user.username, deviceFamily: user.deviceFamily, timezoneOffset: user.timezoneOffset }
            : undefined
          : linked(user, wanted);
      if (!entry || (user.role === 'carepartner' && user.m2mEnabled === false))
        return json(res, 403, { error: 'forbidden' });
      return json(res, 200, careLinkSimPayload(patientOf(entry), clock.now()));
    }
    if (method === 'POST' && path === '/connect/carepartner/v13/display/message') {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      } catch {
        return json(res, 400, { error: 'bad json' });
      }
      if (body.username !== user.username) return json(res, 403, { error: 'forbidden' });
      let entry: CareLinkSimPatient | undefined;
      if (body.role === 'patient' && user.role === 'patient')
        entry = { username: user.username, deviceFamily: user.deviceFamily, timezoneOffset: user.timezoneOffset };
      else if (body.role === 'carepartner' && user.role === 'carepartner' && typeof body.patientId === 'string')
        entry = linked(user, body.patientId);
      if (!entry) return json(res, 400, { error: 'bad role or patient' });
      return json(res, 200, {
        metadata: { lastUpdated: clock.now() },
        patientData: careLinkSimPayload(patientOf(entry), clock.now()),
      });
    }
    return json(res, 404, { error: 'not found' });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const route = routeOf(url.pathname);
    const logged: CareLinkSimRequest = { method: req.method ?? 'GET', path: url.pathname, route, status: 0 };
    requests.push(logged);
    res.on('finish', () => {
      logged.status = res.statusCode;
    });
    const fault = faults.find(
      (f) => (f.route === 'any' || f.route === route) && (f.until !== undefined ? clock.now() < f.until : f.times > 0),
    );
    if (fault) {
      if (fault.until === undefined) fault.times -= 1;
      if (fault.hang) return; // socket stays open until close()
      return json(res, fault.status ?? 503, { error: 'simulated fault' });
    }
    handle(req, res, url).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'simulator error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    discoveryUrl: `${base}/connect/carepartner/v13/discover/android/3.6`,
    clientId: CLIENT_ID,
    redirectUri: REDIRECT_URI,
    requests,
    inject(fault) {
      faults.push({ ...fault, times: fault.times ?? 1 });
    },
    secrets() {
      return [...accounts.map((a) => a.password), ...codes.keys(), ...accessTokens.keys(), ...refreshTokens.keys()];
    },
    revokeRefreshTokens(username) {
      for (const record of refreshTokens.values()) if (record.username === username) revokedFamilies.add(record.family);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
