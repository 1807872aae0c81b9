/**
 * What travels between the functions. Queue bodies hold ids, instants, cursors and readings; never a password,
 * token, session id or API secret (those stay in the credential and session stores).
 */

import type { FailureSummary } from './errors.js';
import type { Batch, Cursor } from './records.js';
import type { SourceConfig } from './source.js';

export const MESSAGE_VERSION = 1;

/** A request to fetch one frame: produced by the source machine, executed by fetch-frame. */
export interface FrameMessage {
  v: typeof MESSAGE_VERSION;
  sourceId: string;
  kind: string;
  loop: string;
  frameId: string;
  /** The instant the frame should run; SQS DelaySeconds is derived from it. */
  dueAt: number;
  /** `login`: no live session is known, log in. `reuse`: a live session should exist in the session store. */
  sessionMode: 'login' | 'reuse';
  /** Newest stored instants; null on the very first frame (persist then seeds it from Nightscout). */
  cursor: Cursor | null;
  /** Non-secret configuration, carried so fetch-frame needs no extra read. */
  config: SourceConfig;
}

/** A fetched batch on its way to Nightscout. */
export interface PersistMessage {
  v: typeof MESSAGE_VERSION;
  sourceId: string;
  kind: string;
  loop: string;
  frameId: string;
  fetchedAt: number;
  cursor: Cursor | null;
  session?: SessionInfo;
  config: SourceConfig;
  batch: Batch;
}

/** Non-secret facts about a vendor session, for the machine and the status view. */
export interface SessionInfo {
  establishedAt: number;
  expiresAt: number;
}

/** How many documents a persist wrote per collection (after dedup). */
export interface WriteCounts {
  entries: number;
  treatments: number;
  devicestatus: number;
  profiles: number;
}

export type FrameStage = 'fetch' | 'persist';

/** Outcome events: facts that fetch-frame and persist report back to the source machine. */
export type FrameOutcomeEvent =
  | {
      type: 'frame.retrying';
      now: number;
      loop: string;
      frameId: string;
      stage: FrameStage;
      attempt: number;
      retryAt: number;
      error: FailureSummary;
      session?: SessionInfo;
    }
  | {
      type: 'frame.failed';
      now: number;
      loop: string;
      frameId: string;
      stage: FrameStage;
      attempt: number;
      error: FailureSummary;
      retryAfterMs?: number;
      session?: SessionInfo;
    }
  | {
      type: 'frame.persisted';
      now: number;
      loop: string;
      frameId: string;
      cursor: Cursor;
      written: WriteCounts;
      newestReadingAt?: number;
      session?: SessionInfo;
    }
  | { type: 'auth.rejected'; now: number; loop: string; frameId: string; code: string }
  | { type: 'auth.lockedOut'; now: number; loop: string; frameId: string; code: string; until: number };

/** Events the app layer sends on its own behalf. */
export type ControlEvent =
  | { type: 'clock.ticked'; now: number; horizon: number }
  | { type: 'source.paused'; now: number }
  | { type: 'source.resumed'; now: number }
  | { type: 'credentials.changed'; now: number };

export type SourceEvent = FrameOutcomeEvent | ControlEvent;
