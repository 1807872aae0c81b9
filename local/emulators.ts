/**
 * In-process emulators for local runs and integration tests (no Docker here; see emulation.md): dynalite for
 * DynamoDB, fauxqs for SQS, and our Secrets Manager stand-in. Each returns a loopback endpoint and a `close`.
 */
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { startFauxqs as startFauxqsServer } from 'fauxqs';
import { createSqsQueuePair, type QueuePair } from '../lib/adapters/aws/sqs-message.queue.js';
import {
  type SecretsManagerStandIn,
  type SecretsManagerStandInOptions,
  startSecretsManagerStandIn as startStandIn,
} from './secrets-manager.stand-in.js';

export interface RunningEmulator {
  endpoint: string;
  close(): Promise<void>;
}

/** dynalite on 127.0.0.1 (`port`, default OS-chosen); `path` keeps tables on disk (LevelDB) across runs. */
export async function startDynalite(opts: { path?: string; port?: number } = {}): Promise<RunningEmulator> {
  // Zero delays: table state changes are instant, as tests and the local runner expect.
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(opts.path ? { path: opts.path } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err?: Error) => (err ? reject(err) : resolve()))),
  };
}

/**
 * fauxqs 1.9.2 (2.x needs Node ≥ 22.5). It binds 0.0.0.0 (hard-coded in fauxqs); we only ever connect through
 * 127.0.0.1. Clients must be given this endpoint explicitly, because fauxqs's queue URLs name an unresolvable host.
 */
export async function startFauxqs(opts: { port?: number } = {}): Promise<RunningEmulator> {
  const server = await startFauxqsServer({ port: opts.port ?? 0, logger: false });
  return { endpoint: `http://127.0.0.1:${server.port}`, close: () => server.stop() };
}

/** Creates `<name>-dlq` and `<name>` redriving to it after `maxReceiveCount` receives. */
export function createQueuePair(
  sqsClient: Parameters<typeof createSqsQueuePair>[0],
  name: string,
  opts: { maxReceiveCount: number; visibilityTimeoutSeconds: number },
): Promise<QueuePair> {
  return createSqsQueuePair(sqsClient, name, opts);
}

/** Memory only unless `path` is given (the local runner keeps its secrets under `.data/`). */
export function startSecretsManagerStandIn(opts: SecretsManagerStandInOptions = {}): Promise<SecretsManagerStandIn> {
  return startStandIn(opts);
}
