// The management CLI driven in-process (runCli) against dynalite, the Secrets Manager stand-in and fauxqs, with the
// Dexcom Share and CareLink simulators for logins. Secrets go in through stdin only and must come out nowhere but the
// credential secret.

import { type DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, ListSecretsCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceTable, DynamoDbSourceStore } from '../../lib/adapters/aws/dynamodb-source.store.js';
import type { QueuePair } from '../../lib/adapters/aws/sqs-message.queue.js';
import { silentLog } from '../../lib/adapters/system/system.observability.js';
import { applySourceEvent } from '../../lib/app/apply-event.js';
import { statusReader } from '../../lib/app/source-status.js';
import { type CliIo, runCli } from '../../lib/cli/cli.main.js';
import type { SourceContext } from '../../lib/machines/source/source.types.js';
import { PARKED_HINTS, specFor } from '../../lib/sources/vendor.catalog.js';
import { createQueuePair } from '../../local/emulators.js';
import { type CareLinkSimulator, startCareLinkSimulator } from '../../local/vendors/carelink/carelink.simulator.js';
import {
  type DexcomShareSimulator,
  startDexcomShareSimulator,
} from '../../local/vendors/dexcom-share/dexcom-share.simulator.js';
import { useDynalite, useFauxqs, useSecretsStandIn } from '../helpers/emulators.helper.js';

const TABLE = 'cli-test';
const PREFIX = 'CliTest/';
const ACCOUNT = 'cli.parent@example.com';
const CANARY = 'Canary-Pw-9f1c-DO-NOT-LEAK';
const NEW_CANARY = 'New-Canary-Pw-2b7e-DO-NOT-LEAK';
const NS_CANARY = 'ns-api-secret-canary-5d0a';
const WRONG = 'Wrong-Pw-77aa-DO-NOT-LEAK';
const SECRETS = [CANARY, NEW_CANARY, NS_CANARY, WRONG];

const dynalite = useDynalite();
const fauxqs = useFauxqs();
const standIn = useSecretsStandIn();
let share: DexcomShareSimulator;
let dynamo: DynamoDBClient;
let sqs: SQSClient;
let secrets: SecretsManagerClient;
let store: DynamoDbSourceStore;
let fetchPair: QueuePair;
let persistPair: QueuePair;
const allOutput: string[] = [];

beforeAll(async () => {
  share = await startDexcomShareSimulator({
    clock: { now: () => Date.now() },
    accounts: [{ accountName: ACCOUNT, password: CANARY }],
  });
  dynamo = dynalite.client;
  sqs = fauxqs.client;
  secrets = standIn.client;
  await createSourceTable(dynamo, TABLE);
  store = new DynamoDbSourceStore({ client: dynamo, tableName: TABLE, statusOf: statusReader(PARKED_HINTS) });
  fetchPair = await createQueuePair(sqs, 'cli-fetch', { maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
  persistPair = await createQueuePair(sqs, 'cli-persist', { maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
});

afterAll(async () => {
  // Whatever the tests did: no secret ever reached the CLI's output.
  for (const text of allOutput) for (const secret of SECRETS) expect(text).not.toContain(secret);
  await share?.close();
});

/** Target options: table and secret prefix by flag, endpoints and queues by environment (both paths exercised). */
function target(): string[] {
  return ['--target', 'local', '--table', TABLE, '--secret-prefix', PREFIX, '--endpoint-dynamodb', dynalite.endpoint];
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: standIn.endpoint,
    FETCH_QUEUE_URL: fetchPair.queueUrl,
    PERSIST_QUEUE_URL: persistPair.queueUrl,
    ...extra,
  };
}

async function cli(
  argv: string[],
  opts: { stdin?: string; env?: Record<string, string>; prompt?: CliIo['prompt'] } = {},
) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdin: opts.stdin,
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: opts.env ?? env(),
    prompt: opts.prompt,
  });
  allOutput.push(stdout, stderr);
  return { code, stdout, stderr };
}

const DEX_ID = 'cli-dex';

