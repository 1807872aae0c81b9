/** Lambda entry for the fetch queue. */

import { makeFetchFrameHandler } from '../../lib/app/handlers/fetch-frame.handler.js';
import { fetchFrameDeps } from '../../lib/runtime/fetch-frame.deps.js';
import { readLambdaEnv } from '../../lib/runtime/lambda.env.js';
import { flushMetrics } from '../../lib/runtime/observability.js';

export const handler = makeFetchFrameHandler(
  fetchFrameDeps(
    readLambdaEnv(process.env, ['tableName', 'fetchQueueUrl', 'persistQueueUrl', 'credentialsSecretPrefix']),
  ),
  flushMetrics,
);
