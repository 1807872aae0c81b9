/**
 * Pure Glooko body parsing and mapping to Nightscout documents. Glooko's `pumpTimestamp`/`timestamp` fields are
 * the patient's local wall time labelled as UTC; every one is re-zoned here with the configured IANA zone (or the
 * legacy fixed offset) before it becomes `created_at`/`date`, because a misdated bolus is worse than a missing one.
 * Identifiers are deterministic so re-reading a window never creates duplicates.
 */
import { createHash } from 'node:crypto';
import { SourceAuthRejectedError, SourceRejectedError } from '../../domain/errors.js';
import type { Batch, Direction, SgvEntry, Treatment } from '../../domain/records.js';
import { toIso } from '../../domain/records.js';
import { GLOOKO_DEVICE, type GlookoZone } from './glooko.vendor.js';
import { parseWallLabel, resolveWallTime, zoneOffsetMs } from './zoned-time.js';

/** The three arrays one Glooko fetch returns, still vendor-shaped. */
export interface GlookoRaw {
  normalBoluses: unknown[];
  scheduledBasals: unknown[];
  readings: unknown[];
}

/** What the sign-in yields besides the cookie: the patient code every data request names. */
export function parseSignInBody(body: unknown): { glookoCode: string } {
  const userLogin = isRecord(body) && isRecord(body.userLogin) ? body.userLogin : undefined;
  const code = userLogin?.glookoCode;
  if (typeof code !== 'string' || code.trim() === '') {
    throw new SourceRejectedError('Glooko sign-in answered without a patient code', 'GLOOKO.SIGN_IN_UNEXPECTED_BODY');
  }
  return { glookoCode: code };
}

/**
 * Glooko's refusal of a sign-in. 401 is a wrong e-mail or password; 422 is what the API answers for refused
 * credentials and also for an incomplete `deviceInformation` block. Both park the source: retrying a refused login
 * risks locking the account, and a rejected device block needs a code change, not a retry.
 */
export function signInRejection(status: number): SourceAuthRejectedError {
  return new SourceAuthRejectedError(
    `Glooko refused the sign-in (HTTP ${status})`,
    status === 422 ? 'GLOOKO.SIGN_IN_UNPROCESSABLE' : `GLOOKO.HTTP_${status}`,
  );
}

/** Take the named array out of a data response; a missing key means the API changed, which must not look like "no data". */
export function extractArray(body: unknown, key: keyof GlookoRaw | string, endpoint: string): unknown[] {
  const value = isRecord(body) ? body[key] : undefined;
  if (!Array.isArray(value)) {
    throw new SourceRejectedError(`Glooko ${endpoint} answered without a ${key} array`, 'GLOOKO.UNEXPECTED_BODY');
  }
  return value;
}

/**
 * The query window in Glooko's own terms. Which clock Glooko filters `startDate`/`endDate` on (the fake-UTC wall
 * labels or real UTC) is not documented, so the window is the union of both readings: it starts at the earlier and
 * ends at the later of (instant, wall label of that instant).
 */
export function glookoQueryWindow(
  zone: GlookoZone,
  since: number,
  now: number,
): { startDate: string; endDate: string } {
  const startWall = since + offsetAt(zone, since);
  const endWall = now + offsetAt(zone, now);
  return { startDate: toIso(Math.min(since, startWall)), endDate: toIso(Math.max(now, endWall)) };
}

/** Map one fetch's raw arrays to a batch. Records with unusable times or amounts are dropped, never guessed. */
export function transformGlooko(raw: GlookoRaw, zone: GlookoZone): Batch {
  const treatments = [
    ...mapRecords(raw.normalBoluses, 'pumpTimestamp', zone, bolusToTreatment),
    ...mapRecords(raw.scheduledBasals, 'pumpTimestamp', zone, basalToTreatment),
  ];
  const entries = mapRecords(raw.readings, 'timestamp', zone, readingToEntry);
  return {
    entries: dedupe(entries).sort((a, b) => a.date - b.date),
    treatments: dedupe(treatments).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at)),
    devicestatus: [],
    profiles: [],
  };
}

/**
 * Resolve every record's label to an instant. In a fall-back overlap one wall time names two instants; the first
 * record with that label gets the earlier instant (the choice `resolveWallTime` documents) and a second record with
 * the very same label gets the later one, because two CGM readings or two pump events cannot share one real
 * instant; without this a whole hour of readings would collapse onto itself.
 */
function mapRecords<T>(
  records: unknown[],
  timeField: string,
  zone: GlookoZone,
  map: (record: Record<string, unknown>, instant: number) => T | undefined,
): T[] {
  const seen = new Map<number, number>();
  const out: T[] = [];
  for (const record of records) {
    if (!isRecord(record)) continue;
    const label = parseWallLabel(record[timeField] ?? record.timestamp ?? record.pumpTimestamp);
    if (!label) continue;
    let instant: number;
    if ('instant' in label) {
      instant = label.instant;
    } else if (zone.kind === 'fixed') {
      instant = label.wallMs - zone.offsetHours * 3_600_000;
    } else {
      const resolved = resolveWallTime(zone.zone, label.wallMs);
      const occurrence = seen.get(label.wallMs) ?? 0;
      seen.set(label.wallMs, occurrence + 1);
      instant =
        resolved.disposition === 'overlap' && occurrence >= 1 && resolved.laterInstant !== undefined
          ? resolved.laterInstant
          : resolved.instant;
    }
    const mapped = map(record, instant);
    if (mapped !== undefined) out.push(mapped);
  }
  return out;
}

