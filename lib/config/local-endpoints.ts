/**
 * Discovery between `npm start` and the CLI: the local runner writes `<data>/local-endpoints.json` (the loopback
 * endpoints of its embedded DynamoDB, SQS and Secrets Manager, the table, the queue URLs and the secret prefix) and
 * removes it when it stops; `nightscout-connect … --target local` reads it for whatever flags and environment leave
 * unset. It holds no secret, so it is written with ordinary permissions.
 *
 * Kept free of emulator imports: the CLI loads this module, and must not pull in dynalite or fauxqs to read a file.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../domain/errors.js';

export const LOCAL_ENDPOINTS_FILE = 'local-endpoints.json';
export const DEFAULT_DATA_DIR = '.data';

export interface LocalEndpoints {
  /** Bumped when a field changes meaning, so an old CLI does not misread a newer runner's file. */
  format: 1;
  /** The runner's process id: a file left by a runner that died is recognised as stale. */
  pid: number;
  startedAt: string;
  region: string;
  endpoints: { dynamodb: string; sqs: string; secrets: string };
  table: string;
  fetchQueueUrl: string;
  persistQueueUrl: string;
  secretPrefix: string;
  credentialShards: number;
}

export function localEndpointsPath(dataDir: string): string {
  return resolve(join(dataDir, LOCAL_ENDPOINTS_FILE));
}

/** Written to a temporary name and renamed, so a CLI never reads half a file. */
export function writeLocalEndpoints(dataDir: string, endpoints: LocalEndpoints): string {
  const path = localEndpointsPath(dataDir);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(endpoints, null, 2)}\n`);
  renameSync(temporary, path);
  return path;
}

/** Removes the file only if it is still ours (a second runner on the same directory may have replaced it). */
export function removeLocalEndpoints(dataDir: string, pid = process.pid): void {
  const path = localEndpointsPath(dataDir);
  try {
    const current = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown };
    if (current.pid === pid) rmSync(path, { force: true });
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}

/**
 * The runner's endpoints, or undefined when no runner has written them. Throws a ConfigError (the CLI's exit
 * status 2) for a file it cannot use: unreadable, another format, or left behind by a runner that is not running.
 */
export function readLocalEndpoints(
  dataDir: string,
  isAlive: (pid: number) => boolean = processIsAlive,
): LocalEndpoints | undefined {
  const path = localEndpointsPath(dataDir);
  if (!existsSync(path)) return undefined;
  let parsed: Partial<LocalEndpoints>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LocalEndpoints>;
  } catch {
    throw new ConfigError([`${path} is not valid JSON; restart the local runner (npm start) to rewrite it`]);
  }
  if (parsed.format !== 1)
    throw new ConfigError([
      `${path} has format ${String(parsed.format)}, this CLI reads format 1; use the CLI of the same checkout as npm start`,
    ]);
  const problems: string[] = [];
  for (const key of ['region', 'table', 'fetchQueueUrl', 'persistQueueUrl', 'secretPrefix'] as const) {
    if (typeof parsed[key] !== 'string' || parsed[key] === '') problems.push(`${path}: "${key}" is missing`);
  }
  for (const key of ['dynamodb', 'sqs', 'secrets'] as const) {
    if (typeof parsed.endpoints?.[key] !== 'string') problems.push(`${path}: "endpoints.${key}" is missing`);
  }
  if (!Number.isInteger(parsed.credentialShards) || (parsed.credentialShards as number) < 1)
    problems.push(`${path}: "credentialShards" must be a positive integer`);
  if (!Number.isInteger(parsed.pid)) problems.push(`${path}: "pid" is missing`);
  if (problems.length > 0) throw new ConfigError(problems);
  if (!isAlive(parsed.pid as number)) {
    throw new ConfigError([
      `${path} was left by a local runner (pid ${parsed.pid}) that is no longer running; start it again with npm start`,
    ]);
  }
  return parsed as LocalEndpoints;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; only ESRCH means it is gone.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
