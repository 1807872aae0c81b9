/** Lambda entry for the persist queue. */

import { makePersistHandler } from '../../lib/app/handlers/persist.handler.js';
import { awsPersistDeps } from '../../lib/runtime/aws.deps.js';
import { readLambdaEnv } from '../../lib/runtime/lambda.env.js';
import { flushMetrics } from '../../lib/runtime/observability.js';

export const handler = makePersistHandler(
  awsPersistDeps(
    readLambdaEnv(process.env, ['tableName', 'fetchQueueUrl', 'persistQueueUrl', 'credentialsSecretPrefix']),
  ),
  flushMetrics,
);
