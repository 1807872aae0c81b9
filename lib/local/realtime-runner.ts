/**
 * The real-time local runner: embedded dynalite (on disk) and fauxqs, the real handlers, a tick every minute, queue
 * pollers in place of Lambda's event source mappings, and a status line per source every few seconds.
 * Credentials come from CONNECT_* (or the demo) and stay in memory.
 */
import { join } from 'node:path';
import { createDynamoDbClient, createSqsClient } from '../adapters/aws/aws-clients.js';
import { DynamoDbSourceStore, createSourceTable } from '../adapters/aws/dynamodb-source.store.js';
import { DynamoDbSessionStore } from '../adapters/aws/dynamodb-session.store.js';
import { SqsMessageQueue, SqsRedeliveryControl } from '../adapters/aws/sqs-message.queue.js';
import { pollQueueOnce } from '../adapters/aws/sqs-queue.poller.js';
import { MemoryCredentialStore } from '../adapters/memory/memory-credential.store.js';
import { nightscoutWriterFor } from '../nightscout/nightscout-writer.factory.js';
import { driverFor } from '../sources/source.registry.js';
import { systemClock } from '../ports/observability.port.js';
import { addOrUpdateSource } from '../app/manage-sources.js';
import type { CoreDeps } from '../app/app.deps.js';
import type { FrameMessage, PersistMessage } from '../domain/messages.js';
import type { ParsedSource } from '../config/connect-env.config.js';
import { makeTickHandler } from '../../functions/tick/tick.handler.js';
import { makeFetchFrameHandler } from '../../functions/fetch-frame/fetch-frame.handler.js';
import { makePersistHandler } from '../../functions/persist/persist.handler.js';
import { startDynalite, startFauxqs, createQueuePair } from './emulators.js';
import { RecordingLog, RecordingMetrics } from './recording.observability.js';
import { startScenario, type Scenario } from './demo.scenarios.js';
import { TABLE } from './sim-runner.js';

export interface RealtimeOptions {
  configured?: ParsedSource;
  demoKind: string;
  dataDir: string;
  verbose: boolean;
  /** Stop after this long (tests); default: until SIGINT/SIGTERM. */
  runForMs?: number;
  out?: (line: string) => void;
}

const MAX_RECEIVE_COUNT = 5;

export async function runRealtime(options: RealtimeOptions): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dynalite = await startDynalite({ path: join(options.dataDir, 'dynalite') });
  const fauxqs = await startFauxqs();
  const dynamo = createDynamoDbClient({ endpoint: dynalite.endpoint });
  const sqs = createSqsClient({ endpoint: fauxqs.endpoint });
  await createSourceTable(dynamo, TABLE);
  const fetchPair = await createQueuePair(sqs, 'nightscout-connect-fetch', { maxReceiveCount: MAX_RECEIVE_COUNT, visibilityTimeoutSeconds: 360 });
  const persistPair = await createQueuePair(sqs, 'nightscout-connect-persist', { maxReceiveCount: MAX_RECEIVE_COUNT, visibilityTimeoutSeconds: 360 });

  const log = new RecordingLog(options.verbose ? out : undefined, 'info');
  const metrics = new RecordingMetrics();
  const sources = new DynamoDbSourceStore({ client: dynamo, tableName: TABLE });
  const sessions = new DynamoDbSessionStore({ client: dynamo, tableName: TABLE });
  const credentials = new MemoryCredentialStore();
  const core: CoreDeps = {
    sources, drivers: driverFor, clock: systemClock, log, metrics,
    frameQueue: new SqsMessageQueue<FrameMessage>({ client: sqs, queueUrl: fetchPair.queueUrl }),
  };
  const tick = makeTickHandler(core);
  const fetchFrame = makeFetchFrameHandler({
    ...core, sessions, credentials, maxReceiveCount: MAX_RECEIVE_COUNT,
    persistQueue: new SqsMessageQueue<PersistMessage>({ client: sqs, queueUrl: persistPair.queueUrl }),
    redelivery: new SqsRedeliveryControl({ client: sqs, queueUrl: fetchPair.queueUrl }),
  });
  const persist = makePersistHandler({
    ...core, sessions, credentials, writerFor: nightscoutWriterFor, maxReceiveCount: MAX_RECEIVE_COUNT,
    redelivery: new SqsRedeliveryControl({ client: sqs, queueUrl: persistPair.queueUrl }),
  });

  let scenario: Scenario | undefined;
  let source = options.configured;
  if (!source) {
    scenario = await startScenario(options.demoKind, { clock: systemClock });
    source = { config: scenario.config, credentials: scenario.credentials };
    out(`DEMO MODE: no CONNECT_SOURCE configured. Simulated ${options.demoKind} → simulated Nightscout at ${scenario.nightscout.url} (all on 127.0.0.1).`);
  }
  await addOrUpdateSource({ sources, drivers: driverFor, clock: systemClock, log, credentials, sessions }, source.config, source.credentials);
  out(`source ${source.config.id} (${source.config.kind}) → ${source.config.nightscout.endpoint}; data in ${options.dataDir}; Ctrl-C to stop`);

  let stopping = false;
  const stopped = new Promise<void>((resolveStop) => {
    const stop = () => { stopping = true; resolveStop(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.runForMs !== undefined) setTimeout(stop, options.runForMs).unref();
  });

  const safely = (what: string, fn: () => Promise<unknown>) => fn().catch((err) => log.error(`${what} failed`, { error: err instanceof Error ? err.name : 'unknown' }));
  const poll = async (queueUrl: string, handler: Parameters<typeof pollQueueOnce>[2]) => {
    while (!stopping) await safely('poll', () => pollQueueOnce(sqs, queueUrl, handler, 1));
  };
  const tickTimer = setInterval(() => void safely('tick', () => tick({})), 60_000);
  const statusTimer = setInterval(() => void safely('status', () => printStatus(sources, out)), 15_000);
  await safely('tick', () => tick({}));
  const pollers = [poll(fetchPair.queueUrl, fetchFrame), poll(persistPair.queueUrl, persist)];

  await stopped;
  clearInterval(tickTimer);
  clearInterval(statusTimer);
  await Promise.all(pollers);
  await printStatus(sources, out);
  await scenario?.close();
  dynamo.destroy();
  sqs.destroy();
  await fauxqs.close();
  await dynalite.close();
  return 0;
}

async function printStatus(sources: DynamoDbSourceStore, out: (line: string) => void): Promise<void> {
  const now = Date.now();
  for (const record of await sources.list()) {
    const s = record.status;
    const age = s.newestReadingAt ? `${Math.round((now - s.newestReadingAt) / 1000)}s` : '—';
    const due = record.nextDueAt ? `${Math.round((record.nextDueAt - now) / 1000)}s` : 'not scheduled';
    const error = s.lastError ? `${s.lastError.kind}:${s.lastError.code}` : 'none';
    out(`[status] ${record.id} state=${s.state} newest-reading-age=${age} next-due-in=${due} last-error=${error}${s.parkedReason ? ` parked: ${s.parkedReason}` : ''}`);
  }
}
