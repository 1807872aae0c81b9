/** Lambda entry for the persist queue. */
import { readLambdaEnv } from '../../lib/runtime/lambda.env.js';
import { awsPersistDeps } from '../../lib/runtime/aws.deps.js';
import { flushMetrics } from '../../lib/runtime/observability.js';
import { makePersistHandler } from '../../lib/app/handlers/persist.handler.js';

export const handler = makePersistHandler(
  awsPersistDeps(readLambdaEnv(process.env, ['tableName', 'fetchQueueUrl', 'persistQueueUrl', 'credentialsSecretPrefix'])),
  flushMetrics,
);