function addDexcom(id = DEX_ID) {
  return cli(
    [
      'sources',
      'add',
      '--source',
      'dexcomshare',
      '--source-id',
      id,
      '--nightscout-endpoint',
      'http://127.0.0.1:9/ns',
      '--set',
      `SHARE_SERVER=${share.url}`,
      '--secrets-stdin',
      ...target(),
    ],
    {
      stdin: `# Dexcom\nCONNECT_SHARE_ACCOUNT_NAME=${ACCOUNT}\nCONNECT_SHARE_PASSWORD="${CANARY}"\nexport CONNECT_API_SECRET=${NS_CANARY}\n`,
    },
  );
}

async function rawItem(id: string) {
  const out = await dynamo.send(
    new GetItemCommand({
      TableName: TABLE,
      Key: { pk: { S: `SOURCE#${id}` }, sk: { S: 'STATE' } },
      ConsistentRead: true,
    }),
  );
  return out.Item;
}

async function storedCredentials(id: string) {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: `${PREFIX}credentials/0` }));
  return (
    JSON.parse(out.SecretString ?? '{}') as {
      sources: Record<string, { vendor: Record<string, string>; nightscout: Record<string, string> }>;
    }
  ).sources[id];
}

async function tableDump(): Promise<string> {
  const out = await dynamo.send(new ScanCommand({ TableName: TABLE }));
  return JSON.stringify(out.Items ?? []);
}

