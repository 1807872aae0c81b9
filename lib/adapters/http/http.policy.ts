/**
 * The HTTP rules every outbound URL and timeout follows, in a module without axios so that settings validation (vendor
 * declarations, the config loader) can use them without loading an HTTP client.
 */

export const DEFAULT_HTTP_TIMEOUT_MS = 15_000;
/** Bounds of a configured per-request timeout (CONNECT_HTTP_TIMEOUT_MS): shorter cannot finish a TLS handshake. */
export const HTTP_TIMEOUT_BOUNDS = { minMs: 100, maxMs: 120_000 } as const;

/**
 * Plain http is only acceptable on loopback (simulators, local tests): credentials and tokens must not cross a network
 * in clear. `hostname` as `URL` reports it (`[::1]`) or bare (`::1`).
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]' || hostname === '::1';
}

/** An absolute URL that is https, or http on a loopback host. */
export function isAllowedUrl(text: string): boolean {
  try {
    const url = new URL(text);
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}
