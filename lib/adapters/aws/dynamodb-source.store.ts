/**
 * SourceStore on one DynamoDB table (single-table: sources and sessions share it, told apart by `pk` prefix).
 * One small item per source (`SOURCE#<id>` / `STATE`) holds config and snapshot — status is derived from the snapshot
 * on read, never stored — so a routine save stays under 1 KB (1 WRU). Every save is a whole-item PutItem conditional
 * on the version, so a source has exactly one writer at a time. Notable transitions are separate small items
 * (`SOURCE#<id>` / `TRACE#<at>#<version>`) with a TTL, written only when the caller passes one; per-reading data never
 * lands here.
 *
 * The sparse GSI `due` (dueShard, nextDueAt) projects KEYS_ONLY: an index write then costs 1 WRU whatever the item
 * size, and a save that leaves `nextDueAt` alone costs the index nothing. The tick queries the keys and fetches the
 * items with BatchGetItem. Paused or parked sources carry no `dueShard`/`nextDueAt` and so cost the tick nothing.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { VersionConflictError } from '../../domain/errors.js';
import type { SourceRecord, SourceStatus, SourceStore, TransitionRecord } from '../../ports/source.store.port.js';
import { shardOf } from './shard.key.js';

/** Key and index names, for the CDK table definition to mirror exactly. */
export const SOURCE_TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  sourcePrefix: 'SOURCE#',
  sourceSortKey: 'STATE',
  tracePrefix: 'TRACE#',
  sessionPrefix: 'SESSION#',
  sessionSortKey: 'SESSION',
  dueIndex: { name: 'due', partitionKey: 'dueShard', sortKey: 'nextDueAt', projection: 'KEYS_ONLY' },
  /** TTL attribute (epoch seconds) used by session and trace items. */
  ttlAttribute: 'ttl',
  defaultDueShards: 8,
  /** How long a traced transition is kept. */
  traceRetentionDays: 14,
  /** What `recentTransitions` returns by default. */
  defaultRecentTransitions: 8,
} as const;

const S = SOURCE_TABLE_SCHEMA;

export interface DynamoDbSourceStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Due-index partitions; every tick queries all of them. Changing it re-homes items only on their next save. */
  shards?: number;
  /**
   * Derives a record's status from its stored snapshot on every read (lib/app's `statusOfStored`): the status is never
   * stored, and the store knows nothing of the machine.
   */
  statusOf: (snapshot: unknown) => SourceStatus;
}

type Item = Record<string, AttributeValue>;

