import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../lib/adapters/system/system.observability.js';
import {
  SessionInvalidError,
  SourceAuthRejectedError,
  SourceError,
  SourceUnavailableError,
} from '../../lib/domain/errors.js';
import { assembleDriver } from '../../lib/sources/driver.builder.js';
import type { GlookoRaw } from '../../lib/sources/glooko/glooko.parse.js';
import { type GlookoSession, glookoFetchStart, glookoSource } from '../../lib/sources/glooko/glooko.source.js';
import { type GlookoSettings, glookoVendor } from '../../lib/sources/glooko/glooko.vendor.js';
import {
  type GlookoSimulator,
  type GlookoSimulatorOptions,
  startGlookoSimulator,
} from '../../local/vendors/glooko/glooko.simulator.js';

const glookoDriver = assembleDriver(glookoVendor, glookoSource, {});
const parseGlookoSettings = glookoVendor.parseSettings;

const EMAIL = 'patient@example.invalid';
const PASSWORD = 'correct horse battery staple';
const HOUR = 3_600_000;

let sim: GlookoSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** The fake-UTC label of an instant, straight from Intl (independent of the driver's zone code). */
function wallLabel(timeZone: string, instant: number): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return new Date(
    Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'), instant % 1000),
  ).toISOString();
}

function manualClock(at: string) {
  let now = Date.parse(at);
  return {
    now: () => now,
    set: (iso: string) => {
      now = Date.parse(iso);
    },
  };
}

async function setup(
  options: Partial<GlookoSimulatorOptions> & { timeZone: string; now: string },
  extra: Record<string, unknown> = {},
) {
  const clock = manualClock(options.now);
  sim = await startGlookoSimulator({
    email: EMAIL,
    password: PASSWORD,
    clock,
    historyStart: clock.now() - 5 * 24 * HOUR,
    ...options,
  });
  const settings = parseGlookoSettings({ glookoServer: sim.url, glookoTimezone: options.timeZone, ...extra });
  return { sim, clock, settings };
}

function context(settings: GlookoSettings, now: number, password = PASSWORD) {
  return {
    sourceId: 'glooko-source-1',
    settings,
    credentials: { vendor: { email: EMAIL, password }, nightscout: {} },
    now,
    log: silentLog,
  };
}

async function login(settings: GlookoSettings, now: number, password = PASSWORD): Promise<GlookoSession> {
  const ctx = context(settings, now, password);
  const auth = await glookoDriver.session.authenticate(ctx);
  const grant = await glookoDriver.session.authorize(ctx, auth);
  expect(grant.expiresAt).toBe(now + 24 * HOUR);
  return grant.session;
}

async function poll(settings: GlookoSettings, session: GlookoSession, now: number, since: number) {
  const loop = glookoDriver.loops[0];
  const raw = (await loop.fetch({ ...context(settings, now), session, cursor: null, since })) as GlookoRaw;
  return loop.transform(raw, { sourceId: 'glooko-source-1', settings, cursor: null, now });
}

async function failure(promise: Promise<unknown>): Promise<SourceError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SourceError);
    expect(JSON.stringify({ message: (err as Error).message, ...(err as object) })).not.toContain(PASSWORD);
    expect((err as Error).message).not.toContain('_logbook-web_session');
    return err as SourceError;
  }
  throw new Error('expected a failure');
}

