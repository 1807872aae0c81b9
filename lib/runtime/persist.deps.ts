/**
 * Composition of the persist function: the core, the vendors' declared facts (device string, look-back, re-read
 * window; never a driver implementation), the Nightscout writers, the credentials in Secrets Manager (the Nightscout
 * secret) and the session store (a rejection discards the session).
 */
import { DynamoDbSessionStore } from '../adapters/aws/dynamodb-session.store.js';
import { SecretsManagerCredentialStore } from '../adapters/aws/secrets-manager-credential.store.js';
import { SqsRedeliveryControl } from '../adapters/aws/sqs-message.queue.js';
import { nightscoutWriterFor } from '../adapters/nightscout/nightscout-writer.factory.js';
import type { PersistDeps } from '../app/app.deps.js';
import { declarationFor } from '../sources/vendor.catalog.js';
import { coreDeps } from './core.deps.js';
import { dynamoClient, secretsClient, sqsClient } from './lambda.clients.js';
import type { LambdaEnv } from './lambda.env.js';

export function persistDeps(env: LambdaEnv): PersistDeps & { redelivery: SqsRedeliveryControl } {
  return {
    ...coreDeps(env),
    declarationFor,
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
