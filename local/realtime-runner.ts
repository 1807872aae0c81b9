/**
 * The real-time local runner: embedded dynalite (on disk), fauxqs and the Secrets Manager stand-in (its secrets on
 * disk, mode 0600), the real handlers and the real SecretsManagerCredentialStore, a tick every minute, queue pollers
 * in place of Lambda's event source mappings, and a status line per source every few seconds.
 *
 * The services listen on fixed loopback ports (LOCAL_DYNAMODB_PORT 4567, LOCAL_SQS_PORT 4568, LOCAL_SECRETS_PORT 4569)
 * so they are the same on every start; 0 means any free port. Wherever they end up, the runner prints them and
 * writes `<data>/local-endpoints.json`, which `nightscout-connect … --target local` reads: sources added, changed or
 * removed with the CLI while this runs are picked up by the next tick, which reads the due index every time.
 */
import { join } from 'node:path';
import { createDynamoDbClient, createSecretsManagerClient, createSqsClient } from '../lib/adapters/aws/aws-clients.js';
import { DynamoDbSessionStore } from '../lib/adapters/aws/dynamodb-session.store.js';
import { createSourceTable, DynamoDbSourceStore } from '../lib/adapters/aws/dynamodb-source.store.js';
import { SecretsManagerCredentialStore } from '../lib/adapters/aws/secrets-manager-credential.store.js';
import { SqsMessageQueue, SqsRedeliveryControl } from '../lib/adapters/aws/sqs-message.queue.js';
import { pollQueueOnce } from '../lib/adapters/aws/sqs-queue.poller.js';
import { nightscoutWriterFor } from '../lib/adapters/nightscout/nightscout-writer.factory.js';
import { systemClock } from '../lib/adapters/system/system.observability.js';
import type { CoreDeps } from '../lib/app/app.deps.js';
import { makeFetchFrameHandler } from '../lib/app/handlers/fetch-frame.handler.js';
import { makePersistHandler } from '../lib/app/handlers/persist.handler.js';
import { makeTickHandler } from '../lib/app/handlers/tick.handler.js';
import { addOrUpdateSource, type ManageDeps, removeSource } from '../lib/app/manage-sources.js';
import { statusReader } from '../lib/app/source-status.js';
import type { ParsedSource } from '../lib/config/connect-env.config.js';
import { type LocalEndpoints, removeLocalEndpoints, writeLocalEndpoints } from '../lib/config/local-endpoints.js';
import { ConfigError } from '../lib/domain/errors.js';
import type { FrameMessage, PersistMessage } from '../lib/domain/messages.js';
import type { BatchResponse, MessageQueue, QueueRecord } from '../lib/ports/queue.port.js';
import { declarationFor, driverFor, PARKED_HINTS, specFor } from '../lib/sources/vendor.catalog.js';
import {
  createQueuePair,
  type RunningEmulator,
  startDynalite,
  startFauxqs,
  startSecretsManagerStandIn,
} from './emulators.js';
import { RecordingLog, RecordingMetrics } from './recording.observability.js';
import { type Scenario, scenarioKinds, startScenario } from './scenarios.js';
import { TABLE } from './sim-runner.js';

export interface LocalPorts {
  dynamodb: number;
  sqs: number;
  secrets: number;
}

/** A contiguous block starting at dynalite's own default; clear of LocalStack's 4566 and DynamoDB Local's 8000. */
export const DEFAULT_LOCAL_PORTS: LocalPorts = { dynamodb: 4567, sqs: 4568, secrets: 4569 };
export const LOCAL_PORT_VARIABLES: Record<keyof LocalPorts, string> = {
  dynamodb: 'LOCAL_DYNAMODB_PORT',
  sqs: 'LOCAL_SQS_PORT',
  secrets: 'LOCAL_SECRETS_PORT',
};

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_SECRET_PREFIX = 'nightscout-connect-local/';
export const LOCAL_FETCH_QUEUE = 'nightscout-connect-fetch';
export const LOCAL_PERSIST_QUEUE = 'nightscout-connect-persist';
/** The stand-in's secrets, under the data directory. */
export const SECRETS_FILE = 'secrets-manager.json';

