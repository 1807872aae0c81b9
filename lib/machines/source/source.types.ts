/**
 * Types of the source machine: its context (what the snapshot holds) and the effects it emits.
 * Everything is plain JSON; instants are epoch ms numbers carried in by events.
 */

import type { FailureSummary } from '../../domain/errors.js';
import type { FrameMessage, FrameStage } from '../../domain/messages.js';
import type { Cursor } from '../../domain/records.js';

/** Bump when the snapshot shape or state ids change; `source.snapshot.ts` migrates or rejects older ones. */
export const SOURCE_MACHINE_VERSION = 1;

export interface FrameInFlight {
  id: string;
  /** Attempt last reported by fetch-frame/persist (1 until a failure is reported). */
  attempt: number;
  stage: FrameStage;
  /** The frame was sent with permission to log in (the session request rides on the frame). */
  login: boolean;
  sentAt: number;
  dueAt: number;
  /**
   * Outbox repair: if no outcome arrives by this instant the frame is presumed lost (crash between save and send,
   * or a dead consumer) and is sent again, at most MAX_RESENDS times, then counted as a failed cycle.
   */
  resendAt: number;
  resends: number;
}

export interface LoopContext {
  /** Next due instant while no frame is in flight. */
  dueAt: number;
  cursor: Cursor | null;
  frame: FrameInFlight | null;
  /** Consecutive failed cycles (drives cycle backoff). */
  failures: number;
  /** Frames started so far; frame ids are `<loop>-<seq>`. */
  seq: number;
  /** Early re-polls spent on the current expected slot (a reading that was not yet published). */
  rechecks: number;
  lastSuccessAt?: number;
}

export interface SessionContext {
  establishedAt?: number;
  expiresAt?: number;
  lockedUntil?: number;
  /** Why the session is parked (error code), for status views. */
  code?: string;
}

export interface SourceContext {
  sourceId: string;
  session: SessionContext;
  loops: Record<string, LoopContext>;
  lastError?: FailureSummary & { at: number; loop?: string };
  newestReadingAt?: number;
}

export interface SourceInput {
  sourceId: string;
  now: number;
}

/**
 * Effects: typed actions the app layer executes after the snapshot is saved. One params type per effect; the machine's
 * `setup` declares its effect actions with these, and `SourceEffect` is derived from them.
 */
export interface RequestFrameParams {
  loop: string;
  frameId: string;
  dueAt: number;
  /** `login` only on the one frame allowed to carry a login; `reuse` expects a live session in the session store. */
  sessionMode: FrameMessage['sessionMode'];
  cursor: Cursor | null;
  /** A resend of a frame that got no word by its deadline (outbox repair). */
  resend: boolean;
}

export interface DiscardSessionParams {
  reason: 'credentials changed' | 'session expired';
}

export interface RecordOutcomeParams {
  loop: string;
  outcome: 'persisted' | 'failed' | 'lost' | 'authRejected' | 'lockedOut';
  /** The failure or rejection code. */
  code?: string;
  /** Documents written, for `persisted`. */
  written?: number;
}

export interface SourceEffectParams {
  requestFrame: RequestFrameParams;
  discardSession: DiscardSessionParams;
  recordOutcome: RecordOutcomeParams;
}

export type SourceEffect = {
  [K in keyof SourceEffectParams]: { type: K; params: SourceEffectParams[K] };
}[keyof SourceEffectParams];

export const EFFECT_TYPES: ReadonlySet<string> = new Set<keyof SourceEffectParams>([
  'requestFrame',
  'discardSession',
  'recordOutcome',
]);
