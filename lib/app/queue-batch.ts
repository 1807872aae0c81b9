/**
 * Runs a queue consumer over an SQS batch with partial batch responses: each record settles on its own; a record
 * asking for a retry gets its visibility pushed out (capped exponential backoff) and is reported as a batch item
 * failure so SQS redelivers only it. A record that throws (a bug, an outage of our own stores) is also reported
 * failed and redelivered after the queue's visibility timeout; after maxReceiveCount it lands in the DLQ, where
 * nothing is lost (it can be redriven and is then processed exactly as before).
 */

import type { LogPort } from '../ports/observability.port.js';
import type { BatchResponse, QueueRecord, RedeliveryControl } from '../ports/queue.port.js';
import type { Settlement } from './app.deps.js';

export async function consumeBatch<T>(
  records: QueueRecord[],
  handle: (body: T, receiveCount: number) => Promise<Settlement>,
  redelivery: RedeliveryControl,
  log: LogPort,
): Promise<BatchResponse> {
  const failures: BatchResponse['batchItemFailures'] = [];
  await Promise.all(
    records.map(async (record) => {
      const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
      try {
        const body = JSON.parse(record.body) as T;
        const settlement = await handle(body, receiveCount);
        if (settlement.settle === 'retry') {
          await redelivery.retryAfter(record.receiptHandle, settlement.delaySeconds);
          failures.push({ itemIdentifier: record.messageId });
        }
      } catch (err) {
        log.error('message handling crashed; it will be redelivered', {
          messageId: record.messageId,
          receiveCount,
          error: err instanceof Error ? { name: err.name, code: (err as { code?: string }).code } : 'unknown',
        });
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}
