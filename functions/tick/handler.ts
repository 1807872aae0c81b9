/** Lambda entry for the minute tick (EventBridge Scheduler). */

import { makeTickHandler } from '../../lib/app/handlers/tick.handler.js';
import { awsCoreDeps } from '../../lib/runtime/aws.deps.js';
import { readLambdaEnv } from '../../lib/runtime/lambda.env.js';
import { flushMetrics } from '../../lib/runtime/observability.js';

export const handler = makeTickHandler(
  awsCoreDeps(readLambdaEnv(process.env, ['tableName', 'fetchQueueUrl'])),
  flushMetrics,
);
