/**
 * How each Lambda function is bundled: the one set of esbuild options that the CDK construct deploys with
 * (infra/constructs/nightscout-connect.construct.ts) and the bundle bench measures (bench/bundle.bench.ts). Plain data,
 * no imports, so both can read it without pulling in each other. Both build through lib/config/bundling.build.ts,
 * which turns this data into one esbuild run (the construct in a child process, as CDK bundles synchronously).
 *
 * Paths (entries, alias and stand-in targets) are relative to the repository root; the builder anchors them there.
 */

export const LAMBDA_FUNCTIONS = ['tick', 'fetch-frame', 'persist'] as const;
export type LambdaFunctionName = (typeof LAMBDA_FUNCTIONS)[number];

/**
 * ESM bundles have no `require`; some bundled CommonJS dependencies call it for Node built-ins, so define it from
 * `import.meta.url`. The alias avoids clashing with a bundled `createRequire` import.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __nscCreateRequire } from 'node:module'; const require = __nscCreateRequire(import.meta.url);";

/**
 * Packages replaced in the Lambda bundles only; tests, the CLI and local runs load the real ones. Each stand-in
 * replaces code on a path the functions never take, and fails loudly if one ever does.
 * - `form-data`: axios imports it for multipart bodies, which nothing sends; it brings mime-db (~135 KB).
 * - `@aws-sdk/credential-provider-node`: the default credential chain (SSO, INI, process, web identity, IMDS, with
 *   the STS and SSO clients). In Lambda the role's credentials are always in the environment.
 * - `@smithy/core/event-streams`: loaded by the SDK for event-stream operations; our three services have none.
 * - `mnemonist/lru-cache`: DynamoDB's endpoint-discovery cache; replaced by a small working LRU cache.
 * - `follow-redirects`: axios's transport when redirects are followed; our HTTP client never follows them.
 * - `debug`: the logger of axios's proxy agent, silent unless DEBUG names it.
 */
export const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  'form-data': './lib/adapters/http/form-data.stub.ts',
  'follow-redirects': './lib/adapters/http/follow-redirects.stub.ts',
  debug: './lib/adapters/http/debug.stub.ts',
  '@aws-sdk/credential-provider-node': './lib/adapters/aws/lambda-credentials.provider.ts',
  '@smithy/core/event-streams': './lib/adapters/aws/event-streams.stub.ts',
  'mnemonist/lru-cache': './lib/adapters/aws/lru-cache.stand-in.ts',
};

/**
 * Files inside packages replaced in the Lambda bundles only, keyed by their path under node_modules. An alias can only
 * replace a whole package; these are modules a package imports by relative path. Same contract as the aliases.
 * - axios's fetch adapter: http.client.ts pins axios to its `http` adapter, so fetch is never chosen; the module is
 *   ~10 KB and probes the fetch globals at load, which makes Node load its fetch implementation.
 * - axios's XMLHttpRequest adapter: Node has no XMLHttpRequest, so the real module exports `false`; so does this one.
 * - the SDK's JavaScript SHA-256: the fallback when `node:crypto` cannot hash SHA-256, which never happens in Node.
 * - the SDK's region lookup in the EC2 instance metadata service, which Lambda does not have: it answers `undefined`,
 *   as the real lookup does there after its timeouts.
 */
export const LAMBDA_FILE_STAND_INS: Readonly<Record<string, string>> = {
  'axios/lib/adapters/fetch.js': './lib/adapters/http/axios-fetch-adapter.stand-in.ts',
  'axios/lib/adapters/xhr.js': './lib/adapters/http/axios-xhr-adapter.stand-in.ts',
  '@smithy/core/dist-es/submodules/checksum/sha256/Sha256Js.js': './lib/adapters/aws/sha256-js.stand-in.ts',
  '@smithy/core/dist-es/submodules/config/config-resolver/regionConfig/getInstanceMetadataRegion.js':
    './lib/adapters/aws/instance-metadata-region.stand-in.ts',
};

/**
 * JSON files bundled with only the fields their importers read, keyed by their path under node_modules. Each SDK
 * client imports its whole package.json (~2.4 KB of scripts, dependencies and keywords) for one field: the version in
 * its user agent (`packageInfo.version` in its runtime config).
 */
export const LAMBDA_TRIMMED_JSON: Readonly<Record<string, readonly string[]>> = {
  '@aws-sdk/client-dynamodb/package.json': ['version'],
  '@aws-sdk/client-sqs/package.json': ['version'],
  '@aws-sdk/client-secrets-manager/package.json': ['version'],
};

/** Node options the functions run with (the construct sets NODE_OPTIONS; the bench loads bundles with them). */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';

export interface FunctionBundling {
  /** The handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly format: 'esm';
  readonly platform: 'node';
  readonly target: 'node22';
  readonly minify: boolean;
  /** A linked source map (`index.mjs.map` next to the bundle), without the sources' text. */
  readonly sourceMap: boolean;
  readonly sourcesContent: boolean;
  /** ESM first: the `module` builds of the SDK and axios tree-shake; `main` is the CommonJS fallback. */
  readonly mainFields: readonly string[];
  /** Import paths left out of the bundle (esbuild `external`, wildcards allowed). Empty: the AWS SDK is bundled. */
  readonly external: readonly string[];
  readonly alias: Readonly<Record<string, string>>;
  /** Modules inside packages replaced by a stand-in (LAMBDA_FILE_STAND_INS). */
  readonly fileStandIns: Readonly<Record<string, string>>;
  /** JSON files cut down to the fields read (LAMBDA_TRIMMED_JSON). */
  readonly trimmedJson: Readonly<Record<string, readonly string[]>>;
  readonly banner: string;
}

const COMMON = {
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  alias: LAMBDA_ALIASES,
  fileStandIns: LAMBDA_FILE_STAND_INS,
  trimmedJson: LAMBDA_TRIMMED_JSON,
  banner: ESM_REQUIRE_BANNER,
} as const;

const entryOf = (fn: LambdaFunctionName) => `functions/${fn}/handler.ts`;

/**
 * Vendor implementations (`lib/sources/<vendor>/<vendor>.source.ts`), which a declaration names only in its lazy
 * `load()`: `import('./<vendor>.source.js')`. The tick and persist read declarations only and never call `load()`, so
 * their bundles leave that import bare instead of carrying five drivers and axios's vendor use; if it were ever taken
 * it would fail to resolve (the file is not in the zip), loudly. fetch-frame bundles the implementations.
 */
export const VENDOR_IMPLEMENTATIONS = '*.source.js';

/** Per-function options. A function that leaves something out adds it to its own `external` list. */
export const FUNCTION_BUNDLING: Readonly<Record<LambdaFunctionName, FunctionBundling>> = {
  tick: { ...COMMON, entry: entryOf('tick'), external: [VENDOR_IMPLEMENTATIONS] },
  'fetch-frame': { ...COMMON, entry: entryOf('fetch-frame'), external: [] },
  persist: { ...COMMON, entry: entryOf('persist'), external: [VENDOR_IMPLEMENTATIONS] },
};
