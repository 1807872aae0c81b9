/**
 * nightscout-connect's `CONNECT_*` settings, read once and validated with messages that name the variable and what is
 * accepted. Users move over with the same variables. Differences, on purpose:
 * - values stay strings (a numeric-looking password or patient id is not turned into a number);
 * - `CONNECT_SOURCE` and regions are case-insensitive; unknown kinds are rejected (no silent fake driver);
 * - secrets are split from settings: settings may be logged and stored with the snapshot, secrets never;
 * - a `?token=` in `CONNECT_SOURCE_ENDPOINT` is moved into the credentials.
 */
import { createHash } from 'node:crypto';
import { isAllowedUrl } from '../adapters/http/http.policy.js';
import { ConfigError } from '../domain/errors.js';
import type { SourceConfig, SourceCredentials } from '../domain/source.js';
import { settingKey } from '../sources/settings.fields.js';
import { KIND_LIST, VENDORS, vendorFor } from '../sources/vendor.catalog.js';

/**
 * Keys (camelCased) whose values are secrets or personal identifiers: never settings. Every registered vendor's secret
 * variables count whatever the configured kind, so a stray password of another vendor is not stored as a setting.
 */
const SECRET_KEYS = new Set([
  'apiSecret',
  'nightscoutToken',
  ...VENDORS.flatMap((v) => [
    ...Object.values(v.secrets).map((spec) => settingKey(spec.variable)),
    ...v.ignoredSecrets.map(settingKey),
  ]),
]);
/** Keys that configure this product rather than a driver. */
const CORE_KEYS = new Set([
  'source',
  'sourceId',
  'nightscoutEndpoint',
  'nightscoutApiVersion',
  'output',
  'fsPrefix',
  'fsLabel',
  'dir',
  'debug',
]);

export interface ParsedSource {
  config: SourceConfig;
  credentials: SourceCredentials;
}

/** `CONNECT_SHARE_ACCOUNT_NAME` → `shareAccountName` (nightscout-connect's camel-casing). */
export const camelKey = settingKey;

/** Collect `CONNECT_*` variables (or a config file's entries with the same names) as camelCase string values. */
export function connectValues(env: Record<string, string | number | boolean | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.toUpperCase().startsWith('CONNECT_') || value === undefined || value === '') continue;
    out[camelKey(name.toUpperCase())] = String(value);
  }
  return out;
}

export function hasConfiguredSource(env: Record<string, string | undefined>): boolean {
  return Boolean(env.CONNECT_SOURCE?.trim());
}

export function parseConnectSource(env: Record<string, string | number | boolean | undefined>): ParsedSource {
  const values = connectValues(env);
  const problems: string[] = [];
  let vendor: ReturnType<typeof vendorFor> | undefined;
  try {
    vendor = vendorFor(values.source ?? '');
  } catch (err) {
    problems.push(values.source ? (err as ConfigError).message : `CONNECT_SOURCE is required (${KIND_LIST})`);
  }
  const kind = vendor?.kind ?? '';

  const endpoint = values.nightscoutEndpoint;
  if (!endpoint) problems.push('CONNECT_NIGHTSCOUT_ENDPOINT is required: the URL of the Nightscout site to write to');
  else if (!isAllowedUrl(endpoint))
    problems.push('CONNECT_NIGHTSCOUT_ENDPOINT must be an https:// URL (plain http:// only for 127.0.0.1/localhost)');
  const apiVersion = (values.nightscoutApiVersion ?? 'v1').toLowerCase();
  if (apiVersion !== 'v1' && apiVersion !== 'v3') problems.push('CONNECT_NIGHTSCOUT_API_VERSION must be v1 or v3');
  if (!values.apiSecret && !values.nightscoutToken)
    problems.push('CONNECT_API_SECRET (or CONNECT_NIGHTSCOUT_TOKEN) is required to write to Nightscout');

  const given: Record<string, string> = {};
  for (const [key, value] of Object.entries(values))
    if (!SECRET_KEYS.has(key) && !CORE_KEYS.has(key)) given[key] = value;
  const split = vendor ? vendor.takeSecrets(values, given) : { settings: given, vendor: {} };
  const settings = split.settings;
  const credentials: SourceCredentials = {
    vendor: split.vendor,
    nightscout: compact({ apiSecret: values.apiSecret, token: values.nightscoutToken }),
  };

  if (vendor) {
    for (const check of [() => vendor.parseSettings(settings), () => vendor.checkCredentials(credentials)]) {
      try {
        check();
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const id =
    values.sourceId ?? `${kind}-${createHash('sha256').update(`${kind}|${endpoint}`).digest('hex').slice(0, 10)}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id))
    throw new ConfigError(['CONNECT_SOURCE_ID may use letters, digits, . _ - (at most 64)']);
  return {
    config: {
      id,
      kind,
      settings,
      nightscout: { endpoint: (endpoint as string).replace(/\/+$/, ''), apiVersion: apiVersion as 'v1' | 'v3' },
    },
    credentials,
  };
}

function compact(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
}
