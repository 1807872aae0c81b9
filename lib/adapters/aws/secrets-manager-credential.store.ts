/**
 * CredentialAdmin on Secrets Manager, sharded to keep cost flat: a secret costs $0.40 a month, so instead of one
 * secret per source, sources are hashed into `shards` secrets named `<prefix>credentials/<shard>`, each holding
 * `{ "sources": { "<sourceId>": SourceCredentials } }`. A secret value is at most 64 KB; at ~400 B per source a
 * shard holds about 150 sources, so choose shards = ceil(sources / 100) to leave headroom. One shard (the default)
 * is single-person mode.
 *
 * Reads are cached per process for `cacheTtlMs` (default 1 h; a warm Lambda serves many sources from one read).
 * After an auth rejection callers pass `fresh: true`, in case the person just updated their password.
 *
 * Secrets Manager has no conditional put, so `put`/`remove` are read-modify-write made safe by a compare-and-swap
 * on the AWSCURRENT label: the new value is written as a version labelled only `NSC_PENDING` (so nobody reads it
 * yet), then UpdateSecretVersionStage moves AWSCURRENT to it with `RemoveFromVersionId` = the version we read. AWS
 * documents that this call fails when the label is no longer on that version, i.e. when another writer got in
 * first; we then re-read and re-apply (bounded). Plain verify-after-write (put, then check AWSCURRENT is ours) was
 * tried and rejected: a writer holding a stale read can land after another writer's check and silently drop its
 * update, which happened in a 4-writer race against the stand-in. A losing version is left unlabelled, and AWS
 * deletes such deprecated versions on its own.
 *
 * Values never appear in logs or errors; JSON parse errors are replaced, since V8 quotes the input in them.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { ConfigError, VersionConflictError } from '../../domain/errors.js';
import type { SourceCredentials } from '../../domain/source.js';
import type { CredentialAdmin } from '../../ports/credential.store.port.js';
import type { Clock } from '../../ports/observability.port.js';
import { systemClock } from '../system/system.observability.js';
import { shardOf } from './shard.key.js';

export const SECRET_MAX_BYTES = 65_536;
/** Label of a written but not yet promoted version; nothing reads it. */
export const PENDING_STAGE = 'NSC_PENDING';

export interface SecretsManagerCredentialStoreOptions {
  client: SecretsManagerClient;
  /** Secret name prefix, e.g. `nightscout-connect/`. */
  prefix: string;
  /** Number of shard secrets; must never shrink without migrating. @default 1 */
  shards?: number;
  /** @default 3_600_000 (1 h) */
  cacheTtlMs?: number;
  clock?: Clock;
  /** Bounded retries for put/remove when concurrent writers interfere. @default 5 */
  maxWriteAttempts?: number;
}

type ShardSources = Record<string, SourceCredentials>;

interface ShardState {
  exists: boolean;
  versionId?: string;
  sources: ShardSources;
}

interface CacheEntry {
  loadedAt: number;
  sources: ShardSources;
}

export class SecretsManagerCredentialStore implements CredentialAdmin {
  private readonly client: SecretsManagerClient;
  private readonly prefix: string;
  private readonly shards: number;
  private readonly cacheTtlMs: number;
  private readonly clock: Clock;
  private readonly maxWriteAttempts: number;
  private readonly cache = new Map<number, CacheEntry>();
  /** One in-flight read per shard, so a burst of frames on a cold process costs one request. */
  private readonly loading = new Map<number, Promise<ShardSources>>();

  constructor(opts: SecretsManagerCredentialStoreOptions) {
    this.client = opts.client;
    this.prefix = opts.prefix;
    this.shards = opts.shards ?? 1;
    this.cacheTtlMs = opts.cacheTtlMs ?? 3_600_000;
    this.clock = opts.clock ?? systemClock;
    this.maxWriteAttempts = opts.maxWriteAttempts ?? 5;
    if (!Number.isInteger(this.shards) || this.shards < 1)
      throw new ConfigError(['credential shards must be a positive integer']);
  }

  /** The secret name holding a source's credentials. */
  secretNameFor(sourceId: string): string {
    return this.shardName(shardOf(sourceId, this.shards));
  }

  async get(sourceId: string, options?: { fresh?: boolean }): Promise<SourceCredentials> {
    const shard = shardOf(sourceId, this.shards);
    const cached = this.cache.get(shard);
    const cacheValid = cached !== undefined && this.clock.now() - cached.loadedAt < this.cacheTtlMs;
    let sources = options?.fresh !== true && cacheValid ? cached.sources : await this.load(shard);
    // A source added after our cached read would otherwise stay invisible for up to an hour; one re-read is cheap
    // because a missing source is rare (it is a configuration error otherwise).
    if (sources[sourceId] === undefined && sources === cached?.sources) sources = await this.load(shard);
    const found = sources[sourceId];
    if (found === undefined) throw new ConfigError([`no credentials stored for source ${sourceId}`]);
    return structuredClone(found);
  }

