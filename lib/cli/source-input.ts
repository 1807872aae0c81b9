/**
 * Gathering a source's `CONNECT_*` values from the places the CLI accepts them, in increasing precedence:
 * the environment (`--from-env`), a file (`--file`, may hold secrets), flags and `--set KEY=VALUE` (non-secret only),
 * then secrets from stdin (`--secrets-stdin`) or a file (`--secrets-file`).
 */

import { type ParsedSource, parseConnectSource } from '../config/connect-env.config.js';
import { ConfigError } from '../domain/errors.js';
import type { SourceConfig, SourceCredentials } from '../domain/source.js';
import type { CredentialStore } from '../ports/credential.store.port.js';
import { canonicalKind, KIND_LIST } from '../sources/vendor.catalog.js';
import { bool, type FlagSpecs, list, type ParsedArgs, str, UsageError } from './argv.js';
import type { Output } from './cli.io.js';
import {
  connectKey,
  credentialsAsEnv,
  isSecretKey,
  parseConnectInput,
  placeholderSecrets,
  readConnectFile,
  secretStrings,
} from './read-secret.js';

export const SECRET_INPUT_FLAGS: FlagSpecs = {
  'secrets-stdin': { help: 'read secrets from stdin as CONNECT_KEY=value lines (or a JSON object)' },
  'secrets-file': { value: true, arg: '<path>', help: 'read secrets from a file (CONNECT_KEY=value lines or JSON)' },
};

export const SOURCE_INPUT_FLAGS: FlagSpecs = {
  source: { value: true, arg: '<kind>', help: `CONNECT_SOURCE: ${KIND_LIST}` },
  'source-id': { value: true, arg: '<id>', help: 'CONNECT_SOURCE_ID (default: derived from kind and Nightscout URL)' },
  'nightscout-endpoint': { value: true, arg: '<url>', help: 'CONNECT_NIGHTSCOUT_ENDPOINT (no credentials in the URL)' },
  'nightscout-api-version': { value: true, arg: 'v1|v3', help: 'CONNECT_NIGHTSCOUT_API_VERSION' },
  set: {
    value: true,
    repeat: true,
    arg: 'KEY=VALUE',
    help: 'a non-secret CONNECT_* setting, e.g. --set SHARE_REGION=ous',
  },
  file: { value: true, arg: '<path>', help: 'CONNECT_* settings (and secrets) as JSON or KEY=value lines' },
  'from-env': { help: 'take CONNECT_* settings (and secrets) from the environment' },
  ...SECRET_INPUT_FLAGS,
};

/** Refuse URLs that carry credentials: flags end up in `ps` output and shell history. */
function refuseCredentialUrl(what: string, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    return; // validated later with a proper message
  }
  if (url.username || url.password || url.searchParams.has('token') || url.searchParams.has('secret')) {
    throw new UsageError(
      `${what} must not contain credentials (user:password@, ?token=): pass them with --secrets-stdin or --secrets-file`,
    );
  }
}

export async function readSecretInput(args: ParsedArgs, out: Output): Promise<Record<string, string>> {
  const fromStdin = bool(args, 'secrets-stdin');
  const file = str(args, 'secrets-file');
  if (fromStdin && file !== undefined) throw new UsageError('use either --secrets-stdin or --secrets-file, not both');
  let secrets: Record<string, string> = {};
  if (fromStdin) secrets = parseConnectInput(await out.readStdin(), 'stdin');
  else if (file !== undefined) secrets = await readConnectFile(file, 'secrets file');
  out.addSecrets(secretStrings(secrets));
  return secrets;
}

