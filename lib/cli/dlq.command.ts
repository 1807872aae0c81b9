/**
 * `dlq redrive --queue fetch|persist`: move dead-lettered messages back to their work queue once the cause is fixed.
 * The handlers are idempotent, so redriving a frame that later succeeded another way is harmless.
 *
 * - AWS: SQS `StartMessageMoveTask` with the dead-letter queue's ARN as `SourceArn` (and the work queue as
 *   destination). SQS moves the messages itself; we poll `ListMessageMoveTasks` to report how many moved.
 * - Local (`--target local`): fauxqs 1.9.2 does not implement message move tasks, so the messages are received,
 *   re-sent and deleted one batch at a time. Message bodies are never printed.
 * The SQS requests live in the adapter (lib/adapters/aws/sqs-dlq.redrive.ts); this is argument handling and output.
 */
import { bool, type FlagSpecs, helpText, parseArgs, str, UsageError } from './argv.js';
import type { CliIo, Output } from './cli.io.js';
import { contextFor, TARGET_FLAGS } from './cli.target.js';

export const DLQ_HELP = `Usage: nightscout-connect dlq redrive --queue fetch|persist [options]

Moves the messages of a dead-letter queue back to its work queue (see docs/deploy.md, FetchDlqNotEmpty).
Run \`nightscout-connect dlq redrive --help\` for the options.
`;

const REDRIVE_FLAGS: FlagSpecs = {
  queue: {
    value: true,
    arg: 'fetch|persist',
    help: 'which work queue to redrive into (its dead-letter queue is found from its RedrivePolicy)',
  },
  'max-per-second': {
    value: true,
    arg: '<n>',
    help: 'AWS only: MaxNumberOfMessagesPerSecond of the move task (default: SQS decides)',
  },
  'no-wait': { help: 'AWS only: start the move task and return without waiting for it' },
  'wait-seconds': {
    value: true,
    arg: '<s>',
    help: 'AWS only: how long to wait for the move task to finish (default 120)',
  },
};

export async function runDlq(argv: string[], io: CliIo, out: Output): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === 'help' || name === '-h') {
    out.line(DLQ_HELP);
    return name === undefined ? 2 : 0;
  }
  if (name !== 'redrive')
    throw new UsageError(`unknown command "dlq ${name.replace(/[^\w-]/g, '')}"; commands: redrive`);
  const specs = { ...REDRIVE_FLAGS, ...TARGET_FLAGS };
  const args = parseArgs(rest, specs);
  if (bool(args, 'help')) {
    out.line(
      helpText(
        'nightscout-connect dlq redrive --queue fetch|persist [options]',
        [
          'Moves dead-lettered messages back to the fetch or persist queue and prints how many moved. On AWS this is',
          'SQS StartMessageMoveTask with the dead-letter queue as source; locally (fauxqs has no move tasks) the CLI',
          'receives each message, sends it to the work queue and deletes it from the dead-letter queue.',
        ].join('\n'),
        specs,
      ),
    );
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError('dlq redrive takes no positional arguments');
  const which = str(args, 'queue');
  if (which !== 'fetch' && which !== 'persist') throw new UsageError('--queue must be fetch or persist');
  const maxText = str(args, 'max-per-second');
  const maxPerSecond = maxText === undefined ? undefined : Number(maxText);
  if (maxPerSecond !== undefined && (!Number.isInteger(maxPerSecond) || maxPerSecond < 1 || maxPerSecond > 500))
    throw new UsageError('--max-per-second must be a whole number from 1 to 500');
  const waitText = str(args, 'wait-seconds');
  const waitSeconds = waitText === undefined ? 120 : Number(waitText);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
    throw new UsageError('--wait-seconds must be a number of seconds');

  const ctx = contextFor(args, io, out);
  try {
    const queueUrl = ctx.queueUrl(which);
    const redrive = ctx.dlqRedrive();
    // A queue without a RedrivePolicy is a ConfigError: exit status 2, like a usage error.
    const queue = await redrive.findDeadLetterQueue(queueUrl);
    if (ctx.target.kind === 'local') {
      const { moved } = await redrive.receiveAndResend(queue);
      out.line(
        `moved ${moved} message(s) from ${which} dead-letter queue back to ${which} (local: receive, re-send, delete)`,
      );
      return 0;
    }
    const result = await redrive.moveTask(queue, {
      wait: !bool(args, 'no-wait'),
      waitMs: waitSeconds * 1000,
      maxPerSecond,
    });
    if (bool(args, 'no-wait')) {
      out.line(`started message move task ${result.taskHandle ?? '?'} from ${queue.dlqArn} to ${queue.queueArn}`);
      out.line('check progress: aws sqs list-message-move-tasks --source-arn <dlq-arn>');
      return 0;
    }
    out.line(
      `message move task ${result.status}: moved ${result.moved ?? 0}${result.toMove !== undefined ? ` of ${result.toMove}` : ''} message(s) from ${which} dead-letter queue back to ${which}`,
    );
    if (result.failureReason) out.line(`failure: ${result.failureReason}`);
    if (result.status === 'RUNNING')
      out.line('still running; check again with: aws sqs list-message-move-tasks --source-arn <dlq-arn>');
    return result.status === 'FAILED' ? 1 : 0;
  } finally {
    ctx.close();
  }
}
