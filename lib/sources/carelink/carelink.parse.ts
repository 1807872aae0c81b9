/**
 * Pure CareLink payload → Nightscout batch. No I/O, no clock: `now` and the cursor come in as data.
 *
 * Time zones: the pump's clock is local wall time, and CareLink writes those wall times with a `Z` (or whatever offset
 * the server felt like), so the suffix on `sgs[].datetime` / `markers[].dateTime` cannot be trusted. The only reliable
 * offset is the one on `lastConduitDateTime` (the phone/bridge stamps it with its real zone). Every wall time is
 * therefore re-zoned with that one offset. Limitation: one offset is applied per payload, so readings taken before a
 * DST change inside the 24 h window carry the new offset (spring: older readings land 1 h early). After an autumn
 * change the wall clock repeats an hour; those readings would collide with newer ones, so readings before a
 * backwards wall-clock jump are dropped rather than misdated (see `lastClockStep`): earlier polls stored them.
 *
 * Markers (boluses, carbs, BG checks) are not dropped with those readings and never dated by `now`: their time is part
 * of their identifier, so a marker must resolve to the same instant on every poll or Nightscout gets it twice (insulin
 * counted twice). The payload carries nothing that places a marker on one side of the change (marker arrays are not
 * ordered, `index` only pairs a meal with its bolus, the only offset is the current one), so after a backwards step of
 * the sensor series the old offset is recovered from the step's size (`markerClock`), and a marker whose wall time the
 * old clock showed before the change (the first reading after the step) is dated with the old offset. In the repeated
 * hour both clocks showed the wall time: the marker takes the earlier instant, which is what every poll before the
 * change stored (they cannot know a change is coming), so it is never written twice. Trade-off: a marker really given
 * in the second pass at a wall time the first pass also showed is dated one hour early; and should a first-pass
 * treatment later in wall time already be stored, the cursor (newest stored treatment) then skips it.
 */
import { createHash } from 'node:crypto';
import { SourceRejectedError } from '../../domain/errors.js';
import {
  type Batch,
  type Cursor,
  type DeviceStatus,
  type Direction,
  type SgvEntry,
  type Treatment,
  toIso,
} from '../../domain/records.js';
import { CARELINK_DEVICE_PREFIX } from './carelink.vendor.js';

export const CARELINK_ENTERED_BY = 'nightscout-connect-carelink';

/** A reading dated this far past `now` means a wrong offset: writing it would push the cursor into the future and
 * then hide every real reading behind it. */
export const FUTURE_TOLERANCE_MS = 15 * 60_000;

const FIFTEEN_MINUTES = 15 * 60_000;
const THIRTY_MINUTES = 30 * 60_000;
/** CareLink's sensor cadence; `sgs` has a slot (sg 0 when missing) every 5 minutes. */
const SG_INTERVAL_MS = 5 * 60_000;

/** lastSGTrend → Nightscout. `NONE` means CareLink has no trend: shown as no arrow, never as a false "Flat". */
export const CARELINK_TRENDS: Record<string, { trend?: number; direction: Direction }> = {
  NONE: { trend: 0, direction: 'NONE' },
  UP: { trend: 2, direction: 'SingleUp' },
  UP_DOUBLE: { trend: 1, direction: 'DoubleUp' },
  UP_TRIPLE: { trend: 1, direction: 'TripleUp' },
  DOWN: { trend: 6, direction: 'SingleDown' },
  DOWN_DOUBLE: { trend: 7, direction: 'DoubleDown' },
  DOWN_TRIPLE: { trend: 7, direction: 'TripleDown' },
};

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

/** Wall-clock fields of a CareLink time string, as if they were UTC (ms), ignoring any suffix. */
export function wallClockMs(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  let m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?/.exec(text.trim());
  if (m) {
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0, m[7] ? +m[7].padEnd(3, '0') : 0);
  }
  // The older payloads: "Oct 20, 2015 11:09:00".
  m = /^([A-Za-z]{3})[a-z]* (\d{1,2}), (\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?/.exec(text.trim());
  if (m && MONTHS[m[1].toLowerCase()]) {
    return Date.UTC(+m[3], MONTHS[m[1].toLowerCase()] - 1, +m[2], +m[4], +m[5], m[6] ? +m[6] : 0);
  }
  return undefined;
}

/** The explicit `±HH:MM` offset of a time string in ms (`Z` counts as +00:00); undefined when there is none. */
export function offsetMs(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|([+-])(\d{2}):?(\d{2}))$/.exec(text.trim());
  if (!m) return undefined;
  if (m[1] === 'Z') return 0;
  const sign = m[2] === '-' ? -1 : 1;
  return sign * (Number(m[3]) * 60 + Number(m[4])) * 60_000;
}

