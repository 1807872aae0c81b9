/**
 * Stand-in for axios's fetch adapter (`axios/lib/adapters/fetch.js`) in the Lambda bundles only (a file stand-in in
 * lib/config/bundling.config.ts). Our HTTP client pins axios to its Node `http` adapter (http.client.ts), so the fetch
 * adapter is never chosen; the real module still costs ~10 KB and, at load, probes `Request`, `Response` and
 * `ReadableStream`, which makes Node load its fetch implementation for nothing. Same shape as the real module in an
 * environment without fetch: `getFetch` answers `false`, and axios then reports the adapter as unsupported if anyone
 * ever names it. Tests, the CLI and local runs use the real module.
 */
export const getFetch = (_config?: unknown): false => false;

export default false;
