/**
 * SourceStore on one DynamoDB table (single-table: sources and sessions share it, told apart by `pk` prefix).
 * One small item per source holds config, snapshot, status and the bounded transition trace; per-reading data never
 * lands here. Every save is a whole-item PutItem conditional on the version, so a source has exactly one writer at
 * a time. The sparse GSI `due` (dueShard, nextDueAt) is what the tick queries; paused or parked sources carry no
 * `dueShard`/`nextDueAt` and so cost the tick nothing.
 */
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { VersionConflictError } from '../../domain/errors.js';
import type { SourceRecord, SourceStore } from '../../ports/source.store.port.js';
import { shardOf } from './shard.key.js';

/** Key and index names, for the CDK table definition to mirror exactly. */
export const SOURCE_TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  sourcePrefix: 'SOURCE#',
  sourceSortKey: 'STATE',
  sessionPrefix: 'SESSION#',
  sessionSortKey: 'SESSION',
  dueIndex: { name: 'due', partitionKey: 'dueShard', sortKey: 'nextDueAt', projection: 'ALL' },
  /** TTL attribute (epoch seconds) used by session items. */
  ttlAttribute: 'ttl',
  defaultDueShards: 8,
} as const;

const S = SOURCE_TABLE_SCHEMA;

export interface DynamoDbSourceStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Due-index partitions; every tick queries all of them. Changing it re-homes items only on their next save. */
  shards?: number;
}

type Item = Record<string, AttributeValue>;

export class DynamoDbSourceStore implements SourceStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly shards: number;

  constructor(opts: DynamoDbSourceStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.shards = opts.shards ?? S.defaultDueShards;
    if (!Number.isInteger(this.shards) || this.shards < 1) throw new RangeError('shards must be a positive integer');
  }

  async get(id: string): Promise<SourceRecord | undefined> {
    // Strongly consistent: the caller is about to save conditionally on this version.
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: sourceKey(id), ConsistentRead: true }));
    return out.Item ? fromItem(out.Item) : undefined;
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

  async save(record: SourceRecord, expectedVersion: number): Promise<number> {
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
      if (isConditionFailure(err)) throw new VersionConflictError(`source ${record.id} changed since version ${expectedVersion}`);
      throw err;
    }
    return version;
  }

  /**
   * Due records from every shard, oldest `nextDueAt` first. Each shard is read up to `limit` so that the merged
   * result is the globally most overdue `limit` records. GSI reads are eventually consistent: a just-saved record
   * may show its previous due time, which the caller's conditional save tolerates.
   */
  async queryDue(until: number, limit?: number): Promise<SourceRecord[]> {
    const max = limit ?? Number.POSITIVE_INFINITY;
    if (max <= 0) return [];
    const perShard = await Promise.all(Array.from({ length: this.shards }, (_, shard) => this.queryShard(shard, until, max)));
    return perShard
      .flat()
      .sort((a, b) => (a.nextDueAt ?? 0) - (b.nextDueAt ?? 0))
      .slice(0, Number.isFinite(max) ? max : undefined);
  }

  async list(): Promise<SourceRecord[]> {
    const records: SourceRecord[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'begins_with(pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': { S: S.sourcePrefix } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) records.push(fromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return records.sort((a, b) => a.id.localeCompare(b.id));
  }

  async remove(id: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: sourceKey(id) }));
  }

  /** The due shard an id lands in (exposed for tests and diagnostics). */
  dueShardOf(id: string): string {
    return `DUE#${shardOf(id, this.shards)}`;
  }

  private async queryShard(shard: number, until: number, max: number): Promise<SourceRecord[]> {
    const records: SourceRecord[] = [];
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
      for (const item of out.Items ?? []) records.push(fromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey && records.length < max);
    return records;
  }

  private toItem(record: SourceRecord): Item {
    const item: Item = {
      ...sourceKey(record.id),
      id: { S: record.id },
      config: { S: JSON.stringify(record.config) },
      snapshot: { S: JSON.stringify(record.snapshot) },
      machineVersion: { N: String(record.machineVersion) },
      version: { N: String(record.version) },
      status: { S: JSON.stringify(record.status) },
      recent: { S: JSON.stringify(record.recent) },
    };
    if (record.nextDueAt !== undefined) {
      if (!Number.isFinite(record.nextDueAt)) throw new RangeError(`nextDueAt of source ${record.id} is not a finite number`);
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

function fromItem(item: Item): SourceRecord {
  const record: SourceRecord = {
    id: str(item, 'id'),
    config: JSON.parse(str(item, 'config')),
    snapshot: JSON.parse(str(item, 'snapshot')),
    machineVersion: num(item, 'machineVersion'),
    version: num(item, 'version'),
    status: JSON.parse(str(item, 'status')),
    recent: JSON.parse(str(item, 'recent')),
  };
  if (item.nextDueAt?.N !== undefined) record.nextDueAt = Number(item.nextDueAt.N);
  return record;
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
