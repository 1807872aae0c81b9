/** Lambda entry for the minute tick (EventBridge Scheduler). */

import { makeTickHandler } from '../../lib/app/handlers/tick.handler.js';
import { coreDeps } from '../../lib/runtime/core.deps.js';
import { readLambdaEnv } from '../../lib/runtime/lambda.env.js';
import { flushMetrics } from '../../lib/runtime/observability.js';

export const handler = makeTickHandler(
  coreDeps(readLambdaEnv(process.env, ['tableName', 'fetchQueueUrl'])),
  flushMetrics,
);
