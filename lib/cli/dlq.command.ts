/**
 * `dlq redrive --queue fetch|persist`: move dead-lettered messages back to their work queue once the cause is fixed.
 * The handlers are idempotent, so redriving a frame that later succeeded another way is harmless.
 *
 * - AWS: SQS `StartMessageMoveTask` with the dead-letter queue's ARN as `SourceArn` (and the work queue as
 *   destination). SQS moves the messages itself; we poll `ListMessageMoveTasks` to report how many moved.
 * - Local (`--target local`): fauxqs 1.9.2 does not implement message move tasks, so the CLI moves them itself:
 *   receive from the DLQ, send the same body and attributes to the work queue, then delete from the DLQ. It moves
 *   at most the number of messages the DLQ held when it started, so messages that fail again meanwhile are not
 *   bounced around forever. Message bodies are never printed.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { UsageError, bool, helpText, parseArgs, str, type FlagSpecs } from './argv.js';
import { TARGET_FLAGS, contextFor } from './cli.target.js';
import type { CliIo, Output } from './cli.io.js';

export const DLQ_HELP = `Usage: nightscout-connect dlq redrive --queue fetch|persist [options]

Moves the messages of a dead-letter queue back to its work queue (see docs/deploy.md, FetchDlqNotEmpty).
Run \`nightscout-connect dlq redrive --help\` for the options.
`;

const REDRIVE_FLAGS: FlagSpecs = {
  queue: { value: true, arg: 'fetch|persist', help: 'which work queue to redrive into (its dead-letter queue is found from its RedrivePolicy)' },
  'max-per-second': { value: true, arg: '<n>', help: 'AWS only: MaxNumberOfMessagesPerSecond of the move task (default: SQS decides)' },
  'no-wait': { help: 'AWS only: start the move task and return without waiting for it' },
  'wait-seconds': { value: true, arg: '<s>', help: 'AWS only: how long to wait for the move task to finish (default 120)' },
};

/** Narrow client surface, so the AWS path can be tested with a fake. */
export interface SqsSender {
  send(command: unknown): Promise<unknown>;
}

/** The SQS request that starts a redrive on AWS: the DLQ is the source; the destination is the work queue. */
export function buildMoveTaskCommand(dlqArn: string, destinationArn?: string, maxPerSecond?: number): StartMessageMoveTaskCommand {
  return new StartMessageMoveTaskCommand({
    SourceArn: dlqArn,
    ...(destinationArn !== undefined ? { DestinationArn: destinationArn } : {}),
    ...(maxPerSecond !== undefined ? { MaxNumberOfMessagesPerSecond: maxPerSecond } : {}),
  });
}

export interface QueueWithDlq {
  queueUrl: string;
  queueArn: string;
  dlqArn: string;
}

/** The work queue's ARN and its dead-letter queue's ARN, from the queue's RedrivePolicy. */
export async function findDeadLetterQueue(sqs: SqsSender, queueUrl: string): Promise<QueueWithDlq> {
  const out = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'RedrivePolicy'] }))) as {
    Attributes?: Record<string, string>;
  };
  const queueArn = out.Attributes?.QueueArn;
  const policy = out.Attributes?.RedrivePolicy;
  if (!queueArn) throw new Error(`SQS returned no ARN for ${queueUrl}`);
  if (!policy) throw new UsageError(`${queueUrl} has no dead-letter queue (no RedrivePolicy)`);
  let dlqArn: unknown;
  try {
    dlqArn = (JSON.parse(policy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
  } catch {
    dlqArn = undefined;
  }
  if (typeof dlqArn !== 'string' || dlqArn === '') throw new Error(`the RedrivePolicy of ${queueUrl} names no deadLetterTargetArn`);
  return { queueUrl, queueArn, dlqArn };
}

/** AWS: start the move task and (unless told not to) wait for it to finish. */
export async function redriveWithMoveTask(
  sqs: SqsSender,
  queue: QueueWithDlq,
  opts: { wait: boolean; waitMs: number; pollMs?: number; maxPerSecond?: number; sleep?: (ms: number) => Promise<void> },
): Promise<{ taskHandle?: string; status: string; moved?: number; toMove?: number; failureReason?: string }> {
  const started = (await sqs.send(buildMoveTaskCommand(queue.dlqArn, queue.queueArn, opts.maxPerSecond))) as { TaskHandle?: string };
  if (!opts.wait) return { taskHandle: started.TaskHandle, status: 'RUNNING' };
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const listed = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: queue.dlqArn, MaxResults: 10 }))) as {
      Results?: Array<{ TaskHandle?: string; Status?: string; ApproximateNumberOfMessagesMoved?: number; ApproximateNumberOfMessagesToMove?: number; FailureReason?: string }>;
    };
    // Our task by its handle (the list also holds earlier tasks); not listed yet counts as still running.
    const task = listed.Results?.find((t) => started.TaskHandle === undefined || t.TaskHandle === started.TaskHandle);
    const status = task?.Status ?? 'RUNNING';
    if (status !== 'RUNNING' || Date.now() >= deadline) {
      return {
        taskHandle: started.TaskHandle ?? task?.TaskHandle, status, moved: task?.ApproximateNumberOfMessagesMoved,
        toMove: task?.ApproximateNumberOfMessagesToMove, failureReason: task?.FailureReason,
      };
    }
    await sleep(opts.pollMs ?? 2_000);
  }
}

