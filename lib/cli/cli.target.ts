/**
 * Which deployment the CLI talks to, and the adapters for it. The CLI is a composition root, like the Lambda
 * handlers: it builds the same adapters (DynamoDB source and session stores, the sharded Secrets Manager credential
 * store, SQS) with the aws-clients factories; `--target local` only adds endpoint overrides for the local runner's
 * embedded services or the emulators.
 *
 * Values come from flags, else from the environment the Lambdas use (TABLE_NAME, FETCH_QUEUE_URL, PERSIST_QUEUE_URL,
 * CREDENTIALS_SECRET_PREFIX, CREDENTIAL_SHARDS, AWS_REGION) and the SDK's endpoint variables
 * (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_SECRETS_MANAGER). With `--target local`, what
 * neither gives comes from the running `npm start`'s `<data>/local-endpoints.json` (`--data`, default `.data`), read
 * only when a value is actually missing, so explicit flags never depend on that file.
 */
import {
  type AwsClientOptions,
  createDynamoDbClient,
  createSecretsManagerClient,
  createSqsClient,
} from '../adapters/aws/aws-clients.js';
import { DynamoDbSessionStore } from '../adapters/aws/dynamodb-session.store.js';
import { DynamoDbSourceStore } from '../adapters/aws/dynamodb-source.store.js';
import { SecretsManagerCredentialStore } from '../adapters/aws/secrets-manager-credential.store.js';
import { type DlqRedrive, SqsDlqRedrive } from '../adapters/aws/sqs-dlq.redrive.js';
import type { ManageDeps } from '../app/manage-sources.js';
import { statusReader } from '../app/source-status.js';
import {
  DEFAULT_DATA_DIR,
  type LocalEndpoints,
  localEndpointsPath,
  readLocalEndpoints,
} from '../config/local-endpoints.js';
import { PARKED_HINTS, specFor } from '../sources/vendor.catalog.js';

// Client types through the factories, so the SDK stays behind lib/adapters/aws even for types.
type DynamoDBClient = ReturnType<typeof createDynamoDbClient>;
type SQSClient = ReturnType<typeof createSqsClient>;
type SecretsManagerClient = ReturnType<typeof createSecretsManagerClient>;

import { silentLog, systemClock } from '../adapters/system/system.observability.js';
import type { Clock, LogPort } from '../ports/observability.port.js';
import { bool, type FlagSpecs, type ParsedArgs, str, UsageError } from './argv.js';
import type { CliIo, Output } from './cli.io.js';

export const TARGET_FLAGS: FlagSpecs = {
  target: {
    value: true,
    arg: 'aws|local',
    help: 'aws, or local (the running npm start, found through <data>/local-endpoints.json, or --endpoint-* options). Default: local when an endpoint is given, else aws',
  },
  data: {
    value: true,
    arg: '<dir>',
    help: 'local: the data directory of npm start (default .data), where it writes local-endpoints.json',
  },
  region: { value: true, arg: '<region>', help: 'AWS region (default AWS_REGION)' },
  table: { value: true, arg: '<name>', help: 'DynamoDB table (default TABLE_NAME)' },
  'fetch-queue-url': { value: true, arg: '<url>', help: 'fetch queue URL (default FETCH_QUEUE_URL)' },
  'persist-queue-url': { value: true, arg: '<url>', help: 'persist queue URL (default PERSIST_QUEUE_URL)' },
  'secret-prefix': {
    value: true,
    arg: '<prefix>',
    help: 'credential secret prefix, e.g. NightscoutConnect/ (default CREDENTIALS_SECRET_PREFIX)',
  },
  'credential-shards': {
    value: true,
    arg: '<n>',
    help: 'number of credential secrets (default CREDENTIAL_SHARDS or 1); must match the stack',
  },
  'endpoint-dynamodb': {
    value: true,
    arg: '<url>',
    help: 'local DynamoDB endpoint (default AWS_ENDPOINT_URL_DYNAMODB)',
  },
  'endpoint-sqs': { value: true, arg: '<url>', help: 'local SQS endpoint (default AWS_ENDPOINT_URL_SQS)' },
  'endpoint-secrets': {
    value: true,
    arg: '<url>',
    help: 'local Secrets Manager endpoint (default AWS_ENDPOINT_URL_SECRETS_MANAGER)',
  },
  verbose: { help: 'log what the use cases do (to stderr; never secrets)' },
  help: { help: 'show this help' },
};

