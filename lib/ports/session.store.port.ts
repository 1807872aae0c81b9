/**
 * Vendor session material (e.g. a Dexcom session id, a LibreLinkUp auth ticket). It is a bearer secret, so it is
 * never put in snapshots, queue bodies or logs; only fetch-frame reads or writes it.
 */
export interface StoredSession {
  /**
   * Driver-defined, opaque to everything else, with one convention: material that carries a refresh token keeps it
   * as a non-empty string in a top-level `refreshToken` field (see `holdsRefreshToken`).
   */
  material: unknown;
  establishedAt: number;
  expiresAt: number;
}

export interface SessionStore {
  get(sourceId: string): Promise<StoredSession | undefined>;
  put(sourceId: string, session: StoredSession): Promise<void>;
  clear(sourceId: string): Promise<void>;
}
