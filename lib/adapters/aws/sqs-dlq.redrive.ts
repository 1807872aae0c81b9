/**
 * Dead-letter redrive on SQS, for `nightscout-connect dlq redrive`: the one place its SQS requests are built, so
 * the CLI stays free of the SDK (as the app layer is).
 *
 * - `moveTask`: AWS's own redrive, `StartMessageMoveTask` with the dead-letter queue's ARN as `SourceArn` and the
 *   work queue as destination; SQS moves the messages itself, and we poll `ListMessageMoveTasks` for the count.
 * - `receiveAndResend`: for fauxqs 1.9.2, which has no message move tasks: receive from the DLQ, send the same body
 *   and attributes to the work queue, then delete from the DLQ. It moves at most as many messages as the DLQ held
 *   when it started, so messages that fail again meanwhile are not bounced around forever. Bodies are never logged.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type GetQueueAttributesCommandOutput,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  type ReceiveMessageCommandOutput,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { ConfigError } from '../../domain/errors.js';

/** Narrow client surface (an SQSClient fits), so the AWS path can be tested with a fake. */
export interface SqsSender {
  send(command: unknown): Promise<unknown>;
}

export interface QueueWithDlq {
  queueUrl: string;
  queueArn: string;
  dlqArn: string;
}

export interface MoveTaskOptions {
  /** Wait for the task to finish (else return right after starting it). */
  wait: boolean;
  waitMs: number;
  pollMs?: number;
  maxPerSecond?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface MoveTaskResult {
  taskHandle?: string;
  /** RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED, as SQS reports it. */
  status: string;
  moved?: number;
  toMove?: number;
  failureReason?: string;
}

/** What `dlq redrive` needs from a queue service; SqsDlqRedrive is the SQS implementation. */
export interface DlqRedrive {
  /** The work queue's ARN and its dead-letter queue's ARN, from the queue's RedrivePolicy. */
  findDeadLetterQueue(queueUrl: string): Promise<QueueWithDlq>;
  /** AWS: a message move task from the DLQ back to the work queue. */
  moveTask(queue: QueueWithDlq, options: MoveTaskOptions): Promise<MoveTaskResult>;
  /** Emulators without move tasks: receive, re-send, delete. */
  receiveAndResend(queue: QueueWithDlq): Promise<{ moved: number }>;
}

/** SQS answered something a redrive cannot go on with (no ARN, no URL, a refused re-send). */
export class DlqRedriveError extends Error {
  override readonly name = 'DlqRedriveError';
  readonly kind = 'permanent' as const;
  readonly code = 'SQS.REDRIVE';
}

export class SqsDlqRedrive implements DlqRedrive {
  constructor(private readonly client: SqsSender) {}

  findDeadLetterQueue(queueUrl: string): Promise<QueueWithDlq> {
    return findDeadLetterQueue(this.client, queueUrl);
  }

  moveTask(queue: QueueWithDlq, options: MoveTaskOptions): Promise<MoveTaskResult> {
    return redriveWithMoveTask(this.client, queue, options);
  }