export interface CliTarget {
  kind: 'aws' | 'local';
  region?: string;
  table?: string;
  fetchQueueUrl?: string;
  persistQueueUrl?: string;
  secretPrefix?: string;
  /** Undefined: not given by flag or environment (then the local runner's file, else 1). */
  credentialShards?: number;
  endpoints: { dynamodb?: string; sqs?: string; secrets?: string };
  /** Local only: where `npm start` writes local-endpoints.json. */
  dataDir?: string;
}

export function resolveTarget(args: ParsedArgs, env: Record<string, string | undefined>): CliTarget {
  const pick = (flag: string, variable: string) => {
    const value = str(args, flag) ?? env[variable];
    return value?.trim() ? value.trim() : undefined;
  };
  const endpoints = {
    dynamodb: pick('endpoint-dynamodb', 'AWS_ENDPOINT_URL_DYNAMODB'),
    sqs: pick('endpoint-sqs', 'AWS_ENDPOINT_URL_SQS'),
    secrets: pick('endpoint-secrets', 'AWS_ENDPOINT_URL_SECRETS_MANAGER'),
  };
  const targetText = str(args, 'target');
  if (targetText !== undefined && targetText !== 'aws' && targetText !== 'local')
    throw new UsageError('--target must be aws or local');
  const anyEndpoint = Object.values(endpoints).some((v) => v !== undefined);
  // Without --target, endpoint overrides mean a local target; otherwise AWS.
  const kind: 'aws' | 'local' = (targetText as 'aws' | 'local' | undefined) ?? (anyEndpoint ? 'local' : 'aws');
  if (kind === 'aws') {
    for (const flag of ['endpoint-dynamodb', 'endpoint-sqs', 'endpoint-secrets', 'data']) {
      if (str(args, flag) !== undefined) throw new UsageError(`--${flag} needs --target local`);
    }
  }
  const shardsText = pick('credential-shards', 'CREDENTIAL_SHARDS');
  const credentialShards = shardsText === undefined ? undefined : Number(shardsText);
  if (
    credentialShards !== undefined &&
    (!Number.isInteger(credentialShards) || credentialShards < 1 || credentialShards > 1000)
  ) {
    throw new UsageError('--credential-shards (CREDENTIAL_SHARDS) must be a whole number from 1 to 1000');
  }
  return {
    kind,
    region: pick('region', 'AWS_REGION') ?? (env.AWS_DEFAULT_REGION?.trim() || undefined),
    table: pick('table', 'TABLE_NAME'),
    fetchQueueUrl: pick('fetch-queue-url', 'FETCH_QUEUE_URL'),
    persistQueueUrl: pick('persist-queue-url', 'PERSIST_QUEUE_URL'),
    secretPrefix: pick('secret-prefix', 'CREDENTIALS_SECRET_PREFIX'),
    credentialShards,
    endpoints: kind === 'local' ? endpoints : {},
    ...(kind === 'local' ? { dataDir: str(args, 'data')?.trim() || DEFAULT_DATA_DIR } : {}),
  };
}

type LocalValue = 'table' | 'fetchQueueUrl' | 'persistQueueUrl' | 'secretPrefix' | 'region';

/** Lazily built clients and adapters for one CLI run; `close` releases the clients' sockets. */
export class CliContext {
  private dynamo?: DynamoDBClient;
  private sqsClient?: SQSClient;
  private secretsClient?: SecretsManagerClient;
  private credentialStore?: SecretsManagerCredentialStore;
  private discovered?: LocalEndpoints | null;

  constructor(
    readonly target: CliTarget,
    readonly log: LogPort = silentLog,
    readonly clock: Clock = systemClock,
  ) {}

  /** The running local runner's endpoints (read once, on first need); undefined for AWS or when none runs. */
  private localRunner(): LocalEndpoints | undefined {
    if (this.target.kind !== 'local' || this.target.dataDir === undefined) return undefined;
    if (this.discovered === undefined) this.discovered = readLocalEndpoints(this.target.dataDir) ?? null;
    return this.discovered ?? undefined;
  }

  /** A flag or environment value, else (local) the runner's. */
  private value(key: LocalValue): string | undefined {
    return this.target[key] ?? this.localRunner()?.[key];
  }

  /** How to get a missing local value: the flag, or a running npm start. */
  private localHint(flag: string): string {
    const file = localEndpointsPath(this.target.dataDir ?? DEFAULT_DATA_DIR);
    return `pass --${flag}, or start the local runner (npm start), which writes ${file}${this.target.dataDir === DEFAULT_DATA_DIR ? ' (another directory: --data <dir>)' : ''}`;
  }

