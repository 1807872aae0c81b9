/**
 * A Dexcom Share server on 127.0.0.1 for tests and local runs: the three publisher endpoints, real JSON bodies
 * (bare GUID strings, `{Code, Message}` errors with HTTP 500), readings every 5 minutes that appear only after a
 * publish lag, 24 h sessions, and an account lockout after repeated bad logins. Time comes from an injected clock so
 * tests control it. Faults can be injected to exercise every failure path of the driver.
 *
 * Assumptions where Dexcom documents nothing (marked so they are not mistaken for facts):
 * - the server rejects minutes > 1440 or maxCount > 288 with InvalidArgument (other clients only enforce it locally);
 * - lockout after 5 consecutive bad logins, for 1 hour;
 * - an unknown account id at LoginPublisherAccountById answers SSO_InternalError;
 * - an unknown applicationId answers InvalidArgument.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const MINUTE = 60_000;
const FIVE_MINUTES = 5 * MINUTE;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const SHARE_APPLICATION_IDS = ['d89443d2-327c-4a6f-89e5-496bbb0317db', 'd8665ade-9673-4e27-9ff6-92db4ce13d13'];
export const ZERO_SESSION = '00000000-0000-0000-0000-000000000000';

export type ShareEndpoint = 'authenticate' | 'login' | 'read';

export interface SimulatedShareAccount {
  accountName: string;
  password: string;
  /** Default: a deterministic GUID derived from the account name. */
  accountId?: string;
  /** mg/dL at instant t. Default: 120 + 40·sin, phase-shifted per account. */
  glucose?: (t: number) => number;
  /** Answer LoginPublisherAccountById with the all-zero GUID (the old special-character bug). */
  zeroSession?: boolean;
}

interface FaultBase {
  /** How many requests the fault answers; default 1, or unlimited while `until` is set. */
  count?: number;
  /** Apply to this endpoint only; default: the endpoints the fault makes sense for. */
  endpoint?: ShareEndpoint;
}

export type ShareFault =
  | (FaultBase & { kind: 'http5xx'; status?: number; until?: number; retryAfter?: string })
  /** Holds the socket without answering. */
  | (FaultBase & { kind: 'timeout' })
  /** Drops the presented session and answers SessionIdNotFound (read only). */
  | (FaultBase & { kind: 'sessionInvalid' })
  /** Answers 200 with an HTML page instead of JSON. */
  | (FaultBase & { kind: 'malformed'; body?: string })
  /** Answers a specific Share error code. */
  | (FaultBase & { kind: 'code'; code: string; status?: number });

export interface DexcomShareSimulatorOptions {
  clock: { now(): number };
  accounts: SimulatedShareAccount[];
  /** First reading instant; default clock.now() − 24 h rounded down to 5 minutes. */
  readingEpoch?: number;
  /** Delay between a reading's time and its appearance; default a deterministic 3–9 s per reading. */
  publishLagMs?: (readingAt: number) => number;
  /** Consecutive bad logins before lockout; default 5. */
  lockoutAfter?: number;
  lockoutMs?: number;
  sessionTtlMs?: number;
  /** Numeric Trend codes (pre-2021 Share) instead of names. */
  numericTrends?: boolean;
  /** Answer AuthenticatePublisherAccount with `{accountId}` instead of a bare string. */
  accountIdAsObject?: boolean;
  /** `slashed`: "/Date(ms)/" (default); `bare`: "Date(ms)" as newer payloads do. */
  dateStyle?: 'slashed' | 'bare';
  /** Application ids accepted; default the US/OUS and JP ids. */
  applicationIds?: string[];
  host?: '127.0.0.1';
  port?: number;
}

export interface ShareRequestRecord {
  endpoint: ShareEndpoint;
  applicationId?: string;
  minutes?: number;
  maxCount?: number;
  userAgent?: string;
  contentType?: string;
}

export interface DexcomShareSimulatorStats {
  authenticate: number;
  login: number;
  read: number;
  failedLogins: number;
  readingsServed: Set<number>;
}

