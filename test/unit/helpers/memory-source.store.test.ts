/**
 * The memory source store the use-case tests stand on must keep the SourceStore contract the DynamoDB adapter keeps
 * (test/integration/dynamodb-source.store.int.test.ts); otherwise those tests would pass against a friendlier store.
 */
import { describe, expect, it } from 'vitest';
import { VersionConflictError } from '../../../lib/domain/errors.js';
import type { SourceRecord } from '../../../lib/ports/source.store.port.js';
import { MemorySourceStore } from '../../helpers/memory-source.store.js';

function record(id: string, nextDueAt?: number): Omit<SourceRecord, 'version'> {
  return {
    id,
    config: { id, kind: 'k', settings: {}, nightscout: { endpoint: 'https://ns.example.invalid', apiVersion: 'v1' } },
    snapshot: { value: 'x' },
    machineVersion: 1,
    status: {
      state: 'running/session:idle/A:waiting',
      operation: 'running',
      sessionMode: 'idle',
      loopModes: { A: 'waiting' },
    },
    ...(nextDueAt === undefined ? {} : { nextDueAt }),
  };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MemorySourceStore', () => {
  it('creates at version 1 once; saves only on the expected version; a removed source cannot be saved back', async () => {
    const store = new MemorySourceStore();
    const created = await store.create(record('a'));
    expect(created.version).toBe(1);
    await expect(store.create(record('a'))).rejects.toBeInstanceOf(VersionConflictError);

    expect(await store.save({ ...created, snapshot: { value: 'y' } }, 1)).toBe(2);
    await expect(store.save({ ...created, snapshot: { value: 'z' } }, 1)).rejects.toBeInstanceOf(VersionConflictError);
    expect((await store.get('a'))?.snapshot).toEqual({ value: 'y' });

    await store.remove('a');
    await expect(store.save(created, 2)).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.get('a')).toBeUndefined();
  });

  it('checks the version atomically: of two saves that read the same version, one wins', async () => {
    const store = new MemorySourceStore();
    const created = await store.create(record('a'));
    store.beforeSave = () => turn();
    const results = await Promise.allSettled([
      store.save({ ...created, snapshot: 1 }, 1),
      store.save({ ...created, snapshot: 2 }, 1),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(store.saves).toBe(1);
  });

  it('hands out copies: changing a returned or saved object changes nothing stored', async () => {
    const store = new MemorySourceStore();
    const input = record('a');
    const created = await store.create(input);
    (input.snapshot as { value: string }).value = 'mutated';
    (created.snapshot as { value: string }).value = 'mutated';
    const got = await store.get('a');
    expect(got?.snapshot).toEqual({ value: 'x' });
    (got?.snapshot as { value: string }).value = 'mutated';
    expect((await store.get('a'))?.snapshot).toEqual({ value: 'x' });
  });

  it('queryDue: due up to the instant, most overdue first, sparse (no nextDueAt, never due), limited', async () => {
    const store = new MemorySourceStore();
    await store.create(record('late', 300));
    await store.create(record('early', 100));
    await store.create(record('parked'));
    await store.create(record('future', 900));
    expect((await store.queryDue(500)).map((r) => r.id)).toEqual(['early', 'late']);
    expect((await store.queryDue(500, 1)).map((r) => r.id)).toEqual(['early']);
    expect((await store.list()).map((r) => r.id)).toEqual(['early', 'future', 'late', 'parked']);
  });

  it('keeps traced transitions per source, newest last, and drops them with the source', async () => {
    const store = new MemorySourceStore();
    const created = await store.create(record('a'));
    const v2 = await store.save(created, 1, { at: 1, event: 'e1', from: 'x', to: 'y', effects: [] });
    await store.save({ ...created, version: v2 }, v2);
    await store.save({ ...created, version: v2 + 1 }, v2 + 1, {
      at: 2,
      event: 'e2',
      from: 'y',
      to: 'z',
      effects: ['requestFrame'],
    });
    expect((await store.recentTransitions('a')).map((t) => t.event)).toEqual(['e1', 'e2']);
    expect((await store.recentTransitions('a', 1)).map((t) => t.event)).toEqual(['e2']);
    await store.remove('a');
    expect(await store.recentTransitions('a')).toEqual([]);
  });
});
