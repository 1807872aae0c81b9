/**
 * Composition of the fetch-frame function: the core, vendor drivers (implementations loaded on first use), the
 * session store, the credentials in Secrets Manager and the persist queue. The only function that runs vendor code.
 */
import { DynamoDbSessionStore } from '../adapters/aws/dynamodb-session.store.js';
import { SecretsManagerCredentialStore } from '../adapters/aws/secrets-manager-credential.store.js';
import { SqsMessageQueue, SqsRedeliveryControl } from '../adapters/aws/sqs-message.queue.js';
import type { FetchDeps } from '../app/app.deps.js';
import type { PersistMessage } from '../domain/messages.js';
import { driverFor } from '../sources/vendor.catalog.js';
import { coreDeps } from './core.deps.js';
import { dynamoClient, secretsClient, sqsClient } from './lambda.clients.js';
import type { LambdaEnv } from './lambda.env.js';

export function fetchFrameDeps(env: LambdaEnv): FetchDeps & { redelivery: SqsRedeliveryControl } {
  return {
    ...coreDeps(env),
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
