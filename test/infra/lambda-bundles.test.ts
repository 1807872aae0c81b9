import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, DUMMY_LAMBDA_ENV } from '../../bench/bundle.bench.js';
import { NightscoutConnectStack } from '../../infra/stacks/nightscout-connect.stack.js';
import { createDynamoDbClient } from '../../lib/adapters/aws/aws-clients.js';
import { createSourceTable } from '../../lib/adapters/aws/dynamodb-source.store.js';
import { LAMBDA_FUNCTIONS, LAMBDA_NODE_OPTIONS, type LambdaFunctionName } from '../../lib/config/bundling.config.js';
import { type RunningEmulator, startDynalite } from '../../local/emulators.js';

const run = promisify(execFile);

/**
 * Loads a bundle in a fresh node process (the functions' NODE_OPTIONS, dummy Lambda environment), optionally invokes
 * its handler once, and returns what it printed: the handler export's type, the result, and the other stdout lines.
 */
async function loadInFreshProcess(file: string, env: Record<string, string>, event?: unknown) {
  const script = `
    const m = await import(${JSON.stringify(pathToFileURL(file).href)});
    const out = { handlerType: typeof m.handler };
    if (${JSON.stringify(event !== undefined)}) out.result = await m.handler(${JSON.stringify(event ?? null)}, { getRemainingTimeInMillis: () => 50_000 });
    process.stdout.write('\\nRESULT ' + JSON.stringify(out) + '\\n');`;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...env, NODE_OPTIONS: LAMBDA_NODE_OPTIONS },
    cwd: path.dirname(file),
  });
  const lines = stdout.split('\n').filter(Boolean);
  const result = lines.find((l) => l.startsWith('RESULT '));
  return {
    ...(JSON.parse(result?.slice('RESULT '.length) ?? '{}') as { handlerType: string; result?: unknown }),
    lines,
    stderr,
  };
}

describe('the deployed Lambda bundles (cdk synth with real esbuild bundling of functions/*)', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'nsc-bundles-'));
  const bundles = {} as Record<LambdaFunctionName, string>;
  let dynamo: RunningEmulator;

  beforeAll(async () => {
    // Prepare: the real entries (the construct's default entryDir), bundled as `cdk synth` bundles them.
    const app = new App({ outdir });
    const stack = new NightscoutConnectStack(app, 'BundleTest');
    app.synth();
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    for (const fn of LAMBDA_FUNCTIONS) {
      const found = Object.values(functions).find((r) =>
        String(r.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME).endsWith(`-${fn}`),
      );
      // The code asset's key is `<hash>.zip`; synth stages it as `asset.<hash>/`.
      const hash = String(found?.Properties?.Code?.S3Key).replace(/\.zip$/, '');
      bundles[fn] = path.join(outdir, `asset.${hash}`, 'index.mjs');
    }
    dynamo = await startDynalite();
    await createSourceTable(createDynamoDbClient({ endpoint: dynamo.endpoint }), DUMMY_LAMBDA_ENV.TABLE_NAME);
  }, 180_000);

  afterAll(async () => {
    await dynamo?.close();
    rmSync(outdir, { recursive: true, force: true });
  });

  it.each(LAMBDA_FUNCTIONS)(
    '%s loads in a fresh process without throwing and exports a handler function',
    async (fn) => {
      const loaded = await loadInFreshProcess(bundles[fn], { ...DUMMY_LAMBDA_ENV });

      expect(loaded.handlerType).toBe('function');
      expect(statSync(`${bundles[fn]}.map`).size).toBeGreaterThan(0);
    },
  );

  it.each(LAMBDA_FUNCTIONS)(
    'the bench builds %s byte for byte as deployed (both read lib/config/bundling.config.ts)',
    async (fn) => {
      const dir = mkdtempSync(path.join(outdir, `bench-${fn}-`));

      const benched = await buildBundle(fn, dir);

      expect(readFileSync(benched.file).equals(readFileSync(bundles[fn]))).toBe(true);
      // What the stand-ins and our own logger cut stays cut (esbuild's metafile lists every input that made it in).
      const cut = [
        /node_modules\/(mime-db|form-data|follow-redirects|debug|mnemonist)\//,
        /@aws-sdk\/(credential-provider-node|nested-clients)\//,
        /@smithy\/core\/dist-es\/submodules\/event-streams\//,
        /@aws-lambda-powertools\//,
      ];
      expect(Object.keys(benched.inputs).filter((input) => cut.some((re) => re.test(input)))).toEqual([]);
    },
  );

  it('fails at load, naming the variable, when the Lambda environment lacks its configuration', async () => {
    const { TABLE_NAME: _omitted, ...env } = DUMMY_LAMBDA_ENV;

    await expect(loadInFreshProcess(bundles.tick, env)).rejects.toThrow(/TABLE_NAME is required/);
  });

  it('the tick bundle runs a tick against DynamoDB with the credentials from the environment and writes its log and EMF lines', async () => {
    // Act: the bundled SDK, with the env-only credential provider, signs and sends a due-index Query to dynalite.
    const loaded = await loadInFreshProcess(
      bundles.tick,
      { ...DUMMY_LAMBDA_ENV, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint },
      {},
    );

    // Assess
    expect(loaded.result).toEqual({ due: 0, advanced: 0, framesSent: 0, errors: 0, skippedForDeadline: 0 });
    const json = loaded.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
    expect(json.find((l) => l.message === 'tick done')).toMatchObject({
      level: 'INFO',
      service: DUMMY_LAMBDA_ENV.POWERTOOLS_SERVICE_NAME,
      due: 0,
    });
    expect(json.find((l) => l._aws)).toMatchObject({
      _aws: {
        CloudWatchMetrics: [{ Namespace: DUMMY_LAMBDA_ENV.POWERTOOLS_METRICS_NAMESPACE, Dimensions: [['service']] }],
      },
      service: DUMMY_LAMBDA_ENV.POWERTOOLS_SERVICE_NAME,
      SourcesDue: 0,
    });
  });

  it('the tick bundle takes credentials from the environment only (the default chain is not bundled)', async () => {
    const {
      AWS_ACCESS_KEY_ID: _key,
      AWS_SECRET_ACCESS_KEY: _secret,
      AWS_SESSION_TOKEN: _token,
      ...env
    } = DUMMY_LAMBDA_ENV;

    await expect(
      loadInFreshProcess(bundles.tick, { ...env, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint }, {}),
    ).rejects.toThrow(/this bundle takes credentials only from the Lambda environment/);
  });

  it.each(['fetch-frame', 'persist'] as const)('the %s bundle answers an empty SQS batch', async (fn) => {
    const loaded = await loadInFreshProcess(bundles[fn], { ...DUMMY_LAMBDA_ENV }, { Records: [] });

    expect(loaded.result).toEqual({ batchItemFailures: [] });
  });
});
