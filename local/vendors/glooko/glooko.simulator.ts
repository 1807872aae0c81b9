/**
 * An in-process Glooko API on 127.0.0.1 for integration tests and local runs. It reproduces what a driver can get
 * wrong: the v2 sign-in that refuses (422) an incomplete `deviceInformation` block, the cookie session, the patient
 * code on every data request (403 `data_cant_view` for another one), and stamps that are the patient's local wall
 * time labelled as UTC. Data are generated deterministically on a real-time grid for a patient living in an IANA
 * zone, so tests can compare what a driver reports with `truth()`. Faults: any status (5xx, 429 with Retry-After…),
 * hanging requests, session expiry.
 * The request log never holds the password or the cookie.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GlookoSimulatorOptions {
  email: string;
  password: string;
  /** IANA zone of the patient's pump and CGM clocks. */
  timeZone: string;
  clock?: { now(): number };
  glookoCode?: string;
  /** Which clock `startDate`/`endDate` filter on: the fake-UTC wall labels (default) or real UTC. */
  filterClock?: 'wall' | 'utc';
  /** Data exist from this instant on (default: now − 30 days at start). */
  historyStart?: number;
  /** Session lifetime on the simulator's clock (default 24 h). */
  sessionTtlMs?: number;
}

/**
 * Faults apply to the next `count` (default 1) requests whose path starts with `path` (default: any). With `until`
 * (an instant on the simulator's clock) a fault is an outage instead: every matching request before that instant
 * (or the first `count` of them, when given), so a test can hold the vendor down for a simulated hour.
 */
export type GlookoFault =
  | {
      kind: 'status';
      status: number;
      body?: unknown;
      retryAfterSeconds?: number;
      count?: number;
      path?: string;
      until?: number;
    }
  | { kind: 'timeout'; count?: number; path?: string; until?: number };

export interface GlookoLoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  hasCookie: boolean;
}

/** What really happened, in real instants: the reference a driver's output is checked against. */
export interface GlookoTruth {
  readings: Array<{ instant: number; value: number; label: string }>;
  boluses: Array<{ instant: number; insulin: number; carbs: number; guid: string; label: string }>;
  basals: Array<{ instant: number; rate: number; durationSeconds: number; guid: string; label: string }>;
}

export interface GlookoSimulator {
  url: string;
  glookoCode: string;
  requestLog: GlookoLoggedRequest[];
  signIns: number;
  inject(fault: GlookoFault): void;
  /** Invalidate every session: the next data request answers 401. */
  expireSessions(): void;
  /** The generated events with real instants in [from, to]. */
  truth(from: number, to: number): GlookoTruth;
  close(): Promise<void>;
}

const READING_STEP_MS = 5 * 60_000;
const BOLUS_STEP_MS = 3 * 3_600_000;
const BASAL_STEP_MS = 2 * 3_600_000;
/** Readings sit 37 s after each 5-minute boundary, as a real CGM's own clock would. */
const READING_PHASE_MS = 37_000;
const BOLUS_PHASE_MS = 17 * 60_000;
const BASAL_PHASE_MS = 41 * 60_000;

export const REQUIRED_DEVICE_FIELDS = [
  'applicationType',
  'os',
  'osVersion',
  'device',
  'deviceManufacturer',
  'deviceModel',
  'serialNumber',
  'clinicalResearch',
  'deviceId',
  'applicationVersion',
  'buildNumber',
  'gitHash',
] as const;

