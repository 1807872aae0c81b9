/**
 * The one way sources talk HTTP: an axios instance on Node's `http` transport with a timeout on every call, no
 * automatic redirects to other hosts, and a classifier that turns transport and status failures into SourceError kinds. The classifier keeps only
 * status codes and vendor error codes: request bodies and headers (which hold credentials) never reach an error.
 */
import axios, { AxiosError, type AxiosInstance } from 'axios';
import {
  SourceAuthRejectedError,
  SourceError,
  SourceRejectedError,
  SourceUnavailableError,
} from '../../domain/errors.js';
import { DEFAULT_HTTP_TIMEOUT_MS } from './http.policy.js';

/** Cap on any Retry-After we honour, so a hostile or buggy header cannot park a source for days. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

export function createHttpClient(options: {
  baseURL: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
}): AxiosInstance {
  return axios.create({
    // Named, not left to axios's pick among xhr, http and fetch: in Node it picks http anyway, and naming it lets the
    // Lambda bundles stand in for the other two (lib/config/bundling.config.ts).
    adapter: 'http',
    baseURL: options.baseURL,
    timeout: options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
    headers: options.headers,
    maxRedirects: 0,
    // Callers classify every status themselves.
    validateStatus: () => true,
    // Keep the body as text when it is not JSON; parsers decide.
    transitional: { silentJSONParsing: true, forcedJSONParsing: true, clarifyTimeoutError: true },
  });
}

/** Parse a Retry-After header (seconds or an HTTP date) into ms from `now`; undefined when absent or invalid. */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(Math.round(Number(text) * 1000), MAX_RETRY_AFTER_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/** Classify a non-2xx HTTP status with the generic rules; vendors with their own error bodies map first. */
export function classifyStatus(prefix: string, status: number, retryAfterMs?: number): SourceError {
  if (status === 408 || status === 429 || status >= 500) {
    return new SourceUnavailableError(`${prefix} answered HTTP ${status}`, `${prefix}.HTTP_${status}`, {
      retryAfterMs,
    });
  }
  if (status === 401 || status === 403) {
    return new SourceAuthRejectedError(
      `${prefix} refused the credentials (HTTP ${status})`,
      `${prefix}.HTTP_${status}`,
    );
  }
  return new SourceRejectedError(`${prefix} answered HTTP ${status}`, `${prefix}.HTTP_${status}`);
}

/** Classify anything a request threw: timeouts and network failures are retryable. */
export function classifyTransportError(prefix: string, err: unknown): SourceError {
  if (err instanceof SourceError) return err;
  if (err instanceof AxiosError) {
    const code = err.code ?? 'NETWORK';
    const timedOut = code === 'ETIMEDOUT' || code === 'ECONNABORTED';
    return new SourceUnavailableError(
      timedOut ? `${prefix} did not answer in time` : `${prefix} could not be reached (${code})`,
      timedOut ? `${prefix}.TIMEOUT` : `${prefix}.NETWORK`,
    );
  }
  return new SourceUnavailableError(`${prefix} request failed`, `${prefix}.NETWORK`);
}
