/**
 * MessageQueue and RedeliveryControl on SQS standard queues. Sends go out as SendMessageBatch (≤ 10 entries and
 * ≤ 256 KiB per request): a batch is one billed request instead of ten. SendMessageBatch can succeed as a call and
 * still fail some entries, so per-entry `Failed` is checked and retried once.
 */
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { SourceUnavailableError } from '../../domain/errors.js';
import type { MessageQueue, OutgoingMessage, RedeliveryControl } from '../../ports/queue.port.js';

export const SQS_MAX_DELAY_SECONDS = 900;
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;
const BATCH_MAX_ENTRIES = 10;
/** The classic per-request payload limit; staying under it keeps a batch valid on any SQS (the 1 MiB raise is new). */
const BATCH_MAX_BYTES = 256 * 1024;

export interface SqsQueueOptions {
  client: SQSClient;
  queueUrl: string;
}

export class SqsMessageQueue<T> implements MessageQueue<T> {
  private readonly client: SQSClient;
  private readonly queueUrl: string;

  constructor(opts: SqsQueueOptions) {
    this.client = opts.client;
    this.queueUrl = opts.queueUrl;
  }

  async send(messages: OutgoingMessage<T>[]): Promise<void> {
    const batches = toBatches(messages);
    await Promise.all(batches.map((entries) => this.sendBatch(entries)));
  }

  private async sendBatch(entries: SendMessageBatchRequestEntry[]): Promise<void> {
    let pending = entries;
    for (let attempt = 1; attempt <= 2 && pending.length > 0; attempt++) {
      const out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }));
      const failedIds = new Set((out.Failed ?? []).map((f) => f.Id));
      pending = pending.filter((entry) => failedIds.has(entry.Id));
    }
    if (pending.length > 0) {
      // Codes only: bodies are not secret, but they are data that does not belong in an error message.
      throw new SourceUnavailableError(`SQS rejected ${pending.length} message(s) twice`, 'SQS.SEND_FAILED');
    }
  }
}

export class SqsRedeliveryControl implements RedeliveryControl {
  private readonly client: SQSClient;
  private readonly queueUrl: string;

  constructor(opts: SqsQueueOptions) {
    this.client = opts.client;
    this.queueUrl = opts.queueUrl;
  }

  /** Pushes the next delivery of a received message `seconds` out (the consumer then reports it as failed). */
  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: clampSeconds(seconds, SQS_MAX_VISIBILITY_SECONDS),
      }),
    );
  }
}

/** Whole seconds in [0, max]; rounded up so a message never becomes visible before it is due. */
export function clampSeconds(seconds: number, max: number): number {
  if (Number.isNaN(seconds)) return 0;
  return Math.min(max, Math.max(0, Math.ceil(seconds)));
}

function toBatches<T>(messages: OutgoingMessage<T>[]): SendMessageBatchRequestEntry[][] {
  const batches: SendMessageBatchRequestEntry[][] = [];
  let current: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const message of messages) {
    const body = JSON.stringify(message.body);
    const size = Buffer.byteLength(body, 'utf8');
    if (current.length === BATCH_MAX_ENTRIES || (current.length > 0 && bytes + size > BATCH_MAX_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    // Ids only need to be unique within one request.
    current.push({
      Id: String(current.length),
      MessageBody: body,
      DelaySeconds: clampSeconds(message.delaySeconds, SQS_MAX_DELAY_SECONDS),
    });
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface QueuePair {
  queueUrl: string;
  dlqUrl: string;
  queueArn: string;
  dlqArn: string;
}

/**
 * Creates `<name>-dlq` and `<name>` with a RedrivePolicy to it (local use and tests; the CDK stack owns real
 * queues). The DLQ keeps messages 14 days, longer than the source's 4, because expiry counts from first enqueue.
 */
export async function createSqsQueuePair(
  client: SQSClient,
  name: string,
  opts: { maxReceiveCount: number; visibilityTimeoutSeconds: number },
): Promise<QueuePair> {
  const dlq = await client.send(
    new CreateQueueCommand({ QueueName: `${name}-dlq`, Attributes: { MessageRetentionPeriod: '1209600' } }),
  );
  const dlqUrl = required(dlq.QueueUrl, 'dlq url');
  const dlqArn = await queueArn(client, dlqUrl);
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(opts.visibilityTimeoutSeconds),
        MessageRetentionPeriod: '345600',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: opts.maxReceiveCount }),
      },
    }),
  );
  const queueUrl = required(queue.QueueUrl, 'queue url');
  return { queueUrl, dlqUrl, queueArn: await queueArn(client, queueUrl), dlqArn };
}

async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return required(out.Attributes?.QueueArn, 'queue arn');
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new Error(`SQS returned no ${what}`);
  return value;
}
