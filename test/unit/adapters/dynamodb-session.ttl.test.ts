// Which sessions outlive the DynamoDB TTL: those whose material holds a refresh token (pure rules; the TTL itself
// against dynalite is test/integration/dynamodb-session.store.int.test.ts).
import { describe, expect, it } from 'vitest';
import { sessionTtlFor, sessionTtlSeconds } from '../../../lib/adapters/aws/dynamodb-session.store.js';
import { holdsRefreshToken } from '../../../lib/domain/session.js';

const carelinkLike = (refreshToken: string) => ({
  accessToken: 'at',
  refreshToken,
  clientId: 'c',
  tokenUrl: 'https://t.example/token',
  lineage: 'l',
});

describe('holdsRefreshToken / sessionTtlFor', () => {
  it('marks only material with a non-empty string refreshToken at its top level', () => {
    expect(holdsRefreshToken(carelinkLike('rt'))).toBe(true);
    for (const material of [
      undefined,
      null,
      'rt',
      ['rt'],
      {},
      { refreshToken: '' },
      { refreshToken: 42 },
      { nested: { refreshToken: 'rt' } },
      { sessionId: 's' },
    ]) {
      expect(holdsRefreshToken(material)).toBe(false);
    }
    expect(sessionTtlFor({ material: carelinkLike('rt'), establishedAt: 0, expiresAt: 1_000 })).toBeUndefined();
    expect(sessionTtlFor({ material: { sessionId: 's' }, establishedAt: 0, expiresAt: 1_000 })).toBe(
      sessionTtlSeconds(1_000),
    );
  });
});
