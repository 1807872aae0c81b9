/**
 * A small Secrets Manager for local runs and tests, because no emulator exists (emulation.md §3). It speaks the
 * AWS JSON 1.1 protocol the SDK uses (POST /, `X-Amz-Target: secretsmanager.<Op>`) and returns AWS's error types,
 * so the real SDK client and our adapter run unchanged against it. Signatures are not checked; it listens on
 * 127.0.0.1 only and keeps everything in memory. Error messages never echo secret values, as AWS's do not.
 *
 * Modelled: CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret, DescribeSecret, ListSecrets,
 * DeleteSecret, RestoreSecret, UpdateSecretVersionStage; staging labels (moving AWSCURRENT moves AWSPREVIOUS to
 * the version it left; UpdateSecretVersionStage fails unless RemoveFromVersionId names the label's current holder,
 * which our credential store relies on as a compare-and-swap), ClientRequestToken as VersionId with idempotent
 * retries, the 64 KB value limit, recovery windows.
 *
 * With `path` (the local runner) the secrets are kept in that file, so a restart keeps them: it is rewritten after
 * every change (temporary file + rename, mode 0600, since it holds the values in clear, as Secrets Manager does
 * behind KMS) and read back on start. Without `path` (tests) nothing touches the disk.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const MAX_SECRET_BYTES = 65_536;
/** AWS keeps at most ~100 versions; unlabelled ones beyond that are dropped oldest first. */
const MAX_VERSIONS = 100;

interface Version {
  id: string;
  string?: string;
  binary?: string; // base64, as on the wire
  stages: Set<string>;
  created: number;
}