export async function startGlookoSimulator(options: GlookoSimulatorOptions): Promise<GlookoSimulator> {
  const clock = options.clock ?? { now: () => Date.now() };
  const glookoCode = options.glookoCode ?? 'eu-west-1-sim-patient';
  const historyStart = options.historyStart ?? clock.now() - 30 * 24 * 3_600_000;
  const ttl = options.sessionTtlMs ?? 24 * 3_600_000;
  const wallFormatter = new Intl.DateTimeFormat('en-US', {
    timeZone: options.timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const sessions = new Map<string, number>();
  const requestLog: GlookoLoggedRequest[] = [];
  const held = new Set<ServerResponse>();
  let faults: GlookoFault[] = [];
  let signIns = 0;

  /** Real instant → the fake-UTC label Glooko would serve, computed independently of any driver code. */
  function label(instant: number): string {
    const parts = wallFormatter.formatToParts(new Date(instant));
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
    const wall = Date.UTC(
      get('year'),
      get('month') - 1,
      get('day'),
      get('hour'),
      get('minute'),
      get('second'),
      instant % 1000,
    );
    return new Date(wall).toISOString();
  }

  function grid(from: number, to: number, step: number, phase: number): number[] {
    const first = Math.max(from, historyStart);
    const last = Math.min(to, clock.now());
    const out: number[] = [];
    for (let t = Math.ceil((first - phase) / step) * step + phase; t <= last; t += step) out.push(t);
    return out;
  }

  function truth(from: number, to: number): GlookoTruth {
    return {
      readings: grid(from, to, READING_STEP_MS, READING_PHASE_MS).map((instant) => {
        const k = Math.floor(instant / READING_STEP_MS);
        return { instant, value: Math.round(130 + 60 * Math.sin(k / 18) + ((k * 7) % 11)), label: label(instant) };
      }),
      boluses: grid(from, to, BOLUS_STEP_MS, BOLUS_PHASE_MS).map((instant) => {
        const k = Math.floor(instant / BOLUS_STEP_MS);
        return {
          instant,
          insulin: 1 + (k % 5) * 0.5,
          carbs: k % 2 === 0 ? 20 + (k % 3) * 15 : 0,
          guid: guidFor('bolus', k),
          label: label(instant),
        };
      }),
      basals: grid(from, to, BASAL_STEP_MS, BASAL_PHASE_MS).map((instant) => {
        const k = Math.floor(instant / BASAL_STEP_MS);
        return {
          instant,
          rate: 0.5 + (k % 4) * 0.25,
          durationSeconds: 1800,
          guid: guidFor('basal', k),
          label: label(instant),
        };
      }),
    };
  }

  /** Events whose filter clock value lies in [start, end]; a wall filter may reach 14 h beyond real instants. */
  function window(startDate: string, endDate: string): GlookoTruth {
    const start = Date.parse(startDate);
    const end = Date.parse(endDate);
    const all = truth(start - 15 * 3_600_000, end + 15 * 3_600_000);
    const inside = (e: { instant: number; label: string }) => {
      const t = options.filterClock === 'utc' ? e.instant : Date.parse(e.label);
      return t >= start && t <= end;
    };
    return {
      readings: all.readings.filter(inside),
      boluses: all.boluses.filter(inside),
      basals: all.basals.filter(inside),
    };
  }

  function takeFault(path: string): GlookoFault | undefined {
    faults = faults.filter((f) => f.until === undefined || f.until > clock.now());
    const index = faults.findIndex((f) => f.path === undefined || path.startsWith(f.path));
    if (index < 0) return undefined;
    const fault = faults[index];
    if (fault.until !== undefined && fault.count === undefined) return fault;
    const remaining = (fault.count ?? 1) - 1;
    if (remaining <= 0) faults.splice(index, 1);
    else faults[index] = { ...fault, count: remaining };
    return fault;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const cookieHeader = String(req.headers.cookie ?? '');
    requestLog.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      hasCookie: cookieHeader !== '',
    });
    const body = await readBody(req);
    const fault = takeFault(url.pathname);
    if (fault?.kind === 'timeout') {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if (fault?.kind === 'status') {
      const headers =
        fault.retryAfterSeconds === undefined ? undefined : { 'retry-after': String(fault.retryAfterSeconds) };
      return send(res, fault.status, fault.body ?? { error: `Injected HTTP ${fault.status}` }, headers);
    }

    if (method === 'POST' && url.pathname === '/api/v2/users/sign_in') return signIn(res, body);

    const endpoints: Record<string, keyof GlookoTruth> = {
      '/api/v2/pumps/normal_boluses': 'boluses',
      '/api/v2/pumps/scheduled_basals': 'basals',
      '/api/v2/cgm/readings': 'readings',
    };
    const series = endpoints[url.pathname];
    if (method !== 'GET' || !series) return send(res, 404, { error: 'Not Found' });
    const session = /_logbook-web_session=([^;\s]+)/.exec(cookieHeader)?.[1];
    const expiresAt = session ? sessions.get(session) : undefined;
    if (expiresAt === undefined || expiresAt <= clock.now())
      return send(res, 401, { error: 'You need to sign in or sign up before continuing.' });
    if (url.searchParams.get('patient') !== glookoCode) return send(res, 403, { error: 'data_cant_view' });
    const startDate = url.searchParams.get('startDate');
    const endDate = url.searchParams.get('endDate');
    if (!startDate || !endDate || Number.isNaN(Date.parse(startDate)) || Number.isNaN(Date.parse(endDate))) {
      return send(res, 400, { error: 'startDate and endDate are required' });
    }
    const data = window(startDate, endDate);
    if (series === 'boluses') {
      return send(res, 200, {
        normalBoluses: data.boluses.map((b) => ({
          pumpTimestamp: b.label,
          pumpTimestampUtcOffset: null,
          insulinDelivered: b.insulin,
          insulinProgrammed: b.insulin,
          carbsInput: b.carbs,
          guid: b.guid,
          syncTimestamp: new Date(b.instant + 600_000).toISOString(),
          softDeleted: false,
        })),
      });
    }
    if (series === 'basals') {
      return send(res, 200, {
        scheduledBasals: data.basals.map((b) => ({
          pumpTimestamp: b.label,
          rate: b.rate,
          duration: b.durationSeconds,
          guid: b.guid,
          syncTimestamp: new Date(b.instant + 600_000).toISOString(),
        })),
      });
    }
    return send(res, 200, { readings: data.readings.map((r) => ({ timestamp: r.label, value: r.value })) });
  }

  function signIn(res: ServerResponse, body: unknown): void {
    const login = isObject(body) && isObject(body.userLogin) ? body.userLogin : undefined;
    const device = isObject(body) && isObject(body.deviceInformation) ? body.deviceInformation : undefined;
    const missing = REQUIRED_DEVICE_FIELDS.filter((field) => device?.[field] === undefined || device[field] === '');
    if (missing.length > 0) {
      return send(res, 422, {
        success: false,
        errors: { deviceInformation: missing.map((f) => `${f} can't be blank`) },
      });
    }
    if (!login || login.email !== options.email || login.password !== options.password) {
      return send(res, 401, { success: false, error: 'Invalid email or password.' });
    }
    signIns += 1;
    const session = randomBytes(24).toString('hex');
    sessions.set(session, clock.now() + ttl);
    send(
      res,
      200,
      { success: true, userLogin: { email: options.email, glookoCode, preferredUnit: 'mg/dL' } },
      {
        'set-cookie': `_logbook-web_session=${session}; path=/; secure; HttpOnly; SameSite=Lax`,
      },
    );
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'Internal error' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    glookoCode,
    requestLog,
    get signIns() {
      return signIns;
    },
    inject(fault) {
      faults.push(fault);
    },
    expireSessions() {
      sessions.clear();
    },
    truth,
    async close() {
      for (const res of held) res.destroy();
      held.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

function guidFor(kind: string, k: number): string {
  const hex = createHash('sha1').update(`${kind}:${k}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
