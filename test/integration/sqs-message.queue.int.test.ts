import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createSqsClient } from '../../lib/adapters/aws/aws-clients.js';
import { SqsMessageQueue, SqsRedeliveryControl } from '../../lib/adapters/aws/sqs-message.queue.js';
import { SourceUnavailableError } from '../../lib/domain/errors.js';
import { countRequests, RequestCounter } from '../../local/aws-instrumentation.js';
import { createQueuePair } from '../../local/emulators.js';
import { useFauxqs } from '../helpers/emulators.helper.js';

const fauxqs = useFauxqs();
let queueCounter = 0;

async function pair(opts = { maxReceiveCount: 3, visibilityTimeoutSeconds: 30 }) {
  return createQueuePair(fauxqs.client, `q${++queueCounter}`, opts);
}

async function receive(queueUrl: string, opts: { wait?: number; visibility?: number } = {}) {
  const out = await fauxqs.client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: opts.wait ?? 0,
      ...(opts.visibility !== undefined ? { VisibilityTimeout: opts.visibility } : {}),
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return out.Messages ?? [];
}

async function drain(queueUrl: string, expected: number) {
  const bodies: unknown[] = [];
  for (let i = 0; i < 20 && bodies.length < expected; i++) {
    for (const m of await receive(queueUrl)) bodies.push(JSON.parse(m.Body ?? 'null'));
  }
  return bodies;
}

describe('SqsMessageQueue (fauxqs)', () => {
  it('sends 25 messages as 3 SendMessageBatch requests with JSON bodies', async () => {
    const { queueUrl } = await pair();
    const counter = new RequestCounter();
    const counted = createSqsClient({ endpoint: fauxqs.endpoint });
    countRequests(counted, counter);
    const queue = new SqsMessageQueue<{ n: number; tag: string }>({ client: counted, queueUrl });

    await queue.send(Array.from({ length: 25 }, (_, n) => ({ body: { n, tag: 'é' }, delaySeconds: 0 })));

    expect(counter.counts).toEqual({ 'SQS.SendMessageBatch': 3 });
    expect(counter.total()).toBe(3);
    const bodies = (await drain(queueUrl, 25)) as Array<{ n: number; tag: string }>;
    expect(bodies.map((b) => b.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, n) => n));
    expect(bodies.every((b) => b.tag === 'é')).toBe(true);
    counted.destroy();
  });

  it('sends nothing for an empty list', async () => {
    const { queueUrl } = await pair();
    const counter = new RequestCounter();
    const counted = createSqsClient({ endpoint: fauxqs.endpoint });
    countRequests(counted, counter);
    await new SqsMessageQueue({ client: counted, queueUrl }).send([]);
    expect(counter.total()).toBe(0);
    counted.destroy();
  });

  it('honours DelaySeconds', async () => {
    const { queueUrl } = await pair();
    const queue = new SqsMessageQueue<{ n: number }>({ client: fauxqs.client, queueUrl });
    const sentAt = Date.now();
    await queue.send([{ body: { n: 1 }, delaySeconds: 1.2 }]); // rounded up to 2 s
    // Long-polls return as soon as a message is visible, so the instant it arrives bounds the delay from below. Only a
    // lower bound: a slow machine can make it arrive later, never earlier.
    let got = await receive(queueUrl, { wait: 5 });
    if (got.length === 0) got = await receive(queueUrl, { wait: 5 });
    const receivedAt = Date.now();
    expect(got.map((m) => JSON.parse(m.Body ?? ''))).toEqual([{ n: 1 }]);
    expect(receivedAt - sentAt).toBeGreaterThanOrEqual(1_900);
  });

  it('retries per-entry failures once, then throws a retryable SQS.SEND_FAILED', async () => {
    // A fauxqs.client whose batch responses report every entry as failed: the real SDK path, with the response faked.
    const { queueUrl } = await pair();
    const failing = createSqsClient({ endpoint: fauxqs.endpoint });
    let calls = 0;
    failing.middlewareStack.add(
      () => async (args) => {
        calls++;
        const input = (args as { input: { Entries: Array<{ Id: string }> } }).input;
        return {
          response: {},
          output: {
            $metadata: {},
            Successful: [],
            Failed: input.Entries.map((e) => ({ Id: e.Id, SenderFault: false, Code: 'InternalError' })),
          },
        };
      },
      { step: 'initialize', name: 'failEverything' },
    );
    const queue = new SqsMessageQueue<{ n: number }>({ client: failing, queueUrl });
    const err = await queue
      .send([
        { body: { n: 1 }, delaySeconds: 0 },
        { body: { n: 2 }, delaySeconds: 0 },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceUnavailableError);
    expect(err).toMatchObject({ kind: 'retryable', code: 'SQS.SEND_FAILED' });
    expect(calls).toBe(2);
    failing.destroy();
  });

  it('re-sends only the failed entries', async () => {
    const { queueUrl } = await pair();
    const flaky = createSqsClient({ endpoint: fauxqs.endpoint });
    const entriesPerCall: number[] = [];
    flaky.middlewareStack.add(
      (next) => async (args) => {
        const input = (args as { input: { Entries: Array<{ Id: string }> } }).input;
        entriesPerCall.push(input.Entries.length);
        const result = await next(args);
        if (entriesPerCall.length === 1) {
          // Pretend the first entry failed (it was in fact delivered, as a partial failure can be in SQS).
          const output = result.output as { Successful?: Array<{ Id: string }>; Failed?: unknown[] };
          const [first, ...rest] = output.Successful ?? [];
          output.Successful = rest;
          output.Failed = [{ Id: first.Id, SenderFault: false, Code: 'InternalError' }];
        }
        return result;
      },
      { step: 'initialize', name: 'failFirstEntryOnce' },
    );
    await new SqsMessageQueue<{ n: number }>({ client: flaky, queueUrl }).send(
      [1, 2, 3].map((n) => ({ body: { n }, delaySeconds: 0 })),
    );
    expect(entriesPerCall).toEqual([3, 1]);
    expect(await drain(queueUrl, 4)).toHaveLength(4); // at-least-once: the "failed" one arrives twice
    flaky.destroy();
  });
});