export class DynamoDbSourceStore implements SourceStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly shards: number;
  private readonly statusOf: (snapshot: unknown) => SourceStatus;

  constructor(opts: DynamoDbSourceStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.statusOf = opts.statusOf;
    this.shards = opts.shards ?? S.defaultDueShards;
    if (!Number.isInteger(this.shards) || this.shards < 1) throw new RangeError('shards must be a positive integer');
  }

  private fromItem(item: Item): SourceRecord {
    const snapshot = JSON.parse(str(item, 'snapshot')) as unknown;
    const record: SourceRecord = {
      id: str(item, 'pk').slice(S.sourcePrefix.length),
      config: JSON.parse(str(item, 'config')),
      snapshot,
      machineVersion: num(item, 'machineVersion'),
      version: num(item, 'version'),
      status: this.statusOf(snapshot),
    };
    if (item.nextDueAt?.N !== undefined) record.nextDueAt = Number(item.nextDueAt.N);
    return record;
  }

  async get(id: string): Promise<SourceRecord | undefined> {
    // Strongly consistent: the caller is about to save conditionally on this version.
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: sourceKey(id), ConsistentRead: true }),
    );
    return out.Item ? this.fromItem(out.Item) : undefined;
  }

  async create(record: Omit<SourceRecord, 'version'>): Promise<SourceRecord> {
    const created: SourceRecord = { ...record, version: 1 };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: this.toItem(created),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw new VersionConflictError(`source ${record.id} already exists`);
      throw err;
    }
    return created;
  }

  async save(record: SourceRecord, expectedVersion: number, transition?: TransitionRecord): Promise<number> {
    const version = expectedVersion + 1;
    try {
      // Whole-item put: attributes left out (nextDueAt/dueShard when unscheduled) disappear, keeping the GSI sparse.
      // A missing item fails the condition too (no version attribute), so a removed source cannot be resurrected.
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: this.toItem({ ...record, version }),
          ConditionExpression: '#v = :expected',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err))
        throw new VersionConflictError(`source ${record.id} changed since version ${expectedVersion}`);
      throw err;
    }
    // After the state is stored, not in one transaction (which would double the WRU): a crash in between loses one
    // trace line, never state. The version in the sort key keeps two transitions in the same millisecond apart.
    if (transition)
      await this.client.send(
        new PutItemCommand({ TableName: this.tableName, Item: traceItem(record.id, version, transition) }),
      );
    return version;
  }

  async recentTransitions(id: string, limit: number = S.defaultRecentTransitions): Promise<TransitionRecord[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :trace)',
        ExpressionAttributeValues: { ':pk': { S: `${S.sourcePrefix}${id}` }, ':trace': { S: S.tracePrefix } },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((item) => JSON.parse(str(item, 'transition')) as TransitionRecord).reverse();
  }

  /**
   * Due records from every shard, oldest `nextDueAt` first. Each shard is read up to `limit` so that the merged
   * result is the globally most overdue `limit` records; the items are then fetched 100 keys per BatchGetItem. Both
   * reads are eventually consistent: a record may be a save behind, which the caller's conditional save tolerates.
   * A key whose item has meanwhile gone (removed source) is skipped.
   */
  async queryDue(until: number, limit?: number): Promise<SourceRecord[]> {
    const max = limit ?? Number.POSITIVE_INFINITY;
    if (max <= 0) return [];
    const perShard = await Promise.all(
      Array.from({ length: this.shards }, (_, shard) => this.queryShard(shard, until, max)),
    );
    const keys = perShard
      .flat()
      .sort((a, b) => a.nextDueAt - b.nextDueAt)
      .slice(0, Number.isFinite(max) ? max : undefined);
    const items = await this.batchGet(keys.map((k) => k.pk));
    return keys.flatMap((k) => {
      const item = items.get(k.pk);
      return item ? [this.fromItem(item)] : [];
    });
  }

  async list(): Promise<SourceRecord[]> {
    const records: SourceRecord[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'begins_with(pk, :prefix) AND sk = :state',
          ExpressionAttributeValues: { ':prefix': { S: S.sourcePrefix }, ':state': { S: S.sourceSortKey } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) records.push(this.fromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return records.sort((a, b) => a.id.localeCompare(b.id));
  }

  async remove(id: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: sourceKey(id) }));
    // The trace would expire by TTL anyway; removing it now means a removed source leaves nothing behind.
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :trace)',
          ExpressionAttributeValues: { ':pk': { S: `${S.sourcePrefix}${id}` }, ':trace': { S: S.tracePrefix } },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey: startKey,
        }),
      );
      const keys = out.Items ?? [];
      for (let i = 0; i < keys.length; i += 25) {
        let requests: Record<string, { DeleteRequest: { Key: Item } }[]> | undefined = {
          [this.tableName]: keys
            .slice(i, i + 25)
            .map((key) => ({ DeleteRequest: { Key: { pk: key.pk, sk: key.sk } } })),
        };
        for (let attempt = 0; requests && Object.keys(requests).length > 0; attempt++) {
          if (attempt > 0) await backoff(attempt);
          const result = await this.client.send(new BatchWriteItemCommand({ RequestItems: requests }));
          requests = result.UnprocessedItems as typeof requests;
        }
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  /** The due shard an id lands in (exposed for tests and diagnostics). */
  dueShardOf(id: string): string {
    return `DUE#${shardOf(id, this.shards)}`;
  }

  /** Items by pk (sort key STATE), 100 keys per request, unprocessed keys retried with a short backoff. */
  private async batchGet(pks: string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let i = 0; i < pks.length; i += 100) {
      let keys: Item[] = pks.slice(i, i + 100).map((pk) => ({ pk: { S: pk }, sk: { S: S.sourceSortKey } }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const out = await this.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) found.set(str(item, 'pk'), item);
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  private async queryShard(shard: number, until: number, max: number): Promise<{ pk: string; nextDueAt: number }[]> {
    const records: { pk: string; nextDueAt: number }[] = [];
    let startKey: Item | undefined;
    do {
      const remaining = max - records.length;
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: S.dueIndex.name,
          KeyConditionExpression: 'dueShard = :s AND nextDueAt <= :until',
          ExpressionAttributeValues: { ':s': { S: `DUE#${shard}` }, ':until': { N: String(until) } },
          ExclusiveStartKey: startKey,
          ...(Number.isFinite(remaining) ? { Limit: remaining } : {}),
        }),
      );
      for (const item of out.Items ?? []) records.push({ pk: str(item, 'pk'), nextDueAt: num(item, 'nextDueAt') });
      startKey = out.LastEvaluatedKey;
    } while (startKey && records.length < max);
    return records;
  }

  private toItem(record: SourceRecord): Item {
    // Short attribute names on purpose: names count toward the item size that WRUs are billed on.
    const item: Item = {
      ...sourceKey(record.id),
      config: { S: JSON.stringify(record.config) },
      snapshot: { S: JSON.stringify(record.snapshot) },
      machineVersion: { N: String(record.machineVersion) },
      version: { N: String(record.version) },
    };
    if (record.nextDueAt !== undefined) {
      if (!Number.isFinite(record.nextDueAt))
        throw new RangeError(`nextDueAt of source ${record.id} is not a finite number`);
      item.dueShard = { S: this.dueShardOf(record.id) };
      item.nextDueAt = { N: String(record.nextDueAt) };
    }
    return item;
  }
}