export interface CareLinkPayload {
  medicalDeviceFamily?: string;
  sgs?: Array<{ sg?: number; datetime?: string; kind?: string; sensorState?: string }>;
  lastSG?: { sg?: number; datetime?: string };
  lastSGTrend?: string;
  markers?: Array<Record<string, unknown>>;
  lastConduitDateTime?: string;
  sMedicalDeviceTime?: string;
  lastMedicalDeviceDataUpdateServerTime?: number;
  [field: string]: unknown;
}

/**
 * The pump's UTC offset for this payload: from `lastConduitDateTime`; failing that, guessed from the pump's wall clock
 * against the server's receive time, rounded to 15 minutes (not whole hours: India, Nepal, parts of Australia).
 * Undefined when neither is possible: the caller must then refuse rather than guess.
 */
export function payloadOffsetMs(payload: CareLinkPayload): number | undefined {
  const conduit = offsetMs(payload.lastConduitDateTime);
  if (
    conduit !== undefined &&
    typeof payload.lastConduitDateTime === 'string' &&
    !payload.lastConduitDateTime.trim().endsWith('Z')
  )
    return conduit;
  const wall = wallClockMs(payload.sMedicalDeviceTime);
  const server = payload.lastMedicalDeviceDataUpdateServerTime;
  if (wall !== undefined && typeof server === 'number' && Number.isFinite(server)) {
    return Math.round((wall - server) / FIFTEEN_MINUTES) * FIFTEEN_MINUTES;
  }
  // A `Z` on lastConduitDateTime is taken at its word only as the last resort: it may be a UTC-based user.
  return conduit;
}

