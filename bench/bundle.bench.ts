/**
 * Figure 8: minified bundle size per Lambda function, built with esbuild's JS API using the options the CDK
 * NodejsFunction construct passes (infra/constructs/nightscout-connect.construct.ts: ESM, minify, target node22,
 * platform node, mainFields module/main, nothing external — the AWS SDK is bundled —, the createRequire banner,
 * external source map without sources content). Nothing is written to disk.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FUNCTIONS = ['tick', 'fetch-frame', 'persist'] as const;
const ESM_REQUIRE_BANNER =
  "import { createRequire as __nscCreateRequire } from 'node:module'; const require = __nscCreateRequire(import.meta.url);";

export interface BundleResult {
  function: string;
  entry: string;
  bytes: number;
  gzipBytes: number;
  sourceMapBytes: number;
  buildMs: number;
  /** Largest contributors to the minified output, by package (from esbuild's metafile). */
  topPackages: Array<{ name: string; bytes: number }>;
}

/** `node_modules/@aws-sdk/client-sqs/dist-es/…` → `@aws-sdk/client-sqs`; own code → `(project)`. */
function packageOf(input: string): string {
  const i = input.lastIndexOf('node_modules/');
  if (i < 0) return '(project)';
  const parts = input.slice(i + 'node_modules/'.length).split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

export async function runBundleBench(): Promise<BundleResult[]> {
  const esbuild = await import('esbuild');
  const { gzipSync } = await import('node:zlib');
  const results: BundleResult[] = [];
  for (const fn of FUNCTIONS) {
    const entry = path.join('functions', fn, 'handler.ts');
    const t0 = performance.now();
    const out = await esbuild.build({
      entryPoints: [path.join(ROOT, entry)],
      absWorkingDir: ROOT,
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      mainFields: ['module', 'main'],
      external: [],
      banner: { js: ESM_REQUIRE_BANNER },
      sourcemap: 'external',
      sourcesContent: false,
      outfile: path.join(ROOT, 'cdk.out.bench', fn, 'index.mjs'),
      write: false,
      logLevel: 'silent',
      metafile: true,
    });
    const buildMs = performance.now() - t0;
    const js = out.outputFiles.find((f) => f.path.endsWith('.mjs'));
    const map = out.outputFiles.find((f) => f.path.endsWith('.map'));
    if (!js) throw new Error(`esbuild produced no JavaScript for ${entry}`);
    const byPackage = new Map<string, number>();
    for (const output of Object.values(out.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + bytesInOutput);
    }
    const topPackages = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([name, bytes]) => ({ name, bytes }));
    results.push({
      function: fn, entry, bytes: js.contents.byteLength, gzipBytes: gzipSync(js.contents).byteLength,
      sourceMapBytes: map?.contents.byteLength ?? 0, buildMs, topPackages,
    });
  }
  return results;
}
