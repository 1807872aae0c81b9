import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { createSecretsManagerClient } from '../../lib/adapters/aws/aws-clients.js';
import { SecretsManagerCredentialStore } from '../../lib/adapters/aws/secrets-manager-credential.store.js';
import { ConfigError } from '../../lib/domain/errors.js';
import type { SourceCredentials } from '../../lib/domain/source.js';
import { countRequests, RequestCounter } from '../../local/aws-instrumentation.js';
import { useSecretsStandIn } from '../helpers/emulators.helper.js';

const standIn = useSecretsStandIn();
let prefixCounter = 0;

const SECRET_MARKER = 'pw-DO-NOT-LEAK-7f3a';

function creds(n: number): SourceCredentials {
  return {
    vendor: { accountName: `user${n}`, password: `${SECRET_MARKER}-${n}` },
    nightscout: { apiSecret: `ns-${SECRET_MARKER}-${n}` },
  };
}

function counted(opts: { shards?: number; cacheTtlMs?: number; clock?: { now(): number } } = {}) {
  const counter = new RequestCounter();
  const sm = createSecretsManagerClient({ endpoint: standIn.endpoint });
  countRequests(sm, counter);
  const prefix = `test${++prefixCounter}/`;
  return { counter, prefix, store: new SecretsManagerCredentialStore({ client: sm, prefix, ...opts }), sm };
}

async function shardContent(name: string): Promise<Record<string, SourceCredentials>> {
  const out = await standIn.client.send(new GetSecretValueCommand({ SecretId: name }));
  return (JSON.parse(out.SecretString ?? '') as { sources: Record<string, SourceCredentials> }).sources;
}

