import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/adapters/aws/aws-clients.js';
import { DynamoDbSessionStore, sessionTtlSeconds } from '../../lib/adapters/aws/dynamodb-session.store.js';
import {
  createSourceTable,
  DynamoDbSourceStore,
  SOURCE_TABLE_SCHEMA,
} from '../../lib/adapters/aws/dynamodb-source.store.js';
import { statusOfStored } from '../../lib/app/source-status.js';
import { VersionConflictError } from '../../lib/domain/errors.js';
import type { SourceRecord } from '../../lib/ports/source.store.port.js';
import { countRequests, RequestCounter } from '../../local/aws-instrumentation.js';
import { startDynalite } from '../../local/emulators.js';
import { useDynalite } from '../helpers/emulators.helper.js';

const dynalite = useDynalite();
let tableCounter = 0;

async function freshStore(shards?: number) {
  const tableName = `sources-${++tableCounter}`;
  await createSourceTable(dynalite.client, tableName);
  return {
    tableName,
    store: new DynamoDbSourceStore({ client: dynalite.client, tableName, shards, statusOf: statusOfStored }),
  };
}

/** A stored-form snapshot in the given loop state (the store derives status from it, so it must look real). */
function snapshot(loopState: string) {
  return {
    value: { operation: 'running', session: 'idle', loops: { L: loopState } },
    context: { sourceId: 'x', session: {}, loops: {} },
  };
}

function withState(base: Omit<SourceRecord, 'version'>, loopState: string) {
  const snap = snapshot(loopState);
  return { ...base, snapshot: snap, status: statusOfStored(snap) };
}

function record(id: string, nextDueAt?: number): Omit<SourceRecord, 'version'> {
  const snap = snapshot('waiting');
  return {
    id,
    config: {
      id,
      kind: 'dexcomshare',
      settings: { region: 'us' },
      nightscout: { endpoint: 'https://ns.example', apiVersion: 'v1' },
    },
    snapshot: snap,
    machineVersion: 1,
    status: statusOfStored(snap),
    ...(nextDueAt !== undefined ? { nextDueAt } : {}),
  };
}

