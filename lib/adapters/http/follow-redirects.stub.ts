/**
 * Stand-in for `follow-redirects` in the Lambda bundles only (an esbuild alias in lib/config/bundling.config.ts).
 * axios takes its transports from this package only when a request may follow redirects; createHttpClient sets
 * `maxRedirects: 0` (a redirect to another host must never carry credentials there), so axios uses Node's own
 * http/https and never touches these. With its `debug` dependency the real package is ~15 KB minified. Should a
 * client ever allow redirects, the request fails with this error instead of silently not following.
 */
function refuse(): never {
  throw new Error(
    'following redirects is not supported in the Lambda bundles (follow-redirects is stubbed out; use maxRedirects: 0)',
  );
}

const transport = { request: refuse, get: refuse };

export default { http: transport, https: transport, wrap: refuse };
