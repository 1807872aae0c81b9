/**
 * Figure 8: each Lambda function's minified bundle and its module load time. The bundle is built by
 * lib/config/bundling.build.ts from lib/config/bundling.config.ts, the build the CDK construct deploys (entry, ESM,
 * minify, target, main fields, externals, aliases, file stand-ins, trimmed JSON, banner, linked source map without
 * sources content), and written to a temp dir.
 * Load time is a cold `import()` of that file in a fresh `node` process started with the functions' NODE_OPTIONS and
 * dummy Lambda environment variables, timed inside the process from just before the import until it resolves
 * (parse, link and evaluate the module scope: clients built, configuration read), the median of N such processes.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildLambdaBundle } from '../lib/config/bundling.build.js';
import {
  FUNCTION_BUNDLING,
  type FunctionBundling,
  LAMBDA_FUNCTIONS,
  LAMBDA_NODE_OPTIONS,
  type LambdaFunctionName,
} from '../lib/config/bundling.config.js';

const run = promisify(execFile);
export const FUNCTIONS = LAMBDA_FUNCTIONS;
export const INIT_RUNS = 10;

/**
 * What Lambda puts in a function's environment and the construct adds, with dummy values: enough for every handler's
 * module scope (configuration is validated at load) and nothing reachable. No request is made at load.
 */
export const DUMMY_LAMBDA_ENV: Readonly<Record<string, string>> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBUNDLEBENCH',
  AWS_SECRET_ACCESS_KEY: 'bundle-bench-not-a-secret',
  AWS_SESSION_TOKEN: 'bundle-bench-not-a-token',
  AWS_LAMBDA_FUNCTION_NAME: 'bundle-bench',
  TABLE_NAME: 'bundle-bench-table',
  FETCH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bundle-bench-fetch',
  PERSIST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bundle-bench-persist',
  CREDENTIALS_SECRET_PREFIX: 'bundle-bench/',
  CREDENTIAL_SHARDS: '1',
  MAX_RECEIVE_COUNT: '5',
  POWERTOOLS_SERVICE_NAME: 'bundle-bench',
  POWERTOOLS_METRICS_NAMESPACE: 'NightscoutConnectBench',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export interface BuiltBundle {
  function: LambdaFunctionName;
  entry: string;
  /** The written bundle (`<dir>/index.mjs`, with `index.mjs.map` beside it). */
  file: string;
  bytes: number;
  sourceMapBytes: number;
  buildMs: number;
  /** esbuild's metafile inputs: bytes each input contributes to the minified output. */
  inputs: Record<string, number>;
}

export interface BundleResult extends Omit<BuiltBundle, 'file' | 'inputs'> {
  gzipBytes: number;
  /** Largest contributors to the minified output, by package (from esbuild's metafile). */
  topPackages: Array<{ name: string; bytes: number }>;
  external: readonly string[];
  aliases: string[];
  /** Modules inside packages replaced by stand-ins, and JSON files trimmed to the fields read. */
  fileStandIns: string[];
  trimmedJson: string[];
  /** Median of `initSamplesMs`. */
  initMs: number;
  initSamplesMs: number[];
  /** Median CPU time (user + system) the import took in those processes: less sensitive to a busy machine. */
  initCpuMs: number;
  initCpuSamplesMs: number[];
}

/** `node_modules/@aws-sdk/client-sqs/dist-es/…` → `@aws-sdk/client-sqs`; own code → `(project)`. */
export function packageOf(input: string): string {
  const i = input.lastIndexOf('node_modules/');
  if (i < 0) return '(project)';
  const parts = input.slice(i + 'node_modules/'.length).split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Builds one function exactly as deployed (bundling.config.ts through bundling.build.ts) into `outDir`. */
export async function buildBundle(
  fn: LambdaFunctionName,
  outDir: string,
  bundling: FunctionBundling = FUNCTION_BUNDLING[fn],
): Promise<BuiltBundle> {
  const t0 = performance.now();
  const { file, inputs } = await buildLambdaBundle({ fn, outDir, bundling });
  const buildMs = performance.now() - t0;
  return {
    function: fn,
    entry: bundling.entry,
    file,
    buildMs,
    inputs,
    bytes: readFileSync(file).byteLength,
    sourceMapBytes: existsSync(`${file}.map`) ? readFileSync(`${file}.map`).byteLength : 0,
  };
}

/**
 * Imports `file` in a fresh `node` process with the functions' NODE_OPTIONS and `env`; resolves with the time the
 * import took and the type of the `handler` export. Rejects with the child's stderr if loading throws.
 */
export async function coldImport(
  file: string,
  env: Record<string, string> = { ...DUMMY_LAMBDA_ENV },
): Promise<{ ms: number; cpuMs: number; handlerType: string }> {
  const script =
    `const c0 = process.cpuUsage(); const t0 = performance.now(); const m = await import(${JSON.stringify(pathToFileURL(file).href)}); ` +
    'const ms = performance.now() - t0; const c = process.cpuUsage(c0); ' +
    'process.stdout.write(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, handlerType: typeof m.handler }));';
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...env, NODE_OPTIONS: LAMBDA_NODE_OPTIONS },
    cwd: path.dirname(file),
  });
  return JSON.parse(stdout) as { ms: number; cpuMs: number; handlerType: string };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function runBundleBench(
  options: { initRuns?: number; functions?: readonly LambdaFunctionName[] } = {},
): Promise<BundleResult[]> {
  const { gzipSync } = await import('node:zlib');
  const initRuns = options.initRuns ?? INIT_RUNS;
  const results: BundleResult[] = [];
  for (const fn of options.functions ?? FUNCTIONS) {
    const dir = mkdtempSync(path.join(tmpdir(), `nsc-bundle-${fn}-`));
    try {
      const built = await buildBundle(fn, dir);
      const initSamplesMs: number[] = [];
      const initCpuSamplesMs: number[] = [];
      for (let i = 0; i < initRuns; i++) {
        const { ms, cpuMs, handlerType } = await coldImport(built.file);
        if (handlerType !== 'function')
          throw new Error(`${built.entry}: the bundle exports no handler function (got ${handlerType})`);
        initSamplesMs.push(+ms.toFixed(1));
        initCpuSamplesMs.push(+cpuMs.toFixed(1));
      }
      const byPackage = new Map<string, number>();
      for (const [input, bytes] of Object.entries(built.inputs))
        byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + bytes);
      const topPackages = [...byPackage]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([name, bytes]) => ({ name, bytes }));
      const { file: _file, inputs: _inputs, ...rest } = built;
      results.push({
        ...rest,
        gzipBytes: gzipSync(readFileSync(built.file)).byteLength,
        topPackages,
        external: FUNCTION_BUNDLING[fn].external,
        aliases: Object.keys(FUNCTION_BUNDLING[fn].alias),
        fileStandIns: Object.keys(FUNCTION_BUNDLING[fn].fileStandIns),
        trimmedJson: Object.keys(FUNCTION_BUNDLING[fn].trimmedJson),
        initMs: +median(initSamplesMs).toFixed(1),
        initSamplesMs,
        initCpuMs: +median(initCpuSamplesMs).toFixed(1),
        initCpuSamplesMs,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}
