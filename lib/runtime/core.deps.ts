/**
 * What every Lambda function steps source machines with (CoreDeps), built once per process at module scope from the
 * validated environment. The tick needs exactly this; fetch-frame.deps.ts and persist.deps.ts add their own parts.
 * Vendors are seen through their declarations only (machine spec, parked hints): no driver code is imported here.
 */
import { DynamoDbSourceStore } from '../adapters/aws/dynamodb-source.store.js';
import { SqsMessageQueue } from '../adapters/aws/sqs-message.queue.js';
import { systemClock } from '../adapters/system/system.observability.js';
import type { CoreDeps } from '../app/app.deps.js';
import { statusReader } from '../app/source-status.js';
import type { FrameMessage } from '../domain/messages.js';
import { PARKED_HINTS, specFor } from '../sources/vendor.catalog.js';
import { dynamoClient, sqsClient } from './lambda.clients.js';
import type { LambdaEnv } from './lambda.env.js';
import { logPort, metricsPort } from './observability.js';

export function coreDeps(env: Pick<LambdaEnv, 'tableName' | 'fetchQueueUrl'>): CoreDeps {
  return {
    sources: new DynamoDbSourceStore({
      client: dynamoClient(),
      tableName: env.tableName,
      statusOf: statusReader(PARKED_HINTS),
    }),
    specFor,
    parkedHints: PARKED_HINTS,
    frameQueue: new SqsMessageQueue<FrameMessage>({ client: sqsClient(), queueUrl: env.fetchQueueUrl }),
    clock: systemClock,
    log: logPort,
    metrics: metricsPort,
  };
}