describe.each([
  // Each window spans a DST change, in both hemispheres, with both guesses of which clock Glooko filters on.
  { timeZone: 'Europe/Berlin', now: '2026-10-25T06:00:00Z', filterClock: 'wall' as const },
  { timeZone: 'Europe/Berlin', now: '2026-03-29T06:00:00Z', filterClock: 'utc' as const },
  { timeZone: 'America/New_York', now: '2026-11-01T12:00:00Z', filterClock: 'wall' as const },
  { timeZone: 'America/New_York', now: '2026-03-08T12:00:00Z', filterClock: 'utc' as const },
  { timeZone: 'Australia/Sydney', now: '2026-04-05T06:00:00Z', filterClock: 'wall' as const },
  { timeZone: 'Australia/Sydney', now: '2026-10-04T06:00:00Z', filterClock: 'utc' as const },
])(
  'Glooko driver against the simulator in $timeZone around $now (filters on $filterClock)',
  ({ timeZone, now, filterClock }) => {
    it('reports every reading, bolus and basal at its real instant', async () => {
      const { sim: glooko, clock, settings } = await setup({ timeZone, now, filterClock });
      const session = await login(settings, clock.now());
      const since = clock.now() - 6 * HOUR;
      const batch = await poll(settings, session, clock.now(), since);
      const start = glookoFetchStart(since, clock.now());
      // The driver asks for a window wide enough for either filter clock, so it may also see older events: every
      // event it reports must be real (right instant, right amount), and none in the window may be missing.
      const wide = glooko.truth(start - 15 * HOUR, clock.now());
      const readings = new Map(wide.readings.map((r) => [r.instant, r.value]));
      expect(batch.entries.length).toBeGreaterThan(250);
      for (const entry of batch.entries)
        expect([entry.dateString, readings.get(entry.date)]).toEqual([entry.dateString, entry.sgv]);
      // Documented limitation: a pump event alone in the repeated fall-back hour is placed at the first occurrence
      // of its wall time, one hour early (the labels carry no offset that could tell the two apart).
      const placed = (events: Array<{ instant: number; label: string }>) => (e: { instant: number; label: string }) =>
        wallLabel(timeZone, e.instant - HOUR) === e.label && !events.some((o) => o.instant === e.instant - HOUR)
          ? e.instant - HOUR
          : e.instant;
      const placeBolus = placed(wide.boluses);
      const placeBasal = placed(wide.basals);
      const expected = [
        ...wide.boluses.map((b) => [placeBolus(b), b.carbs > 0 ? 'Meal Bolus' : 'Correction Bolus', b.insulin]),
        ...wide.basals.map((b) => [placeBasal(b), 'Temp Basal', b.rate]),
      ].map((row) => JSON.stringify(row));
      const reported = batch.treatments.map((t) =>
        JSON.stringify([Date.parse(t.created_at), t.eventType, t.eventType === 'Temp Basal' ? t.rate : t.insulin]),
      );
      for (const row of reported) expect(expected).toContain(row);

      const inWindow = glooko.truth(start, clock.now());
      const reportedDates = new Set(batch.entries.map((e) => e.date));
      expect(inWindow.readings.filter((r) => !reportedDates.has(r.instant))).toEqual([]);
      const reportedTreatments = new Set(batch.treatments.map((t) => Date.parse(t.created_at)));
      expect(
        [...inWindow.boluses.map(placeBolus), ...inWindow.basals.map(placeBasal)].filter(
          (t) => !reportedTreatments.has(t),
        ),
      ).toEqual([]);
    });
  },
);

