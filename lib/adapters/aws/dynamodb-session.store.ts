/**
 * SessionStore on the single table: item pk `SESSION#<id>`, sk `SESSION`. Vendor session material is a bearer
 * secret, which is why it lives apart from the source item: the tick role never needs it, and IAM can deny it
 * `dynamodb:LeadingKeys` `SESSION#*` (only fetch-frame reads or writes sessions).
 *
 * `ttl` (epoch seconds) = expiresAt + 1 day lets DynamoDB delete stale items for free. TTL deletion is lazy (often
 * days), so reads also drop items whose `ttl` has passed. Sessions past `expiresAt` but within the day are still
 * returned: deciding whether to reuse one is the caller's call.
 *
 * Material that holds a refresh token (`holdsRefreshToken`) gets no `ttl`: its `expiresAt` is only the access
 * token's, and with rotating refresh tokens (CareLink) the stored one is the only live copy. A TTL there would let a
 * source that sits paused or failing for a day lose it, and a person would have to log in in a browser again. Such
 * an item lives until it is cleared: when the source is removed, its credentials change, or the vendor rejects it.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { holdsRefreshToken } from '../../domain/session.js';
import type { Clock } from '../../ports/observability.port.js';
import type { SessionStore, StoredSession } from '../../ports/session.store.port.js';
import { systemClock } from '../system/system.observability.js';
import { SOURCE_TABLE_SCHEMA as S } from './dynamodb-source.store.js';

/** How long after a session's expiry its item may linger before TTL removes it. */
export const SESSION_TTL_GRACE_MS = 24 * 60 * 60 * 1000;

export interface DynamoDbSessionStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  clock?: Clock;
}

export class DynamoDbSessionStore implements SessionStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(opts: DynamoDbSessionStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.clock = opts.clock ?? systemClock;
  }

  async get(sourceId: string): Promise<StoredSession | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: sessionKey(sourceId), ConsistentRead: true }),
    );
    const item = out.Item;
    if (!item) return undefined;
    // No `ttl` attribute: a session that lives until cleared (it holds a refresh token).
    const ttl = item[S.ttlAttribute]?.N;
    if (ttl !== undefined && Number(ttl) * 1000 <= this.clock.now()) return undefined;
    return {
      material: JSON.parse(item.material?.S ?? 'null'),
      establishedAt: Number(item.establishedAt?.N),
      expiresAt: Number(item.expiresAt?.N),
    };
  }

  async put(sourceId: string, session: StoredSession): Promise<void> {
    const item: Record<string, AttributeValue> = {
      ...sessionKey(sourceId),
      material: { S: JSON.stringify(session.material) },
      establishedAt: { N: String(session.establishedAt) },
      expiresAt: { N: String(session.expiresAt) },
    };
    // PutItem replaces the whole item, so a session that gains a refresh token also loses an earlier `ttl`.
    const ttl = sessionTtlFor(session);
    if (ttl !== undefined) item[S.ttlAttribute] = { N: String(ttl) };
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item }));
  }

  async clear(sourceId: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: sessionKey(sourceId) }));
  }
}

/** Epoch seconds after which the item of a plain session (no refresh token) may be deleted. */
export function sessionTtlSeconds(expiresAt: number): number {
  return Math.ceil((expiresAt + SESSION_TTL_GRACE_MS) / 1000);
}

/** The item's `ttl`, or undefined for a session that must live until cleared (it holds a refresh token). */
export function sessionTtlFor(session: StoredSession): number | undefined {
  return holdsRefreshToken(session.material) ? undefined : sessionTtlSeconds(session.expiresAt);
}

function sessionKey(sourceId: string): Record<string, AttributeValue> {
  return { pk: { S: `${S.sessionPrefix}${sourceId}` }, sk: { S: S.sessionSortKey } };
}