describe('SqsRedeliveryControl (fauxqs)', () => {
  it('pushes the next delivery out with ChangeMessageVisibility', async () => {
    const { queueUrl } = await pair({ maxReceiveCount: 5, visibilityTimeoutSeconds: 1 });
    await new SqsMessageQueue<{ n: number }>({ client: fauxqs.client, queueUrl }).send([
      { body: { n: 1 }, delaySeconds: 0 },
    ]);
    const [first] = await receive(queueUrl);
    await new SqsRedeliveryControl({ client: fauxqs.client, queueUrl }).retryAfter(first.ReceiptHandle!, 3);

    // Without the change it would be back after the 1 s queue visibility timeout.
    const early = await receive(queueUrl, { wait: 2 });
    expect(early).toEqual([]);
    const later = await receive(queueUrl, { wait: 3 });
    expect(later).toHaveLength(1);
    expect(later[0].Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('retryAfter(0) makes the message visible at once', async () => {
    const { queueUrl } = await pair();
    await new SqsMessageQueue<{ n: number }>({ client: fauxqs.client, queueUrl }).send([
      { body: { n: 1 }, delaySeconds: 0 },
    ]);
    const [first] = await receive(queueUrl);
    await new SqsRedeliveryControl({ client: fauxqs.client, queueUrl }).retryAfter(first.ReceiptHandle!, -10);
    expect(await receive(queueUrl)).toHaveLength(1);
  });
});

describe('createQueuePair (fauxqs)', () => {
  it('redrives to the DLQ after maxReceiveCount receives', async () => {
    const { queueUrl, dlqUrl, queueArn, dlqArn } = await pair({ maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
    expect(queueArn).toMatch(/:q\d+$/);
    expect(dlqArn).toMatch(/:q\d+-dlq$/);
    await fauxqs.client.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: '0', MessageBody: '{"n":1}' }] }),
    );

    for (let attempt = 1; attempt <= 2; attempt++) {
      const got = await receive(queueUrl, { visibility: 0 });
      expect(got.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual([String(attempt)]);
    }
    expect(await receive(queueUrl)).toEqual([]); // the 3rd receive moves it instead
    const dead = await receive(dlqUrl);
    expect(dead.map((m) => m.Body)).toEqual(['{"n":1}']);
  });
});