  receiveAndResend(queue: QueueWithDlq): Promise<{ moved: number }> {
    return redriveByReceiveAndSend(this.client, queue);
  }
}

/** The SQS request that starts a redrive on AWS: the DLQ is the source; the destination is the work queue. */
export function buildMoveTaskCommand(
  dlqArn: string,
  destinationArn?: string,
  maxPerSecond?: number,
): StartMessageMoveTaskCommand {
  return new StartMessageMoveTaskCommand({
    SourceArn: dlqArn,
    ...(destinationArn !== undefined ? { DestinationArn: destinationArn } : {}),
    ...(maxPerSecond !== undefined ? { MaxNumberOfMessagesPerSecond: maxPerSecond } : {}),
  });
}

export async function findDeadLetterQueue(sqs: SqsSender, queueUrl: string): Promise<QueueWithDlq> {
  const out = (await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'RedrivePolicy'] }),
  )) as {
    Attributes?: Record<string, string>;
  };
  const queueArn = out.Attributes?.QueueArn;
  const policy = out.Attributes?.RedrivePolicy;
  if (!queueArn) throw new DlqRedriveError(`SQS returned no ARN for ${queueUrl}`);
  if (!policy) throw new ConfigError([`${queueUrl} has no dead-letter queue (no RedrivePolicy)`]);
  let dlqArn: unknown;
  try {
    dlqArn = (JSON.parse(policy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
  } catch {
    dlqArn = undefined;
  }
  if (typeof dlqArn !== 'string' || dlqArn === '')
    throw new DlqRedriveError(`the RedrivePolicy of ${queueUrl} names no deadLetterTargetArn`);
  return { queueUrl, queueArn, dlqArn };
}

/** AWS: start the move task and (unless told not to) wait for it to finish. */
export async function redriveWithMoveTask(
  sqs: SqsSender,
  queue: QueueWithDlq,
  opts: MoveTaskOptions,
): Promise<MoveTaskResult> {
  const started = (await sqs.send(buildMoveTaskCommand(queue.dlqArn, queue.queueArn, opts.maxPerSecond))) as {
    TaskHandle?: string;
  };
  if (!opts.wait) return { taskHandle: started.TaskHandle, status: 'RUNNING' };
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const listed = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: queue.dlqArn, MaxResults: 10 }))) as {
      Results?: Array<{
        TaskHandle?: string;
        Status?: string;
        ApproximateNumberOfMessagesMoved?: number;
        ApproximateNumberOfMessagesToMove?: number;
        FailureReason?: string;
      }>;
    };
    // Our task by its handle (the list also holds earlier tasks); not listed yet counts as still running.
    const task = listed.Results?.find((t) => started.TaskHandle === undefined || t.TaskHandle === started.TaskHandle);
    const status = task?.Status ?? 'RUNNING';
    if (status !== 'RUNNING' || Date.now() >= deadline) {
      return {
        taskHandle: started.TaskHandle ?? task?.TaskHandle,
        status,
        moved: task?.ApproximateNumberOfMessagesMoved,
        toMove: task?.ApproximateNumberOfMessagesToMove,
        failureReason: task?.FailureReason,
      };
    }
    await sleep(opts.pollMs ?? 2_000);
  }
}

/** Local fallback (fauxqs has no move tasks): receive → send to the work queue → delete from the DLQ. */
export async function redriveByReceiveAndSend(sqs: SqsSender, queue: QueueWithDlq): Promise<{ moved: number }> {
  const dlqUrl = await queueUrlOfArn(sqs, queue.dlqArn);
  const attrs = (await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  )) as GetQueueAttributesCommandOutput;
  const limit = Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0);
  let moved = 0;
  let emptyReceives = 0;
  while (moved < limit && emptyReceives < 2) {
    const received = (await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.min(10, limit - moved),
        WaitTimeSeconds: 0,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    )) as ReceiveMessageCommandOutput;
    const messages = received.Messages ?? [];
    if (messages.length === 0) {
      emptyReceives++;
      continue;
    }
    emptyReceives = 0;
    const sent = (await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: messages.map((m, i) => ({
          Id: String(i),
          MessageBody: m.Body ?? '',
          ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0
            ? { MessageAttributes: m.MessageAttributes }
            : {}),
        })),
      }),
    )) as SendMessageBatchCommandOutput;
    const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
    // Only what reached the work queue is deleted; a failed send stays in the DLQ (visible again in 60 s).
    const done = messages
      .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' }))
      .filter((e) => ok.has(e.Id));
    if (done.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: dlqUrl, Entries: done }));
    moved += done.length;
    if (done.length < messages.length)
      throw new DlqRedriveError(
        `SQS refused to re-send ${messages.length - done.length} message(s); ${moved} moved so far`,
      );
  }
  return { moved };
}

async function queueUrlOfArn(sqs: SqsSender, arn: string): Promise<string> {
  const parts = arn.split(':');
  const name = parts[5];
  if (parts.length < 6 || !name) throw new DlqRedriveError(`not an SQS queue ARN: ${arn}`);
  const out = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))) as { QueueUrl?: string };
  if (!out.QueueUrl) throw new DlqRedriveError(`SQS returned no URL for ${name}`);
  return out.QueueUrl;
}
