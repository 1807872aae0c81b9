/**
 * An in-memory Nightscout site behind the NightscoutWriter port, for unit tests of persist. It keeps entries by
 * date (a re-post of the same instant is not written twice, like Nightscout's upsert key), advances the cursor as the
 * real writers do (max of the previous cursor and what was written, per collection), records every request and the
 * credentials each writer was built with, and fails the next requests with queued errors.
 */
import type { SourceError } from '../../lib/domain/errors.js';
import type { SgvEntry } from '../../lib/domain/records.js';
import type { NightscoutTarget, SourceCredentials } from '../../lib/domain/source.js';
import type { NightscoutWriter, PersistRequest, PersistResult } from '../../lib/ports/nightscout.writer.port.js';

export const FAKE_NS_SECRET = 'fake-ns-api-secret-c0de-DO-NOT-LEAK';

export class FakeNightscout {
  readonly entries = new Map<number, SgvEntry>();
  readonly requests: PersistRequest[] = [];
  /** Targets and credentials writers were built for. */
  readonly writers: Array<{ target: NightscoutTarget; credentials: SourceCredentials['nightscout'] }> = [];
  private readonly queued: SourceError[] = [];

  failNext(...errors: SourceError[]): void {
    this.queued.push(...errors);
  }

  /** The `writerFor` the persist use case takes. */
  readonly writerFor = (target: NightscoutTarget, credentials: SourceCredentials['nightscout']): NightscoutWriter => {
    this.writers.push({ target, credentials: structuredClone(credentials) });
    return { persist: (request) => this.persist(request) };
  };

  private async persist(request: PersistRequest): Promise<PersistResult> {
    this.requests.push(structuredClone(request));
    const error = this.queued.shift();
    if (error) throw error;
    let written = 0;
    for (const entry of request.batch.entries) {
      if (this.entries.has(entry.date)) continue;
      this.entries.set(entry.date, structuredClone(entry));
      written++;
    }
    const newest = request.batch.entries.reduce((max, e) => Math.max(max, e.date), Number.NEGATIVE_INFINITY);
    const cursor = { ...(request.cursor ?? {}) };
    if (Number.isFinite(newest)) cursor.entries = Math.max(cursor.entries ?? newest, newest);
    return { written: { entries: written, treatments: 0, devicestatus: 0, profiles: 0 }, cursor };
  }
}