describe('DynamoDbSourceStore (dynalite)', () => {
  it('creates a table idempotently', async () => {
    const { tableName } = await freshStore();
    await expect(createSourceTable(dynalite.client, tableName)).resolves.toBeUndefined();
  });

  it('creates at version 1 and reads back the same record', async () => {
    const { store } = await freshStore();
    const created = await store.create(record('a', 5_000));
    expect(created.version).toBe(1);
    expect(await store.get('a')).toEqual({ ...record('a', 5_000), version: 1 });
    expect(await store.get('missing')).toBeUndefined();
  });

  it('refuses to create an id twice', async () => {
    const { store } = await freshStore();
    await store.create(record('a'));
    await expect(store.create(record('a'))).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('saves conditionally on the version and rejects a stale version', async () => {
    const { store } = await freshStore();
    const created = await store.create(record('a', 1_000));
    const v2 = await store.save(withState(created, 'fetching') as SourceRecord, 1);
    expect(v2).toBe(2);
    expect((await store.get('a'))?.status.state).toBe('running/session:idle/L:fetching');

    await expect(store.save(withState(created, 'persisting') as SourceRecord, 1)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    expect(await store.get('a')).toMatchObject({ version: 2, status: { state: 'running/session:idle/L:fetching' } });
  });

  it('does not resurrect a removed source on save', async () => {
    const { store } = await freshStore();
    const created = await store.create(record('a'));
    await store.remove('a');
    await expect(store.save(created, 1)).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.get('a')).toBeUndefined();
  });

  it('lets exactly one of two concurrent saves from the same version win', async () => {
    const { store } = await freshStore();
    const created = await store.create(record('a', 1_000));
    const results = await Promise.allSettled([
      store.save(withState(created, 'fetching') as SourceRecord, 1),
      store.save(withState(created, 'persisting') as SourceRecord, 1),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflictError);
    const winner = results[0].status === 'fulfilled' ? 'fetching' : 'persisting';
    expect(await store.get('a')).toMatchObject({ version: 2, status: { state: `running/session:idle/L:${winner}` } });
  });

  it('keeps the due index sparse: records without nextDueAt are never due', async () => {
    const { store, tableName } = await freshStore(2);
    await store.create(record('scheduled', 1_000));
    const paused = await store.create(record('paused'));
    const parked = await store.create(record('parked', 1_000));
    await store.save({ ...parked, nextDueAt: undefined }, 1);

    expect((await store.queryDue(10_000)).map((r) => r.id)).toEqual(['scheduled']);
    expect(paused.nextDueAt).toBeUndefined();
    // Directly in the index: parking removed dueShard/nextDueAt, so only one item is indexed at all.
    let indexed = 0;
    for (const shard of ['DUE#0', 'DUE#1']) {
      const out = await dynalite.client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: SOURCE_TABLE_SCHEMA.dueIndex.name,
          KeyConditionExpression: 'dueShard = :s',
          ExpressionAttributeValues: { ':s': { S: shard } },
        }),
      );
      indexed += out.Count ?? 0;
    }
    expect(indexed).toBe(1);
  });

  it('spreads ids over the due shards and queries all of them', async () => {
    const { store } = await freshStore(8);
    const ids = Array.from({ length: 40 }, (_, i) => `source-${i}`);
    for (const id of ids) await store.create(record(id, 1_000));
    const shardsUsed = new Set(ids.map((id) => store.dueShardOf(id)));
    expect(shardsUsed.size).toBeGreaterThanOrEqual(6);
    expect([...shardsUsed].every((s) => /^DUE#[0-7]$/.test(s))).toBe(true);
    expect((await store.queryDue(1_000)).map((r) => r.id).sort()).toEqual([...ids].sort());
  });

  it('honours the until bound, orders by nextDueAt and bounds the result by limit', async () => {
    const { store } = await freshStore(4);
    for (let i = 0; i < 30; i++) await store.create(record(`s${i}`, 1_000 + i * 10));
    const due = await store.queryDue(1_145);
    expect(due.map((r) => r.nextDueAt)).toEqual(Array.from({ length: 15 }, (_, i) => 1_000 + i * 10));

    const limited = await store.queryDue(2_000, 7);
    expect(limited.map((r) => r.nextDueAt)).toEqual(Array.from({ length: 7 }, (_, i) => 1_000 + i * 10));
    expect(await store.queryDue(999)).toEqual([]);
    expect(await store.queryDue(2_000, 0)).toEqual([]);
  });

  it('paginates a shard with LastEvaluatedKey', async () => {
    // DynamoDB pages a Query at 1 MB of (projected) index entries. Keys-only entries are small, so use ~1.9 KB ids:
    // 600 entries of ≥ 1.9 KB each are more than 1 MB, so the shard needs at least two pages.
    const { store, tableName } = await freshStore(1);
    const ids = Array.from({ length: 600 }, (_, i) => `${String(i).padStart(4, '0')}${'p'.repeat(1_900)}`);
    await Promise.all(ids.map((id, i) => store.create(record(id, 1_000 + i))));
    const counter = new RequestCounter();
    const counted = createDynamoDbClient({ endpoint: dynalite.endpoint });
    countRequests(counted, counter);
    const pagedStore = new DynamoDbSourceStore({ client: counted, tableName, shards: 1, statusOf: statusOfStored });
    const all = await pagedStore.queryDue(5_000);
    expect(all.map((r) => r.id)).toEqual(ids);
    expect(counter.counts['DynamoDB.Query']).toBeGreaterThanOrEqual(2);
    counted.destroy();
  });

  it('keeps the source item small: no status, no trace, short keys (a routine save is 1 WRU)', async () => {
    const { store, tableName } = await freshStore();
    await store.create(record('small', 1_000));
    const out = await dynalite.client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'SOURCE#small' }, sk: { S: 'STATE' } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    expect(Object.keys(out.Item ?? {}).sort()).toEqual([
      'config',
      'dueShard',
      'machineVersion',
      'nextDueAt',
      'pk',
      'sk',
      'snapshot',
      'version',
    ]);
    const put = await dynalite.client.send(
      new PutItemCommand({ TableName: tableName, Item: out.Item!, ReturnConsumedCapacity: 'TOTAL' }),
    );
    expect(put.ConsumedCapacity?.CapacityUnits).toBe(1);
  });

  it('projects only keys into the due index and reads due items with BatchGetItem', async () => {
    const { tableName } = await freshStore(2);
    const description = await dynalite.client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(description.Table?.GlobalSecondaryIndexes?.[0].Projection?.ProjectionType).toBe('KEYS_ONLY');
    const counter = new RequestCounter();
    const counted = createDynamoDbClient({ endpoint: dynalite.endpoint });
    countRequests(counted, counter);
    const store = new DynamoDbSourceStore({ client: counted, tableName, shards: 2, statusOf: statusOfStored });
    for (let i = 0; i < 150; i++) await store.create(record(`k${String(i).padStart(3, '0')}`, 1_000 + i));
    counter.reset();
    const due = await store.queryDue(10_000);
    expect(due.map((r) => r.id)).toEqual(Array.from({ length: 150 }, (_, i) => `k${String(i).padStart(3, '0')}`));
    expect(due[0]).toEqual({ ...record('k000', 1_000), version: 1 });
    expect(counter.counts['DynamoDB.BatchGetItem']).toBe(2);
    // A key whose item was removed after the index answered is skipped, not an error.
    await store.remove('k001');
    expect((await store.queryDue(1_001)).map((r) => r.id)).toEqual(['k000']);
    counted.destroy();
  });

  it('appends a transition only when given, reads the newest back oldest first, and removes the trace with the source', async () => {
    const { store, tableName } = await freshStore();
    const created = await store.create(record('t', 1_000));
    let version = created.version;
    version = await store.save({ ...created, version }, version);
    expect(await store.recentTransitions('t')).toEqual([]);
    for (let i = 0; i < 10; i++) {
      version = await store.save({ ...created, version }, version, {
        at: 5_000 + i,
        event: 'frame.failed',
        from: 'a',
        to: `b${i}`,
        effects: [],
      });
    }
    const recent = await store.recentTransitions('t', 3);
    expect(recent.map((t) => t.to)).toEqual(['b7', 'b8', 'b9']);
    expect((await store.recentTransitions('t')).length).toBe(8);
    // Trace items carry a TTL and stay out of the due index and out of list().
    const raw = await dynalite.client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: 'SOURCE#t' } },
      }),
    );
    const traces = (raw.Items ?? []).filter((item) => item.sk.S?.startsWith('TRACE#'));
    expect(traces).toHaveLength(10);
    expect(Number(traces[0].ttl.N)).toBe(Math.floor(5_000 / 1000) + 14 * 86_400);
    expect(traces.every((item) => item.dueShard === undefined)).toBe(true);
    expect((await store.list()).map((r) => r.id)).toEqual(['t']);
    await store.remove('t');
    const after = await dynalite.client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: 'SOURCE#t' } },
      }),
    );
    expect(after.Count).toBe(0);
  });

  it('lists only source items and removes them', async () => {
    const { store, tableName } = await freshStore();
    await store.create(record('b'));
    await store.create(record('a'));
    await new DynamoDbSessionStore({ client: dynalite.client, tableName }).put('a', {
      material: { sessionId: 's' },
      establishedAt: 1,
      expiresAt: Date.now() + 60_000,
    });
    expect((await store.list()).map((r) => r.id)).toEqual(['a', 'b']);
    await store.remove('a');
    expect((await store.list()).map((r) => r.id)).toEqual(['b']);
  });
});