/** Ports from LOCAL_*_PORT (defaults above); a bad value is a ConfigError naming the variable. */
export function localPortsFrom(env: Record<string, string | undefined>): LocalPorts {
  const problems: string[] = [];
  const ports = { ...DEFAULT_LOCAL_PORTS };
  for (const service of Object.keys(ports) as Array<keyof LocalPorts>) {
    const variable = LOCAL_PORT_VARIABLES[service];
    const text = env[variable]?.trim();
    if (!text) continue;
    const port = Number(text);
    if (!/^\d+$/.test(text) || port > 65_535)
      problems.push(`${variable} must be a port number from 1 to 65535, or 0 for any free port (got "${text}")`);
    else ports[service] = port;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return ports;
}

export interface RealtimeOptions {
  configured?: ParsedSource;
  /**
   * `auto` (default): the demo when nothing is configured and no source of your own is stored; `on`: the demo
   * alongside whatever is stored; `off`: only the stored sources (those added with the CLI), possibly none yet.
   */
  demo?: 'auto' | 'on' | 'off';
  demoKind: string;
  dataDir: string;
  verbose: boolean;
  /** @default DEFAULT_LOCAL_PORTS */
  ports?: LocalPorts;
  /** @default 60_000, as the EventBridge schedule in AWS */
  tickIntervalMs?: number;
  /** @default 15_000 */
  statusIntervalMs?: number;
  /** Stop after this long (tests); default: until SIGINT/SIGTERM. */
  runForMs?: number;
  out?: (line: string) => void;
}

export interface LocalRunner {
  endpoints: LocalEndpoints;
  /** Where the endpoints were written for the CLI. */
  endpointsFile: string;
  /** The demo source's id, when the demo runs. */
  demoSourceId?: string;
  /** Runs one tick at once (the timer keeps its own rhythm). */
  tick(): Promise<void>;
  /**
   * Resolves once every message sent to the fetch or persist queue so far (delayed ones included) has been handled to
   * the end, so after `await tick(); await settle()` everything that tick caused has happened. Rejects after
   * `timeoutMs` (default 20 s) saying how many messages are still outstanding.
   */
  settle(timeoutMs?: number): Promise<void>;
  /** Stops polling, removes the endpoints file, closes the services; the data directory stays. */
  stop(): Promise<void>;
}

const MAX_RECEIVE_COUNT = 5;

/** `npm start`: start, then run until SIGINT/SIGTERM (or `runForMs`). */
export async function runRealtime(options: RealtimeOptions): Promise<number> {
  const runner = await startRealtime(options);
  let stop = () => {};
  const stopRequested = new Promise<void>((resolveStop) => {
    stop = resolveStop;
  });
  // `on`, not `once`: Ctrl-C reaches us twice (from the terminal and relayed by tsx/npm), and a second signal with no
  // listener left would kill the process before it closes LevelDB and removes local-endpoints.json.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (options.runForMs !== undefined) setTimeout(stop, options.runForMs).unref();
  try {
    await stopRequested;
    await runner.stop();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}

export async function startRealtime(options: RealtimeOptions): Promise<LocalRunner> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const ports = options.ports ?? DEFAULT_LOCAL_PORTS;
  const started: RunningEmulator[] = [];
  const closeStarted = () => Promise.allSettled(started.reverse().map((e) => e.close()));
  try {
    started.push(
      await onPort('dynamodb', ports, (port) => startDynalite({ path: join(options.dataDir, 'dynalite'), port })),
    );
    started.push(await onPort('sqs', ports, (port) => startFauxqs({ port })));
    started.push(
      await onPort('secrets', ports, (port) =>
        startSecretsManagerStandIn({ port, path: join(options.dataDir, SECRETS_FILE) }),
      ),
    );
  } catch (err) {
    await closeStarted();
    throw err;
  }
  const [dynalite, fauxqs, standIn] = started;
  const dynamo = createDynamoDbClient({ endpoint: dynalite.endpoint, region: LOCAL_REGION });
  const sqs = createSqsClient({ endpoint: fauxqs.endpoint, region: LOCAL_REGION });
  const secrets = createSecretsManagerClient({ endpoint: standIn.endpoint, region: LOCAL_REGION });
  const closeAll = async () => {
    dynamo.destroy();
    sqs.destroy();
    secrets.destroy();
    await closeStarted();
  };

  let scenario: Scenario | undefined;
  try {
    await createSourceTable(dynamo, TABLE);
    const fetchPair = await createQueuePair(sqs, LOCAL_FETCH_QUEUE, {
      maxReceiveCount: MAX_RECEIVE_COUNT,
      visibilityTimeoutSeconds: 360,
    });
    const persistPair = await createQueuePair(sqs, LOCAL_PERSIST_QUEUE, {
      maxReceiveCount: MAX_RECEIVE_COUNT,
      visibilityTimeoutSeconds: 360,
    });

    const log = new RecordingLog(options.verbose ? out : undefined, 'info');
    const metrics = new RecordingMetrics();
    const sources = new DynamoDbSourceStore({ client: dynamo, tableName: TABLE, statusOf: statusReader(PARKED_HINTS) });
    const sessions = new DynamoDbSessionStore({ client: dynamo, tableName: TABLE });
    // No cache: a loopback read costs nothing, and the CLI changes credentials while we run; a cached copy would keep
    // using a password the person has just replaced (in AWS the 1 h cache saves money, and an auth rejection re-reads).
    const credentials = new SecretsManagerCredentialStore({
      client: secrets,
      prefix: LOCAL_SECRET_PREFIX,
      shards: 1,
      cacheTtlMs: 0,
    });
    // Messages sent to either queue and not yet handled to the end, for settle(). Counted before the send, so a send
    // that fails half way leaves them counted: settle() then times out instead of returning early.
    let outstanding = 0;
    let onIdle: Array<() => void> = [];
    const counting = <T>(queue: MessageQueue<T>): MessageQueue<T> => ({
      send: (messages) => {
        outstanding += messages.length;
        return queue.send(messages);
      },
    });
    type QueueHandler = (event: { Records: QueueRecord[] }) => Promise<BatchResponse>;
    const finishing =
      (handler: QueueHandler): QueueHandler =>
      async (event) => {
        const response = await handler(event);
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        outstanding -= event.Records.filter((r) => !failed.has(r.messageId)).length;
        if (outstanding <= 0) for (const resolve of onIdle.splice(0)) resolve();
        return response;
      };
    const core: CoreDeps = {
      sources,
      specFor,
      parkedHints: PARKED_HINTS,
      clock: systemClock,
      log,
      metrics,
      frameQueue: counting(new SqsMessageQueue<FrameMessage>({ client: sqs, queueUrl: fetchPair.queueUrl })),
    };
    const manage: ManageDeps = {
      sources,
      specFor,
      parkedHints: PARKED_HINTS,
      clock: systemClock,
      log,
      credentials,
      sessions,
    };
    const tick = makeTickHandler(core);
    const fetchFrame = makeFetchFrameHandler({
      ...core,
      driverFor,
      sessions,
      credentials,
      maxReceiveCount: MAX_RECEIVE_COUNT,
      persistQueue: counting(new SqsMessageQueue<PersistMessage>({ client: sqs, queueUrl: persistPair.queueUrl })),
      redelivery: new SqsRedeliveryControl({ client: sqs, queueUrl: fetchPair.queueUrl }),
    });
    const persist = makePersistHandler({
      ...core,
      declarationFor,
      sessions,
      credentials,
      writerFor: nightscoutWriterFor,
      maxReceiveCount: MAX_RECEIVE_COUNT,
      redelivery: new SqsRedeliveryControl({ client: sqs, queueUrl: persistPair.queueUrl }),
    });

    const endpoints: LocalEndpoints = {
      format: 1,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      region: LOCAL_REGION,
      endpoints: { dynamodb: dynalite.endpoint, sqs: fauxqs.endpoint, secrets: standIn.endpoint },
      table: TABLE,
      fetchQueueUrl: fetchPair.queueUrl,
      persistQueueUrl: persistPair.queueUrl,
      secretPrefix: LOCAL_SECRET_PREFIX,
      credentialShards: 1,
    };
    const endpointsFile = writeLocalEndpoints(options.dataDir, endpoints);

    const stored = await sources.list();
    const demoIds = new Set((await scenarioKinds()).map((kind) => `demo-${kind}`));
    const ownStored = stored.filter((r) => !demoIds.has(r.id));
    const demo = options.demo ?? 'auto';
    const runDemo = !options.configured && (demo === 'on' || (demo === 'auto' && ownStored.length === 0));
    let demoSourceId: string | undefined;
    if (runDemo) {
      scenario = await startScenario(options.demoKind, { clock: systemClock });
      demoSourceId = scenario.config.id;
      out(
        `DEMO MODE: simulated ${options.demoKind} → simulated Nightscout at ${scenario.nightscout.url} (all on 127.0.0.1). Sources you add with the CLI run beside it; the next start without --demo runs only yours.`,
      );
    }
    // A demo source left from an earlier run points at simulators that no longer exist: it would only fail.
    for (const record of stored) {
      if (demoIds.has(record.id) && record.id !== demoSourceId) {
        await removeSource(manage, record.id);
        out(
          `removed the demo source ${record.id} of an earlier demo run (its simulators only exist while the demo runs)`,
        );
      }
    }
    const source =
      options.configured ?? (scenario ? { config: scenario.config, credentials: scenario.credentials } : undefined);
    if (source) {
      await addOrUpdateSource(manage, source.config, source.credentials);
      out(`source ${source.config.id} (${source.config.kind}) → ${source.config.nightscout.endpoint}`);
    }
    for (const record of ownStored) {
      if (record.id !== source?.config.id)
        out(`source ${record.id} (${record.config.kind}) → ${record.config.nightscout.endpoint} (stored)`);
    }
    out(`data in ${options.dataDir}; local services on 127.0.0.1 (Ctrl-C to stop):`);
    out(`  dynamodb  ${dynalite.endpoint}  table ${TABLE}`);
    out(`  sqs       ${fauxqs.endpoint}  queues ${LOCAL_FETCH_QUEUE}, ${LOCAL_PERSIST_QUEUE} (and -dlq)`);
    out(
      `  secrets   ${standIn.endpoint}  prefix ${LOCAL_SECRET_PREFIX} (kept in ${join(options.dataDir, SECRETS_FILE)}, mode 0600)`,
    );
    out(
      `manage sources with: npx nightscout-connect sources add|list|show|pause|resume|update-credentials|remove --target local`,
    );
    out(`  (it reads ${endpointsFile}; from another directory add --data ${options.dataDir})`);

    let stopping = false;
    const safely = (what: string, fn: () => Promise<unknown>) =>
      fn().catch((err) => log.error(`${what} failed`, { error: err instanceof Error ? err.name : 'unknown' }));
    const poll = async (queueUrl: string, handler: Parameters<typeof pollQueueOnce>[2]) => {
      while (!stopping) await safely('poll', () => pollQueueOnce(sqs, queueUrl, handler, 1));
    };
    const runTick = () => safely('tick', () => tick({})).then(() => undefined);
    const tickTimer = setInterval(() => void runTick(), options.tickIntervalMs ?? 60_000);
    const statusTimer = setInterval(
      () => void safely('status', () => printStatus(sources, out)),
      options.statusIntervalMs ?? 15_000,
    );
    await runTick();
    const pollers = [poll(fetchPair.queueUrl, finishing(fetchFrame)), poll(persistPair.queueUrl, finishing(persist))];

    let stopped: Promise<void> | undefined;
    const activeScenario = scenario;
    return {
      endpoints,
      endpointsFile,
      demoSourceId,
      tick: runTick,
      settle(timeoutMs = 20_000) {
        if (outstanding <= 0) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const done = () => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            onIdle = onIdle.filter((waiter) => waiter !== done);
            reject(
              new Error(
                `the local runner did not settle within ${timeoutMs} ms: ${outstanding} message(s) outstanding`,
              ),
            );
          }, timeoutMs);
          onIdle.push(done);
        });
      },
      stop() {
        stopped ??= (async () => {
          stopping = true;
          clearInterval(tickTimer);
          clearInterval(statusTimer);
          await Promise.all(pollers);
          await safely('status', () => printStatus(sources, out));
          removeLocalEndpoints(options.dataDir);
          await activeScenario?.close();
          await closeAll();
        })();
        return stopped;
      },
    };
  } catch (err) {
    removeLocalEndpoints(options.dataDir);
    await scenario?.close();
    await closeAll();
    throw err;
  }
}

