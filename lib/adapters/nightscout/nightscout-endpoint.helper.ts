/**
 * Endpoint validation and response classification shared by the v1 and v3 writers. Messages never echo the endpoint,
 * because people paste URLs that carry `?token=` or `user:secret@` into configuration.
 */
import { createHash } from 'node:crypto';
import type { AxiosResponse } from 'axios';
import { ConfigError, type SourceError, SourceRejectedError } from '../../domain/errors.js';
import { classifyStatus, parseRetryAfter } from '../http/http.client.js';
import { isLoopbackHost } from '../http/http.policy.js';

export const NIGHTSCOUT_ERROR_PREFIX = 'NIGHTSCOUT';

/**
 * Validate a Nightscout base URL and return it without a trailing slash, path prefix kept (sites under a sub-path).
 * https is required; plain http only for loopback hosts (tests, a local Nightscout).
 */
export function parseNightscoutEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint.trim());
  } catch {
    throw new ConfigError(['nightscout.endpoint: not a valid absolute URL (expected https://host[/path])']);
  }
  const problems: string[] = [];
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname))
      problems.push(
        'nightscout.endpoint: must use https (plain http is only accepted for 127.0.0.1, localhost and [::1])',
      );
  } else if (url.protocol !== 'https:') {
    problems.push('nightscout.endpoint: must use https');
  }
  if (url.username || url.password) {
    problems.push('nightscout.endpoint: must not contain credentials; configure the API secret or token separately');
  }
  if (url.search || url.hash) {
    problems.push('nightscout.endpoint: must not contain a query or fragment; configure a token separately');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Nightscout's `api-secret` header value: lower-case hex SHA-1 of API_SECRET. */
export function hashApiSecret(apiSecret: string): string {
  return createHash('sha1').update(apiSecret, 'utf8').digest('hex');
}

/** Turn a non-2xx response into a SourceError (Retry-After honoured), or return nothing for 2xx. */
export function errorForResponse(response: AxiosResponse): SourceError | undefined {
  if (response.status >= 200 && response.status < 300) return undefined;
  const retryAfterMs = parseRetryAfter(response.headers?.['retry-after'], Date.now());
  return classifyStatus(NIGHTSCOUT_ERROR_PREFIX, response.status, retryAfterMs);
}

/** A 2xx whose body is not what Nightscout sends (e.g. a proxy's HTML page): the write cannot be trusted. */
export function unexpectedBody(what: string): SourceRejectedError {
  return new SourceRejectedError(
    `${NIGHTSCOUT_ERROR_PREFIX} returned an unexpected body for ${what}`,
    `${NIGHTSCOUT_ERROR_PREFIX}.UNEXPECTED_BODY`,
  );
}

/** Build `path?query` with Nightscout's bracketed keys left readable (`find[date][$gte]`). */
export function withQuery(path: string, params: Array<[string, string | number]>): string {
  if (params.length === 0) return path;
  const search = new URLSearchParams(params.map(([k, v]) => [k, String(v)]))
    .toString()
    .replace(/%5B/gi, '[')
    .replace(/%5D/gi, ']')
    .replace(/%24/g, '$');
  return `${path}?${search}`;
}
