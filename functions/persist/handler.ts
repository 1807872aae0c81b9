/** Lambda entry for the persist queue. */

import { makePersistHandler } from '../../lib/app/handlers/persist.handler.js';
import { readLambdaEnv } from '../../lib/runtime/lambda.env.js';
import { flushMetrics } from '../../lib/runtime/observability.js';
import { persistDeps } from '../../lib/runtime/persist.deps.js';

export const handler = makePersistHandler(
  persistDeps(readLambdaEnv(process.env, ['tableName', 'fetchQueueUrl', 'persistQueueUrl', 'credentialsSecretPrefix'])),
  flushMetrics,
);
