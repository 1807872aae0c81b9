/**
 * The one place AWS SDK clients are built. Handlers call these factories once at module scope (clients hold
 * connection pools and cached credentials, so building them per invocation wastes both). Local runs pass an
 * emulator `endpoint`; in Lambda everything comes from the environment.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { isLoopbackHost } from '../http/http.policy.js';

export interface AwsClientOptions {
  /** Emulator endpoint, e.g. `http://127.0.0.1:4567`. Omit in AWS. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Emulators accept any signature; these are not secrets, just something for the signer to sign with. */
const LOOPBACK_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

function commonConfig(opts: AwsClientOptions = {}) {
  const loopback = opts.endpoint !== undefined && isLoopback(opts.endpoint);
  return {
    ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
    // With an emulator endpoint and no region in the environment the SDK would refuse to start.
    ...(opts.region !== undefined
      ? { region: opts.region }
      : loopback
        ? { region: process.env.AWS_REGION ?? 'us-east-1' }
        : {}),
    // Only loopback endpoints get placeholder credentials: a real endpoint must use the normal credential chain.
    ...(opts.credentials !== undefined
      ? { credentials: opts.credentials }
      : loopback
        ? { credentials: LOOPBACK_CREDENTIALS }
        : {}),
  };
}

function isLoopback(endpoint: string): boolean {
  try {
    return isLoopbackHost(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

export function createDynamoDbClient(opts?: AwsClientOptions): DynamoDBClient {
  return new DynamoDBClient(commonConfig(opts));
}

export function createSqsClient(opts?: AwsClientOptions): SQSClient {
  return new SQSClient({
    ...commonConfig(opts),
    // fauxqs hands out queue URLs on `sqs.<region>.localhost`, which glibc does not resolve; with an explicit
    // endpoint the SDK must keep using it instead of the queue URL's host.
    ...(opts?.endpoint !== undefined ? { useQueueUrlAsEndpoint: false } : {}),
  });
}

export function createSecretsManagerClient(opts?: AwsClientOptions): SecretsManagerClient {
  return new SecretsManagerClient(commonConfig(opts));
}
