/**
 * A LibreLinkUp server on 127.0.0.1 for tests and local runs. One HTTP server stands in for every regional host:
 * region `xx` lives under `${url}/r/xx` (point the driver's CONNECT_LINK_UP_HOSTS at `hostFor(region)`), and the bare
 * `${url}` plays the global host, which only redirects. Time comes from an injected clock.
 *
 * Modelled on observed bodies (peers.md §B.3/B.4): region redirect `{status:0,data:{redirect,region}}`, bad password
 * `{status:2}` with HTTP 200, terms steps `{status:4,data:{step}}` cleared by `POST /auth/continue/<type>`, lockout
 * HTTP 429 `{status:429,data:{code:60,data:{failures,interval,lockout}}}`, app version too old `{status:920}`,
 * 180-day auth tickets, `Account-Id: sha256(user.id)` on data calls, FactoryTimestamp UTC and Timestamp local in
 * `M/D/YYYY h:mm:ss AM/PM`, graphData every 5 min lagging the current (1-minute) reading.
 *
 * Assumptions where nothing is documented (not facts about Abbott):
 * - the redirect is answered before the password is checked (region is looked up by e-mail);
 * - the lockout body reports the seconds remaining; failures are counted per account in a sliding window;
 * - a missing Account-Id answers HTTP 400 RequiredHeaderMissing (as reported), a wrong one HTTP 403;
 * - an old `version` on data calls answers HTTP 403 (the 2025-10 behaviour), on login `{status:920}`;
 * - a dead or foreign-region ticket answers HTTP 401; tickets are bound to the region that issued them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const TICKET_DURATION_MS = 180 * 24 * HOUR;
const GRAPH_WINDOW_MS = 12 * HOUR;
const GRAPH_STEP_MS = 5 * MINUTE;

export interface SimulatedLibrePatient {
  patientId: string;
  firstName: string;
  lastName?: string;
  /** mg/dL at instant t; default a gentle 3-hour wave. */
  glucose?: (t: number) => number;
  /** Zone of the phone, used for the local `Timestamp` field only. Default Europe/London. */
  timeZone?: string;
}

export interface SimulatedLibreAccount {
  email: string;
  password: string;
  userId?: string;
  /** Home region, e.g. 'eu2'. Default 'eu'. */
  region?: string;
  patients?: SimulatedLibrePatient[];
  termsPending?: Array<'tou' | 'pp'>;
}

export type LibreEndpoint = 'login' | 'continue' | 'connections' | 'graph';

interface FaultBase {
  /** How many matching requests the fault applies to; default unlimited until cleared. */
  count?: number;
  /** Apply to this endpoint only; default every endpoint. */
  endpoint?: LibreEndpoint;
}

export type LibreFault =
  | (FaultBase & { kind: 'http5xx'; status?: number; retryAfter?: string })
  /** Holds the socket without answering. */
  | (FaultBase & { kind: 'timeout' })
  /** Cloudflare's rate-limit status. */
  | (FaultBase & { kind: 'http430' })
  /** Plain HTTP 429 without a lockout body (edge rate limit). */
  | (FaultBase & { kind: 'http429'; retryAfter?: string })
  /** Cloudflare-style HTML 403 block page. */
  | (FaultBase & { kind: 'forbidden' })
  /** Drops the presented ticket and answers HTTP 401 (data calls only). */
  | (FaultBase & { kind: 'sessionInvalid' });

export interface LibreLinkUpSimulatorOptions {
  clock: { now(): number };
  accounts: SimulatedLibreAccount[];
  /** Oldest accepted `version` header; default '4.12.0'. */
  minimumVersion?: string;
  lockoutPolicy?: { failures: number; windowSeconds: number; lockoutSeconds: number };
  /** Newest graph point is at least this old; default 15 min. */
  graphLagMs?: number;
  /** Grid of the current reading (Libre 3: every minute); default 60 s. */
  readingIntervalMs?: number;
}

