/**
 * The AWS SDK clients of a Lambda process: one per service, built on first use and shared by every adapter that needs
 * it. Each client holds a connection pool and cached credentials, so a second one would cost load time for nothing;
 * building on first use keeps a function from constructing a client it never calls (the tick has no Secrets Manager).
 */
import { createDynamoDbClient, createSecretsManagerClient, createSqsClient } from '../adapters/aws/aws-clients.js';

let dynamo: ReturnType<typeof createDynamoDbClient> | undefined;
let sqs: ReturnType<typeof createSqsClient> | undefined;
let secrets: ReturnType<typeof createSecretsManagerClient> | undefined;

export const dynamoClient = () => (dynamo ??= createDynamoDbClient());
export const sqsClient = () => (sqs ??= createSqsClient());
export const secretsClient = () => (secrets ??= createSecretsManagerClient());
