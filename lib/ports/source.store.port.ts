import type { SourceConfig } from '../domain/source.js';
import type { FailureSummary } from '../domain/errors.js';

/** Status summary kept beside the snapshot for people and the CLI (`sources show`). */
export interface SourceStatus {
  /** Flattened machine state, e.g. `running/session:active/DexcomShare:waiting`. */
  state: string;
  newestReadingAt?: number;
  lastSuccessAt?: number;
  lastError?: FailureSummary & { at: number; loop?: string };
  sessionExpiresAt?: number;
  lockedUntil?: number;
  parkedReason?: string;
}

/** One line of the transition trace kept on the item (bounded, newest last). */
export interface TransitionRecord {
  at: number;
  event: string;
  from: string;
  to: string;
  effects: string[];
}

export interface SourceRecord {
  id: string;
  config: SourceConfig;
  /** The persisted xstate snapshot (JSON); small by design. */
  snapshot: unknown;
  machineVersion: number;
  /** Optimistic-lock version; every save is conditional on it. */
  version: number;
  status: SourceStatus;
  /** Absent while paused or parked: the source then drops out of the due index. */
  nextDueAt?: number;
  recent: TransitionRecord[];
}

/**
 * Durable source state. One writer per source: `save` succeeds only if the stored version still equals
 * `expectedVersion`, otherwise it throws `VersionConflictError`; callers reload and re-apply their event.
 */
export interface SourceStore {
  get(id: string): Promise<SourceRecord | undefined>;
  /** Creates a new source at version 1; throws `VersionConflictError` if the id exists. */
  create(record: Omit<SourceRecord, 'version'>): Promise<SourceRecord>;
  /** Conditional write; returns the new version. */
  save(record: SourceRecord, expectedVersion: number): Promise<number>;
  /** Sources whose `nextDueAt` ≤ `until`, from every due shard (may be eventually consistent). */
  queryDue(until: number, limit?: number): Promise<SourceRecord[]>;
  list(): Promise<SourceRecord[]>;
  remove(id: string): Promise<void>;
}
