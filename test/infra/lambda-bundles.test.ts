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
import { createDynamoDbClient, createSecretsManagerClient } from '../../lib/adapters/aws/aws-clients.js';
import { createSourceTable } from '../../lib/adapters/aws/dynamodb-source.store.js';
import { SecretsManagerCredentialStore } from '../../lib/adapters/aws/secrets-manager-credential.store.js';
import {
  LAMBDA_FUNCTIONS,
  LAMBDA_NODE_OPTIONS,
  LAMBDA_TRIMMED_JSON,
  type LambdaFunctionName,
} from '../../lib/config/bundling.config.js';
import { MESSAGE_VERSION, type PersistMessage } from '../../lib/domain/messages.js';
import { emptyBatch } from '../../lib/domain/records.js';
import { SOURCE_KINDS, scheduleFor, vendorFor } from '../../lib/sources/vendor.catalog.js';
import { type RunningEmulator, startDynalite, startSecretsManagerStandIn } from '../../local/emulators.js';
import { startNightscoutSimulator } from '../../local/nightscout/nightscout.simulator.js';

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
    'the bench builds %s byte for byte as deployed (both build through lib/config/bundling.build.ts)',
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
        /node_modules\/axios\/lib\/adapters\/(fetch|xhr)\.js$/,
        /\/checksum\/sha256\/Sha256Js\.js$/,
        /\/regionConfig\/getInstanceMetadataRegion\.js$/,
      ];
      expect(Object.keys(benched.inputs).filter((input) => cut.some((re) => re.test(input)))).toEqual([]);
      // The SDK clients' package.json files are in, cut to the version their user agent reads.
      const packageJsons = Object.entries(benched.inputs).filter(([input]) =>
        Object.keys(LAMBDA_TRIMMED_JSON).some((file) => input.endsWith(`node_modules/${file}`)),
      );
      expect(packageJsons.length).toBeGreaterThan(0);
      for (const [, bytes] of packageJsons) expect(bytes).toBeLessThan(64);
    },
  );

  /** A vendor implementation (`lib/sources/<vendor>/<vendor>.source.ts`) or the code only they use. */
  const VENDOR_CODE =
    /^lib\/sources\/.+\.source\.ts$|^lib\/sources\/carelink\/carelink-(login\.flow|oauth\.client)\.ts$/;

  it.each(['tick', 'persist'] as const)(
    "%s carries no vendor implementation: each declaration's lazy import stays a bare import that is never taken",
    async (fn) => {
      const benched = await buildBundle(fn, mkdtempSync(path.join(outdir, `vendors-${fn}-`)));
      const code = readFileSync(benched.file, 'utf8');

      expect(Object.keys(benched.inputs).filter((input) => VENDOR_CODE.test(input))).toEqual([]);
      // One bare `import("./<vendor>.source.js")` per registered vendor, left for a load() these functions never call.
      const bare = [...code.matchAll(/import\("\.\/([a-z-]+)\.source\.js"\)/g)].map((m) => m[1]);
      expect(bare).toHaveLength(SOURCE_KINDS.length);
    },
  );

  it('the tick bundle carries no HTTP client, no Nightscout writer and no Secrets Manager client', async () => {
    const benched = await buildBundle('tick', mkdtempSync(path.join(outdir, 'light-tick-')));

    const heavy = [
      /node_modules\/axios\//,
      /^lib\/adapters\/(http\/http\.client|nightscout\/)/,
      /@aws-sdk\/client-secrets-manager\//,
    ];
    expect(Object.keys(benched.inputs).filter((input) => heavy.some((re) => re.test(input)))).toEqual([]);
  });

  it('fetch-frame still bundles every vendor implementation', async () => {
    const benched = await buildBundle('fetch-frame', mkdtempSync(path.join(outdir, 'vendors-fetch-frame-')));

    const implementations = Object.keys(benched.inputs).filter((input) => /^lib\/sources\/.+\.source\.ts$/.test(input));
    expect(implementations).toHaveLength(SOURCE_KINDS.length);
  });

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

  it('the persist bundle writes a frame to Nightscout with the device and look-back its vendor declares', async () => {
    // Prepare: the source's Nightscout secret in Secrets Manager (the stand-in), a Nightscout site (the simulator).
    const apiSecret = 'bundle-test-api-secret';
    const secrets = await startSecretsManagerStandIn();
    const nightscout = await startNightscoutSimulator({ apiSecret });
    try {
      const sourceId = 'bundle-persist-1';
      await new SecretsManagerCredentialStore({
        client: createSecretsManagerClient({ endpoint: secrets.endpoint }),
        prefix: DUMMY_LAMBDA_ENV.CREDENTIALS_SECRET_PREFIX,
        shards: Number(DUMMY_LAMBDA_ENV.CREDENTIAL_SHARDS),
      }).put(sourceId, { vendor: {}, nightscout: { apiSecret } });
      const kind = 'dexcomshare';
      const [loop] = scheduleFor({ kind, settings: {} });
      const now = Date.now();
      const message: PersistMessage = {
        v: MESSAGE_VERSION,
        sourceId,
        kind,
        loop: loop.name,
        frameId: 'frame-1',
        fetchedAt: now,
        cursor: null,
        config: {
          id: sourceId,
          kind,
          settings: {},
          nightscout: { endpoint: nightscout.url, apiVersion: 'v1' },
        },
        batch: {
          ...emptyBatch(),
          entries: [
            {
              type: 'sgv',
              sgv: 123,
              date: now - 60_000,
              dateString: new Date(now - 60_000).toISOString(),
              direction: 'Flat',
              device: vendorFor(kind).device,
            },
          ],
        },
      };

      // Act
      const loaded = await loadInFreshProcess(
        bundles.persist,
        {
          ...DUMMY_LAMBDA_ENV,
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        },
        {
          Records: [
            {
              messageId: 'm-1',
              receiptHandle: 'r-1',
              body: JSON.stringify(message),
              attributes: { ApproximateReceiveCount: '1' },
            },
          ],
        },
      );

      // Assess: written, after seeding the cursor from this device's own entries over the declared look-back.
      expect(loaded.result).toEqual({ batchItemFailures: [] });
      expect(nightscout.store.entries.map((e) => e.sgv)).toEqual([123]);
      const seed = nightscout.requestLog.find((r) => r.method === 'GET' && r.path.startsWith('/api/v1/entries'));
      expect(seed?.query).toContainEqual(['find[device]', vendorFor(kind).device]);
      const since = seed?.query.find(([k]) => k === 'find[date][$gte]')?.[1];
      expect(Number(since)).toBeGreaterThanOrEqual(now - loop.maxLookbackMs);
      expect(Number(since)).toBeLessThan(now - loop.maxLookbackMs + 60_000);
    } finally {
      await nightscout.close();
      await secrets.close();
    }
  });

  it.each(['fetch-frame', 'persist'] as const)('the %s bundle answers an empty SQS batch', async (fn) => {
    const loaded = await loadInFreshProcess(bundles[fn], { ...DUMMY_LAMBDA_ENV }, { Records: [] });

    expect(loaded.result).toEqual({ batchItemFailures: [] });
  });
});
