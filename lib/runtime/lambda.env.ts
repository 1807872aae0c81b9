/**
 * Lambda configuration, validated once at cold start with messages that name the variable. Nothing here is secret.
 */
import { ConfigError } from '../domain/errors.js';

export interface LambdaEnv {
  tableName: string;
  fetchQueueUrl: string;
  persistQueueUrl: string;
  credentialsSecretPrefix: string;
  credentialShards: number;
  maxReceiveCount: number;
}

export function readLambdaEnv(env: NodeJS.ProcessEnv, needs: Array<keyof LambdaEnv>): LambdaEnv {
  const problems: string[] = [];
  const text = (name: string, key: keyof LambdaEnv) => {
    const value = env[name]?.trim();
    if (!value && needs.includes(key)) problems.push(`${name} is required`);
    return value ?? '';
  };
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      problems.push(`${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
  const result: LambdaEnv = {
    tableName: text('TABLE_NAME', 'tableName'),
    fetchQueueUrl: text('FETCH_QUEUE_URL', 'fetchQueueUrl'),
    persistQueueUrl: text('PERSIST_QUEUE_URL', 'persistQueueUrl'),
    credentialsSecretPrefix: text('CREDENTIALS_SECRET_PREFIX', 'credentialsSecretPrefix'),
    credentialShards: int('CREDENTIAL_SHARDS', 1, 1, 1000),
    maxReceiveCount: int('MAX_RECEIVE_COUNT', 5, 1, 1000),
  };
  if (problems.length) throw new ConfigError(problems);
  return result;
}