/** Stable UUID-shaped identifier from the parts that make a record unique (same input → same id on every re-read). */
export function stableIdentifier(...parts: Array<string | number>): string {
  const hex = createHash('sha256').update(parts.join('|'), 'utf8').digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

interface ClockStep {
  /** Index of the first reading after the step. */
  index: number;
  /** Wall time of the last reading before the step (old clock) and of the first after it (new clock). */
  from: number;
  to: number;
}

/**
 * The last backwards step of the wall clock in the sensor series (array order is chronological). Anything before
 * such a step was recorded under another offset (autumn DST, a manual clock change) and would be misdated.
 */
function lastClockStep(walls: Array<number | undefined>): ClockStep | undefined {
  let step: ClockStep | undefined;
  let previous: number | undefined;
  walls.forEach((wall, i) => {
    if (wall === undefined) return;
    if (previous !== undefined && wall < previous) step = { index: i, from: previous, to: wall };
    previous = wall;
  });
  return step;
}

/**
 * Instant of each marker, the same on every poll that sees it (see the header). Without a backwards step every
 * marker takes the payload's offset. After one, the old offset is the current one plus the step's size: the old
 * clock's last reading plus one sensor interval, minus the new clock's first, rounded to 30 minutes (DST moves by 30
 * or 60 minutes; the rounding also absorbs a few missing sensor slots). A marker takes the old offset when the old
 * clock could have shown its wall time before the change, i.e. that instant is before the first reading on the new
 * clock; otherwise the new offset. Two markers of one type at the same wall time in both passes of the repeated hour
 * would share an instant and identifier (one would overwrite the other); the second in payload order takes the later
 * instant (should that pairing be the wrong way round, both still exist, each once). A verbatim copy of a marker is
 * not a second event and keeps the earlier instant.
 */
function markerClock(
  markers: Array<Record<string, unknown>>,
  offset: number,
  step: ClockStep | undefined,
): (marker: Record<string, unknown>) => number | undefined {
  const size = step ? Math.round((step.from + SG_INTERVAL_MS - step.to) / THIRTY_MINUTES) * THIRTY_MINUTES : 0;
  const wallOf = (m: Record<string, unknown>) => wallClockMs(m.dateTime ?? m.datetime);
  if (!step || size <= 0) {
    return (m) => {
      const wall = wallOf(m);
      return wall === undefined ? undefined : wall - offset;
    };
  }
  const change = step.to - offset;
  const oldOffset = offset + size;
  const dates = new Map<Record<string, unknown>, number>();
  const tookEarlier = new Map<string, string>();
  for (const m of markers) {
    const wall = wallOf(m);
    if (wall === undefined) continue;
    const before = wall - oldOffset;
    const after = wall - offset;
    if (before >= change) {
      dates.set(m, after);
    } else if (after < change) {
      dates.set(m, before);
    } else {
      // Both clocks showed this wall time: the repeated hour. A verbatim repeat of a marker is the same event.
      const key = `${String(m.type)}|${wall}`;
      const text = JSON.stringify(m);
      const holder = tookEarlier.get(key);
      dates.set(m, holder === undefined || holder === text ? before : after);
      if (holder === undefined) tookEarlier.set(key, text);
    }
  }
  return (m) => dates.get(m);
}

export interface TransformContext {
  cursor: Cursor | null;
  now: number;
}

export function deviceFor(payload: CareLinkPayload): string {
  const family =
    typeof payload.medicalDeviceFamily === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(payload.medicalDeviceFamily)
      ? payload.medicalDeviceFamily
      : 'UNKNOWN';
  return `${CARELINK_DEVICE_PREFIX}/${family}`;
}

export function transformCareLink(payload: CareLinkPayload, ctx: TransformContext): Batch {
  const device = deviceFor(payload);
  const offset = payloadOffsetMs(payload);
  const sgs = Array.isArray(payload.sgs) ? payload.sgs : [];
  const markers = Array.isArray(payload.markers) ? payload.markers : [];
  if (offset === undefined && (sgs.length > 0 || markers.length > 0)) {
    throw new SourceRejectedError(
      'CareLink payload carries no time zone (no lastConduitDateTime offset, no device time)',
      'CARELINK.NO_TIMEZONE',
    );
  }
  const zone = (wall: number) => wall - (offset ?? 0);
  const horizon = ctx.now + FUTURE_TOLERANCE_MS;
  // The sensor's 5-minute series is the only chronological record: a backwards step in it marks a clock change.
  const walls = sgs.map((s) => wallClockMs(s?.datetime));
  const step = lastClockStep(walls);
  const tail = markers.filter((m): m is Record<string, unknown> => m !== null && typeof m === 'object');

  return {
    entries: entriesFrom(payload, sgs, walls, step?.index ?? 0, device, zone, horizon, ctx.cursor?.entries),
    treatments: treatmentsFrom(tail, device, markerClock(tail, offset ?? 0, step), horizon, ctx.cursor?.treatments),
    devicestatus: deviceStatusFrom(payload, device, zone, horizon, ctx.cursor?.devicestatus),
    profiles: [],
  };
}

function entriesFrom(
  payload: CareLinkPayload,
  sgs: NonNullable<CareLinkPayload['sgs']>,
  walls: Array<number | undefined>,
  start: number,
  device: string,
  zone: (wall: number) => number,
  horizon: number,
  after: number | undefined,
): SgvEntry[] {
  const entries: SgvEntry[] = [];
  for (let i = start; i < sgs.length; i++) {
    const s = sgs[i];
    const wall = walls[i];
    // sg 0 is how CareLink marks "no reading" (warm-up, sensor error); other kinds are not glucose values.
    if (
      !s ||
      wall === undefined ||
      !(typeof s.sg === 'number' && s.sg > 0) ||
      (s.kind !== undefined && s.kind !== 'SG')
    )
      continue;
    const date = zone(wall);
    if (date > horizon || (after !== undefined && date <= after)) continue;
    entries.push({
      type: 'sgv',
      sgv: s.sg,
      date,
      dateString: toIso(date),
      direction: 'NOT COMPUTABLE',
      device,
      identifier: stableIdentifier(device, 'sgv', date),
    });
  }
  entries.sort((a, b) => a.date - b.date);

  // CareLink gives one trend, for its newest value: attach it only where it provably belongs.
  const newest = entries[entries.length - 1];
  const lastSg = num(payload.lastSG?.sg);
  // The newest reading in the payload must be the one we kept (not one filtered out or a zero): otherwise the trend
  // would be pinned on an older value.
  const lastWall = walls.length > 0 ? walls[walls.length - 1] : undefined;
  const trend = typeof payload.lastSGTrend === 'string' ? CARELINK_TRENDS[payload.lastSGTrend] : undefined;
  if (
    newest &&
    trend &&
    lastSg !== undefined &&
    lastSg === newest.sgv &&
    lastWall !== undefined &&
    zone(lastWall) === newest.date
  ) {
    newest.direction = trend.direction;
    if (trend.trend !== undefined) newest.trend = trend.trend;
  }
  return entries;
}

const BG_MARKERS = new Set(['CALIBRATION', 'BG_READING', 'BG READING', 'BG']);

function treatmentsFrom(
  tail: Array<Record<string, unknown>>,
  device: string,
  markerDate: (marker: Record<string, unknown>) => number | undefined,
  horizon: number,
  after: number | undefined,
): Treatment[] {
  const mealsByIndex = new Map<unknown, Record<string, unknown>>();
  for (const m of tail) if (m.type === 'MEAL' && m.index !== undefined) mealsByIndex.set(m.index, m);
  const pairedMeals = new Set<Record<string, unknown>>();
  const out: Treatment[] = [];

  const keep = (date: number | undefined): date is number =>
    date !== undefined && date <= horizon && (after === undefined || date > after);
  const base = (eventType: string, date: number) => ({
    eventType,
    created_at: toIso(date),
    enteredBy: CARELINK_ENTERED_BY,
    device,
    identifier: stableIdentifier(device, eventType, date),
  });

  for (const m of tail) {
    if (m.type !== 'INSULIN') continue;
    const date = markerDate(m);
    const insulin = num(m.deliveredFastAmount);
    if (!keep(date) || insulin === undefined || insulin <= 0) continue;
    const meal = m.index !== undefined ? mealsByIndex.get(m.index) : undefined;
    const carbs = meal ? num(meal.amount) : undefined;
    if (meal) pairedMeals.add(meal);
    const extended = num(m.deliveredExtendedAmount);
    const detail = {
      insulin,
      ...(extended && extended > 0 ? { notes: `extended part delivered: ${extended} U` } : {}),
      ...(num(m.programmedFastAmount) !== undefined ? { programmed: num(m.programmedFastAmount) } : {}),
      ...(typeof m.activationType === 'string' ? { activationType: m.activationType } : {}),
    };
    out.push(
      meal && carbs !== undefined && carbs > 0
        ? { ...base('Meal Bolus', date), carbs, ...detail }
        : { ...base('Correction Bolus', date), ...detail },
    );
  }

  for (const m of tail) {
    if (m.type === 'MEAL' && !pairedMeals.has(m)) {
      // Carbs logged without a bolus are still carbs on board; dropping them would understate COB.
      const date = markerDate(m);
      const carbs = num(m.amount);
      if (keep(date) && carbs !== undefined && carbs > 0) out.push({ ...base('Carb Correction', date), carbs });
    } else if (typeof m.type === 'string' && BG_MARKERS.has(m.type)) {
      const date = markerDate(m);
      const glucose = num(m.value);
      if (keep(date) && glucose !== undefined && glucose > 0) {
        out.push({ ...base('BG Check', date), glucose, glucoseType: 'Finger', units: 'mg/dl' });
      }
    }
  }
  return out.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
}

function deviceStatusFrom(
  payload: CareLinkPayload,
  device: string,
  zone: (wall: number) => number,
  horizon: number,
  after: number | undefined,
): DeviceStatus[] {
  // The server's own receive time of the pump data (true UTC), not `now`: re-reading unchanged data then yields the
  // same created_at, which the cursor and the writer recognise, instead of a new devicestatus every poll.
  const at = num(payload.lastMedicalDeviceDataUpdateServerTime);
  if (at === undefined || at <= 0 || at > horizon || (after !== undefined && at <= after)) return [];
  const guardian = payload.medicalDeviceFamily === 'GUARDIAN';
  const deviceBattery = num(payload.medicalDeviceBatteryLevelPercent);
  const conduitBattery = num(payload.conduitBatteryLevel);
  const status: DeviceStatus = {
    device,
    created_at: toIso(at),
    identifier: stableIdentifier(device, 'devicestatus', at),
    uploader: { battery: guardian ? deviceBattery : (conduitBattery ?? deviceBattery) },
    connect: pick(payload, [
      'sensorState',
      'calibStatus',
      'sensorDurationHours',
      'timeToNextCalibHours',
      'conduitInRange',
      'conduitMedicalDeviceInRange',
      'conduitSensorInRange',
      'medicalDeviceFamily',
    ]),
  };
  if (!guardian) {
    const iob = payload.activeInsulin as { amount?: unknown; datetime?: unknown } | undefined;
    const iobAmount = num(iob?.amount);
    const iobWall = wallClockMs(iob?.datetime);
    const reservoir = num(payload.reservoirRemainingUnits) ?? num(payload.reservoirAmount);
    const clockWall = wallClockMs(payload.sMedicalDeviceTime);
    status.pump = {
      ...(deviceBattery !== undefined ? { battery: { percent: deviceBattery } } : {}),
      ...(reservoir !== undefined ? { reservoir } : {}),
      // CareLink reports -1 when the pump has no IOB figure; that is "unknown", not negative insulin.
      ...(iobAmount !== undefined && iobAmount >= 0
        ? { iob: { bolusiob: iobAmount, timestamp: toIso(iobWall !== undefined ? zone(iobWall) : at) } }
        : {}),
      ...(clockWall !== undefined ? { clock: toIso(zone(clockWall)) } : {}),
    };
  }
  return [status];
}

function pick(payload: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const v = payload[key];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = v;
  }
  return out;
}
