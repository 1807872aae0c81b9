/**
 * A SourceStore in memory with the DynamoDB adapter's contract: records are JSON copies (nothing the caller keeps
 * can change what is stored), `create` refuses an existing id, every `save` is conditional on the version and throws
 * `VersionConflictError` otherwise (a removed source cannot be resurrected), `queryDue` returns the most overdue
 * records first, and a traced transition is kept per save. Test hooks: `beforeSave` runs inside every save (to slow
 * one down, fail one, or move a clock), and `saves` counts the writes that succeeded.
 */
import { VersionConflictError } from '../../lib/domain/errors.js';
import type { SourceRecord, SourceStore, TransitionRecord } from '../../lib/ports/source.store.port.js';

export class MemorySourceStore implements SourceStore {
  private readonly records = new Map<string, string>();
  private readonly traces = new Map<string, TransitionRecord[]>();
  saves = 0;
  /** Runs before a save is checked and applied; throw to fail it, await to hold it. */
  beforeSave?: (record: SourceRecord, expectedVersion: number) => Promise<void> | void;

  async get(id: string): Promise<SourceRecord | undefined> {
    const json = this.records.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as SourceRecord);
  }

  async create(record: Omit<SourceRecord, 'version'>): Promise<SourceRecord> {
    if (this.records.has(record.id)) throw new VersionConflictError(`source ${record.id} already exists`);
    const created = { ...record, version: 1 } as SourceRecord;
    this.records.set(record.id, JSON.stringify(created));
    return JSON.parse(JSON.stringify(created)) as SourceRecord;
  }

  async save(record: SourceRecord, expectedVersion: number, transition?: TransitionRecord): Promise<number> {
    await this.beforeSave?.(record, expectedVersion);
    // Check and write with no await in between: the condition is atomic, as DynamoDB's is.
    const json = this.records.get(record.id);
    const stored = json === undefined ? undefined : (JSON.parse(json) as SourceRecord);
    if (!stored || stored.version !== expectedVersion) {
      throw new VersionConflictError(`source ${record.id} changed since version ${expectedVersion}`);
    }
    const version = expectedVersion + 1;
    this.records.set(record.id, JSON.stringify({ ...record, version }));
    if (transition) this.traces.set(record.id, [...(this.traces.get(record.id) ?? []), structuredClone(transition)]);
    this.saves++;
    return version;
  }

  async recentTransitions(id: string, limit = 8): Promise<TransitionRecord[]> {
    return structuredClone((this.traces.get(id) ?? []).slice(-limit));
  }

  async queryDue(until: number, limit?: number): Promise<SourceRecord[]> {
    const due = (await this.list())
      .filter((r) => r.nextDueAt !== undefined && r.nextDueAt <= until)
      .sort((a, b) => (a.nextDueAt as number) - (b.nextDueAt as number));
    return limit === undefined ? due : due.slice(0, Math.max(0, limit));
  }

  async list(): Promise<SourceRecord[]> {
    return [...this.records.values()]
      .map((json) => JSON.parse(json) as SourceRecord)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async remove(id: string): Promise<void> {
    this.records.delete(id);
    this.traces.delete(id);
  }
}