describe('nightscout-connect CLI', () => {
  it('adds a Dexcom Share source with secrets from stdin; secrets land only in the credential secret', async () => {
    const { code, stdout, stderr } = await addDexcom();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`added source ${DEX_ID} (dexcomshare`);
    expect(stdout).toMatch(/next due: \d{4}-\d\d-\d\dT[\d:]+Z \((now|\d+ s ago|in \d+ s)\)/);

    const item = await rawItem(DEX_ID);
    expect(item?.nextDueAt?.N).toBeDefined();
    const dump = await tableDump();
    for (const secret of [CANARY, NS_CANARY, ACCOUNT]) expect(dump).not.toContain(secret);
    expect(JSON.parse(item!.config.S!)).toMatchObject({
      id: DEX_ID,
      kind: 'dexcomshare',
      settings: { shareServer: share.url },
    });

    expect(await storedCredentials(DEX_ID)).toEqual({
      vendor: { accountName: ACCOUNT, password: CANARY },
      nightscout: { apiSecret: NS_CANARY },
    });
    const names = (await secrets.send(new ListSecretsCommand({}))).SecretList?.map((s) => s.Name);
    expect(names).toEqual([`${PREFIX}credentials/0`]);
  });

  it('refuses a secret given with --set, without echoing it, and stores nothing', async () => {
    const { code, stdout, stderr } = await cli([
      'sources',
      'add',
      '--source',
      'dexcomshare',
      '--source-id',
      'refused',
      '--nightscout-endpoint',
      'http://127.0.0.1:9/ns',
      '--set',
      `share_password=${WRONG}`,
      ...target(),
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('CONNECT_SHARE_PASSWORD is a secret and is never accepted on the command line');
    expect(stderr + stdout).not.toContain(WRONG);
    expect(await rawItem('refused')).toBeUndefined();

    const endpoint = await cli([
      'sources',
      'add',
      '--source',
      'dexcomshare',
      '--source-id',
      'refused',
      '--nightscout-endpoint',
      `http://127.0.0.1:9/ns?token=${WRONG}`,
      ...target(),
    ]);
    expect(endpoint.code).toBe(2);
    expect(endpoint.stderr).toContain('must not contain credentials');
    expect(endpoint.stderr).not.toContain(WRONG);
  });

  it('reports missing secrets as a configuration error that points at stdin', async () => {
    const { code, stderr } = await cli([
      'sources',
      'add',
      '--source',
      'dexcomshare',
      '--source-id',
      'no-secrets',
      '--nightscout-endpoint',
      'http://127.0.0.1:9/ns',
      ...target(),
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('CONNECT_SHARE_PASSWORD is required');
    expect(stderr).toContain('--secrets-stdin');
    expect(await rawItem('no-secrets')).toBeUndefined();
  });

  it('lists and shows sources', async () => {
    const list = await cli(['sources', 'list', ...target()]);
    expect(list.code).toBe(0);
    const [header, row] = list.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+KIND\s+STATE\s+NEWEST READING\s+NEXT DUE\s+LAST ERROR$/);
    expect(row).toMatch(new RegExp(`^${DEX_ID}\\s+dexcomshare\\s+running \\(idle\\)\\s+-\\s+\\d{4}-`));

    const json = await cli(['sources', 'list', '--json', ...target()]);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id: DEX_ID, kind: 'dexcomshare' })]);

    const show = await cli(['sources', 'show', DEX_ID, ...target()]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('state:           running/session:idle/DexcomShare:waiting');
    expect(show.stdout).toContain('newest reading:  none yet');
    expect(show.stdout).toMatch(/next due:\s+\d{4}-/);
    expect(show.stdout).toContain('parked:          -');
    expect(show.stdout).toContain(`settings:        shareServer=${share.url}`);

    const missing = await cli(['sources', 'show', 'nope', ...target()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no source with id nope');
  });

  it('pauses (the source leaves the due index) and resumes', async () => {
    // Pausing needs no credential store: no secret prefix, no Secrets Manager endpoint.
    const paused = await cli(['sources', 'pause', DEX_ID, '--table', TABLE, '--endpoint-dynamodb', dynalite.endpoint], {
      env: {},
    });
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('next due: not scheduled');
    const item = await rawItem(DEX_ID);
    expect(item?.nextDueAt).toBeUndefined();
    expect(item?.dueShard).toBeUndefined();
    expect((await store.queryDue(Date.now() + 86_400_000)).map((r) => r.id)).not.toContain(DEX_ID);

    const show = await cli(['sources', 'show', DEX_ID, ...target()]);
    expect(show.stdout).toContain('parked:          paused by an operator');
    expect(show.stdout).toMatch(/source\.paused\s+running\/\S+ → paused\//);
    expect((await cli(['sources', 'list', ...target()])).stdout).toMatch(
      new RegExp(`${DEX_ID}\\s+dexcomshare\\s+paused`),
    );

    const resumed = await cli(['sources', 'resume', DEX_ID, ...target()]);
    expect(resumed.code).toBe(0);
    expect((await rawItem(DEX_ID))?.nextDueAt?.N).toBeDefined();
    expect((await store.queryDue(Date.now() + 86_400_000)).map((r) => r.id)).toContain(DEX_ID);
  });

  it('update-credentials un-parks an auth-rejected source and keeps the secrets not given', async () => {
    const deps = { sources: store, specFor, parkedHints: PARKED_HINTS, log: silentLog };
    const now = Date.now();
    const ticked = await applySourceEvent(deps, DEX_ID, { type: 'clock.ticked', now, horizon: now + 60_000 });
    const frame = (ticked!.record.snapshot as { context: SourceContext }).context.loops.DexcomShare.frame;
    expect(frame).not.toBeNull();
    const rejected = await applySourceEvent(deps, DEX_ID, {
      type: 'auth.rejected',
      now,
      loop: 'DexcomShare',
      frameId: frame!.id,
      code: 'DEXCOM.AUTH_REJECTED',
    });
    expect(rejected?.record.status.state).toContain('session:rejected');
    expect((await rawItem(DEX_ID))?.nextDueAt).toBeUndefined();
    expect((await cli(['sources', 'show', DEX_ID, ...target()])).stdout).toContain(
      'parked:          credentials rejected (DEXCOM.AUTH_REJECTED)',
    );
    expect((await cli(['sources', 'list', ...target()])).stdout).toMatch(
      new RegExp(`${DEX_ID}\\s+dexcomshare\\s+auth-rejected`),
    );

    // A setting is not a credential: refused.
    const wrongKind = await cli(['sources', 'update-credentials', DEX_ID, '--secrets-stdin', ...target()], {
      stdin: 'CONNECT_SHARE_REGION=ous\n',
    });
    expect(wrongKind.code).toBe(2);

    const updated = await cli(['sources', 'update-credentials', DEX_ID, '--secrets-stdin', ...target()], {
      stdin: `CONNECT_SHARE_PASSWORD=${NEW_CANARY}\n`,
    });
    expect(updated.stderr).toBe('');
    expect(updated.code).toBe(0);
    expect(updated.stdout).toContain(`credentials of ${DEX_ID} updated (CONNECT_SHARE_PASSWORD)`);
    const record = await store.get(DEX_ID);
    expect(record?.status.state).not.toContain('rejected');
    expect(record?.status.state).toContain('session:idle');
    expect(record?.nextDueAt).toBeDefined();
    expect((await store.recentTransitions(DEX_ID)).at(-1)?.event).toBe('credentials.changed');
    expect(await storedCredentials(DEX_ID)).toEqual({
      vendor: { accountName: ACCOUNT, password: NEW_CANARY },
      nightscout: { apiSecret: NS_CANARY },
    });
    expect(await tableDump()).not.toContain(NEW_CANARY);
  });

  it('check-login <id> logs in once with the stored credentials and stores nothing', async () => {
    // Restore the password the simulator knows, via a secrets file this time.
    const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/cli-test-');
    try {
      await writeFile(`${dir}/secrets.json`, JSON.stringify({ CONNECT_SHARE_PASSWORD: CANARY }), { mode: 0o600 });
      expect(
        (await cli(['sources', 'update-credentials', DEX_ID, '--secrets-file', `${dir}/secrets.json`, ...target()]))
          .code,
      ).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const before = { ...share.stats };
    const versionBefore = (await store.get(DEX_ID))?.version;
    const { code, stdout } = await cli(['check-login', DEX_ID, ...target()]);
    expect(code).toBe(0);
    expect(stdout).toContain(`login ok: ${DEX_ID} (dexcomshare)`);
    expect(share.stats.authenticate - before.authenticate).toBe(1);
    expect(share.stats.login - before.login).toBe(1);
    expect(share.stats.read - before.read).toBe(0);
    // No session item, no state change.
    const session = await dynamo.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: `SESSION#${DEX_ID}` }, sk: { S: 'SESSION' } } }),
    );
    expect(session.Item).toBeUndefined();
    expect((await store.get(DEX_ID))?.version).toBe(versionBefore);
  });

  it('check-login --from-env with a wrong password reports auth rejected after exactly one authenticate call', async () => {
    const before = { ...share.stats };
    const { code, stdout, stderr } = await cli(['check-login', '--from-env'], {
      env: {
        CONNECT_SOURCE: 'dexcomshare',
        CONNECT_SHARE_SERVER: share.url,
        CONNECT_SHARE_ACCOUNT_NAME: ACCOUNT,
        CONNECT_SHARE_PASSWORD: WRONG,
        CONNECT_NIGHTSCOUT_ENDPOINT: 'http://127.0.0.1:9/ns',
        CONNECT_API_SECRET: NS_CANARY,
      },
    });
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(stdout).toContain('login failed');
    expect(stdout).toContain('authRejected DEXCOM.AUTH_REJECTED');
    expect(share.stats.authenticate - before.authenticate).toBe(1);
    expect(share.stats.login - before.login).toBe(0);

    const ok = await cli(['check-login', '--from-env'], {
      env: {
        CONNECT_SOURCE: 'dexcomshare',
        CONNECT_SHARE_SERVER: share.url,
        CONNECT_SHARE_ACCOUNT_NAME: ACCOUNT,
        CONNECT_SHARE_PASSWORD: CANARY,
        CONNECT_NIGHTSCOUT_ENDPOINT: 'http://127.0.0.1:9/ns',
      },
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('login ok');
  });

  it('redrives a dead-letter queue locally by receive, re-send and delete', async () => {
    const bodies = ['{"n":1}', '{"n":2}', '{"n":3}'];
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: fetchPair.dlqUrl,
        Entries: bodies.map((b, i) => ({ Id: String(i), MessageBody: b })),
      }),
    );
    const { code, stdout, stderr } = await cli(['dlq', 'redrive', '--queue', 'fetch', ...target()]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('moved 3 message(s) from fetch dead-letter queue back to fetch');
    const moved = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: fetchPair.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect((moved.Messages ?? []).map((m) => m.Body).sort()).toEqual(bodies);
    // Deleted from the DLQ, not merely in flight (received messages are invisible for a while).
    const left = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: fetchPair.dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(left.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });

    const empty = await cli(['dlq', 'redrive', '--queue', 'persist', ...target()]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('moved 0 message(s)');
    expect((await cli(['dlq', 'redrive', '--queue', 'other', ...target()])).code).toBe(2);
  });

  it('removes a source with its credentials, only with --yes', async () => {
    const refused = await cli(['sources', 'remove', DEX_ID, ...target()]);
    expect(refused.code).toBe(2);
    expect(await rawItem(DEX_ID)).toBeDefined();
    const removed = await cli(['sources', 'remove', DEX_ID, '--yes', ...target()]);
    expect(removed.code).toBe(0);
    expect(await rawItem(DEX_ID)).toBeUndefined();
    expect(await storedCredentials(DEX_ID)).toBeUndefined();
    expect((await cli(['sources', 'list', ...target()])).stdout.trim()).toBe('no sources');
  });

  it('adds from a file and from the environment, keeping stored secrets when they are left out', async () => {
    const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/cli-test-');
    try {
      const file = `${dir}/source.json`;
      await writeFile(
        file,
        JSON.stringify({
          CONNECT_SOURCE: 'dexcomshare',
          CONNECT_SOURCE_ID: 'from-file',
          CONNECT_SHARE_SERVER: share.url,
          CONNECT_NIGHTSCOUT_ENDPOINT: 'http://127.0.0.1:9/ns',
          CONNECT_SHARE_ACCOUNT_NAME: ACCOUNT,
          CONNECT_SHARE_PASSWORD: CANARY,
          CONNECT_API_SECRET: NS_CANARY,
        }),
        { mode: 0o600 },
      );
      const added = await cli(['sources', 'add', '--file', file, ...target()]);
      expect(added.code).toBe(0);
      expect(added.stdout).toContain('added source from-file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Same id from the environment, a setting changed, no secrets: the stored ones are kept.
    const updated = await cli(['sources', 'add', '--from-env', ...target()], {
      env: env({
        CONNECT_SOURCE: 'dexcomshare',
        CONNECT_SOURCE_ID: 'from-file',
        CONNECT_SHARE_SERVER: share.url,
        CONNECT_SHARE_REGION: 'ous',
        CONNECT_NIGHTSCOUT_ENDPOINT: 'http://127.0.0.1:9/ns',
      }),
    });
    expect(updated.stderr).toBe('');
    expect(updated.code).toBe(0);
    expect(updated.stdout).toContain('updated source from-file');
    expect(updated.stdout).toContain('secrets not given were kept');
    expect((await store.get('from-file'))?.config.settings).toMatchObject({ shareRegion: 'ous' });
    expect(await storedCredentials('from-file')).toEqual({
      vendor: { accountName: ACCOUNT, password: CANARY },
      nightscout: { apiSecret: NS_CANARY },
    });
    expect((await cli(['sources', 'remove', 'from-file', '--yes', ...target()])).code).toBe(0);
  });

  it('answers --help on every command and rejects unknown options', async () => {
    const commands = [
      [],
      ['sources'],
      ['sources', 'add'],
      ['sources', 'list'],
      ['sources', 'show'],
      ['sources', 'pause'],
      ['sources', 'resume'],
      ['sources', 'update-credentials'],
      ['sources', 'remove'],
      ['check-login'],
      ['dlq'],
      ['dlq', 'redrive'],
      ['login'],
    ];
    for (const command of commands) {
      const { code, stdout } = await cli([...command, '--help'], { env: {} });
      expect(code, command.join(' ')).toBe(0);
      expect(stdout, command.join(' ')).toMatch(/Usage: nightscout-connect/);
    }
    const unknown = await cli(['sources', 'list', `--password=${WRONG}`], { env: {} });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option --password');
    expect((await cli(['frobnicate'], { env: {} })).code).toBe(2);
    const noTable = await cli(['sources', 'list', '--target', 'aws', '--region', 'us-east-1'], { env: {} });
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toContain('--table');
  });
});