/** Starts one service, turning a taken port into a message that names the variable to change. */
async function onPort(
  service: keyof LocalPorts,
  ports: LocalPorts,
  start: (port: number) => Promise<RunningEmulator>,
): Promise<RunningEmulator> {
  try {
    return await start(ports[service]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const variable = LOCAL_PORT_VARIABLES[service];
    throw new ConfigError([
      `port ${ports[service]} for the local ${service} service is in use (is another npm start running?); stop that, or set ${variable} to a free port (0: any)`,
    ]);
  }
}

async function printStatus(sources: DynamoDbSourceStore, out: (line: string) => void): Promise<void> {
  const now = Date.now();
  for (const record of await sources.list()) {
    const s = record.status;
    const age = s.newestReadingAt ? `${Math.round((now - s.newestReadingAt) / 1000)}s` : '—';
    const due = record.nextDueAt ? `${Math.round((record.nextDueAt - now) / 1000)}s` : 'not scheduled';
    const error = s.lastError ? `${s.lastError.kind}:${s.lastError.code}` : 'none';
    out(
      `[status] ${record.id} state=${s.state} newest-reading-age=${age} next-due-in=${due} last-error=${error}${s.parkedReason ? ` parked: ${s.parkedReason}` : ''}`,
    );
  }
}
