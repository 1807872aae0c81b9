/**
 * Nightscout document shapes this product writes, and the batch a frame carries from fetch to persist.
 * Field names follow Nightscout API v1 (`peers.md` §E.5). Dates are epoch ms numbers and ISO-8601 UTC strings;
 * `dateString` always equals `date` so Nightscout's `{sysTime, type}` upsert key is stable to the millisecond.
 */
export type Direction =
  | 'NONE'
  | 'DoubleUp'
  | 'SingleUp'
  | 'FortyFiveUp'
  | 'Flat'
  | 'FortyFiveDown'
  | 'SingleDown'
  | 'DoubleDown'
  | 'NOT COMPUTABLE'
  | 'RATE OUT OF RANGE'
  | 'TripleUp'
  | 'TripleDown';

export interface SgvEntry {
  type: 'sgv';
  sgv: number;
  date: number;
  dateString: string;
  direction: Direction;
  trend?: number;
  device: string;
  /** Stable identifier (used by API v3 and Nightscout ≥ 15.0.7); derived from device, type and date. */
  identifier?: string;
}

export interface Treatment {
  eventType: string;
  created_at: string;
  identifier?: string;
  enteredBy?: string;
  insulin?: number;
  carbs?: number;
  duration?: number;
  absolute?: number;
  rate?: number;
  glucose?: number;
  glucoseType?: string;
  units?: string;
  notes?: string;
  [field: string]: unknown;
}

export interface DeviceStatus {
  device: string;
  created_at: string;
  identifier?: string;
  [field: string]: unknown;
}

export interface Profile {
  defaultProfile: string;
  startDate: string;
  created_at: string;
  store: Record<string, unknown>;
  identifier?: string;
  [field: string]: unknown;
}

export interface Batch {
  entries: SgvEntry[];
  treatments: Treatment[];
  devicestatus: DeviceStatus[];
  profiles: Profile[];
}

export function emptyBatch(): Batch {
  return { entries: [], treatments: [], devicestatus: [], profiles: [] };
}

export function batchSize(batch: Batch): number {
  return batch.entries.length + batch.treatments.length + batch.devicestatus.length + batch.profiles.length;
}

/**
 * The source's own durable cursor: the newest instant of each collection that this source has stored in
 * Nightscout. It is advanced only after a successful write, so a failed write re-fetches the same window.
 */
export interface Cursor {
  entries?: number;
  treatments?: number;
  devicestatus?: number;
  profiles?: number;
}

/**
 * A driver's re-read window for entries, for vendors whose history fills in behind their newest reading (LibreLinkUp's
 * 5-minute graph rows lag its 1-minute current reading by 15–20 min, so a row can appear after the cursor has passed
 * its instant). Entries dated after `cursor.entries − windowMs` stay candidates; the writer reads back what Nightscout
 * already holds in that span and skips it. It is driver data, not cursor data: nothing of it is persisted.
 */
export interface RereadWindow {
  /** How far behind the cursor entries are still written (0 = only entries newer than the cursor). */
  windowMs: number;
  /**
   * Two readings of the same type closer than this are one reading (a graph row and the current reading of the same
   * sensor minute may differ by seconds): the one already stored is kept, so Nightscout never shows it twice.
   */
  sameReadingMs: number;
}

export const NO_REREAD: RereadWindow = { windowMs: 0, sameReadingMs: 0 };

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
