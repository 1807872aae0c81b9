/**
 * Pure mapping of documents read from a source Nightscout into documents for the target Nightscout. Server-owned
 * fields (`_id`, `srvCreated`, `srvModified`, `subject`, `isValid`, …) are stripped: copying a source `_id` made
 * writes fail with HTTP 500 in nightscout-connect, and `isReadOnly` would lock the copy against our own updates.
 * Times are kept to the millisecond and identifiers are the source's own, or the one its API v3 would compute,
 * so a document read twice (or via v1 and later via v3) always lands on the same target document.
 */
import { createHash } from 'node:crypto';
import { SourceRejectedError } from '../../domain/errors.js';
import type { Batch, DeviceStatus, Direction, Profile, SgvEntry, Treatment } from '../../domain/records.js';
import { toIso } from '../../domain/records.js';
import { NIGHTSCOUT_SOURCE_DEVICE, type NightscoutCollection } from './nightscout.vendor.js';

/** Documents as the source served them, per collection. */
export interface NightscoutRaw {
  entries: unknown[];
  treatments: unknown[];
  devicestatus: unknown[];
  profile: unknown[];
}

/** Fields the source server owns or computes; the target computes its own. */
const SERVER_FIELDS = ['_id', 'srvCreated', 'srvModified', 'subject', 'isValid', 'isReadOnly', 'mills', 'sysTime'];

const NAMESPACE = Buffer.from('NightscoutRocks!', 'ascii');

/**
 * The identifier Nightscout API v3 computes for a document without one: UUIDv5 of `device_date[_eventType]` in the
 * namespace of the 16 ASCII bytes "NightscoutRocks!". A missing device is the text "undefined", as in JavaScript.
 */
