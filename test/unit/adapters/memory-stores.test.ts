import { describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../../lib/adapters/memory/memory-credential.store.js';
import { MemorySessionStore } from '../../../lib/adapters/memory/memory-session.store.js';
import { ConfigError } from '../../../lib/domain/errors.js';

describe('MemorySessionStore', () => {
  it('stores a JSON copy and drops the session a day after expiry, like the DynamoDB TTL filter', async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore({ clock: { now: () => now } });
    const material = { sessionId: 'abc' };
    await store.put('a', { material, establishedAt: now, expiresAt: now + 1_000 });
    material.sessionId = 'changed';
    expect(await store.get('a')).toEqual({
      material: { sessionId: 'abc' },
      establishedAt: 1_000_000,
      expiresAt: 1_001_000,
    });
    now += 1_000 + 86_400_000 - 1;
    expect(await store.get('a')).toBeDefined();
    now += 1;
    expect(await store.get('a')).toBeUndefined();
  });

  it('keeps a session that holds a refresh token past expiry + 1 day, until cleared (like the DynamoDB adapter)', async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore({ clock: { now: () => now } });
    await store.put('a', {
      material: { accessToken: 'at', refreshToken: 'rt' },
      establishedAt: now,
      expiresAt: now + 1_000,
    });
    now += 1_000 + 2 * 86_400_000;
    expect((await store.get('a'))?.material).toEqual({ accessToken: 'at', refreshToken: 'rt' });
    await store.clear('a');
    expect(await store.get('a')).toBeUndefined();
  });

  it('clears', async () => {
    const store = new MemorySessionStore();
    await store.put('a', { material: 'x', establishedAt: 0, expiresAt: Date.now() + 60_000 });
    await store.clear('a');
    expect(await store.get('a')).toBeUndefined();
    expect(store.ids()).toEqual([]);
  });
});

describe('MemoryCredentialStore', () => {
  it('returns copies, counts reads, and reports a missing source as ConfigError', async () => {
    const store = new MemoryCredentialStore({
      a: { vendor: { password: 'pw-DO-NOT-LEAK' }, nightscout: { apiSecret: 's' } },
    });
    const got = await store.get('a');
    got.vendor.password = 'mutated';
    expect((await store.get('a', { fresh: true })).vendor.password).toBe('pw-DO-NOT-LEAK');
    expect([store.reads, store.freshReads]).toEqual([2, 1]);
    await store.remove('a');
    const err = await store.get('a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('no credentials stored for source a');
    await store.put('b', { vendor: {}, nightscout: { token: 't' } });
    expect(await store.get('b')).toEqual({ vendor: {}, nightscout: { token: 't' } });
  });
});
