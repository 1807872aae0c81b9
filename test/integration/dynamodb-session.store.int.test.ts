/**
 * The session item's TTL against dynalite: plain sessions carry `ttl` = expiresAt + 1 day and read as absent once it
 * has passed; sessions holding a refresh token carry no `ttl` at all and live until cleared, because with rotating
 * refresh tokens the stored copy is the only live one (see lib/ports/session.store.port.ts).
 */

import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  DynamoDbSessionStore,
  SESSION_TTL_GRACE_MS,
  sessionTtlSeconds,
} from '../../lib/adapters/aws/dynamodb-session.store.js';
import { createSourceTable, SOURCE_TABLE_SCHEMA as S } from '../../lib/adapters/aws/dynamodb-source.store.js';
import { useDynalite } from '../helpers/emulators.helper.js';

const DAY = 24 * 60 * 60 * 1000;

const dynalite = useDynalite();
let tables = 0;

async function fixture(start: number) {
  const tableName = `sessions-${++tables}`;
  await createSourceTable(dynalite.client, tableName);
  const clock = {
    t: start,
    now() {
      return this.t;
    },
  };
  const sessions = new DynamoDbSessionStore({ client: dynalite.client, tableName, clock });
  const raw = async (id: string) =>
    (
      await dynalite.client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: { pk: { S: `${S.sessionPrefix}${id}` }, sk: { S: S.sessionSortKey } },
          ConsistentRead: true,
        }),
      )
    ).Item;
  return { clock, sessions, raw };
}

const carelinkLike = (refreshToken: string) => ({
  accessToken: 'at',
  refreshToken,
  clientId: 'c',
  tokenUrl: 'https://t.example/token',
  lineage: 'l',
});

describe('DynamoDbSessionStore TTL (dynalite)', () => {
  it('a plain session gets ttl = expiresAt + 1 day and reads as absent once it has passed', async () => {
    const start = 1_900_000_000_000;
    const { clock, sessions, raw } = await fixture(start);
    const session = { material: { sessionId: 'abc' }, establishedAt: start, expiresAt: start + 3_600_000 };
    await sessions.put('plain', session);
    expect((await raw('plain'))?.[S.ttlAttribute]).toEqual({ N: String(sessionTtlSeconds(session.expiresAt)) });
    expect(Number((await raw('plain'))?.[S.ttlAttribute]?.N) * 1000).toBeGreaterThanOrEqual(
      session.expiresAt + SESSION_TTL_GRACE_MS,
    );

    clock.t = session.expiresAt + SESSION_TTL_GRACE_MS - 1_000;
    expect(await sessions.get('plain')).toEqual(session);
    clock.t = session.expiresAt + SESSION_TTL_GRACE_MS;
    // dynalite never deletes by TTL, like DynamoDB before its sweep: the item is there, the store filters it.
    expect(await raw('plain')).toBeDefined();
    expect(await sessions.get('plain')).toBeUndefined();
  });

  it('a session holding a refresh token has no ttl and outlives its access-token expiry until cleared', async () => {
    const start = 1_900_000_000_000;
    const { clock, sessions, raw } = await fixture(start);
    const session = { material: carelinkLike('rt_current'), establishedAt: start, expiresAt: start + 840_000 };
    await sessions.put('rotating', session);
    const item = await raw('rotating');
    expect(item).toBeDefined();
    expect(item?.[S.ttlAttribute]).toBeUndefined();

    // Paused or failing far beyond the old expiresAt + 1 day: the refresh token is still there.
    clock.t = session.expiresAt + 2 * DAY;
    expect(await sessions.get('rotating')).toEqual(session);
    clock.t = session.expiresAt + 400 * DAY;
    expect((await sessions.get('rotating'))?.material).toEqual(carelinkLike('rt_current'));

    // Removal, a credentials change and an auth rejection all end it with clear().
    await sessions.clear('rotating');
    expect(await raw('rotating')).toBeUndefined();
    expect(await sessions.get('rotating')).toBeUndefined();
  });

  it('replacing the item follows the new material: a refresh token drops the ttl, losing it brings the ttl back', async () => {
    const start = 1_900_000_000_000;
    const { sessions, raw } = await fixture(start);
    await sessions.put('s', { material: { sessionId: 'x' }, establishedAt: start, expiresAt: start + 1_000 });
    expect((await raw('s'))?.[S.ttlAttribute]).toBeDefined();
    await sessions.put('s', { material: carelinkLike('rt_1'), establishedAt: start, expiresAt: start + 1_000 });
    expect((await raw('s'))?.[S.ttlAttribute]).toBeUndefined();
    await sessions.put('s', { material: { jwt: 'j', api: 'v3' }, establishedAt: start, expiresAt: start + 2_000 });
    expect((await raw('s'))?.[S.ttlAttribute]).toEqual({ N: String(sessionTtlSeconds(start + 2_000)) });
  });
});
