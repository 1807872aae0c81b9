/**
 * Composition root for Lambda: builds the AWS adapters once per process (module scope in each handler) from the
 * validated environment. Handlers pass the result to their factories; nothing here runs per invocation.
 */
import { createDynamoDbClient, createSecretsManagerClient, createSqsClient } from '../adapters/aws/aws-clients.js';
import { DynamoDbSourceStore } from '../adapters/aws/dynamodb-source.store.js';
import { DynamoDbSessionStore } from '../adapters/aws/dynamodb-session.store.js';
import { SqsMessageQueue, SqsRedeliveryControl } from '../adapters/aws/sqs-message.queue.js';
import { SecretsManagerCredentialStore } from '../adapters/aws/secrets-manager-credential.store.js';
import { nightscoutWriterFor } from '../adapters/nightscout/nightscout-writer.factory.js';
import { PARKED_HINTS, driverFor, specFor } from '../sources/vendor.catalog.js';
import { systemClock } from '../adapters/system/system.observability.js';
import type { CoreDeps, FetchDeps, PersistDeps } from '../app/app.deps.js';
import type { FrameMessage, PersistMessage } from '../domain/messages.js';
import { logPort, metricsPort } from './observability.js';
import type { LambdaEnv } from './lambda.env.js';

export function awsCoreDeps(env: LambdaEnv): CoreDeps {
  const dynamo = createDynamoDbClient();
  return {
    sources: new DynamoDbSourceStore({ client: dynamo, tableName: env.tableName, parkedHints: PARKED_HINTS }),
    specFor,
    parkedHints: PARKED_HINTS,
    frameQueue: new SqsMessageQueue<FrameMessage>({ client: createSqsClient(), queueUrl: env.fetchQueueUrl }),
    clock: systemClock,
    log: logPort,
    metrics: metricsPort,
  };
}

export function awsFetchDeps(env: LambdaEnv): FetchDeps & { redelivery: SqsRedeliveryControl } {
  const core = awsCoreDeps(env);
  const sqs = createSqsClient();
  return {
    ...core,
    driverFor,
    sessions: new DynamoDbSessionStore({ client: createDynamoDbClient(), tableName: env.tableName }),
    credentials: new SecretsManagerCredentialStore({ client: createSecretsManagerClient(), prefix: env.credentialsSecretPrefix, shards: env.credentialShards }),
    persistQueue: new SqsMessageQueue<PersistMessage>({ client: sqs, queueUrl: env.persistQueueUrl }),
    maxReceiveCount: env.maxReceiveCount,
    redelivery: new SqsRedeliveryControl({ client: sqs, queueUrl: env.fetchQueueUrl }),
  };
}

export function awsPersistDeps(env: LambdaEnv): PersistDeps & { redelivery: SqsRedeliveryControl } {
  const core = awsCoreDeps(env);
  return {
    ...core,
    driverFor,
    sessions: new DynamoDbSessionStore({ client: createDynamoDbClient(), tableName: env.tableName }),
    credentials: new SecretsManagerCredentialStore({ client: createSecretsManagerClient(), prefix: env.credentialsSecretPrefix, shards: env.credentialShards }),
    writerFor: nightscoutWriterFor,
    maxReceiveCount: env.maxReceiveCount,
    redelivery: new SqsRedeliveryControl({ client: createSqsClient(), queueUrl: env.persistQueueUrl }),
  };
}
