/**
 * One emulator fixture for the integration tests: each `use…()` starts its in-process emulator on a free loopback
 * port in `beforeAll`, builds the product's own SDK client for it, and destroys the client and closes the emulator in
 * `afterAll`. Call it at the top of a test file (or inside a `describe`); read `endpoint` and `client` from the
 * returned object inside hooks and tests, once the emulator is up.
 *
 *   const dynalite = useDynalite();
 *   it('…', async () => { await createSourceTable(dynalite.client, 't'); });
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll } from 'vitest';
import {
  createDynamoDbClient,
  createSecretsManagerClient,
  createSqsClient,
} from '../../lib/adapters/aws/aws-clients.js';
import { type RunningEmulator, startDynalite, startFauxqs, startSecretsManagerStandIn } from '../../local/emulators.js';

export interface EmulatorFixture<Client> {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** A client on `endpoint`, shared by the file's tests. */
  readonly client: Client;
}

function useEmulator<Client extends { destroy(): void }>(
  name: string,
  start: () => Promise<RunningEmulator>,
  connect: (endpoint: string) => Client,
): EmulatorFixture<Client> {
  let emulator: RunningEmulator | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    emulator = await start();
    client = connect(emulator.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await emulator?.close();
    client = undefined;
    emulator = undefined;
  });
  const running = () => {
    if (!emulator || !client)
      throw new Error(`${name} is not running: use its endpoint and client inside hooks and tests`);
    return { emulator, client };
  };
  return {
    get endpoint() {
      return running().emulator.endpoint;
    },
    get client() {
      return running().client;
    },
  };
}

/** dynalite (DynamoDB), in memory. */
export function useDynalite(): EmulatorFixture<DynamoDBClient> {
  return useEmulator(
    'dynalite',
    () => startDynalite(),
    (endpoint) => createDynamoDbClient({ endpoint }),
  );
}

/** fauxqs 1.9.x (SQS). */
export function useFauxqs(): EmulatorFixture<SQSClient> {
  return useEmulator(
    'fauxqs',
    () => startFauxqs(),
    (endpoint) => createSqsClient({ endpoint }),
  );
}

/** The Secrets Manager stand-in, in memory. */
export function useSecretsStandIn(): EmulatorFixture<SecretsManagerClient> {
  return useEmulator(
    'the Secrets Manager stand-in',
    () => startSecretsManagerStandIn(),
    (endpoint) => createSecretsManagerClient({ endpoint }),
  );
}