  async put(sourceId: string, credentials: SourceCredentials): Promise<void> {
    const copy = structuredClone(credentials);
    await this.modify(
      sourceId,
      (sources) => ({ ...sources, [sourceId]: copy }),
      (sources) => sameJson(sources[sourceId], copy),
    );
  }

  async remove(sourceId: string): Promise<void> {
    await this.modify(
      sourceId,
      (sources) => {
        const next = { ...sources };
        delete next[sourceId];
        return next;
      },
      (sources) => sources[sourceId] === undefined,
    );
  }

  private shardName(shard: number): string {
    return `${this.prefix}credentials/${shard}`;
  }

  private load(shard: number): Promise<ShardSources> {
    const inFlight = this.loading.get(shard);
    if (inFlight) return inFlight;
    const promise = this.readShard(shard)
      .then((state) => {
        this.cache.set(shard, { loadedAt: this.clock.now(), sources: state.sources });
        return state.sources;
      })
      .finally(() => this.loading.delete(shard));
    this.loading.set(shard, promise);
    return promise;
  }

  private async readShard(shard: number, versionId?: string): Promise<ShardState> {
    const name = this.shardName(shard);
    try {
      const out = await this.client.send(
        new GetSecretValueCommand({ SecretId: name, ...(versionId ? { VersionId: versionId } : {}) }),
      );
      return { exists: true, versionId: out.VersionId, sources: parseShard(name, out.SecretString) };
    } catch (err) {
      if (errorName(err) === 'ResourceNotFoundException' && versionId === undefined)
        return { exists: false, sources: {} };
      throw err;
    }
  }

  /**
   * Read-modify-write of one shard with a compare-and-swap on AWSCURRENT (see the module comment). `apply` must be
   * a pure per-source change so it can be re-applied to whatever another writer left; `holds` tells whether a shard
   * already reflects the change (then nothing is written).
   */
  private async modify(
    sourceId: string,
    apply: (sources: ShardSources) => ShardSources,
    holds: (sources: ShardSources) => boolean,
  ): Promise<void> {
    const shard = shardOf(sourceId, this.shards);
    const name = this.shardName(shard);
    for (let attempt = 1; attempt <= this.maxWriteAttempts; attempt++) {
      const basis = await this.readShard(shard);
      if (basis.exists && holds(basis.sources)) {
        this.cache.set(shard, { loadedAt: this.clock.now(), sources: basis.sources });
        return;
      }
      const next = apply(basis.sources);
      const secretString = JSON.stringify({ sources: next });
      if (Buffer.byteLength(secretString, 'utf8') > SECRET_MAX_BYTES) {
        throw new ConfigError([`credential shard ${name} would exceed 64 KB; configure more credential shards`]);
      }
      // Our own token: an SDK retry of the same write stays idempotent, and we know which version is ours.
      const token = randomUUID();

      if (!basis.exists || basis.versionId === undefined) {
        try {
          // CreateSecret is conditional by nature: exactly one creator wins.
          await this.client.send(
            new CreateSecretCommand({ Name: name, SecretString: secretString, ClientRequestToken: token }),
          );
        } catch (err) {
          if (errorName(err) === 'ResourceExistsException') continue;
          throw err;
        }
      } else {
        await this.client.send(
          new PutSecretValueCommand({
            SecretId: name,
            SecretString: secretString,
            ClientRequestToken: token,
            VersionStages: [PENDING_STAGE],
          }),
        );
        try {
          await this.client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: name,
              VersionStage: 'AWSCURRENT',
              MoveToVersionId: token,
              RemoveFromVersionId: basis.versionId,
            }),
          );
        } catch (err) {
          // Only a moved AWSCURRENT means we lost the race; anything else is a real failure.
          if ((await this.currentVersionId(name)) !== basis.versionId) continue;
          throw err;
        }
      }
      this.cache.set(shard, { loadedAt: this.clock.now(), sources: next });
      return;
    }
    throw new VersionConflictError(`credential shard ${name} kept changing under concurrent writers; try again`);
  }

  private async currentVersionId(name: string): Promise<string | undefined> {
    const out = await this.client.send(new DescribeSecretCommand({ SecretId: name }));
    return Object.entries(out.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
  }
}

function parseShard(name: string, secretString: string | undefined): ShardSources {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? '');
  } catch {
    // Deliberately no cause: the JSON.parse message quotes part of the (secret) input.
    throw new ConfigError([`credential secret ${name} is not valid JSON`]);
  }
  const sources = (parsed as { sources?: unknown } | null)?.sources;
  if (typeof sources !== 'object' || sources === null || Array.isArray(sources)) {
    throw new ConfigError([`credential secret ${name} must be an object with a "sources" map`]);
  }
  return sources as ShardSources;
}

function sameJson(a: unknown, b: unknown): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | null)?.name;
}