export interface DexcomShareSimulator {
  url: string;
  stats: DexcomShareSimulatorStats;
  /** Every request, without secrets (no password, no session id). */
  requests: ShareRequestRecord[];
  inject(fault: ShareFault): void;
  clearFaults(): void;
  /** All readings dated ≤ t (publish lag ignored), oldest first. */
  readingsUpTo(t: number, accountName?: string): Array<{ date: number; sgv: number }>;
  /** Forget every live session (as a Share-side logout would). */
  expireSessions(): void;
  close(): Promise<void>;
}

interface AccountState {
  account: SimulatedShareAccount;
  accountId: string;
  glucose: (t: number) => number;
  consecutiveFailures: number;
  lockedUntil: number;
}

interface ActiveFault {
  fault: ShareFault;
  remaining: number;
}

const TREND_NAMES = [
  'None',
  'DoubleUp',
  'SingleUp',
  'FortyFiveUp',
  'Flat',
  'FortyFiveDown',
  'SingleDown',
  'DoubleDown',
  'NotComputable',
  'RateOutOfRange',
];

function hash32(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0);
}

function guidFromName(name: string): string {
  const hex = createHash('sha1').update(`account:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function defaultGlucose(index: number): (t: number) => number {
  const phase = index * 1.3;
  // A 3-hour period keeps the slope within ±1.4 mg/dL/min: realistic Flat/45° arrows.
  return (t) => 120 + 40 * Math.sin((2 * Math.PI * t) / (3 * HOUR) + phase);
}

/** Dexcom's arrow bands in mg/dL per minute. */
function trendFromSlope(slope: number): number {
  if (!Number.isFinite(slope)) return 8;
  if (slope >= 3) return 1;
  if (slope >= 2) return 2;
  if (slope >= 1) return 3;
  if (slope > -1) return 4;
  if (slope > -2) return 5;
  if (slope > -3) return 6;
  return 7;
}

function clampSgv(value: number): number {
  return Math.min(400, Math.max(40, Math.round(value)));
}

export async function startDexcomShareSimulator(options: DexcomShareSimulatorOptions): Promise<DexcomShareSimulator> {
  const clock = options.clock;
  const readingEpoch = options.readingEpoch ?? Math.floor((clock.now() - DAY) / FIVE_MINUTES) * FIVE_MINUTES;
  const publishLag = options.publishLagMs ?? ((t: number) => 3_000 + (hash32(`lag:${t}`) % 6_001));
  const lockoutAfter = options.lockoutAfter ?? 5;
  const lockoutMs = options.lockoutMs ?? HOUR;
  const sessionTtlMs = options.sessionTtlMs ?? DAY;
  const applicationIds = new Set(options.applicationIds ?? SHARE_APPLICATION_IDS);
  const formatDate = (ms: number, offset = '') =>
    options.dateStyle === 'bare' ? `Date(${ms}${offset})` : `/Date(${ms}${offset})/`;

  const accounts: AccountState[] = options.accounts.map((account, index) => ({
    account,
    accountId: account.accountId ?? guidFromName(account.accountName),
    glucose: account.glucose ?? defaultGlucose(index),
    consecutiveFailures: 0,
    lockedUntil: 0,
  }));
  const sessions = new Map<string, { state: AccountState; expiresAt: number }>();
  let faults: ActiveFault[] = [];
  const stats: DexcomShareSimulatorStats = {
    authenticate: 0,
    login: 0,
    read: 0,
    failedLogins: 0,
    readingsServed: new Set(),
  };
  const requests: ShareRequestRecord[] = [];

  function readingAt(state: AccountState, t: number) {
    const sgv = clampSgv(state.glucose(t));
    const slope = (state.glucose(t) - state.glucose(t - FIVE_MINUTES)) / 5;
    return { date: t, sgv, trend: trendFromSlope(slope) };
  }

  /** Readings with date in (from, to], newest first. */
  function readingsBetween(state: AccountState, from: number, to: number) {
    const out: Array<{ date: number; sgv: number; trend: number }> = [];
    if (to < readingEpoch) return out;
    let t = readingEpoch + Math.floor((to - readingEpoch) / FIVE_MINUTES) * FIVE_MINUTES;
    for (; t > from && t >= readingEpoch; t -= FIVE_MINUTES) out.push(readingAt(state, t));
    return out;
  }

  function takeFault(endpoint: ShareEndpoint): ShareFault | undefined {
    const now = clock.now();
    faults = faults.filter(
      (f) => f.remaining > 0 && !(f.fault.kind === 'http5xx' && f.fault.until !== undefined && now >= f.fault.until),
    );
    const active = faults.find(({ fault }) => {
      if (fault.endpoint !== undefined) return fault.endpoint === endpoint;
      // A session fault only means something where a session is presented.
      return fault.kind === 'sessionInvalid' ? endpoint === 'read' : true;
    });
    if (!active) return undefined;
    active.remaining--;
    return active.fault;
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  function sendCode(res: ServerResponse, code: string, message: string, status = 500) {
    sendJson(res, status, { Code: code, Message: message, SubCode: null, TypeName: 'FaultException' });
  }

  function failLogin(res: ServerResponse, state: AccountState | undefined, code: string, message: string) {
    stats.failedLogins++;
    if (state) {
      state.consecutiveFailures++;
      if (state.consecutiveFailures >= lockoutAfter) state.lockedUntil = clock.now() + lockoutMs;
    }
    sendCode(res, code, message);
  }

  function isLocked(state: AccountState): boolean {
    if (state.lockedUntil === 0) return false;
    if (clock.now() < state.lockedUntil) return true;
    state.lockedUntil = 0;
    state.consecutiveFailures = 0;
    return false;
  }

  /** Shared checks for both login steps; returns false when an error was sent. */
  function loginPreflight(
    res: ServerResponse,
    body: Record<string, unknown>,
    state: AccountState | undefined,
  ): boolean {
    if (
      typeof body.applicationId !== 'string' ||
      !applicationIds.has(body.applicationId) ||
      typeof body.password !== 'string'
    ) {
      sendCode(res, 'InvalidArgument', 'Invalid argument');
      return false;
    }
    if (state && isLocked(state)) {
      sendCode(res, 'SSO_AuthenticateMaxAttemptsExceeded', 'Maximum authentication attempts exceeded');
      return false;
    }
    return true;
  }

  function handleAuthenticate(res: ServerResponse, body: Record<string, unknown>) {
    if (typeof body.accountName !== 'string' || body.accountName === '')
      return sendCode(res, 'InvalidArgument', 'Invalid argument: accountName');
    const state = accounts.find(
      (a) => a.account.accountName.toLowerCase() === (body.accountName as string).toLowerCase(),
    );
    if (!loginPreflight(res, body, state)) return;
    if (!state) return failLogin(res, undefined, 'SSO_AuthenticateAccountNotFound', 'Publisher account not found');
    if (body.password !== state.account.password)
      return failLogin(res, state, 'AccountPasswordInvalid', 'Publisher account password failed');
    state.consecutiveFailures = 0;
    sendJson(res, 200, options.accountIdAsObject ? { accountId: state.accountId } : state.accountId);
  }

  function handleLogin(res: ServerResponse, body: Record<string, unknown>) {
    if (typeof body.accountId !== 'string' || body.accountId === '')
      return sendCode(res, 'InvalidArgument', 'Invalid argument: accountId');
    const state = accounts.find((a) => a.accountId === body.accountId);
    if (!loginPreflight(res, body, state)) return;
    if (!state) return failLogin(res, undefined, 'SSO_InternalError', 'Cannot Authenticate by AccountId');
    if (body.password !== state.account.password)
      return failLogin(res, state, 'AccountPasswordInvalid', 'Publisher account password failed');
    state.consecutiveFailures = 0;
    if (state.account.zeroSession) return sendJson(res, 200, ZERO_SESSION);
    const sessionId = randomUUID();
    sessions.set(sessionId, { state, expiresAt: clock.now() + sessionTtlMs });
    sendJson(res, 200, sessionId);
  }

  function handleRead(
    res: ServerResponse,
    query: URLSearchParams,
    record: ShareRequestRecord,
    fault: ShareFault | undefined,
  ) {
    const sessionId = query.get('sessionID') ?? '';
    if (fault?.kind === 'sessionInvalid') {
      sessions.delete(sessionId);
      return sendCode(res, 'SessionIdNotFound', 'Session ID not found');
    }
    const minutes = Number(query.get('minutes'));
    const maxCount = Number(query.get('maxCount'));
    record.minutes = minutes;
    record.maxCount = maxCount;
    const session = sessions.get(sessionId);
    if (!session || clock.now() >= session.expiresAt) {
      sessions.delete(sessionId);
      return sendCode(res, 'SessionIdNotFound', 'Session ID not found');
    }
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
      return sendCode(res, 'InvalidArgument', 'Invalid argument: minutes');
    if (!Number.isInteger(maxCount) || maxCount < 1 || maxCount > 288)
      return sendCode(res, 'InvalidArgument', 'Invalid argument: maxCount');
    const now = clock.now();
    const visible = readingsBetween(session.state, now - minutes * MINUTE, now)
      .filter((r) => now >= r.date + publishLag(r.date))
      .slice(0, maxCount);
    for (const r of visible) stats.readingsServed.add(r.date);
    sendJson(
      res,
      200,
      visible.map((r) => ({
        WT: formatDate(r.date),
        ST: formatDate(r.date),
        DT: formatDate(r.date, '-0700'),
        Value: r.sgv,
        Trend: options.numericTrends ? r.trend : TREND_NAMES[r.trend],
      })),
    );
  }

  function answerFault(res: ServerResponse, fault: ShareFault): boolean {
    switch (fault.kind) {
      case 'timeout':
        return true; // never answered; the socket is destroyed on close()
      case 'http5xx': {
        const headers: Record<string, string> = { 'Content-Type': 'text/html' };
        if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
        res.writeHead(fault.status ?? 503, headers);
        res.end('<html><body><h1>Service Unavailable</h1></body></html>');
        return true;
      }
      case 'malformed':
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(fault.body ?? '<html><body>Please sign in to the network</body></html>');
        return true;
      case 'code':
        sendCode(res, fault.code, `Simulated ${fault.code}`, fault.status ?? 500);
        return true;
      case 'sessionInvalid':
        return false; // handled by the read endpoint, which also drops the session
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const endpoint: ShareEndpoint | undefined =
      url.pathname === '/ShareWebServices/Services/General/AuthenticatePublisherAccount'
        ? 'authenticate'
        : url.pathname === '/ShareWebServices/Services/General/LoginPublisherAccountById'
          ? 'login'
          : url.pathname === '/ShareWebServices/Services/Publisher/ReadPublisherLatestGlucoseValues'
            ? 'read'
            : undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (!endpoint) return sendJson(res, 404, { Message: 'Endpoint not found' });
    if (req.method !== 'POST') return sendJson(res, 405, { Message: 'Method not allowed' });
    stats[endpoint]++;

    let body: Record<string, unknown> = {};
    const text = Buffer.concat(chunks).toString('utf8').trim();
    if (text !== '') {
      try {
        const parsed: unknown = JSON.parse(text);
        body =
          parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
      } catch {
        return sendCode(res, 'InvalidArgument', 'Request body is not JSON', 400);
      }
    }
    const record: ShareRequestRecord = {
      endpoint,
      applicationId: typeof body.applicationId === 'string' ? body.applicationId : undefined,
      userAgent: req.headers['user-agent'],
      contentType: req.headers['content-type'],
    };
    requests.push(record);

    const fault = takeFault(endpoint);
    if (fault && answerFault(res, fault)) return;
    if (endpoint === 'authenticate') return handleAuthenticate(res, body);
    if (endpoint === 'login') return handleLogin(res, body);
    return handleRead(res, url.searchParams, record, fault);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { Code: 'InternalError', Message: 'Simulator failure' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    requests,
    inject(fault) {
      const remaining =
        fault.count ?? (fault.kind === 'http5xx' && fault.until !== undefined ? Number.POSITIVE_INFINITY : 1);
      faults.push({ fault, remaining });
    },
    clearFaults() {
      faults = [];
    },
    readingsUpTo(t, accountName) {
      const state =
        accountName === undefined ? accounts[0] : accounts.find((a) => a.account.accountName === accountName);
      if (!state) return [];
      return readingsBetween(state, Number.NEGATIVE_INFINITY, t)
        .reverse()
        .map(({ date, sgv }) => ({ date, sgv }));
    },
    expireSessions() {
      sessions.clear();
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Held (timeout-fault) and keep-alive sockets would otherwise keep close() waiting.
        server.closeAllConnections();
      });
    },
  };
}
