import type { WriteCounts } from '../domain/messages.js';
import type { Batch, Cursor, RereadWindow } from '../domain/records.js';

export interface PersistRequest {
  batch: Batch;
  /** The source's cursor; null on the first frame, when the writer seeds it from Nightscout (explicit date filter). */
  cursor: Cursor | null;
  /** Device string this source writes with; seeding only looks at this source's own documents. */
  device: string;
  now: number;
  /** How far back the first-run seed looks (e.g. the driver's max look-back). */
  seedLookbackMs: number;
  /**
   * The loop's re-read window (absent = none). Entries dated in (cursor − window, cursor] are checked against one
   * dated read-back of this device's entries and only those Nightscout lacks (within `sameReadingMs`) are written.
   */
  reread?: RereadWindow;
}

export interface PersistResult {
  written: WriteCounts;
  /** The advanced cursor: max(previous/seeded cursor, newest written) per collection. */
  cursor: Cursor;
}

/**
 * Writes a batch to one Nightscout site idempotently: entries and treatments rely on stable keys (v1 upsert keys,
 * v3 identifiers); devicestatus, which Nightscout never dedups, is filtered here against the cursor; entries inside a
 * re-read window are filtered against what Nightscout holds (a re-post would replace a stored document whole on
 * Nightscout ≤ 15.0.6 and v3, erasing the trend arrow a current reading carried).
 * Throws SourceError kinds: 5xx/timeouts retryable, 401/403 authRejected, other 4xx permanent.
 */
export interface NightscoutWriter {
  persist(request: PersistRequest): Promise<PersistResult>;
}