function bolusToTreatment(record: Record<string, unknown>, instant: number): Treatment | undefined {
  const insulin = nonNegative(record.insulinDelivered);
  const carbs = nonNegative(record.carbsInput);
  if (!(insulin && insulin > 0) && !(carbs && carbs > 0)) return undefined;
  const eventType = carbs && carbs > 0 ? 'Meal Bolus' : 'Correction Bolus';
  const treatment: Treatment = {
    eventType,
    created_at: toIso(instant),
    identifier: treatmentIdentifier('normal_bolus', record.guid, eventType, instant, insulin ?? 0, carbs ?? 0),
    enteredBy: GLOOKO_DEVICE,
    insulin: insulin ?? 0,
  };
  if (carbs && carbs > 0) treatment.carbs = carbs;
  return treatment;
}

function basalToTreatment(record: Record<string, unknown>, instant: number): Treatment | undefined {
  const rate = nonNegative(record.rate);
  const durationSeconds = nonNegative(record.duration);
  if (rate === undefined || !durationSeconds) return undefined;
  const eventType = 'Temp Basal';
  return {
    eventType,
    created_at: toIso(instant),
    identifier: treatmentIdentifier('scheduled_basal', record.guid, eventType, instant, rate, durationSeconds),
    enteredBy: GLOOKO_DEVICE,
    rate,
    absolute: rate,
    duration: durationSeconds / 60,
  };
}

function readingToEntry(record: Record<string, unknown>, instant: number): SgvEntry | undefined {
  const sgv = nonNegative(record.value);
  // Glooko serves mg/dL; 0 and absurd values are sensor errors, not glucose.
  if (sgv === undefined || sgv < 1 || sgv > 1000) return undefined;
  const direction = toDirection(record.trend);
  const entry: SgvEntry = {
    type: 'sgv',
    sgv: Math.round(sgv),
    date: instant,
    dateString: toIso(instant),
    direction,
    device: GLOOKO_DEVICE,
    identifier: nightscoutStyleIdentifier(`${GLOOKO_DEVICE}_${instant}`),
  };
  return entry;
}

const DIRECTIONS: Direction[] = [
  'NONE',
  'DoubleUp',
  'SingleUp',
  'FortyFiveUp',
  'Flat',
  'FortyFiveDown',
  'SingleDown',
  'DoubleDown',
  'NOT COMPUTABLE',
  'RATE OUT OF RANGE',
  'TripleUp',
  'TripleDown',
];
/** Dexcom's numeric trend order, which Glooko relays for Dexcom CGMs. */
const NUMERIC_TRENDS: Direction[] = [
  'NONE',
  'DoubleUp',
  'SingleUp',
  'FortyFiveUp',
  'Flat',
  'FortyFiveDown',
  'SingleDown',
  'DoubleDown',
  'NOT COMPUTABLE',
  'RATE OUT OF RANGE',
];

/** A missing or unknown trend stays NOT COMPUTABLE: defaulting to Flat shows a reassuring arrow that was never measured. */
export function toDirection(trend: unknown): Direction {
  if (typeof trend === 'number' && Number.isInteger(trend) && trend >= 1 && trend < NUMERIC_TRENDS.length)
    return NUMERIC_TRENDS[trend];
  if (typeof trend === 'string') {
    const key = trend.replace(/[\s_]/g, '').toLowerCase();
    const found = DIRECTIONS.find((d) => d.replace(/\s/g, '').toLowerCase() === key);
    if (found) return found;
  }
  return 'NOT COMPUTABLE';
}

/**
 * Glooko's `guid` names the event itself, so it survives edits of other fields and re-reads. (`syncTimestamp` only
 * says when the record was uploaded and can change on a re-sync, so it is not part of the key.) Without a guid the
 * event is named by what it is: kind, event type, instant and amounts.
 */
function treatmentIdentifier(
  kind: string,
  guid: unknown,
  eventType: string,
  instant: number,
  ...amounts: number[]
): string {
  if (typeof guid === 'string' && guid.trim() !== '') return nightscoutStyleIdentifier(`glooko_${kind}_${guid.trim()}`);
  return nightscoutStyleIdentifier(`glooko_${kind}_${eventType}_${instant}_${amounts.join('_')}`);
}

const NAMESPACE = Buffer.from('NightscoutRocks!', 'ascii');

/** RFC 9562 UUIDv5 in Nightscout's namespace, so our identifiers look like the ones API v3 computes. */
function nightscoutStyleIdentifier(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function dedupe<T extends { identifier?: string }>(docs: T[]): T[] {
  const byId = new Map<string, T>();
  for (const doc of docs) byId.set(doc.identifier ?? JSON.stringify(doc), doc);
  return [...byId.values()];
}

function offsetAt(zone: GlookoZone, instant: number): number {
  return zone.kind === 'fixed' ? zone.offsetHours * 3_600_000 : zoneOffsetMs(zone.zone, instant);
}

function nonNegative(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