export function nightscoutIdentifier(device: unknown, date: number, eventType?: unknown): string {
  let key = `${device === undefined ? 'undefined' : String(device)}_${date}`;
  if (eventType !== undefined && eventType !== null && eventType !== '') key += `_${String(eventType)}`;
  const hash = createHash('sha1').update(NAMESPACE).update(key, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A v1 answer is a bare array; anything else means we are not talking to Nightscout (or a proxy's error page). */
export function v1Documents(body: unknown, collection: string): unknown[] {
  if (!Array.isArray(body))
    throw new SourceRejectedError(
      `source Nightscout ${collection} answer is not a list`,
      'NIGHTSCOUT_SOURCE.UNEXPECTED_BODY',
    );
  return body;
}

/** A v3 search answer is `{ status, result: [...] }` (older 3.0 alpha servers answered the bare array). */
export function v3Documents(body: unknown, collection: string): unknown[] {
  if (Array.isArray(body)) return body;
  if (isRecord(body) && Array.isArray(body.result)) return body.result;
  throw new SourceRejectedError(
    `source Nightscout v3 ${collection} answer has no result list`,
    'NIGHTSCOUT_SOURCE.UNEXPECTED_BODY',
  );
}

/** `result.apiVersion` of `GET /api/v3/version`, when the server has API v3 at all. */
export function v3ApiVersion(body: unknown): string | undefined {
  const result = isRecord(body) && isRecord(body.result) ? body.result : undefined;
  return typeof result?.apiVersion === 'string' ? result.apiVersion : undefined;
}

/** The instant a document of a collection is filed under (what the cursor of that collection tracks). */
export function documentInstant(collection: NightscoutCollection, doc: unknown): number | undefined {
  if (!isRecord(doc)) return undefined;
  if (collection === 'entries') return entryDate(doc);
  if (collection === 'profile') return instantOf(doc.created_at) ?? instantOf(doc.startDate) ?? numeric(doc.date);
  return instantOf(doc.created_at) ?? numeric(doc.date);
}

/** Map a fetch's documents. Unusable documents (no time, no value) are dropped; nothing is invented. */
export function transformNightscout(raw: NightscoutRaw): Batch {
  return {
    entries: dedupe(raw.entries.map(toEntry)).sort((a, b) => a.date - b.date),
    treatments: dedupe(raw.treatments.map(toTreatment)).sort(byCreatedAt),
    devicestatus: dedupe(raw.devicestatus.map(toDeviceStatus)).sort(byCreatedAt),
    profiles: dedupe(raw.profile.map(toProfile)).sort(byCreatedAt),
  };
}

const DIRECTIONS = new Set<string>([
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
]);

/**
 * Only `sgv` entries travel: the target contract (SgvEntry) has no `mbg`/`cal` shape yet. `date` is canonical (it
 * is what Nightscout filters and sorts on) and `dateString` is rewritten to the same instant in UTC; the source's
 * `utcOffset` is kept so local-time displays stay right.
 */
export function toEntry(doc: unknown): SgvEntry | undefined {
  if (!isRecord(doc)) return undefined;
  const type = doc.type ?? 'sgv';
  const date = entryDate(doc);
  const sgv = numeric(doc.sgv);
  if (type !== 'sgv' || date === undefined || sgv === undefined || sgv <= 0) return undefined;
  const copy = stripServerFields(doc);
  const direction =
    typeof doc.direction === 'string' && DIRECTIONS.has(doc.direction)
      ? (doc.direction as Direction)
      : 'NOT COMPUTABLE';
  return {
    ...copy,
    type: 'sgv',
    sgv,
    date,
    dateString: toIso(date),
    direction,
    device: typeof doc.device === 'string' && doc.device !== '' ? doc.device : NIGHTSCOUT_SOURCE_DEVICE,
    identifier: identifierOf(doc, () => nightscoutIdentifier(doc.device, date)),
  } as SgvEntry;
}

export function toTreatment(doc: unknown): Treatment | undefined {
  if (!isRecord(doc)) return undefined;
  const at = instantOf(doc.created_at) ?? numeric(doc.date);
  if (at === undefined) return undefined;
  const eventType = typeof doc.eventType === 'string' && doc.eventType !== '' ? doc.eventType : '<none>';
  return {
    ...stripServerFields(doc),
    eventType,
    created_at: toIso(at),
    identifier: identifierOf(doc, () => nightscoutIdentifier(doc.device, at, doc.eventType)),
  };
}

export function toDeviceStatus(doc: unknown): DeviceStatus | undefined {
  if (!isRecord(doc)) return undefined;
  const at = instantOf(doc.created_at) ?? numeric(doc.date);
  if (at === undefined) return undefined;
  return {
    ...stripServerFields(doc),
    device: typeof doc.device === 'string' && doc.device !== '' ? doc.device : NIGHTSCOUT_SOURCE_DEVICE,
    created_at: toIso(at),
    identifier: identifierOf(doc, () => nightscoutIdentifier(doc.device, at)),
  };
}

export function toProfile(doc: unknown): Profile | undefined {
  if (!isRecord(doc) || !isRecord(doc.store) || typeof doc.defaultProfile !== 'string') return undefined;
  const created = instantOf(doc.created_at) ?? instantOf(doc.startDate);
  const start = instantOf(doc.startDate) ?? created;
  if (created === undefined || start === undefined) return undefined;
  return {
    ...stripServerFields(doc),
    defaultProfile: doc.defaultProfile,
    store: doc.store,
    // startDate keeps its own text: profile switches compare it as written.
    startDate: typeof doc.startDate === 'string' ? doc.startDate : toIso(start),
    created_at: toIso(created),
    identifier: identifierOf(doc, () => nightscoutIdentifier(doc.device, created)),
  };
}

function stripServerFields(doc: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...doc };
  for (const field of SERVER_FIELDS) delete copy[field];
  return copy;
}

/**
 * The source's own identity wins: its v3 `identifier`, else a UUID `_id` (Nightscout 15.0.7 moves those to
 * `identifier`), else what its API v3 would compute.
 */
function identifierOf(doc: Record<string, unknown>, derive: () => string): string {
  if (typeof doc.identifier === 'string' && doc.identifier !== '') return doc.identifier;
  if (typeof doc._id === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(doc._id))
    return doc._id.toLowerCase();
  return derive();
}

function entryDate(doc: Record<string, unknown>): number | undefined {
  return numeric(doc.date) ?? instantOf(doc.dateString);
}

/** An ISO date-time with no `Z` and no `±HH[:MM]` at its end (the date-only form JavaScript already reads as UTC). */
const OFFSETLESS_ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/;

/**
 * A Nightscout time string as an instant. Nightscout stores UTC, and some uploaders write `created_at`/`dateString`
 * without an offset; `Date.parse` would read those in the host's zone (the Lambda's is UTC, a laptop's is not), so the
 * same document would move with the machine. An offset-less ISO stamp is therefore read as UTC; anything with an
 * offset, or in another format, is left to `Date.parse`.
 */
export function instantOf(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  const bare = OFFSETLESS_ISO.exec(text);
  const ms = Date.parse(bare ? `${bare[1]}T${bare[2]}Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}

function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function dedupe<T extends { identifier?: string }>(docs: Array<T | undefined>): T[] {
  const byId = new Map<string, T>();
  for (const doc of docs) if (doc) byId.set(doc.identifier ?? JSON.stringify(doc), doc);
  return [...byId.values()];
}

function byCreatedAt(a: { created_at: string }, b: { created_at: string }): number {
  return Date.parse(a.created_at) - Date.parse(b.created_at);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