describe('Glooko driver: session and requests', () => {
  it('signs in once with the full device block and sends patient, window and cookie on all three GETs', async () => {
    const { sim: glooko, clock, settings } = await setup({ timeZone: 'Europe/Berlin', now: '2026-07-01T12:00:00Z' });
    const session = await login(settings, clock.now());
    expect(session.glookoCode).toBe(glooko.glookoCode);
    await poll(settings, session, clock.now(), clock.now() - HOUR);
    expect(glooko.signIns).toBe(1);
    const data = glooko.requestLog.filter((r) => r.method === 'GET');
    expect(data.map((r) => r.path).sort()).toEqual([
      '/api/v2/cgm/readings',
      '/api/v2/pumps/normal_boluses',
      '/api/v2/pumps/scheduled_basals',
    ]);
    for (const request of data) {
      expect(request.hasCookie).toBe(true);
      expect(request.query).toEqual({
        patient: glooko.glookoCode,
        startDate: '2026-06-30T12:00:00.000Z',
        endDate: '2026-07-01T14:00:00.000Z',
      });
    }
  });

  it('re-reading the same window yields identical identifiers', async () => {
    const { clock, settings } = await setup({ timeZone: 'Europe/Berlin', now: '2026-10-25T06:00:00Z' });
    const session = await login(settings, clock.now());
    const first = await poll(settings, session, clock.now(), clock.now() - HOUR);
    const second = await poll(settings, session, clock.now(), clock.now() - HOUR);
    expect(second).toEqual(first);
    clock.set('2026-10-25T06:30:00Z');
    const later = await poll(settings, session, clock.now(), clock.now() - HOUR);
    const ids = new Map(
      [...later.entries, ...later.treatments].map((d) => [
        JSON.stringify([(d as { date?: number }).date, (d as { created_at?: string }).created_at]),
        d.identifier,
      ]),
    );
    for (const doc of [...first.entries, ...first.treatments]) {
      const key = JSON.stringify([(doc as { date?: number }).date, (doc as { created_at?: string }).created_at]);
      if (ids.has(key)) expect(ids.get(key)).toBe(doc.identifier);
    }
    expect(later.entries.at(-1)!.date).toBeGreaterThan(first.entries.at(-1)!.date);
    expect(ids.size).toBeGreaterThan(200);
  });

  it('the simulator refuses a sign-in without the full device block (422), as the real API began to', async () => {
    const { sim: glooko } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    const response = await axios.post(
      `${glooko.url}/api/v2/users/sign_in`,
      {
        userLogin: { email: EMAIL, password: PASSWORD },
        deviceInformation: { deviceModel: 'iPhone' },
      },
      { validateStatus: () => true },
    );
    expect(response.status).toBe(422);
  });

  it('a wrong password is auth-rejected and never echoed', async () => {
    const { clock, settings } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    const err = await failure(login(settings, clock.now(), 'wrong-password-123'));
    expect(err).toBeInstanceOf(SourceAuthRejectedError);
    expect(err.code).toBe('GLOOKO.HTTP_401');
    expect(err.message).not.toContain('wrong-password-123');
  });

  it('a 422 sign-in is auth-rejected', async () => {
    const { sim: glooko, clock, settings } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    glooko.inject({ kind: 'status', status: 422, path: '/api/v2/users/sign_in', body: { errors: ['device'] } });
    const err = await failure(login(settings, clock.now()));
    expect(err).toMatchObject({ kind: 'authRejected', code: 'GLOOKO.SIGN_IN_UNPROCESSABLE' });
  });

  it('sign-in 5xx and 429 are retryable, honouring Retry-After', async () => {
    const { sim: glooko, clock, settings } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    glooko.inject({ kind: 'status', status: 503, path: '/api/v2/users/sign_in' });
    expect(await failure(login(settings, clock.now()))).toMatchObject({ kind: 'retryable', code: 'GLOOKO.HTTP_503' });
    glooko.inject({ kind: 'status', status: 429, retryAfterSeconds: 120, path: '/api/v2/users/sign_in' });
    expect(await failure(login(settings, clock.now()))).toMatchObject({
      kind: 'retryable',
      code: 'GLOOKO.HTTP_429',
      retryAfterMs: 120_000,
    });
    await expect(login(settings, clock.now())).resolves.toMatchObject({ glookoCode: glooko.glookoCode });
  });

  it('an expired session is reported as SessionInvalidError, and a new sign-in recovers', async () => {
    const { sim: glooko, clock, settings } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    const session = await login(settings, clock.now());
    glooko.expireSessions();
    const err = await failure(poll(settings, session, clock.now(), clock.now() - HOUR));
    expect(err).toBeInstanceOf(SessionInvalidError);
    expect(err.code).toBe('GLOOKO.SESSION_EXPIRED');
    const fresh = await login(settings, clock.now());
    await expect(poll(settings, fresh, clock.now(), clock.now() - HOUR)).resolves.toMatchObject({ devicestatus: [] });
  });

  it('a stale patient code (403 data_cant_view) asks for a new session', async () => {
    const { clock, settings } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    const session = await login(settings, clock.now());
    const err = await failure(
      poll(settings, { ...session, glookoCode: 'someone-else' }, clock.now(), clock.now() - HOUR),
    );
    expect(err).toMatchObject({ kind: 'retryable', code: 'GLOOKO.DATA_FORBIDDEN' });
  });

  it('data 5xx is retryable; an unexpected body is permanent', async () => {
    const { sim: glooko, clock, settings } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    const session = await login(settings, clock.now());
    glooko.inject({ kind: 'status', status: 502, path: '/api/v2/cgm/readings' });
    expect(await failure(poll(settings, session, clock.now(), clock.now() - HOUR))).toBeInstanceOf(
      SourceUnavailableError,
    );
    glooko.inject({ kind: 'status', status: 200, path: '/api/v2/pumps/normal_boluses', body: { boluses: [] } });
    expect(await failure(poll(settings, session, clock.now(), clock.now() - HOUR))).toMatchObject({
      kind: 'permanent',
      code: 'GLOOKO.UNEXPECTED_BODY',
    });
    glooko.inject({ kind: 'status', status: 400, path: '/api/v2/pumps/scheduled_basals' });
    expect(await failure(poll(settings, session, clock.now(), clock.now() - HOUR))).toMatchObject({
      kind: 'permanent',
      code: 'GLOOKO.HTTP_400',
    });
  });

  it('a hanging request times out as retryable', async () => {
    const {
      sim: glooko,
      clock,
      settings,
    } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' }, { httpTimeoutMs: 200 });
    const session = await login(settings, clock.now());
    glooko.inject({ kind: 'timeout', path: '/api/v2/pumps/scheduled_basals' });
    expect(await failure(poll(settings, session, clock.now(), clock.now() - HOUR))).toMatchObject({
      kind: 'retryable',
      code: 'GLOOKO.TIMEOUT',
    });
  });

  it('an unreachable server is retryable', async () => {
    const { sim: glooko, clock, settings } = await setup({ timeZone: 'UTC', now: '2026-07-01T12:00:00Z' });
    await glooko.close();
    sim = undefined;
    expect(await failure(login(settings, clock.now()))).toMatchObject({ kind: 'retryable', code: 'GLOOKO.NETWORK' });
  });
});
