/**
 * A minimal stand-in for Lambda's SQS event source mapping, used by the local runner: long-poll a queue, hand the
 * records to a handler as an SQS event, delete what succeeded, leave the reported failures for redelivery.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BatchResponse, QueueRecord } from '../../ports/queue.port.js';

export async function pollQueueOnce(
  client: SQSClient,
  queueUrl: string,
  handler: (event: { Records: QueueRecord[] }) => Promise<BatchResponse>,
  waitSeconds = 1,
): Promise<number> {
  const received = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  const messages = received.Messages ?? [];
  if (messages.length === 0) return 0;
  const records: QueueRecord[] = messages.map((m) => ({
    messageId: m.MessageId as string,
    receiptHandle: m.ReceiptHandle as string,
    body: m.Body ?? '',
    attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' },
  }));
  const response = await handler({ Records: records });
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  const done = records.filter((r) => !failed.has(r.messageId));
  if (done.length) {
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
  }
  return records.length;
}