describe('CareLink login through the CLI', () => {
  let carelink: CareLinkSimulator;
  beforeAll(async () => {
    carelink = await startCareLinkSimulator({
      clock: { now: () => Date.now() },
      accounts: [
        { username: 'mum', password: 'carelink-pw-c4n4ry', role: 'carepartner', patients: [{ username: 'kid' }] },
        { username: 'kid', password: 'kid-pw-c4n4ry', role: 'patient' },
      ],
    });
  });
  afterAll(async () => {
    for (const text of allOutput)
      for (const secret of carelink.secrets()) if (secret.length >= 8) expect(text).not.toContain(secret);
    await carelink?.close();
  });

  /** Play the browser: load the authorize page, submit its form, return where the redirect points. */
  async function playBrowser(authorizeUrl: string): Promise<string> {
    const page = await fetch(authorizeUrl, { redirect: 'manual' });
    const html = await page.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no login form (HTTP ${page.status})`);
    const form = new URLSearchParams({ username: 'mum', password: 'carelink-pw-c4n4ry' });
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(m[1], m[2]);
    const res = await fetch(new URL(action, authorizeUrl), {
      method: 'POST',
      body: form.toString(),
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    const location = res.headers.get('location');
    if (res.status !== 302 || !location) throw new Error(`login form answered ${res.status}`);
    return location;
  }

  it('stores the tokens as vendor credentials, then sources add uses them, and a new login notifies the source', async () => {
    const settings = {
      CONNECT_SOURCE: 'minimedcarelink',
      CONNECT_SOURCE_ID: 'cli-carelink',
      CONNECT_CARELINK_REGION: 'eu',
      CONNECT_COUNTRY_CODE: 'gb',
      CONNECT_CARELINK_SERVER: carelink.url,
      CONNECT_CARELINK_DISCOVERY_URL: carelink.discoveryUrl,
      CONNECT_NIGHTSCOUT_ENDPOINT: 'http://127.0.0.1:9/ns',
    };
    const login = async () => {
      let printed = '';
      const result = await runCli(['login', '--source', 'minimedcarelink', ...target()], {
        stdout: (s) => {
          printed += s;
        },
        stderr: (s) => {
          printed += s;
        },
        env: env(settings),
        prompt: async () => playBrowser(/\s+(http\S+\/authorize\?\S+)/.exec(printed)![1]),
      });
      allOutput.push(printed);
      return { code: result, printed };
    };
    const first = await login();
    expect(first.code).toBe(0);
    expect(first.printed).toContain('CareLink tokens stored');
    expect(first.printed).toContain('no source cli-carelink yet');
    const stored = await storedCredentials('cli-carelink');
    expect(stored.vendor.refreshToken).toEqual(expect.any(String));
    expect(stored.vendor.clientId).toBe(carelink.clientId);

    // The settings file has no tokens: sources add keeps the stored ones and takes the API secret from stdin.
    const added = await cli(['sources', 'add', '--from-env', '--secrets-stdin', ...target()], {
      env: env(settings),
      stdin: `CONNECT_API_SECRET=${NS_CANARY}\n`,
    });
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(await storedCredentials('cli-carelink')).toEqual({
      vendor: stored.vendor,
      nightscout: { apiSecret: NS_CANARY },
    });

    // CareLink rejected the old tokens: the source is parked until a new login.
    const deps = { sources: store, specFor, parkedHints: PARKED_HINTS, log: silentLog };
    const now = Date.now();
    const ticked = await applySourceEvent(deps, 'cli-carelink', { type: 'clock.ticked', now, horizon: now + 120_000 });
    const frame = (ticked!.record.snapshot as { context: SourceContext }).context.loops.MinimedCarelink.frame;
    await applySourceEvent(deps, 'cli-carelink', {
      type: 'auth.rejected',
      now,
      loop: 'MinimedCarelink',
      frameId: frame!.id,
      code: 'CARELINK.LOGIN_REQUIRED',
    });
    expect((await store.get('cli-carelink'))?.status.state).toContain('session:rejected');

    const second = await login();
    expect(
      second.code,
      second.printed
        .split('\n')
        .filter((l) => /error|fail/i.test(l))
        .join('\n'),
    ).toBe(0);
    expect(second.printed).toContain('source cli-carelink notified (credentials.changed)');
    const after = await storedCredentials('cli-carelink');
    expect(after.vendor.refreshToken).not.toBe(stored.vendor.refreshToken);
    expect(after.nightscout).toEqual({ apiSecret: NS_CANARY });
    const record = await store.get('cli-carelink');
    expect((await store.recentTransitions('cli-carelink')).at(-1)?.event).toBe('credentials.changed');
    expect(record?.status.state).not.toContain('rejected');
    expect(record?.nextDueAt).toBeDefined();

    const check = await cli(['check-login', 'cli-carelink', ...target()]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('not available for minimedcarelink');
  });
});