export interface LibreRequestRecord {
  endpoint: LibreEndpoint;
  /** Region prefix the request came in on, or 'global'. */
  region: string;
  version?: string;
  product?: string;
  userAgent?: string;
  hasAccountId: boolean;
  hasBearer: boolean;
}

export interface LibreLinkUpSimulatorStats {
  logins: number;
  loginsByRegion: Record<string, number>;
  failedLogins: number;
  termsAccepted: number;
  connections: number;
  graph: number;
}

export interface SimulatedReading {
  date: number;
  sgv: number;
  /** Only the current reading carries an arrow. */
  trendArrow?: number;
}

export interface LibreLinkUpSimulator {
  /** The global host (answers every login with a redirect). */
  url: string;
  /** Base URL standing in for a region's host, e.g. hostFor('eu2'). */
  hostFor(region: string): string;
  stats: LibreLinkUpSimulatorStats;
  /** Every request, without secrets (no password, no ticket, no Account-Id value). */
  requests: LibreRequestRecord[];
  inject(fault: LibreFault): void;
  clearFaults(): void;
  /** What a `/graph` call at instant t would carry (graph rows + current reading), deduped, oldest first. */
  readingsUpTo(t: number, patientId?: string): SimulatedReading[];
  /**
   * Instants of the current readings (`glucoseMeasurement`) that successful `/graph` answers actually carried, oldest
   * first, once each: the minute readings a follower could ever see (the ones between polls are never served).
   */
  servedCurrent(patientId?: string): number[];
  close(): Promise<void>;
}

interface AccountState {
  account: SimulatedLibreAccount;
  userId: string;
  region: string;
  termsPending: Array<'tou' | 'pp'>;
  failures: number[];
  lockedUntil: number;
}

interface Ticket {
  email: string;
  region: string;
  expiresAt: number;
  /** A step ticket only opens `/auth/continue/<step>`. */
  step?: 'tou' | 'pp';
}

