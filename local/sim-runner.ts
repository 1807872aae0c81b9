/**
 * The whole pipeline in one process on a simulated clock: the real handlers (tick, fetch-frame, persist), the real
 * DynamoDB adapter against in-process dynalite, and SQS-semantics memory queues (delays, visibility, receive counts,
 * DLQs) whose time is the simulated clock, because a simulated day cannot wait on fauxqs's wall-clock delays.
 * Vendor and Nightscout simulators share the same clock. Used by `npm start -- --simulate`, the end-to-end tests and
 * the benchmark.
 */
import { createDynamoDbClient } from '../lib/adapters/aws/aws-clients.js';
import { DynamoDbSessionStore } from '../lib/adapters/aws/dynamodb-session.store.js';
import { createSourceTable, DynamoDbSourceStore } from '../lib/adapters/aws/dynamodb-source.store.js';
import { MemoryCredentialStore } from '../lib/adapters/memory/memory-credential.store.js';
import { MemoryQueue, MemoryRedeliveryControl } from '../lib/adapters/memory/memory-message.queue.js';
import { nightscoutWriterFor } from '../lib/adapters/nightscout/nightscout-writer.factory.js';
import type { CoreDeps, FetchDeps, PersistDeps } from '../lib/app/app.deps.js';
import { makeFetchFrameHandler } from '../lib/app/handlers/fetch-frame.handler.js';
import { makePersistHandler } from '../lib/app/handlers/persist.handler.js';
import { makeTickHandler } from '../lib/app/handlers/tick.handler.js';
import { addOrUpdateSource, type ManageDeps } from '../lib/app/manage-sources.js';
import { statusReader } from '../lib/app/source-status.js';
import type { FrameMessage, PersistMessage } from '../lib/domain/messages.js';
import type { SourceConfig, SourceCredentials } from '../lib/domain/source.js';
import type { QueueRecord } from '../lib/ports/queue.port.js';
import { declarationFor, driverFor, PARKED_HINTS, specFor } from '../lib/sources/vendor.catalog.js';
import { countRequests, RequestCounter } from './aws-instrumentation.js';
import { type RunningEmulator, startDynalite } from './emulators.js';
import { RecordingLog, RecordingMetrics } from './recording.observability.js';

export class ManualClock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    if (t > this.t) this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface SimOptions {
  start: number;
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  /** Echo structured log lines (the local runner's trace). */
  echo?: (line: string) => void;
  logLevel?: 'debug' | 'info' | 'warn';
  dynalitePath?: string;
  /**
   * The event source mappings' MaximumBatchingWindow, in ms (default 0, as in AWS for batch size 10): a receive
   * waits until 10 messages are visible or the oldest visible one has waited this long.
   */
  batchingWindowMs?: number;
}

export interface SimWorld {
  clock: ManualClock;
  log: RecordingLog;
  metrics: RecordingMetrics;
  awsRequests: RequestCounter;
  /** The DynamoDB client every store uses (the benchmark adds its capacity meter to it). */
  dynamo: ReturnType<typeof createDynamoDbClient>;
  queueRequests: Record<string, number>;
  /** Every queue body sent, as JSON (for the canary-secret checks). */
  sentBodies: string[];
  sources: DynamoDbSourceStore;
  sessions: DynamoDbSessionStore;
  credentials: MemoryCredentialStore;
  fetchQueue: MemoryQueue<FrameMessage>;
  fetchDlq: MemoryQueue<FrameMessage>;
  persistQueue: MemoryQueue<PersistMessage>;
  persistDlq: MemoryQueue<PersistMessage>;
  manage: ManageDeps;
  addSource(config: SourceConfig, credentials: SourceCredentials): Promise<void>;
  tick(): Promise<void>;
  /** Deliver every message visible now (fetch, then persist), repeatedly, until both queues are idle. */
  drain(): Promise<number>;
  /** Run ticks every minute and deliver messages at their visible instants until `until`. */
  runUntil(until: number): Promise<void>;
  close(): Promise<void>;
}

export const TABLE = 'nightscout-connect-local';

