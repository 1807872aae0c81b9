/**
 * Builds one Lambda bundle from lib/config/bundling.config.ts: the one esbuild run behind both what the CDK construct
 * deploys and what the bundle bench measures, so the two cannot drift. Not product code: nothing under functions/
 * imports it, and esbuild (a dev dependency) is loaded only when a build runs.
 *
 * Beyond esbuild's own options it applies the config's file stand-ins and trimmed JSON through a plugin, because
 * esbuild's `alias` can only replace whole packages. The CDK construct bundles synchronously and so runs this module in
 * a child process (`node --import tsx`); see `buildLambdaBundleScript`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUNCTION_BUNDLING, type FunctionBundling, type LambdaFunctionName } from './bundling.config.js';

/** The repository root (this file lives in <root>/lib/config/): config paths are relative to it. */
export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LambdaBuildRequest {
  fn: LambdaFunctionName;
  /** Written there as `index.mjs` with `index.mjs.map` beside it. */
  outDir: string;
  /** Directory holding `functions/<name>/handler.ts`. @default the repository root */
  entryDir?: string;
  /** esbuild's working directory: metafile paths are relative to it. @default the repository root */
  workingDir?: string;
  /** @default FUNCTION_BUNDLING[fn] */
  bundling?: FunctionBundling;
}

export interface LambdaBuildResult {
  /** The written bundle. */
  file: string;
  /** esbuild's metafile inputs: bytes each input contributes to the minified output. */
  inputs: Record<string, number>;
  /** esbuild's whole metafile (the import graph), for finding what keeps a module in. */
  metafile: import('esbuild').Metafile;
}

export async function buildLambdaBundle(request: LambdaBuildRequest): Promise<LambdaBuildResult> {
  const esbuild = await import('esbuild');
  const b = request.bundling ?? FUNCTION_BUNDLING[request.fn];
  const fromRoot = (p: string) => path.resolve(REPOSITORY_ROOT, p);
  const file = path.join(request.outDir, 'index.mjs');
  const out = await esbuild.build({
    entryPoints: [path.join(request.entryDir ?? REPOSITORY_ROOT, b.entry)],
    absWorkingDir: request.workingDir ?? REPOSITORY_ROOT,
    bundle: true,
    minify: b.minify,
    format: b.format,
    platform: b.platform,
    target: b.target,
    mainFields: [...b.mainFields],
    external: [...b.external],
    alias: Object.fromEntries(Object.entries(b.alias).map(([from, to]) => [from, fromRoot(to)])),
    plugins: [standInsPlugin(b, fromRoot)],
    banner: { js: b.banner },
    sourcemap: b.sourceMap,
    sourcesContent: b.sourcesContent,
    outfile: file,
    write: true,
    logLevel: 'silent',
    metafile: true,
  });
  const inputs: Record<string, number> = {};
  for (const output of Object.values(out.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
      inputs[input] = (inputs[input] ?? 0) + bytesInOutput;
  }
  return { file, inputs, metafile: out.metafile };
}

/**
 * Replaces modules imported by relative path inside a package (`fileStandIns`) and cuts JSON files to the fields read
 * (`trimmedJson`). Both are keyed by the path under node_modules, matched on the resolved file, so a same-named file
 * elsewhere is left alone.
 */
function standInsPlugin(b: FunctionBundling, fromRoot: (p: string) => string) {
  const underNodeModules = (file: string) => {
    const i = file.split(path.sep).join('/').lastIndexOf('/node_modules/');
    return i < 0
      ? undefined
      : file
          .slice(i + '/node_modules/'.length)
          .split(path.sep)
          .join('/');
  };
  return {
    name: 'lambda-stand-ins',
    setup(build: import('esbuild').PluginBuild) {
      const standIns = Object.entries(b.fileStandIns);
      if (standIns.length > 0) {
        build.onResolve({ filter: /^\.\.?\// }, (args) => {
          const key = underNodeModules(path.resolve(args.resolveDir, args.path));
          // Package code imports with and without the extension (`./Sha256Js`, `./fetch.js`).
          const target = standIns.find(([from]) => from === key || from === `${key}.js`)?.[1];
          return target ? { path: fromRoot(target) } : undefined;
        });
      }
      const trimmed = Object.entries(b.trimmedJson);
      if (trimmed.length > 0) {
        build.onLoad({ filter: /\.json$/ }, (args) => {
          const fields = trimmed.find(([file]) => file === underNodeModules(args.path))?.[1];
          if (!fields) return undefined;
          const json = JSON.parse(readFileSync(args.path, 'utf8')) as Record<string, unknown>;
          return { contents: JSON.stringify(Object.fromEntries(fields.map((f) => [f, json[f]]))), loader: 'json' };
        });
      }
    },
  };
}

/**
 * The arguments of a `node` child process that runs one build and exits non-zero if it fails: how the CDK construct,
 * which must bundle synchronously, calls `buildLambdaBundle`. Run it with the repository root as working directory
 * (where `tsx` resolves).
 */
export function buildLambdaBundleScript(request: LambdaBuildRequest): string[] {
  const self = import.meta.url;
  return [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    `const { buildLambdaBundle } = await import(${JSON.stringify(self)}); await buildLambdaBundle(${JSON.stringify(request)});`,
  ];
}