interface ActiveFault {
  fault: LibreFault;
  remaining: number;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** `M/D/YYYY h:mm:ss AM/PM` from calendar fields. */
function formatLibre(year: number, month: number, day: number, hour24: number, minute: number, second: number): string {
  const suffix = hour24 >= 12 ? 'PM' : 'AM';
  const hour12 = hour24 % 12 === 0 ? 12 : hour24 % 12;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${month}/${day}/${year} ${hour12}:${two(minute)}:${two(second)} ${suffix}`;
}

export function formatFactoryTimestamp(ms: number): string {
  const d = new Date(ms);
  return formatLibre(
    d.getUTCFullYear(),
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  );
}

export function formatLocalTimestamp(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return formatLibre(get('year'), get('month'), get('day'), get('hour') % 24, get('minute'), get('second'));
}

function defaultGlucose(index: number): (t: number) => number {
  const phase = index * 1.7;
  return (t) => 125 + 45 * Math.sin((2 * Math.PI * t) / (3 * HOUR) + phase);
}

/** Libre's five arrows from the slope in mg/dL per minute (bands as the app describes them: ±1, ±2). */
function arrowFromSlope(slope: number): number {
  if (slope > 2) return 5;
  if (slope > 1) return 4;
  if (slope >= -1) return 3;
  if (slope >= -2) return 2;
  return 1;
}

function clampSgv(value: number): number {
  return Math.min(500, Math.max(40, Math.round(value)));
}

export async function startLibreLinkUpSimulator(options: LibreLinkUpSimulatorOptions): Promise<LibreLinkUpSimulator> {
  const clock = options.clock;
  const minimumVersion = options.minimumVersion ?? '4.12.0';
  const policy = options.lockoutPolicy ?? { failures: 3, windowSeconds: 60, lockoutSeconds: 300 };
  const graphLagMs = options.graphLagMs ?? 15 * MINUTE;
  const readingIntervalMs = options.readingIntervalMs ?? MINUTE;

  const accounts = new Map<string, AccountState>();
  options.accounts.forEach((account, i) => {
    accounts.set(account.email.trim().toLowerCase(), {
      account,
      userId: account.userId ?? `user-${sha256Hex(account.email).slice(0, 12)}-${i}`,
      region: (account.region ?? 'eu').toLowerCase(),
      termsPending: [...(account.termsPending ?? [])],
      failures: [],
      lockedUntil: 0,
    });
  });
  const patients = new Map<string, { patient: SimulatedLibrePatient; glucose: (t: number) => number }>();
  let patientIndex = 0;
  for (const state of accounts.values()) {
    for (const patient of state.account.patients ?? []) {
      patients.set(patient.patientId, { patient, glucose: patient.glucose ?? defaultGlucose(patientIndex++) });
    }
  }

  const tickets = new Map<string, Ticket>();
  const served = new Map<string, Set<number>>();
  const faults: ActiveFault[] = [];
  const held = new Set<ServerResponse>();
  const stats: LibreLinkUpSimulatorStats = {
    logins: 0,
    loginsByRegion: {},
    failedLogins: 0,
    termsAccepted: 0,
    connections: 0,
    graph: 0,
  };
  const requests: LibreRequestRecord[] = [];

  const issueTicket = (email: string, region: string, step?: 'tou' | 'pp') => {
    const token = randomBytes(24).toString('hex');
    const expiresAt = clock.now() + TICKET_DURATION_MS;
    tickets.set(token, { email, region, expiresAt, ...(step ? { step } : {}) });
    return { token, expires: Math.floor(expiresAt / 1000), duration: TICKET_DURATION_MS };
  };

  const userBody = (state: AccountState) => ({
    id: state.userId,
    firstName: 'Follower',
    lastName: 'Account',
    email: state.account.email,
    country: state.region.toUpperCase(),
    accountType: 'pat',
    dateOfBirth: 0,
    created: 1_600_000_000,
    lastLogin: Math.floor(clock.now() / 1000),
  });

  /** Login success or the next pending terms step. */
  const loginOutcome = (state: AccountState, email: string) => {
    const step = state.termsPending[0];
    if (step) {
      return {
        status: 4,
        data: {
          step: {
            type: step,
            componentName: 'AcceptDocument',
            props: {
              reaccept: true,
              titleKey: step === 'tou' ? 'Common.termsOfUse' : 'Common.privacyPolicy',
              type: step,
            },
          },
          user: { accountType: 'pat', country: state.region.toUpperCase(), policies: {} },
          authTicket: issueTicket(email, state.region, step),
        },
      };
    }
    return {
      status: 0,
      data: {
        user: userBody(state),
        messages: {},
        notifications: {},
        authTicket: issueTicket(email, state.region),
        invitations: null,
      },
    };
  };

  const readingAt = (patientId: string, t: number, withArrow: boolean) => {
    const p = patients.get(patientId)!;
    const sgv = clampSgv(p.glucose(t));
    const reading: SimulatedReading = { date: t, sgv };
    if (withArrow) reading.trendArrow = arrowFromSlope((p.glucose(t) - p.glucose(t - 15 * MINUTE)) / 15);
    return reading;
  };

  const currentReading = (patientId: string, t: number) =>
    readingAt(patientId, Math.floor(t / readingIntervalMs) * readingIntervalMs, true);

  const graphReadings = (patientId: string, t: number): SimulatedReading[] => {
    const newest = Math.floor((t - graphLagMs) / GRAPH_STEP_MS) * GRAPH_STEP_MS;
    const out: SimulatedReading[] = [];
    for (let at = newest - GRAPH_WINDOW_MS + GRAPH_STEP_MS; at <= newest; at += GRAPH_STEP_MS)
      out.push(readingAt(patientId, at, false));
    return out;
  };

  const item = (reading: SimulatedReading, timeZone: string, type: number) => ({
    FactoryTimestamp: formatFactoryTimestamp(reading.date),
    Timestamp: formatLocalTimestamp(reading.date, timeZone),
    type,
    ValueInMgPerDl: reading.sgv,
    ...(reading.trendArrow !== undefined ? { TrendArrow: reading.trendArrow, TrendMessage: null } : {}),
    MeasurementColor: reading.sgv < 70 || reading.sgv > 180 ? 2 : 1,
    GlucoseUnits: 1,
    Value: reading.sgv,
    isHigh: reading.sgv > 250,
    isLow: reading.sgv < 70,
  });

  const connectionBody = (patientId: string) => {
    const { patient } = patients.get(patientId)!;
    const zone = patient.timeZone ?? 'Europe/London';
    const current = item(currentReading(patientId, clock.now()), zone, 1);
    return {
      id: `conn-${patientId}`,
      patientId,
      country: 'GB',
      status: 2,
      firstName: patient.firstName,
      lastName: patient.lastName ?? 'Patient',
      targetLow: 70,
      targetHigh: 180,
      uom: 1,
      sensor: {
        deviceId: '',
        sn: `SIM${patientId.slice(0, 7)}`,
        a: Math.floor((clock.now() - 3 * 24 * HOUR) / 1000),
        w: 60,
        pt: 4,
        s: false,
        lj: false,
      },
      alarmRules: {},
      glucoseMeasurement: current,
      glucoseItem: current,
      glucoseAlarm: null,
      patientDevice: {
        did: `device-${patientId}`,
        dtid: 40068,
        v: '3.5.2',
        ll: 70,
        hl: 240,
        u: 0,
        fixedLowAlarmValues: { mgdl: 60, mmoll: 3.3 },
        alarms: false,
        fixedLowThreshold: 0,
      },
      created: 1_600_000_000,
    };
  };

  const takeFault = (endpoint: LibreEndpoint): LibreFault | undefined => {
    for (let i = 0; i < faults.length; i++) {
      const active = faults[i];
      if (active.fault.endpoint && active.fault.endpoint !== endpoint) continue;
      if (active.fault.kind === 'sessionInvalid' && (endpoint === 'login' || endpoint === 'continue')) continue;
      active.remaining -= 1;
      if (active.remaining <= 0) faults.splice(i, 1);
      return active.fault;
    }
    return undefined;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/html' : 'application/json', ...headers });
    res.end(text);
  };

  /** Answers a fault; true when it did. */
  const applyFault = (res: ServerResponse, fault: LibreFault | undefined, token: string | undefined): boolean => {
    if (!fault) return false;
    switch (fault.kind) {
      case 'http5xx':
        send(
          res,
          fault.status ?? 503,
          '<html><body>Service Unavailable</body></html>',
          fault.retryAfter ? { 'Retry-After': fault.retryAfter } : {},
        );
        return true;
      case 'timeout':
        held.add(res);
        res.on('close', () => held.delete(res));
        return true;
      case 'http430':
        send(
          res,
          430,
          '<html><head><title>Attention Required! | Cloudflare</title></head><body>Rate limited</body></html>',
        );
        return true;
      case 'http429':
        send(
          res,
          429,
          '<html><body>Too Many Requests</body></html>',
          fault.retryAfter ? { 'Retry-After': fault.retryAfter } : {},
        );
        return true;
      case 'forbidden':
        send(
          res,
          403,
          '<html><head><title>Attention Required! | Cloudflare</title></head><body>Sorry, you have been blocked</body></html>',
        );
        return true;
      case 'sessionInvalid':
        if (token) tickets.delete(token);
        send(res, 401, { message: 'InvalidAuthenticationToken' });
        return true;
    }
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const header = (req: IncomingMessage, name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };

  const bearer = (req: IncomingMessage): string | undefined => {
    const m = /^Bearer (.+)$/.exec(header(req, 'authorization') ?? '');
    return m ? m[1] : undefined;
  };

  const handleLogin = async (req: IncomingMessage, res: ServerResponse, region: string) => {
    stats.logins += 1;
    stats.loginsByRegion[region] = (stats.loginsByRegion[region] ?? 0) + 1;
    let body: { email?: unknown; password?: unknown } = {};
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return send(res, 400, { message: 'InvalidRequestBody' });
    }
    if (applyFault(res, takeFault('login'), undefined)) return;
    const version = header(req, 'version');
    if (!version || compareVersions(version, minimumVersion) < 0)
      return send(res, 200, { status: 920, data: { minimumVersion } });
    if (!header(req, 'product')) return send(res, 400, { message: 'RequiredHeaderMissing' });

    const email = typeof body.email === 'string' ? body.email.trim().toLowerCase() : '';
    const state = accounts.get(email);
    if (!state) {
      stats.failedLogins += 1;
      return send(res, 200, { status: 2, error: { message: 'notAuthenticated' } });
    }
    if (region !== state.region) return send(res, 200, { status: 0, data: { redirect: true, region: state.region } });

    const now = clock.now();
    if (now < state.lockedUntil) {
      const lockout = Math.ceil((state.lockedUntil - now) / 1000);
      return send(res, 429, {
        status: 429,
        data: {
          code: 60,
          data: { failures: policy.failures, interval: policy.windowSeconds, lockout },
          message: 'locked',
        },
      });
    }
    if (body.password !== state.account.password) {
      stats.failedLogins += 1;
      state.failures = state.failures.filter((t) => t > now - policy.windowSeconds * 1000);
      state.failures.push(now);
      if (state.failures.length >= policy.failures) {
        state.lockedUntil = now + policy.lockoutSeconds * 1000;
        state.failures = [];
      }
      return send(res, 200, { status: 2, error: { message: 'notAuthenticated' } });
    }
    state.failures = [];
    send(res, 200, loginOutcome(state, email));
  };

  const handleContinue = (req: IncomingMessage, res: ServerResponse, region: string, step: string) => {
    const token = bearer(req);
    if (applyFault(res, takeFault('continue'), token)) return;
    const ticket = token ? tickets.get(token) : undefined;
    if (!ticket || ticket.region !== region || ticket.expiresAt <= clock.now() || ticket.step === undefined)
      return send(res, 401, { message: 'InvalidAuthenticationToken' });
    if (ticket.step !== step) return send(res, 400, { message: 'InvalidStep' });
    const state = accounts.get(ticket.email)!;
    tickets.delete(token!);
    state.termsPending = state.termsPending.filter((s) => s !== step);
    stats.termsAccepted += 1;
    send(res, 200, loginOutcome(state, ticket.email));
  };

  /** Checks shared by the data calls; returns the account or answers the refusal. */
  const authorizeData = (
    req: IncomingMessage,
    res: ServerResponse,
    region: string,
    endpoint: LibreEndpoint,
  ): AccountState | undefined => {
    const token = bearer(req);
    if (applyFault(res, takeFault(endpoint), token)) return undefined;
    const version = header(req, 'version');
    if (!version || compareVersions(version, minimumVersion) < 0 || !header(req, 'product')) {
      send(res, 403, '<html><body>Forbidden</body></html>');
      return undefined;
    }
    const ticket = token ? tickets.get(token) : undefined;
    if (!ticket || ticket.step !== undefined || ticket.region !== region || ticket.expiresAt <= clock.now()) {
      send(res, 401, { message: 'InvalidAuthenticationToken' });
      return undefined;
    }
    const state = accounts.get(ticket.email)!;
    const accountId = header(req, 'account-id');
    if (!accountId) {
      send(res, 400, { message: 'RequiredHeaderMissing' });
      return undefined;
    }
    if (accountId !== sha256Hex(state.userId)) {
      send(res, 403, { message: 'Forbidden' });
      return undefined;
    }
    return state;
  };

  const ticketBody = (req: IncomingMessage) => {
    const ticket = tickets.get(bearer(req)!)!;
    return { token: bearer(req), expires: Math.floor(ticket.expiresAt / 1000), duration: TICKET_DURATION_MS };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const m = /^(?:\/r\/([a-z0-9]+))?(\/.*)$/.exec(path);
    const region = m?.[1] ?? 'global';
    const rest = m?.[2] ?? path;
    const endpoint: LibreEndpoint | undefined =
      rest === '/llu/auth/login'
        ? 'login'
        : /^(?:\/llu)?\/auth\/continue\/[a-z]+$/.test(rest)
          ? 'continue'
          : rest === '/llu/connections'
            ? 'connections'
            : /^\/llu\/connections\/[^/]+\/graph$/.test(rest)
              ? 'graph'
              : undefined;
    if (endpoint) {
      requests.push({
        endpoint,
        region,
        version: header(req, 'version'),
        product: header(req, 'product'),
        userAgent: header(req, 'user-agent'),
        hasAccountId: header(req, 'account-id') !== undefined,
        hasBearer: bearer(req) !== undefined,
      });
    }
    if (endpoint === 'login' && req.method === 'POST') return handleLogin(req, res, region);
    if (endpoint === 'continue' && req.method === 'POST')
      return handleContinue(req, res, region, rest.split('/').pop()!);
    if (endpoint === 'connections' && req.method === 'GET') {
      stats.connections += 1;
      const state = authorizeData(req, res, region, 'connections');
      if (!state) return;
      return send(res, 200, {
        status: 0,
        data: (state.account.patients ?? []).map((p) => connectionBody(p.patientId)),
        ticket: ticketBody(req),
      });
    }
    if (endpoint === 'graph' && req.method === 'GET') {
      stats.graph += 1;
      const state = authorizeData(req, res, region, 'graph');
      if (!state) return;
      const patientId = decodeURIComponent(rest.split('/')[3]);
      if (!(state.account.patients ?? []).some((p) => p.patientId === patientId))
        return send(res, 404, { message: 'NotFound' });
      const zone = patients.get(patientId)!.patient.timeZone ?? 'Europe/London';
      const seen = served.get(patientId) ?? new Set<number>();
      seen.add(currentReading(patientId, clock.now()).date);
      served.set(patientId, seen);
      return send(res, 200, {
        status: 0,
        data: {
          connection: connectionBody(patientId),
          activeSensors: [
            {
              sensor: {
                sn: `SIM${patientId.slice(0, 7)}`,
                a: Math.floor((clock.now() - 3 * 24 * HOUR) / 1000),
                w: 60,
                pt: 4,
              },
              device: { did: `device-${patientId}`, v: '3.5.2' },
            },
          ],
          graphData: graphReadings(patientId, clock.now()).map((r) => item(r, zone, 0)),
        },
        ticket: ticketBody(req),
      });
    }
    send(res, 404, { message: 'NotFound' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { message: 'SimulatorError' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    hostFor: (region) => `${url}/r/${region.toLowerCase()}`,
    stats,
    requests,
    inject(fault) {
      faults.push({ fault, remaining: fault.count ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults.length = 0;
    },
    readingsUpTo(t, patientId) {
      const id = patientId ?? [...patients.keys()][0];
      if (!id || !patients.has(id)) return [];
      const byDate = new Map<number, SimulatedReading>();
      for (const r of graphReadings(id, t)) byDate.set(r.date, r);
      const current = currentReading(id, t);
      byDate.set(current.date, current);
      return [...byDate.values()].sort((a, b) => a.date - b.date);
    },
    servedCurrent(patientId) {
      const id = patientId ?? [...patients.keys()][0];
      return [...(served.get(id) ?? [])].sort((a, b) => a - b);
    },
    async close() {
      for (const res of held) res.destroy();
      held.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
