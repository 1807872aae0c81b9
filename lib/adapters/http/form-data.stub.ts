/**
 * Stand-in for the `form-data` package in the Lambda bundles only (an esbuild alias in lib/config/bundling.config.ts).
 * axios imports `form-data` for multipart bodies, which no source sends; the real package drags in mime-db
 * (~135 KB minified) and makes up a sixth of every bundle. axios only constructs it when asked to encode a
 * multipart body, so a class that refuses to be built turns that mistake into a clear error instead of a silent
 * change of behaviour. Tests, the CLI and local runs use the real package.
 */
export default class FormDataNotBundled {
  constructor() {
    throw new Error('multipart/form-data bodies are not supported in the Lambda bundles (form-data is stubbed out)');
  }
}
