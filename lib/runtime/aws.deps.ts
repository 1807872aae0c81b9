/**
 * Composition root for Lambda: builds the AWS adapters once per process (module scope in each handler) from the
 * validated environment. Handlers pass the result to their factories; nothing here runs per invocation.
 */
import { createDynamoDbClient, createSecretsManagerClient, createSqsClient } from '../adapters/aws/aws-clients.js';
import { DynamoDbSessionStore } from '../adapters/aws/dynamodb-session.store.js';
import { DynamoDbSourceStore } from '../adapters/aws/dynamodb-source.store.js';
import { SecretsManagerCredentialStore } from '../adapters/aws/secrets-manager-credential.store.js';
import { SqsMessageQueue, SqsRedeliveryControl } from '../adapters/aws/sqs-message.queue.js';
import { nightscoutWriterFor } from '../adapters/nightscout/nightscout-writer.factory.js';
import { systemClock } from '../adapters/system/system.observability.js';
import type { CoreDeps, FetchDeps, PersistDeps } from '../app/app.deps.js';
import { statusReader } from '../app/source-status.js';
import type { FrameMessage, PersistMessage } from '../domain/messages.js';
import { driverFor, PARKED_HINTS, specFor } from '../sources/vendor.catalog.js';
import type { LambdaEnv } from './lambda.env.js';
import { logPort, metricsPort } from './observability.js';

/**
 * One client per service per process, shared by the adapters that use it: each client holds a connection pool and
 * cached credentials, and building a second costs load time for nothing.
 */
const clients = {
  dynamo: undefined as ReturnType<typeof createDynamoDbClient> | undefined,
  sqs: undefined as ReturnType<typeof createSqsClient> | undefined,
  secrets: undefined as ReturnType<typeof createSecretsManagerClient> | undefined,
};
const dynamoClient = () => (clients.dynamo ??= createDynamoDbClient());
const sqsClient = () => (clients.sqs ??= createSqsClient());
const secretsClient = () => (clients.secrets ??= createSecretsManagerClient());

export function awsCoreDeps(env: LambdaEnv): CoreDeps {
  return {
    sources: new DynamoDbSourceStore({
      client: dynamoClient(),
      tableName: env.tableName,
      statusOf: statusReader(PARKED_HINTS),
    }),
    specFor,
    parkedHints: PARKED_HINTS,
    frameQueue: new SqsMessageQueue<FrameMessage>({ client: sqsClient(), queueUrl: env.fetchQueueUrl }),
    clock: systemClock,
    log: logPort,
    metrics: metricsPort,
  };
}

export function awsFetchDeps(env: LambdaEnv): FetchDeps & { redelivery: SqsRedeliveryControl } {
  const core = awsCoreDeps(env);
  return {
    ...core,
    driverFor,
    sessions: new DynamoDbSessionStore({ client: dynamoClient(), tableName: env.tableName }),
    credentials: new SecretsManagerCredentialStore({
      client: secretsClient(),
      prefix: env.credentialsSecretPrefix,
      shards: env.credentialShards,
    }),
    persistQueue: new SqsMessageQueue<PersistMessage>({ client: sqsClient(), queueUrl: env.persistQueueUrl }),
    maxReceiveCount: env.maxReceiveCount,
    redelivery: new SqsRedeliveryControl({ client: sqsClient(), queueUrl: env.fetchQueueUrl }),
  };
}

export function awsPersistDeps(env: LambdaEnv): PersistDeps & { redelivery: SqsRedeliveryControl } {
  const core = awsCoreDeps(env);
  return {
    ...core,
    driverFor,
    sessions: new DynamoDbSessionStore({ client: dynamoClient(), tableName: env.tableName }),
    credentials: new SecretsManagerCredentialStore({
      client: secretsClient(),
      prefix: env.credentialsSecretPrefix,
      shards: env.credentialShards,
    }),
    writerFor: nightscoutWriterFor,
    maxReceiveCount: env.maxReceiveCount,
    redelivery: new SqsRedeliveryControl({ client: sqsClient(), queueUrl: env.persistQueueUrl }),
  };
}
