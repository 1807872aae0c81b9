import type { FailureSummary } from '../domain/errors.js';
import type { SourceConfig } from '../domain/source.js';
import type { LoopMode, OperationMode, SessionMode } from '../machines/source/source.state.js';

/** Status summary derived from the snapshot for people and the CLI (`sources show`). */
export interface SourceStatus {
  /** The machine state for people, e.g. `running/session:active/DexcomShare:waiting`. Code reads the modes below. */
  state: string;
  operation: OperationMode;
  sessionMode: SessionMode;
  /** Per loop, in driver order. */
  loopModes: Record<string, LoopMode>;
  /** When the machine next needs the tick (a due loop, an outbox deadline, a lockout end); absent when parked. */
  nextWakeAt?: number;
  newestReadingAt?: number;
  lastSuccessAt?: number;
  lastError?: FailureSummary & { at: number; loop?: string };
  sessionExpiresAt?: number;
  lockedUntil?: number;
  parkedReason?: string;
}

/**
 * One notable transition (a change of mode, a failure, an operator action), kept as its own small item with a TTL so
 * that routine cycles write nothing extra; read back newest first by `sources show`.
 */
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
  /** Derived from the snapshot on read (never stored), by the app's `statusOfStored` the store was built with. */
  status: SourceStatus;
  /**
   * When the tick must look at this source next (the due index key); absent while paused or parked, so the source
   * drops out of the index. May be earlier than the machine's own next wake (see apply-event's dueIndexInstant).
   */
  nextDueAt?: number;
}

/**
 * Durable source state. One writer per source: `save` succeeds only if the stored version still equals
 * `expectedVersion`, otherwise it throws `VersionConflictError`; callers reload and re-apply their event.
 */
export interface SourceStore {
  get(id: string): Promise<SourceRecord | undefined>;
  /** Creates a new source at version 1; throws `VersionConflictError` if the id exists. */
  create(record: Omit<SourceRecord, 'version'>): Promise<SourceRecord>;
  /** Conditional write; returns the new version. A `transition`, when given, is appended to the source's trace. */
  save(record: SourceRecord, expectedVersion: number, transition?: TransitionRecord): Promise<number>;
  /** The newest `limit` recorded transitions, oldest first. */
  recentTransitions(id: string, limit?: number): Promise<TransitionRecord[]>;
  /** Sources whose `nextDueAt` ≤ `until`, from every due shard (may be eventually consistent). */
  queryDue(until: number, limit?: number): Promise<SourceRecord[]>;
  list(): Promise<SourceRecord[]>;
  /** Removes the source and its trace. */
  remove(id: string): Promise<void>;
}

/**
 * What a person must do, per rejection code where "update the credentials" would be the wrong advice. Vendors declare
 * them; the status derived on read shows them; every way out ends in a credentials.changed event.
 */
export type ParkedHints = Readonly<Record<string, string>>;