/**
 * Creates the single table with its due GSI (on-demand) and waits until table and index are ACTIVE. For local use
 * and tests; in AWS the CDK stack owns the table. Idempotent.
 */
export async function createSourceTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: S.partitionKey, AttributeType: 'S' },
          { AttributeName: S.sortKey, AttributeType: 'S' },
          { AttributeName: S.dueIndex.partitionKey, AttributeType: 'S' },
          { AttributeName: S.dueIndex.sortKey, AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: S.partitionKey, KeyType: 'HASH' },
          { AttributeName: S.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: S.dueIndex.name,
            KeySchema: [
              { AttributeName: S.dueIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: S.dueIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: S.dueIndex.projection },
          },
        ],
      }),
    );
  } catch (err) {
    if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
  }
  // The SDK waiter polls every 20 s at least; emulators are ready in milliseconds.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((gsi) => gsi.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function sourceKey(id: string): Item {
  return { pk: { S: `${S.sourcePrefix}${id}` }, sk: { S: S.sourceSortKey } };
}

function traceItem(id: string, version: number, transition: TransitionRecord): Item {
  const expires = Math.floor(transition.at / 1000) + S.traceRetentionDays * 86_400;
  return {
    pk: { S: `${S.sourcePrefix}${id}` },
    sk: { S: `${S.tracePrefix}${String(transition.at).padStart(15, '0')}#${String(version).padStart(10, '0')}` },
    transition: { S: JSON.stringify(transition) },
    [S.ttlAttribute]: { N: String(expires) },
  };
}

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
}

function str(item: Item, name: string): string {
  const value = item[name]?.S;
  if (value === undefined) throw new Error(`stored source item lacks string attribute ${name}`);
  return value;
}

function num(item: Item, name: string): number {
  const value = item[name]?.N;
  if (value === undefined) throw new Error(`stored source item lacks number attribute ${name}`);
  return Number(value);
}

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string }).name === 'ConditionalCheckFailedException';
}