describe('DynamoDbSessionStore (dynalite)', () => {
  it('stores, reads and clears a session with a TTL one day past expiry', async () => {
    const { tableName } = await freshStore();
    const now = 1_900_000_000_000;
    const sessions = new DynamoDbSessionStore({ client: dynalite.client, tableName, clock: { now: () => now } });
    const session = {
      material: { sessionId: 'abc', nested: [1, 2] },
      establishedAt: now - 1_000,
      expiresAt: now + 3_600_000,
    };
    await sessions.put('src', session);
    expect(await sessions.get('src')).toEqual(session);
    expect(sessionTtlSeconds(session.expiresAt)).toBe((now + 3_600_000 + 86_400_000) / 1000);
    await sessions.clear('src');
    expect(await sessions.get('src')).toBeUndefined();
  });

  it('filters out items whose TTL has passed (TTL deletion is lazy)', async () => {
    const { tableName } = await freshStore();
    let now = 1_900_000_000_000;
    const sessions = new DynamoDbSessionStore({ client: dynalite.client, tableName, clock: { now: () => now } });
    await sessions.put('src', { material: 'm', establishedAt: now, expiresAt: now + 1_000 });

    now += 1_000 + 86_400_000 - 1_000; // still within the day of grace
    expect(await sessions.get('src')).toMatchObject({ material: 'm' });
    now += 1_000; // ttl reached; dynalite never deletes, so the item is still stored
    expect(await sessions.get('src')).toBeUndefined();
  });
});

describe('startDynalite with a data folder', () => {
  it('keeps tables and items across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nsc-dynalite-'));
    try {
      const first = await startDynalite({ path: dir });
      const c1 = createDynamoDbClient({ endpoint: first.endpoint });
      await createSourceTable(c1, 'persisted');
      await new DynamoDbSourceStore({ client: c1, tableName: 'persisted', statusOf: statusOfStored }).create(
        record('kept', 42),
      );
      c1.destroy();
      await first.close();

      const second = await startDynalite({ path: dir });
      const c2 = createDynamoDbClient({ endpoint: second.endpoint });
      expect(
        await new DynamoDbSourceStore({ client: c2, tableName: 'persisted', statusOf: statusOfStored }).get('kept'),
      ).toMatchObject({ id: 'kept', nextDueAt: 42, version: 1 });
      c2.destroy();
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