describe('SecretsManagerCredentialStore (stand-in)', () => {
  it('puts and gets credentials, creating the shard secret on first put', async () => {
    const { store, prefix } = counted();
    await store.put('a', creds(1));
    await store.put('b', creds(2));
    expect(await store.get('a')).toEqual(creds(1));
    expect(await store.get('b', { fresh: true })).toEqual(creds(2));
    expect(store.secretNameFor('a')).toBe(`${prefix}credentials/0`);
    expect(Object.keys(await shardContent(`${prefix}credentials/0`)).sort()).toEqual(['a', 'b']);
  });

  it('spreads sources over shard secrets', async () => {
    const { store, prefix } = counted({ shards: 4 });
    const ids = Array.from({ length: 24 }, (_, i) => `source-${i}`);
    for (const [i, id] of ids.entries()) await store.put(id, creds(i));
    const names = new Set(ids.map((id) => store.secretNameFor(id)));
    expect(names.size).toBeGreaterThanOrEqual(3);
    for (const name of names) {
      expect(name).toMatch(new RegExp(`^${prefix}credentials/[0-3]$`));
      const stored = Object.keys(await shardContent(name));
      expect(stored.every((id) => store.secretNameFor(id) === name)).toBe(true);
    }
    for (const [i, id] of ids.entries()) expect(await store.get(id)).toEqual(creds(i));
  });

  it('serves repeated reads from the cache until the TTL, and fresh:true re-reads', async () => {
    let now = 1_000_000;
    const writer = counted();
    await writer.store.put('a', creds(1));
    await writer.store.put('b', creds(2));
    const reader = new SecretsManagerCredentialStore({
      client: writer.sm,
      prefix: writer.prefix,
      cacheTtlMs: 60_000,
      clock: { now: () => now },
    });
    writer.counter.reset();

    await reader.get('a');
    await reader.get('b');
    await reader.get('a');
    expect(writer.counter.counts).toEqual({ 'SecretsManager.GetSecretValue': 1 });

    await reader.get('a', { fresh: true });
    expect(writer.counter.total()).toBe(2);

    now += 59_999;
    await reader.get('a');
    expect(writer.counter.total()).toBe(2);
    now += 1;
    await reader.get('a');
    expect(writer.counter.total()).toBe(3);
  });

  it('coalesces concurrent cold reads of one shard into one request', async () => {
    const { store, sm, prefix, counter } = counted();
    await store.put('a', creds(1));
    const cold = new SecretsManagerCredentialStore({ client: sm, prefix });
    counter.reset();
    await Promise.all([cold.get('a'), cold.get('a'), cold.get('a')]);
    expect(counter.counts).toEqual({ 'SecretsManager.GetSecretValue': 1 });
  });

  it('sees a password changed elsewhere only after fresh:true (the auth-rejected path)', async () => {
    const { store, sm, prefix } = counted();
    await store.put('a', creds(1));
    const lambda = new SecretsManagerCredentialStore({ client: sm, prefix });
    expect(await lambda.get('a')).toEqual(creds(1));
    await store.put('a', creds(9));
    expect(await lambda.get('a')).toEqual(creds(1));
    expect(await lambda.get('a', { fresh: true })).toEqual(creds(9));
  });

  it('finds a source added after the shard was cached, with one re-read', async () => {
    const { store, sm, prefix, counter } = counted();
    await store.put('a', creds(1));
    const lambda = new SecretsManagerCredentialStore({ client: sm, prefix });
    await lambda.get('a');
    await store.put('b', creds(2));
    counter.reset();
    expect(await lambda.get('b')).toEqual(creds(2));
    expect(counter.counts).toEqual({ 'SecretsManager.GetSecretValue': 1 });
  });

  it('keeps both of two concurrent puts into one shard', async () => {
    const { sm, prefix } = counted();
    const one = new SecretsManagerCredentialStore({ client: sm, prefix });
    const two = new SecretsManagerCredentialStore({ client: sm, prefix });
    await one.put('seed', creds(0)); // shard exists, so both writers take the PutSecretValue path
    await Promise.all([one.put('a', creds(1)), two.put('b', creds(2))]);
    expect(Object.keys(await shardContent(`${prefix}credentials/0`)).sort()).toEqual(['a', 'b', 'seed']);
  });

  it('keeps both of two concurrent first puts that race to create the shard', async () => {
    const { sm, prefix } = counted();
    const one = new SecretsManagerCredentialStore({ client: sm, prefix });
    const two = new SecretsManagerCredentialStore({ client: sm, prefix });
    await Promise.all([one.put('a', creds(1)), two.put('b', creds(2))]);
    expect(Object.keys(await shardContent(`${prefix}credentials/0`)).sort()).toEqual(['a', 'b']);
  });

  it('re-applies its change when another version landed between its read and its write', async () => {
    // The compare-and-swap on AWSCURRENT fails because the label moved off the version we read.
    const { sm, prefix, counter } = counted();
    const name = `${prefix}credentials/0`;
    const store = new SecretsManagerCredentialStore({ client: sm, prefix });
    await store.put('seed', creds(0));
    let injected = false;
    sm.middlewareStack.add(
      (next, context) => async (args) => {
        if (!injected && context.commandName === 'PutSecretValueCommand') {
          injected = true;
          // Simulate a concurrent writer whose version lands between our read and our write.
          await standIn.client.send(
            new PutSecretValueCommand({
              SecretId: name,
              SecretString: JSON.stringify({ sources: { seed: creds(0), other: creds(5) } }),
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'interleaveWriter' },
    );
    counter.reset();
    await store.put('mine', creds(3));
    expect(Object.keys(await shardContent(name)).sort()).toEqual(['mine', 'other', 'seed']);
    // read, write, swap (fails), check why; then read, write, swap.
    expect(counter.counts).toEqual({
      'SecretsManager.GetSecretValue': 2,
      'SecretsManager.PutSecretValue': 2,
      'SecretsManager.UpdateSecretVersionStage': 2,
      'SecretsManager.DescribeSecret': 1,
    });
  });

  it('removes a source; a later get is a ConfigError', async () => {
    const { store } = counted();
    await store.put('a', creds(1));
    await store.put('b', creds(2));
    await store.remove('a');
    await store.remove('never-there');
    await expect(store.get('a')).rejects.toBeInstanceOf(ConfigError);
    expect(await store.get('b')).toEqual(creds(2));
  });

  it('reports a missing source as ConfigError without any credential value in the message', async () => {
    const { store } = counted();
    await store.put('a', creds(1));
    const err = (await store.get('nobody').catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('no credentials stored for source nobody');
    expect(JSON.stringify({ message: err.message, problems: err.problems, stack: err.stack })).not.toContain(
      SECRET_MARKER,
    );
  });

  it('reports a missing shard secret as ConfigError', async () => {
    const { store } = counted({ shards: 3 });
    await expect(store.get('a')).rejects.toBeInstanceOf(ConfigError);
  });

  it('does not quote a malformed secret in the error', async () => {
    const { store, prefix } = counted();
    await store.put('a', creds(1));
    await standIn.client.send(
      new PutSecretValueCommand({ SecretId: `${prefix}credentials/0`, SecretString: `{"sources": ${SECRET_MARKER}` }),
    );
    const err = (await store.get('a', { fresh: true }).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.cause).toBeUndefined();
    expect(`${err.message}${err.stack}`).not.toContain(SECRET_MARKER);
  });

  it('refuses a put that would overflow the 64 KB shard', async () => {
    const { store } = counted();
    const huge: SourceCredentials = { vendor: { password: 'x'.repeat(70_000) }, nightscout: {} };
    const err = (await store.put('a', huge).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/64 KB/);
  });

  it('promotes each write with one compare-and-swap, leaving AWSPREVIOUS on the prior version', async () => {
    const { store, prefix, counter } = counted();
    await store.put('a', creds(1));
    counter.reset();
    await store.put('a', creds(2));
    expect(counter.counts).toEqual({
      'SecretsManager.GetSecretValue': 1,
      'SecretsManager.PutSecretValue': 1,
      'SecretsManager.UpdateSecretVersionStage': 1,
    });
    const described = await standIn.client.send(new DescribeSecretCommand({ SecretId: `${prefix}credentials/0` }));
    const stages = Object.values(described.VersionIdsToStages ?? {})
      .map((s) => [...s].sort().join('+'))
      .sort();
    expect(stages).toEqual(['AWSCURRENT+NSC_PENDING', 'AWSPREVIOUS']);
    counter.reset();
    await store.put('a', creds(2)); // unchanged: read only
    expect(counter.counts).toEqual({ 'SecretsManager.GetSecretValue': 1 });
  });

  it('never loses an acknowledged put when many writers race on one shard', async () => {
    const { sm, prefix } = counted();
    await new SecretsManagerCredentialStore({ client: sm, prefix }).put('seed', creds(0));
    const writers = Array.from(
      { length: 6 },
      () => new SecretsManagerCredentialStore({ client: sm, prefix, maxWriteAttempts: 10 }),
    );
    const results = await Promise.allSettled(writers.map((w, i) => w.put(`k${i}`, creds(i))));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(Object.keys(await shardContent(`${prefix}credentials/0`)).sort()).toEqual([
      'k0',
      'k1',
      'k2',
      'k3',
      'k4',
      'k5',
      'seed',
    ]);
  });
});
