/**
 * Map-based CredentialAdmin for the local runner and unit tests. Values are deep-copied in and out so callers can
 * never mutate what is stored; `reads` counts `get` calls, and `freshReads` those with `fresh: true`, for tests of
 * the re-read-after-auth-rejection path.
 */
import { ConfigError } from '../../domain/errors.js';
import type { SourceCredentials } from '../../domain/source.js';
import type { CredentialAdmin } from '../../ports/credential.store.port.js';

export class MemoryCredentialStore implements CredentialAdmin {
  private readonly credentials = new Map<string, SourceCredentials>();
  reads = 0;
  freshReads = 0;

  constructor(initial: Record<string, SourceCredentials> = {}) {
    for (const [id, value] of Object.entries(initial)) this.credentials.set(id, structuredClone(value));
  }

  async get(sourceId: string, options?: { fresh?: boolean }): Promise<SourceCredentials> {
    this.reads++;
    if (options?.fresh) this.freshReads++;
    const found = this.credentials.get(sourceId);
    if (!found) throw new ConfigError([`no credentials stored for source ${sourceId}`]);
    return structuredClone(found);
  }

  async put(sourceId: string, credentials: SourceCredentials): Promise<void> {
    this.credentials.set(sourceId, structuredClone(credentials));
  }

  async remove(sourceId: string): Promise<void> {
    this.credentials.delete(sourceId);
  }
}
