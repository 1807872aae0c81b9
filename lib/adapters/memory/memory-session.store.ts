/**
 * Map-based SessionStore for the local runner and unit tests. It mirrors the DynamoDB adapter: material is stored
 * as JSON (so nothing non-serialisable survives), and a session is dropped once its TTL (expiresAt + 1 day) passes,
 * except one that holds a refresh token, which stays until cleared (see `holdsRefreshToken`).
 */

import { holdsRefreshToken } from '../../domain/session.js';
import type { Clock } from '../../ports/observability.port.js';
import type { SessionStore, StoredSession } from '../../ports/session.store.port.js';
import { systemClock } from '../system/system.observability.js';

const TTL_GRACE_MS = 24 * 60 * 60 * 1000;

interface Entry {
  material: string;
  establishedAt: number;
  expiresAt: number;
  untilCleared: boolean;
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Entry>();
  private readonly clock: Clock;

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  async get(sourceId: string): Promise<StoredSession | undefined> {
    const entry = this.sessions.get(sourceId);
    if (!entry) return undefined;
    if (!entry.untilCleared && entry.expiresAt + TTL_GRACE_MS <= this.clock.now()) {
      this.sessions.delete(sourceId);
      return undefined;
    }
    return { material: JSON.parse(entry.material), establishedAt: entry.establishedAt, expiresAt: entry.expiresAt };
  }

  async put(sourceId: string, session: StoredSession): Promise<void> {
    this.sessions.set(sourceId, {
      material: JSON.stringify(session.material),
      establishedAt: session.establishedAt,
      expiresAt: session.expiresAt,
      untilCleared: holdsRefreshToken(session.material),
    });
  }

  async clear(sourceId: string): Promise<void> {
    this.sessions.delete(sourceId);
  }

  /** Ids with a stored session (tests assert that clears happened). */
  ids(): string[] {
    return [...this.sessions.keys()];
  }
}