export async function createSimWorld(options: SimOptions): Promise<SimWorld> {
  const clock = new ManualClock(options.start);
  const log = new RecordingLog(options.echo, options.logLevel ?? 'info');
  const metrics = new RecordingMetrics();
  const awsRequests = new RequestCounter();
  const dynalite: RunningEmulator = await startDynalite({ path: options.dynalitePath });
  const dynamo = createDynamoDbClient({ endpoint: dynalite.endpoint });
  await createSourceTable(dynamo, TABLE);
  countRequests(dynamo, awsRequests);
  const sources = new DynamoDbSourceStore({ client: dynamo, tableName: TABLE, statusOf: statusReader(PARKED_HINTS) });
  const sessions = new DynamoDbSessionStore({ client: dynamo, tableName: TABLE, clock });
  const credentials = new MemoryCredentialStore();
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 360;
  const fetchDlq = new MemoryQueue<FrameMessage>({
    name: 'fetch-dlq',
    clock,
    visibilityTimeoutSeconds,
    maxReceiveCount: 1000,
  });
  const persistDlq = new MemoryQueue<PersistMessage>({
    name: 'persist-dlq',
    clock,
    visibilityTimeoutSeconds,
    maxReceiveCount: 1000,
  });
  const fetchQueue = new MemoryQueue<FrameMessage>({
    name: 'fetch',
    clock,
    visibilityTimeoutSeconds,
    maxReceiveCount,
    dlq: fetchDlq,
  });
  const persistQueue = new MemoryQueue<PersistMessage>({
    name: 'persist',
    clock,
    visibilityTimeoutSeconds,
    maxReceiveCount,
    dlq: persistDlq,
  });
  const queueRequests: Record<string, number> = {};
  const sentBodies: string[] = [];
  const countQueue = (key: string) => {
    queueRequests[key] = (queueRequests[key] ?? 0) + 1;
  };
  const counted = <T>(queue: MemoryQueue<T>) => ({
    send: async (messages: Parameters<MemoryQueue<T>['send']>[0]) => {
      // SendMessageBatch carries up to 10 entries per request.
      for (let i = 0; i < messages.length; i += 10) countQueue(`SQS.SendMessageBatch`);
      for (const m of messages) sentBodies.push(JSON.stringify(m.body));
      return queue.send(messages);
    },
  });

  const core: CoreDeps = {
    sources,
    specFor,
    parkedHints: PARKED_HINTS,
    frameQueue: counted(fetchQueue),
    clock,
    log,
    metrics,
  };
  const fetchDeps: FetchDeps & { redelivery: MemoryRedeliveryControl } = {
    ...core,
    driverFor,
    sessions,
    credentials,
    persistQueue: counted(persistQueue),
    maxReceiveCount,
    redelivery: new MemoryRedeliveryControl(fetchQueue as MemoryQueue<unknown>),
  };
  const persistDeps: PersistDeps & { redelivery: MemoryRedeliveryControl } = {
    ...core,
    declarationFor,
    sessions,
    credentials,
    writerFor: nightscoutWriterFor,
    maxReceiveCount,
    redelivery: new MemoryRedeliveryControl(persistQueue as MemoryQueue<unknown>),
  };
  const tickHandler = makeTickHandler(core);
  const fetchHandler = makeFetchFrameHandler(fetchDeps);
  const persistHandler = makePersistHandler(persistDeps);
  const manage: ManageDeps = { sources, specFor, parkedHints: PARKED_HINTS, clock, log, credentials, sessions };

  const batchingWindowMs = options.batchingWindowMs ?? 0;
  /** Whether the ESM would hand a batch over now: 10 messages visible, or the oldest visible one waited the window. */
  const batchReady = <T>(queue: MemoryQueue<T>): boolean => {
    if (batchingWindowMs === 0) return true;
    const oldest = queue.nextVisibleAt();
    return oldest !== undefined && (oldest <= clock.now() - batchingWindowMs || queue.stats().visible >= 10);
  };

  /** One receive of up to 10 messages, handed to the handler as an SQS event, settled like the Lambda ESM does. */
  async function deliver<T>(
    queue: MemoryQueue<T>,
    handler: (e: { Records: QueueRecord[] }) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>,
  ) {
    if (!batchReady(queue)) return 0;
    const received = queue.receive(10);
    if (received.length === 0) return 0;
    countQueue('SQS.ReceiveMessage');
    const records: QueueRecord[] = received.map((m) => ({
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      body: JSON.stringify(m.body),
      attributes: { ApproximateReceiveCount: String(m.receiveCount) },
    }));
    const response = await handler({ Records: records });
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    let deleted = 0;
    for (const m of received)
      if (!failed.has(m.messageId)) {
        queue.delete(m.receiptHandle);
        deleted++;
      }
    if (deleted) countQueue('SQS.DeleteMessageBatch');
    return received.length;
  }

  const world: SimWorld = {
    clock,
    log,
    metrics,
    awsRequests,
    dynamo,
    queueRequests,
    sentBodies,
    sources,
    sessions,
    credentials,
    fetchQueue,
    fetchDlq,
    persistQueue,
    persistDlq,
    manage,
    async addSource(config, creds) {
      await addOrUpdateSource(manage, config, creds);
    },
    async tick() {
      await tickHandler({});
    },
    async drain() {
      let total = 0;
      for (;;) {
        const n = (await deliver(fetchQueue, fetchHandler)) + (await deliver(persistQueue, persistHandler));
        if (n === 0) return total;
        total += n;
      }
    },
    async runUntil(until) {
      let nextTick = Math.ceil(clock.now() / 60_000) * 60_000;
      while (clock.now() < until) {
        if (clock.now() >= nextTick) {
          await world.tick();
          nextTick += 60_000;
        }
        await world.drain();
        const candidates = [fetchQueue.nextVisibleAt(), persistQueue.nextVisibleAt()]
          .flatMap((t) => (t === undefined ? [] : [t, t + batchingWindowMs]))
          .concat(nextTick, until)
          .filter((t) => t > clock.now());
        clock.set(Math.min(...candidates));
      }
    },
    async close() {
      dynamo.destroy();
      await dynalite.close();
    },
  };
  return world;
}