interface Secret {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: Array<{ Key: string; Value: string }>;
  created: number;
  changed: number;
  deletedAt?: number;
  deletionDate?: number;
  versions: Map<string, Version>;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;

export interface SecretsManagerStandIn {
  endpoint: string;
  close(): Promise<void>;
}

export interface SecretsManagerStandInOptions {
  /** Loopback port; 0 (the default) lets the OS choose. */
  port?: number;
  /** Keep the secrets in this file (mode 0600) across restarts; default: memory only. */
  path?: string;
}

export async function startSecretsManagerStandIn(
  options: SecretsManagerStandInOptions = {},
): Promise<SecretsManagerStandIn> {
  const state = new StandInState(options.path);
  const server = createServer((req, res) => void handle(state, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function handle(state: StandInState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (req.method !== 'POST' || !target.startsWith('secretsmanager.')) {
      throw new AwsError('UnknownOperationException', 'Unsupported request');
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Body;
    try {
      body = raw.length > 0 ? (JSON.parse(raw) as Body) : {};
    } catch {
      throw new AwsError('SerializationException', 'Request body is not valid JSON');
    }
    const result = state.dispatch(target.slice('secretsmanager.'.length), body);
    send(res, 200, result);
  } catch (err) {
    if (err instanceof AwsError) send(res, 400, { __type: err.type, message: err.message });
    else send(res, 500, { __type: 'InternalServiceError', message: 'stand-in failure' });
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

const MUTATING = new Set([
  'CreateSecret',
  'PutSecretValue',
  'UpdateSecret',
  'DeleteSecret',
  'RestoreSecret',
  'UpdateSecretVersionStage',
]);

class StandInState {
  private readonly secrets = new Map<string, Secret>();

  constructor(private readonly path?: string) {
    if (path !== undefined) for (const secret of loadSecrets(path)) this.secrets.set(secret.name, secret);
  }

  dispatch(op: string, body: Body): Body {
    const purged = this.purgeExpiredDeletions();
    try {
      switch (op) {
        case 'CreateSecret':
          return this.createSecret(body);
        case 'GetSecretValue':
          return this.getSecretValue(body);
        case 'PutSecretValue':
          return this.putSecretValue(body);
        case 'UpdateSecret':
          return this.updateSecret(body);
        case 'DescribeSecret':
          return this.describeSecret(body);
        case 'ListSecrets':
          return this.listSecrets(body);
        case 'DeleteSecret':
          return this.deleteSecret(body);
        case 'RestoreSecret':
          return this.restoreSecret(body);
        case 'UpdateSecretVersionStage':
          return this.updateSecretVersionStage(body);
        default:
          throw new AwsError('UnknownOperationException', `Operation ${op} is not supported by the stand-in`);
      }
    } finally {
      // Written in the same synchronous step as the change (no request can interleave), before the answer goes out:
      // a write the caller saw succeed survives a restart. A failed request changed nothing, so a rewrite is harmless.
      if (this.path !== undefined && (purged || MUTATING.has(op))) saveSecrets(this.path, this.secrets.values());
    }
  }

  private createSecret(body: Body): Body {
    const name = requireString(body, 'Name');
    if (name.length > 512 || !/^[A-Za-z0-9/_+=.@-]+$/.test(name))
      throw new AwsError(
        'ValidationException',
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    const existing = this.secrets.get(name);
    if (existing?.deletedAt !== undefined)
      throw new AwsError(
        'InvalidRequestException',
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      );
    if (existing)
      throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    const now = nowSeconds();
    const secret: Secret = {
      name,
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`,
      description: optionalString(body, 'Description'),
      kmsKeyId: optionalString(body, 'KmsKeyId'),
      tags: Array.isArray(body.Tags) ? (body.Tags as Secret['tags']) : [],
      created: now,
      changed: now,
      versions: new Map(),
    };
    const value = readValue(body, false);
    let versionId: string | undefined;
    if (value)
      versionId = addVersion(secret, optionalString(body, 'ClientRequestToken') ?? randomUUID(), value, [
        'AWSCURRENT',
      ]).id;
    this.secrets.set(name, secret);
    return { ARN: secret.arn, Name: secret.name, ...(versionId ? { VersionId: versionId } : {}) };
  }

  private getSecretValue(body: Body): Body {
    const secret = this.find(body, { allowDeleted: false });
    const versionId = optionalString(body, 'VersionId');
    const stage = optionalString(body, 'VersionStage');
    const version = pickVersion(secret, versionId, stage ?? (versionId ? undefined : 'AWSCURRENT'));
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.string !== undefined ? { SecretString: version.string } : {}),
      ...(version.binary !== undefined ? { SecretBinary: version.binary } : {}),
      VersionStages: [...version.stages],
      CreatedDate: version.created,
    };
  }

  private putSecretValue(body: Body): Body {
    const secret = this.find(body, { allowDeleted: false });
    const value = readValue(body, true)!;
    const token = optionalString(body, 'ClientRequestToken') ?? randomUUID();
    const stages = Array.isArray(body.VersionStages) ? (body.VersionStages as string[]) : ['AWSCURRENT'];
    const version = addVersion(secret, token, value, stages);
    secret.changed = nowSeconds();
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  private updateSecret(body: Body): Body {
    const secret = this.find(body, { allowDeleted: false });
    const description = optionalString(body, 'Description');
    const kmsKeyId = optionalString(body, 'KmsKeyId');
    if (description !== undefined) secret.description = description;
    if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
    const value = readValue(body, false);
    let versionId: string | undefined;
    if (value)
      versionId = addVersion(secret, optionalString(body, 'ClientRequestToken') ?? randomUUID(), value, [
        'AWSCURRENT',
      ]).id;
    secret.changed = nowSeconds();
    return { ARN: secret.arn, Name: secret.name, ...(versionId ? { VersionId: versionId } : {}) };
  }

  private describeSecret(body: Body): Body {
    return describe(this.find(body, { allowDeleted: true }));
  }

  private listSecrets(body: Body): Body {
    const includeDeleted = body.IncludePlannedDeletion === true;
    const filters = Array.isArray(body.Filters) ? (body.Filters as Array<{ Key?: string; Values?: string[] }>) : [];
    const max = typeof body.MaxResults === 'number' ? body.MaxResults : 100;
    if (max < 1 || max > 100) throw new AwsError('InvalidParameterException', 'MaxResults must be between 1 and 100.');
    const start = body.NextToken !== undefined ? Number(body.NextToken) : 0;
    if (!Number.isInteger(start) || start < 0)
      throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
    const matching = [...this.secrets.values()]
      .filter((s) => includeDeleted || s.deletedAt === undefined)
      .filter((s) =>
        filters.every((f) => f.Key !== 'name' || (f.Values ?? []).some((prefix) => s.name.startsWith(prefix))),
      )
      .sort((a, b) => a.name.localeCompare(b.name));
    const page = matching.slice(start, start + max);
    const next = start + max < matching.length ? String(start + max) : undefined;
    return {
      SecretList: page.map((s) => {
        const { VersionIdsToStages, ...rest } = describe(s);
        return { ...rest, SecretVersionsToStages: VersionIdsToStages };
      }),
      ...(next ? { NextToken: next } : {}),
    };
  }

  private deleteSecret(body: Body): Body {
    const secret = this.find(body, { allowDeleted: true });
    const force = body.ForceDeleteWithoutRecovery === true;
    if (force && body.RecoveryWindowInDays !== undefined) {
      throw new AwsError(
        'InvalidParameterException',
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    const now = nowSeconds();
    if (force) {
      this.secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: now };
    }
    if (secret.deletedAt !== undefined)
      throw new AwsError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was already scheduled for deletion.",
      );
    const days = typeof body.RecoveryWindowInDays === 'number' ? body.RecoveryWindowInDays : 30;
    if (days < 7 || days > 30)
      throw new AwsError(
        'InvalidParameterException',
        'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      );
    secret.deletedAt = now;
    secret.deletionDate = now + days * 86_400;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: secret.deletionDate };
  }

  private restoreSecret(body: Body): Body {
    const secret = this.find(body, { allowDeleted: true });
    delete secret.deletedAt;
    delete secret.deletionDate;
    return { ARN: secret.arn, Name: secret.name };
  }

  private updateSecretVersionStage(body: Body): Body {
    const secret = this.find(body, { allowDeleted: false });
    const stage = requireString(body, 'VersionStage');
    const moveTo = optionalString(body, 'MoveToVersionId');
    const removeFrom = optionalString(body, 'RemoveFromVersionId');
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
    if (moveTo !== undefined && !secret.versions.has(moveTo)) {
      throw new AwsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for VersionId: ${moveTo}`,
      );
    }
    if (holder && holder.id !== moveTo && holder.id !== removeFrom) {
      // The check happens in the same synchronous step as the move: this is what makes it a compare-and-swap.
      throw new AwsError(
        'InvalidParameterException',
        `The staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    if (removeFrom !== undefined && holder?.id !== removeFrom) {
      throw new AwsError(
        'InvalidParameterException',
        `The staging label ${stage} is not attached to version ${removeFrom}.`,
      );
    }
    if (moveTo === undefined) {
      if (stage === 'AWSCURRENT')
        throw new AwsError(
          'InvalidParameterException',
          'You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.',
        );
      holder?.stages.delete(stage);
    } else if (holder?.id !== moveTo) {
      moveStage(secret, stage, secret.versions.get(moveTo)!);
    }
    secret.changed = nowSeconds();
    return { ARN: secret.arn, Name: secret.name };
  }

  private find(body: Body, opts: { allowDeleted: boolean }): Secret {
    const id = requireString(body, 'SecretId');
    const secret = this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id);
    if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    if (!opts.allowDeleted && secret.deletedAt !== undefined) {
      throw new AwsError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
    }
    return secret;
  }

  private purgeExpiredDeletions(): boolean {
    const now = nowSeconds();
    let purged = false;
    for (const [name, secret] of this.secrets) {
      if (secret.deletionDate !== undefined && secret.deletionDate <= now) {
        this.secrets.delete(name);
        purged = true;
      }
    }
    return purged;
  }
}

/** On-disk form of a secret: the Map and Sets of the live state as arrays. */
interface StoredSecret extends Omit<Secret, 'versions'> {
  versions: Array<Omit<Version, 'stages'> & { stages: string[] }>;
}

const FILE_FORMAT = 1;

function saveSecrets(path: string, secrets: Iterable<Secret>): void {
  // Unlabelled (deprecated) versions are left out: they hold replaced passwords, and AWS deletes them on its own.
  const stored: StoredSecret[] = [...secrets].map((s) => ({
    ...s,
    versions: [...s.versions.values()].filter((v) => v.stages.size > 0).map((v) => ({ ...v, stages: [...v.stages] })),
  }));
  const temporary = `${path}.tmp`;
  // A leftover temporary file could carry wider permissions; mode only applies when the file is created.
  rmSync(temporary, { force: true });
  writeFileSync(temporary, JSON.stringify({ format: FILE_FORMAT, secrets: stored }), { mode: 0o600 });
  renameSync(temporary, path);
}

function loadSecrets(path: string): Secret[] {
  if (!existsSync(path)) return [];
  // Tighten a file someone copied in or created with a wider mode before anything else reads it.
  chmodSync(path, 0o600);
  let parsed: { format?: unknown; secrets?: StoredSecret[] };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as typeof parsed;
  } catch {
    // No cause: the parse error would quote part of the file, i.e. secret values.
    throw new Error(
      `the Secrets Manager stand-in file ${path} is not valid JSON; move it away to start with no secrets`,
    );
  }
  if (parsed.format !== FILE_FORMAT || !Array.isArray(parsed.secrets)) {
    throw new Error(
      `the Secrets Manager stand-in file ${path} is not in format ${FILE_FORMAT}; move it away to start with no secrets`,
    );
  }
  return parsed.secrets.map((s) => ({
    ...s,
    versions: new Map(s.versions.map((v) => [v.id, { ...v, stages: new Set(v.stages) }])),
  }));
}

function describe(secret: Secret): Body {
  const stages: Record<string, string[]> = {};
  for (const version of secret.versions.values()) if (version.stages.size > 0) stages[version.id] = [...version.stages];
  return {
    ARN: secret.arn,
    Name: secret.name,
    ...(secret.description !== undefined ? { Description: secret.description } : {}),
    ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
    CreatedDate: secret.created,
    LastChangedDate: secret.changed,
    ...(secret.deletedAt !== undefined ? { DeletedDate: secret.deletedAt } : {}),
    Tags: secret.tags,
    VersionIdsToStages: stages,
  };
}

interface Value {
  string?: string;
  binary?: string;
}

function readValue(body: Body, required: boolean): Value | undefined {
  const string = optionalString(body, 'SecretString');
  const binary = optionalString(body, 'SecretBinary');
  if (string !== undefined && binary !== undefined)
    throw new AwsError(
      'InvalidParameterException',
      'You must provide either SecretString or SecretBinary, but not both.',
    );
  if (string === undefined && binary === undefined) {
    if (required)
      throw new AwsError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    return undefined;
  }
  if (string !== undefined && Buffer.byteLength(string, 'utf8') > MAX_SECRET_BYTES) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_BYTES}`,
    );
  }
  if (binary !== undefined && Buffer.from(binary, 'base64').length > MAX_SECRET_BYTES) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_BYTES}`,
    );
  }
  return string !== undefined ? { string } : { binary };
}

/** Adds a version, or returns the existing one for a retried token with the same value (idempotency). */
function addVersion(secret: Secret, token: string, value: Value, stages: string[]): Version {
  if (token.length < 32 || token.length > 64)
    throw new AwsError('ValidationException', 'ClientRequestToken must be between 32 and 64 characters.');
  const existing = secret.versions.get(token);
  if (existing) {
    if (existing.string === value.string && existing.binary === value.binary) return existing;
    throw new AwsError(
      'ResourceExistsException',
      "You can't modify an existing version, you can only create a new version.",
    );
  }
  const version: Version = { id: token, ...value, stages: new Set(), created: nowSeconds() };
  secret.versions.set(token, version);
  // The first version of a secret always becomes AWSCURRENT, whatever labels were asked for.
  const hasCurrent = [...secret.versions.values()].some((v) => v.stages.has('AWSCURRENT'));
  for (const stage of hasCurrent ? stages : [...new Set([...stages, 'AWSCURRENT'])]) moveStage(secret, stage, version);
  const unlabelled = [...secret.versions.values()].filter((v) => v.stages.size === 0 && v !== version);
  while (secret.versions.size > MAX_VERSIONS && unlabelled.length > 0) secret.versions.delete(unlabelled.shift()!.id);
  return version;
}

/** Attaches `stage` to `target`, taking it off its holder; moving AWSCURRENT hands AWSPREVIOUS to the old holder. */
function moveStage(secret: Secret, stage: string, target: Version): void {
  const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
  if (holder === target) return;
  holder?.stages.delete(stage);
  target.stages.add(stage);
  if (stage === 'AWSCURRENT' && holder) {
    for (const v of secret.versions.values()) v.stages.delete('AWSPREVIOUS');
    holder.stages.add('AWSPREVIOUS');
  }
}

function pickVersion(secret: Secret, versionId: string | undefined, stage: string | undefined): Version {
  if (versionId !== undefined) {
    const version = secret.versions.get(versionId);
    if (!version || (stage !== undefined && !version.stages.has(stage))) {
      throw new AwsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
      );
    }
    return version;
  }
  const version = [...secret.versions.values()].find((v) => stage !== undefined && v.stages.has(stage));
  if (!version)
    throw new AwsError(
      'ResourceNotFoundException',
      `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
    );
  return version;
}

function requireString(body: Body, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0)
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  return value;
}

function optionalString(body: Body, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AwsError('SerializationException', `${field} must be a string`);
  return value;
}

function nowSeconds(): number {
  return Date.now() / 1000;
}
