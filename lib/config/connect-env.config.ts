/**
 * nightscout-connect's `CONNECT_*` settings, read once and validated with messages that name the variable and what is
 * accepted. Users move over with the same variables. Differences, on purpose:
 * - values stay strings (a numeric-looking password or patient id is not turned into a number);
 * - `CONNECT_SOURCE` and regions are case-insensitive; unknown kinds are rejected (no silent fake driver);
 * - secrets are split from settings: settings may be logged and stored with the snapshot, secrets never;
 * - a `?token=` in `CONNECT_SOURCE_ENDPOINT` is moved into the credentials.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../domain/errors.js';
import type { SourceConfig, SourceCredentials } from '../domain/source.js';
import { canonicalKind, driverFor } from '../sources/source.registry.js';
import { isLoopbackHost } from '../adapters/http/http.client.js';

/** Keys (camelCased) whose values are secrets or personal identifiers: never settings. */
const SECRET_KEYS = new Set([
  'shareAccountName', 'sharePassword', 'linkUpUsername', 'linkUpPassword', 'glookoEmail', 'glookoPassword',
  'sourceApiSecret', 'sourceToken', 'carelinkUsername', 'carelinkPassword', 'carelinkRefreshToken', 'carelinkClientId',
  'carelinkTokenUrl', 'apiSecret', 'nightscoutToken',
]);
/** Keys that configure this product rather than a driver. */
const CORE_KEYS = new Set(['source', 'sourceId', 'nightscoutEndpoint', 'nightscoutApiVersion', 'output', 'fsPrefix', 'fsLabel', 'dir', 'debug']);

export interface ParsedSource {
  config: SourceConfig;
  credentials: SourceCredentials;
}

/** `CONNECT_SHARE_ACCOUNT_NAME` → `shareAccountName` (nightscout-connect's camel-casing). */
export function camelKey(variable: string): string {
  return variable.replace(/^CONNECT_/, '').toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

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
  let kind = '';
  try {
    kind = canonicalKind(values.source ?? '');
  } catch (err) {
    problems.push(values.source ? (err as ConfigError).message : 'CONNECT_SOURCE is required (dexcomshare, librelinkup, glooko, nightscout, minimedcarelink)');
  }

  const endpoint = values.nightscoutEndpoint;
  if (!endpoint) problems.push('CONNECT_NIGHTSCOUT_ENDPOINT is required: the URL of the Nightscout site to write to');
  else if (!isAllowedUrl(endpoint)) problems.push('CONNECT_NIGHTSCOUT_ENDPOINT must be an https:// URL (plain http:// only for 127.0.0.1/localhost)');
  const apiVersion = (values.nightscoutApiVersion ?? 'v1').toLowerCase();
  if (apiVersion !== 'v1' && apiVersion !== 'v3') problems.push('CONNECT_NIGHTSCOUT_API_VERSION must be v1 or v3');
  if (!values.apiSecret && !values.nightscoutToken) problems.push('CONNECT_API_SECRET (or CONNECT_NIGHTSCOUT_TOKEN) is required to write to Nightscout');

  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) if (!SECRET_KEYS.has(key) && !CORE_KEYS.has(key)) settings[key] = value;
  const vendor = vendorCredentials(kind, values, settings);
  const credentials: SourceCredentials = {
    vendor,
    nightscout: compact({ apiSecret: values.apiSecret, token: values.nightscoutToken }),
  };

  if (kind) {
    const driver = driverFor({ kind, settings });
    for (const check of [() => driver.parseSettings(settings), () => driver.checkCredentials(credentials)]) {
      try {
        check();
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const id = values.sourceId ?? `${kind}-${createHash('sha256').update(`${kind}|${endpoint}`).digest('hex').slice(0, 10)}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new ConfigError(['CONNECT_SOURCE_ID may use letters, digits, . _ - (at most 64)']);
  return {
    config: { id, kind, settings, nightscout: { endpoint: (endpoint as string).replace(/\/+$/, ''), apiVersion: apiVersion as 'v1' | 'v3' } },
    credentials,
  };
}

function vendorCredentials(kind: string, v: Record<string, string>, settings: Record<string, string>): Record<string, string> {
  switch (kind) {
    case 'dexcomshare': return compact({ accountName: v.shareAccountName, password: v.sharePassword });
    case 'librelinkup': return compact({ username: v.linkUpUsername, password: v.linkUpPassword });
    case 'glooko': return compact({ email: v.glookoEmail, password: v.glookoPassword });
    case 'minimedcarelink': return compact({ refreshToken: v.carelinkRefreshToken, clientId: v.carelinkClientId, tokenUrl: v.carelinkTokenUrl });
    case 'nightscout': {
      // nightscout-connect accepted `?token=` inside CONNECT_SOURCE_ENDPOINT; the token is a secret, so move it.
      let token = v.sourceToken;
      if (settings.sourceEndpoint) {
        try {
          const url = new URL(settings.sourceEndpoint);
          token = url.searchParams.get('token') ?? token;
          url.searchParams.delete('token');
          settings.sourceEndpoint = url.toString().replace(/\?$/, '');
        } catch {
          // the driver reports the malformed URL
        }
      }
      return compact({ token, apiSecret: v.sourceApiSecret });
    }
    default: return {};
  }
}

function compact(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}

export function isAllowedUrl(text: string): boolean {
  try {
    const url = new URL(text);
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}