export async function gatherSourceValues(
  args: ParsedArgs,
  env: Record<string, string | undefined>,
  out: Output,
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  if (bool(args, 'from-env')) {
    for (const [key, value] of Object.entries(env)) {
      if (key.toUpperCase().startsWith('CONNECT_') && value !== undefined && value !== '')
        values[key.toUpperCase()] = value;
    }
  }
  const file = str(args, 'file');
  if (file !== undefined) Object.assign(values, await readConnectFile(file, 'source file'));
  out.addSecrets(secretStrings(Object.fromEntries(Object.entries(values).filter(([key]) => isSecretKey(key)))));

  const flagKeys: Array<[string, string]> = [
    ['source', 'CONNECT_SOURCE'],
    ['source-id', 'CONNECT_SOURCE_ID'],
    ['nightscout-endpoint', 'CONNECT_NIGHTSCOUT_ENDPOINT'],
    ['nightscout-api-version', 'CONNECT_NIGHTSCOUT_API_VERSION'],
  ];
  for (const [flag, key] of flagKeys) {
    const value = str(args, flag);
    if (value === undefined) continue;
    if (flag === 'nightscout-endpoint') refuseCredentialUrl('--nightscout-endpoint', value);
    values[key] = value;
  }
  for (const entry of list(args, 'set')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError('--set needs KEY=VALUE');
    const name = entry.slice(0, eq);
    const key = /^[A-Za-z0-9_-]{1,80}$/.test(name) ? connectKey(name) : undefined;
    if (key === undefined) throw new UsageError('--set needs KEY=VALUE with a CONNECT_* key name');
    if (isSecretKey(key)) {
      throw new UsageError(
        `${key} is a secret and is never accepted on the command line (it would show in ps and shell history); pass it with --secrets-stdin or --secrets-file`,
      );
    }
    const value = entry.slice(eq + 1);
    if (/ENDPOINT|URL|SERVER/.test(key)) refuseCredentialUrl(`--set ${key}`, value);
    values[key] = value;
  }
  Object.assign(values, await readSecretInput(args, out));
  return values;
}

/**
 * Validate values into a source. Secrets left out are taken from the credentials already stored for the same source
 * id (so a settings change or a CareLink `login` followed by `sources add` need not repeat them). Given values win.
 */
export async function parseWithStoredSecrets(
  values: Record<string, string>,
  credentials: CredentialStore | undefined,
): Promise<ParsedSource & { reusedStored: boolean }> {
  try {
    return { ...parseConnectSource(values), reusedStored: false };
  } catch (err) {
    if (!(err instanceof ConfigError) || credentials === undefined) throw withSecretHint(err);
    let kind: string;
    let id: string;
    try {
      kind = canonicalKind(values.CONNECT_SOURCE ?? '');
      id = parseConnectSource({ ...values, ...placeholderSecrets(kind, values) }).config.id;
    } catch {
      throw withSecretHint(err);
    }
    let stored: SourceCredentials;
    try {
      stored = await credentials.get(id, { fresh: true });
    } catch (lookup) {
      if (lookup instanceof ConfigError) throw withSecretHint(err);
      throw lookup;
    }
    return { ...parseConnectSource({ ...credentialsAsEnv(kind, stored), ...values }), reusedStored: true };
  }
}

function withSecretHint(err: unknown): unknown {
  if (!(err instanceof ConfigError)) return err;
  if (!err.problems.some((p) => /required|needs/.test(p))) return err;
  return new ConfigError([
    ...err.problems,
    'secrets are read from --secrets-stdin or --secrets-file (or the --file / --from-env settings), never from the command line',
  ]);
}

/** A stored config expressed as the `CONNECT_*` variables it came from. */
export function configAsEnv(config: SourceConfig): Record<string, string> {
  const env: Record<string, string> = {
    CONNECT_SOURCE: config.kind,
    CONNECT_SOURCE_ID: config.id,
    CONNECT_NIGHTSCOUT_ENDPOINT: config.nightscout.endpoint,
    CONNECT_NIGHTSCOUT_API_VERSION: config.nightscout.apiVersion,
  };
  for (const [key, value] of Object.entries(config.settings))
    env[`CONNECT_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}`] = String(value);
  return env;
}