/** Local fallback (fauxqs has no move tasks): receive → send to the work queue → delete from the DLQ. */
export async function redriveByReceiveAndSend(sqs: SQSClient, queue: QueueWithDlq): Promise<{ moved: number }> {
  const dlqUrl = await queueUrlOfArn(sqs, queue.dlqArn);
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  const limit = Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0);
  let moved = 0;
  let emptyReceives = 0;
  while (moved < limit && emptyReceives < 2) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl, MaxNumberOfMessages: Math.min(10, limit - moved), WaitTimeSeconds: 0, VisibilityTimeout: 60, MessageAttributeNames: ['All'],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) {
      emptyReceives++;
      continue;
    }
    emptyReceives = 0;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: messages.map((m, i) => ({
          Id: String(i), MessageBody: m.Body ?? '', ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0 ? { MessageAttributes: m.MessageAttributes } : {}),
        })),
      }),
    );
    const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
    // Only what reached the work queue is deleted; a failed send stays in the DLQ (visible again in 60 s).
    const done = messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })).filter((e) => ok.has(e.Id));
    if (done.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: dlqUrl, Entries: done }));
    moved += done.length;
    if (done.length < messages.length) throw new Error(`SQS refused to re-send ${messages.length - done.length} message(s); ${moved} moved so far`);
  }
  return { moved };
}

async function queueUrlOfArn(sqs: SQSClient, arn: string): Promise<string> {
  const parts = arn.split(':');
  const name = parts[5];
  if (parts.length < 6 || !name) throw new Error(`not an SQS queue ARN: ${arn}`);
  const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  if (!out.QueueUrl) throw new Error(`SQS returned no URL for ${name}`);
  return out.QueueUrl;
}

export async function runDlq(argv: string[], io: CliIo, out: Output): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === 'help' || name === '-h') {
    out.line(DLQ_HELP);
    return name === undefined ? 2 : 0;
  }
  if (name !== 'redrive') throw new UsageError(`unknown command "dlq ${name.replace(/[^\w-]/g, '')}"; commands: redrive`);
  const specs = { ...REDRIVE_FLAGS, ...TARGET_FLAGS };
  const args = parseArgs(rest, specs);
  if (bool(args, 'help')) {
    out.line(helpText('nightscout-connect dlq redrive --queue fetch|persist [options]', [
      'Moves dead-lettered messages back to the fetch or persist queue and prints how many moved. On AWS this is',
      'SQS StartMessageMoveTask with the dead-letter queue as source; locally (fauxqs has no move tasks) the CLI',
      'receives each message, sends it to the work queue and deletes it from the dead-letter queue.',
    ].join('\n'), specs));
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError('dlq redrive takes no positional arguments');
  const which = str(args, 'queue');
  if (which !== 'fetch' && which !== 'persist') throw new UsageError('--queue must be fetch or persist');
  const maxText = str(args, 'max-per-second');
  const maxPerSecond = maxText === undefined ? undefined : Number(maxText);
  if (maxPerSecond !== undefined && (!Number.isInteger(maxPerSecond) || maxPerSecond < 1 || maxPerSecond > 500)) throw new UsageError('--max-per-second must be a whole number from 1 to 500');
  const waitText = str(args, 'wait-seconds');
  const waitSeconds = waitText === undefined ? 120 : Number(waitText);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new UsageError('--wait-seconds must be a number of seconds');

  const ctx = contextFor(args, io, out);
  try {
    const queueUrl = ctx.queueUrl(which);
    const queue = await findDeadLetterQueue(ctx.sqs(), queueUrl);
    if (ctx.target.kind === 'local') {
      const { moved } = await redriveByReceiveAndSend(ctx.sqs(), queue);
      out.line(`moved ${moved} message(s) from ${which} dead-letter queue back to ${which} (local: receive, re-send, delete)`);
      return 0;
    }
    const result = await redriveWithMoveTask(ctx.sqs(), queue, { wait: !bool(args, 'no-wait'), waitMs: waitSeconds * 1000, maxPerSecond });
    if (bool(args, 'no-wait')) {
      out.line(`started message move task ${result.taskHandle ?? '?'} from ${queue.dlqArn} to ${queue.queueArn}`);
      out.line('check progress: aws sqs list-message-move-tasks --source-arn <dlq-arn>');
      return 0;
    }
    out.line(`message move task ${result.status}: moved ${result.moved ?? 0}${result.toMove !== undefined ? ` of ${result.toMove}` : ''} message(s) from ${which} dead-letter queue back to ${which}`);
    if (result.failureReason) out.line(`failure: ${result.failureReason}`);
    if (result.status === 'RUNNING') out.line('still running; check again with: aws sqs list-message-move-tasks --source-arn <dlq-arn>');
    return result.status === 'FAILED' ? 1 : 0;
  } finally {
    ctx.close();
  }
}
