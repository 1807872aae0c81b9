import type { SourceCredentials } from '../domain/source.js';

/**
 * Where credentials live: Secrets Manager in AWS (cached, sharded), env/config locally. Implementations cache;
 * `fresh: true` bypasses the cache (used after an auth rejection, in case the secret was just updated).
 * Implementations throw `ConfigError` (permanent) when a source has no credentials.
 */
export interface CredentialStore {
  get(sourceId: string, options?: { fresh?: boolean }): Promise<SourceCredentials>;
}

/** Management side (CLI, local runner). Kept separate so the Lambda roles that only read never see it. */
export interface CredentialAdmin extends CredentialStore {
  put(sourceId: string, credentials: SourceCredentials): Promise<void>;
  remove(sourceId: string): Promise<void>;
}
