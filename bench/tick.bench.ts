/**
 * Figure 2: one tick over N due sources on dynalite (in-process DynamoDB emulator, real DynamoDbSourceStore adapter,
 * every request counted by API). Sources are created directly in the store (startSource + create, due now); that
 * set-up is timed separately and is not the figure. Then one runTick (concurrency 16) with a memory frame queue is
 * timed on the wall clock.
 */
import { createDynamoDbClient } from '../lib/adapters/aws/aws-clients.js';
import { createSourceTable, DynamoDbSourceStore } from '../lib/adapters/aws/dynamodb-source.store.js';
import { MemoryQueue } from '../lib/adapters/memory/memory-message.queue.js';
import type { CoreDeps } from '../lib/app/app.deps.js';
import { runTick, type TickReport } from '../lib/app/run-tick.js';
import { describeStatus, statusOfStored } from '../lib/app/source-status.js';
import type { FrameMessage } from '../lib/domain/messages.js';
import type { SourceConfig } from '../lib/domain/source.js';
import { contextOf, startSource } from '../lib/machines/source/source.snapshot.js';
import { nextWakeAt } from '../lib/machines/source/source.view.js';
import { specFor } from '../lib/sources/vendor.catalog.js';
import { countRequests, RequestCounter } from '../local/aws-instrumentation.js';
import { startDynalite } from '../local/emulators.js';
import { RecordingLog, RecordingMetrics } from '../local/recording.observability.js';
import { ManualClock } from '../local/sim-runner.js';

export interface TickBenchResult {
  sources: number;
  concurrency: number;
  createMs: number;
  tickWallMs: number;
  tickCpuMs: number;
  report: TickReport;
  dynamoRequests: Record<string, number>;
  sqsSendMessageBatch: number;
  framesQueued: number;
}

export async function runTickBench(opts: { sources: number; concurrency: number }): Promise<TickBenchResult> {
  const start = Date.UTC(2026, 10, 23, 6, 0, 7);
  const clock = new ManualClock(start);
  const dynalite = await startDynalite();
  const dynamo = createDynamoDbClient({ endpoint: dynalite.endpoint });
  try {
    const table = 'bench-tick';
    await createSourceTable(dynamo, table);
    const counter = new RequestCounter();
    countRequests(dynamo, counter);
    const sources = new DynamoDbSourceStore({ client: dynamo, tableName: table, statusOf: statusOfStored });

    // Set-up, not measured as the figure: N Dexcom sources, due now.
    const created0 = performance.now();
    let nextId = 0;
    const createOne = async () => {
      for (;;) {
        const i = nextId++;
        if (i >= opts.sources) return;
        const config: SourceConfig = {
          id: `bench-${String(i).padStart(5, '0')}`,
          kind: 'dexcomshare',
          settings: { shareRegion: 'us', shareServer: 'http://127.0.0.1:9/' },
          nightscout: { endpoint: 'http://127.0.0.1:9/', apiVersion: 'v1' },
        };
        const spec = specFor(config);
        const { snapshot, machineVersion } = startSource(spec, config.id, start);
        const { context, value } = contextOf(spec, snapshot, machineVersion);
        await sources.create({
          id: config.id,
          config,
          snapshot,
          machineVersion,
          status: describeStatus(context, value),
          nextDueAt: nextWakeAt(context, value),
        });
      }
    };
    await Promise.all(Array.from({ length: 16 }, createOne));
    const createMs = performance.now() - created0;

    counter.reset();
    let sendBatches = 0;
    let framesQueued = 0;
    const queue = new MemoryQueue<FrameMessage>({
      name: 'bench-fetch',
      clock,
      visibilityTimeoutSeconds: 360,
      maxReceiveCount: 5,
    });
    const deps: CoreDeps = {
      sources,
      specFor,
      clock,
      log: new RecordingLog(),
      metrics: new RecordingMetrics(),
      frameQueue: {
        async send(messages) {
          sendBatches += Math.ceil(messages.length / 10);
          framesQueued += messages.length;
          return queue.send(messages);
        },
      },
    };
    clock.advance(1_000);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const report = await runTick(deps, { concurrency: opts.concurrency });
    const tickWallMs = performance.now() - wall0;
    const cpu = process.cpuUsage(cpu0);
    return {
      sources: opts.sources,
      concurrency: opts.concurrency,
      createMs,
      tickWallMs,
      tickCpuMs: (cpu.user + cpu.system) / 1000,
      report,
      dynamoRequests: { ...counter.counts },
      sqsSendMessageBatch: sendBatches,
      framesQueued,
    };
  } finally {
    dynamo.destroy();
    await dynalite.close();
  }
}
