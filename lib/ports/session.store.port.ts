/**
 * Vendor session material (e.g. a Dexcom session id, a LibreLinkUp auth ticket). It is a bearer secret, so it is
 * never put in snapshots, queue bodies or logs; only fetch-frame reads or writes it.
 */
export interface StoredSession {
  /** Driver-defined, opaque to everything else. */
  material: unknown;
  establishedAt: number;
  expiresAt: number;
}

export interface SessionStore {
  get(sourceId: string): Promise<StoredSession | undefined>;
  put(sourceId: string, session: StoredSession): Promise<void>;
  clear(sourceId: string): Promise<void>;
}