  private options(service: 'dynamodb' | 'sqs' | 'secrets', flag: string): AwsClientOptions {
    const endpoint = this.target.endpoints[service] ?? this.localRunner()?.endpoints[service];
    if (this.target.kind === 'local' && endpoint === undefined)
      throw new UsageError(`--target local needs the local ${service} endpoint: ${this.localHint(flag)}`);
    const region = this.value('region');
    return { ...(endpoint !== undefined ? { endpoint } : {}), ...(region !== undefined ? { region } : {}) };
  }

  credentialShards(): number {
    return this.target.credentialShards ?? this.localRunner()?.credentialShards ?? 1;
  }

  dynamoDb(): DynamoDBClient {
    this.dynamo ??= createDynamoDbClient(this.options('dynamodb', 'endpoint-dynamodb'));
    return this.dynamo;
  }

  sqs(): SQSClient {
    this.sqsClient ??= createSqsClient(this.options('sqs', 'endpoint-sqs'));
    return this.sqsClient;
  }

  tableName(): string {
    const table = this.value('table');
    if (!table)
      throw new UsageError(
        this.target.kind === 'local'
          ? `the DynamoDB table is not set: ${this.localHint('table')}`
          : 'the DynamoDB table is not set: pass --table or set TABLE_NAME',
      );
    return table;
  }

  sources(): DynamoDbSourceStore {
    return new DynamoDbSourceStore({
      client: this.dynamoDb(),
      tableName: this.tableName(),
      statusOf: statusReader(PARKED_HINTS),
    });
  }

  sessions(): DynamoDbSessionStore {
    return new DynamoDbSessionStore({ client: this.dynamoDb(), tableName: this.tableName(), clock: this.clock });
  }

  credentials(): SecretsManagerCredentialStore {
    if (!this.credentialStore) {
      const prefix = this.value('secretPrefix');
      if (!prefix) {
        throw new UsageError(
          this.target.kind === 'local'
            ? `the credential secret prefix is not set: ${this.localHint('secret-prefix')}`
            : 'the credential secret prefix is not set: pass --secret-prefix or set CREDENTIALS_SECRET_PREFIX',
        );
      }
      this.secretsClient ??= createSecretsManagerClient(this.options('secrets', 'endpoint-secrets'));
      // No cache: every CLI read should see what is stored now.
      this.credentialStore = new SecretsManagerCredentialStore({
        client: this.secretsClient,
        prefix,
        shards: this.credentialShards(),
        cacheTtlMs: 0,
        clock: this.clock,
      });
    }
    return this.credentialStore;
  }

  /**
   * Deps for the operator use cases (lib/app/manage-sources.ts). The credential store is built on first use, so
   * commands that never touch credentials (pause, resume) do not need the secret prefix.
   */
  manage(): ManageDeps {
    const self = this;
    return {
      sources: this.sources(),
      specFor,
      parkedHints: PARKED_HINTS,
      clock: this.clock,
      log: this.log,
      sessions: this.sessions(),
      get credentials() {
        return self.credentials();
      },
    };
  }

  dlqRedrive(): DlqRedrive {
    return new SqsDlqRedrive(this.sqs());
  }

  queueUrl(queue: 'fetch' | 'persist'): string {
    const url = this.value(queue === 'fetch' ? 'fetchQueueUrl' : 'persistQueueUrl');
    if (!url) {
      throw new UsageError(
        this.target.kind === 'local'
          ? `the ${queue} queue is not set: ${this.localHint(`${queue}-queue-url`)}`
          : `the ${queue} queue is not set: pass --${queue}-queue-url or set ${queue.toUpperCase()}_QUEUE_URL`,
      );
    }
    return url;
  }

  close(): void {
    this.dynamo?.destroy();
    this.sqsClient?.destroy();
    this.secretsClient?.destroy();
  }
}

/** The context for a parsed command line: its target, a stderr log with --verbose, the injected clock. */
export function contextFor(args: ParsedArgs, io: CliIo, out: Output): CliContext {
  const log: LogPort = bool(args, 'verbose') ? stderrLog(out) : silentLog;
  return new CliContext(resolveTarget(args, io.env), log, io.clock ?? systemClock);
}

/** JSON lines on stderr. The use cases log ids, states and codes only; the output redactor still applies. */
function stderrLog(out: Output): LogPort {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    out.error(JSON.stringify({ level, message, ...fields }));
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
