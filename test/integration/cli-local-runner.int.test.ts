// The CLI managing sources end to end against the real local runner (`npm start`'s startRealtime: dynalite on disk,
// fauxqs, the Secrets Manager stand-in kept on disk, the real handlers and pollers, in a temporary data directory),
// with a Dexcom Share and a Nightscout simulator. The CLI gets nothing but `--target local --data <dir>`: it finds the
// runner through local-endpoints.json. Secrets go in on stdin only and must come out nowhere but the credential file.
//
// The Share simulator holds back readings newer than `holdAfter` (as a phone that has not uploaded yet); releasing
// them while the source is parked is what lets "data flows again after the fix" be checked reading by reading.
//
// Only the first test waits for the runner's own timer. Everywhere else the test runs the tick itself and then
// `settle()`s the runner (every queued message handled to the end), so "nothing reached the vendor" is checked after
// the work a due source would have caused, never after a pause that might simply have been too short.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../lib/adapters/aws/aws-clients.js';
import { runCli } from '../../lib/cli/cli.main.js';
import { LOCAL_ENDPOINTS_FILE } from '../../lib/config/local-endpoints.js';
import { DEXCOM_DEVICE } from '../../lib/sources/dexcom-share/dexcom-share.vendor.js';
import { type NightscoutSimulator, startNightscoutSimulator } from '../../local/nightscout/nightscout.simulator.js';
import { type LocalRunner, type RealtimeOptions, SECRETS_FILE, startRealtime } from '../../local/realtime-runner.js';
import {
  type DexcomShareSimulator,
  startDexcomShareSimulator,
} from '../../local/vendors/dexcom-share/dexcom-share.simulator.js';

const ID = 'cli-local-dex';
const ACCOUNT = 'local.runner.parent@example.com';
const PASSWORD = 'Local-Canary-Pw-31c7-DO-NOT-LEAK';
const WRONG = 'Local-Wrong-Pw-8e02-DO-NOT-LEAK';
const NS_SECRET = 'local-ns-secret-canary-6a4f';
const SECRETS = [ACCOUNT, PASSWORD, WRONG, NS_SECRET];
const MIN = 60_000;
const FIVE_MIN = 5 * MIN;
const SLOT_AHEAD_MS = 150_000;
/** Short, so the first test sees the runner pick up a CLI change on its own rhythm; the AWS schedule is one minute. */
const TICK_MS = 400;

let dataDir: string;
let share: DexcomShareSimulator;
let nightscout: NightscoutSimulator;
let runner: LocalRunner | undefined;
let holdAfter = Number.POSITIVE_INFINITY;
const output: string[] = [];

function runnerOptions(extra: Partial<RealtimeOptions> = {}): RealtimeOptions {
  return {
    demo: 'off',
    demoKind: 'dexcomshare',
    dataDir,
    verbose: false,
    // Any free ports: the CLI must find them through the endpoints file, not by knowing the defaults.
    ports: { dynamodb: 0, sqs: 0, secrets: 0 },
    tickIntervalMs: TICK_MS,
    statusIntervalMs: 1_000,
    out: (line) => output.push(line),
    ...extra,
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'nsc-cli-local-'));
  const now = Date.now();
  holdAfter = now - 30 * MIN;
  share = await startDexcomShareSimulator({
    clock: { now: () => Date.now() },
    accounts: [{ accountName: ACCOUNT, password: PASSWORD }],
    // About three hours of history, well inside the source's look-back, so "every reading" is exact. The grid is
    // placed so the next reading slot is 2½ min away: the source's next regular poll (slot + 10–18 s) stays outside
    // the tick's 60 s look-ahead for the whole test, and only what the CLI causes reaches the vendor.
    readingEpoch: now + SLOT_AHEAD_MS - 37 * FIVE_MIN,
    publishLagMs: (readingAt) => (readingAt > holdAfter ? Number.POSITIVE_INFINITY : 0),
  });
  nightscout = await startNightscoutSimulator({ apiSecret: NS_SECRET });
  runner = await startRealtime(runnerOptions());
});

afterAll(async () => {
  await runner?.stop();
  await Promise.all([share?.close(), nightscout?.close()]);
  // Whatever happened: no secret in anything the CLI or the runner printed.
  for (const text of output) for (const secret of SECRETS) expect(text).not.toContain(secret);
  rmSync(dataDir, { recursive: true, force: true });
});

async function cli(argv: string[], stdin?: string) {
  let stdout = '';
  let stderr = '';
  // An empty environment: nothing from the developer's shell (TABLE_NAME, AWS_ENDPOINT_URL_*) may help or interfere.
  const code = await runCli([...argv, '--target', 'local', '--data', dataDir], {
    stdin,
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: {},
  });
  output.push(stdout, stderr);
  return { code, stdout, stderr };
}

interface Listed {
  id: string;
  status: {
    state: string;
    lastError?: { kind: string; code: string; at: number };
    lastSuccessAt?: number;
    newestReadingAt?: number;
  };
  nextDueAt: number | null;
}

async function listed(): Promise<Listed[]> {
  const { code, stdout } = await cli(['sources', 'list', '--json']);
  expect(code).toBe(0);
  return JSON.parse(stdout) as Listed[];
}

async function state(): Promise<Listed['status']> {
  const record = (await listed()).find((r) => r.id === ID);
  if (!record) throw new Error(`${ID} is not listed`);
  return record.status;
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      // The runner's last status lines say where the source is stuck.
      const status = output
        .filter((l) => l.startsWith('[status]') || l.includes('"level":"error"') || l.includes('"level":"warn"'))
        .slice(-6)
        .join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n${status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One tick run by the test, and everything it caused handled to the end. */
async function tickAndSettle(): Promise<void> {
  await runner!.tick();
  await runner!.settle();
}

/** Dates of this source's entries in Nightscout, with how often each was written. */
function entryCounts(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const e of nightscout.store.entries)
    if (e.device === DEXCOM_DEVICE) counts.set(Number(e.date), (counts.get(Number(e.date)) ?? 0) + 1);
  return counts;
}

/** Every reading the vendor had published by `at` is in Nightscout, once; nothing else is. */
function deliveredExactly(at: number): boolean {
  const vendor = share
    .readingsUpTo(at)
    .map((r) => r.date)
    .filter((d) => d <= holdAfter || holdAfter === Number.POSITIVE_INFINITY);
  const counts = entryCounts();
  return counts.size === vendor.length && vendor.every((d) => counts.get(d) === 1);
}

const secretsIn = (password: string) =>
  `CONNECT_SHARE_ACCOUNT_NAME=${ACCOUNT}\nCONNECT_SHARE_PASSWORD=${password}\nCONNECT_API_SECRET=${NS_SECRET}\n`;

describe('nightscout-connect --target local against the running local runner', () => {
  it('finds the runner through local-endpoints.json, which holds endpoints and no secret', async () => {
    const file = join(dataDir, LOCAL_ENDPOINTS_FILE);
    const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({
      format: 1,
      pid: process.pid,
      endpoints: runner!.endpoints.endpoints,
      table: runner!.endpoints.table,
    });
    expect(output.join('\n')).toContain(runner!.endpoints.endpoints.dynamodb);
    const { code, stdout, stderr } = await cli(['sources', 'list']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('no sources');
  });

  it('sources add: the running runner picks the source up and delivers every published reading to Nightscout once', async () => {
    const added = await cli(
      [
        'sources',
        'add',
        '--source',
        'dexcomshare',
        '--source-id',
        ID,
        '--nightscout-endpoint',
        nightscout.url,
        '--set',
        `SHARE_SERVER=${share.url}`,
        '--secrets-stdin',
      ],
      secretsIn(PASSWORD),
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`added source ${ID} (dexcomshare → ${nightscout.url}`);

    // The runner's own timer picks the new source up.
    await until('the held-back-free history in Nightscout', () => deliveredExactly(holdAfter));
    await runner!.settle();
    expect(deliveredExactly(holdAfter)).toBe(true);
    expect(entryCounts().size).toBeGreaterThanOrEqual(25); // 2½ h of 5-minute readings
    expect(share.stats.login).toBe(1);
    // Settled: no frame in flight any more (credentials.changed, used below, leaves an in-flight frame's loop alone).
    const settled = await state();
    expect(settled.newestReadingAt).toBe(Math.max(...entryCounts().keys()));
    expect(settled.state).toBe('running/session:active/DexcomShare:waiting');

    // The credentials went to the stand-in's file (0600), and nowhere else on disk or in the table.
    const secretsFile = join(dataDir, SECRETS_FILE);
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(secretsFile, 'utf8')).toContain(PASSWORD);
    const dynamo = createDynamoDbClient({ endpoint: runner!.endpoints.endpoints.dynamodb });
    try {
      const items = JSON.stringify((await dynamo.send(new ScanCommand({ TableName: runner!.endpoints.table }))).Items);
      expect(items).toContain(ID);
      for (const secret of SECRETS) expect(items).not.toContain(secret);
    } finally {
      dynamo.destroy();
    }
    expect(readFileSync(join(dataDir, LOCAL_ENDPOINTS_FILE), 'utf8')).not.toMatch(new RegExp(SECRETS.join('|')));
  });

  it('sources list and show describe the running source', async () => {
    const list = await cli(['sources', 'list']);
    expect(list.code).toBe(0);
    const row = list.stdout.split('\n').find((l) => l.startsWith(ID));
    expect(row).toMatch(
      new RegExp(
        `^${ID}\\s+dexcomshare\\s+running \\(active\\)\\s+\\d+ (s|min) old\\s+\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z \\(in \\d+ (s|min)\\)\\s+-$`,
      ),
    );

    const show = await cli(['sources', 'show', ID]);
    expect(show.stderr).toBe('');
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^id:\\s+${ID}$`, 'm'));
    expect(show.stdout).toMatch(
      new RegExp(`^nightscout:\\s+${nightscout.url.replace(/[.:/]/g, '\\$&')} \\(API v1\\)$`, 'm'),
    );
    expect(show.stdout).toMatch(/^state:\s+running\/session:active/m);
    expect(show.stdout).toMatch(/^last error:\s+-$/m);
  });

  it('sources pause: no vendor request while paused, even with the source made due; resume: it is polled at once', async () => {
    const paused = await cli(['sources', 'pause', ID]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain(`paused: ${ID}`);
    // New credentials make every loop due now; paused, the source must still not be polled.
    const changed = await cli(
      ['sources', 'update-credentials', ID, '--secrets-stdin'],
      `CONNECT_SHARE_PASSWORD=${PASSWORD}\n`,
    );
    expect(changed.code).toBe(0);
    const requests = share.requests.length;
    await tickAndSettle();
    expect(share.requests.length).toBe(requests);
    expect((await listed()).find((r) => r.id === ID)?.nextDueAt).toBeNull();
    expect((await state()).state).toMatch(/^paused/);

    const resumed = await cli(['sources', 'resume', ID]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`resumed: ${ID}`);
    // Due since the credential change: the next tick sends a frame, which logs in again (the session was dropped).
    await tickAndSettle();
    expect(share.stats.login).toBe(2);
    expect((await state()).state).toBe('running/session:active/DexcomShare:waiting');
  });

  it('update-credentials with a wrong password parks the source; check-login says so; the right one un-parks it and data flows', async () => {
    const wrong = await cli(
      ['sources', 'update-credentials', ID, '--secrets-stdin'],
      `CONNECT_SHARE_PASSWORD=${WRONG}\n`,
    );
    expect(wrong.code).toBe(0);
    expect(wrong.stdout).toContain(`credentials of ${ID} updated (CONNECT_SHARE_PASSWORD)`);
    await tickAndSettle();
    expect((await state()).state).toContain('session:rejected');
    expect(share.stats.failedLogins).toBe(1);
    expect((await state()).lastError).toMatchObject({ kind: 'authRejected' });
    expect((await cli(['sources', 'list'])).stdout).toMatch(new RegExp(`^${ID}\\s+dexcomshare\\s+auth-rejected`, 'm'));

    const check = await cli(['check-login', ID]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`login failed: ${ID} (dexcomshare): authRejected`);
    expect(share.stats.failedLogins).toBe(2);

    // The phone uploads the held-back half hour while the source is parked: a parked source is not polled.
    const releasedAt = Date.now();
    holdAfter = Number.POSITIVE_INFINITY;
    const requests = share.requests.length;
    await tickAndSettle();
    expect(share.requests.length).toBe(requests);
    expect(entryCounts().size).toBeLessThan(share.readingsUpTo(releasedAt).length);

    const fixed = await cli(
      ['sources', 'update-credentials', ID, '--secrets-stdin'],
      `CONNECT_SHARE_PASSWORD=${PASSWORD}\n`,
    );
    expect(fixed.code).toBe(0);
    await tickAndSettle();
    expect(deliveredExactly(releasedAt)).toBe(true);
    // lastError is history (kept for `show`); cleared means logged in and a success after it.
    const cleared = await state();
    expect(cleared.state).toMatch(/^running\/session:active/);
    expect(cleared.lastSuccessAt).toBeGreaterThan(cleared.lastError?.at ?? Number.POSITIVE_INFINITY);
    expect((await cli(['sources', 'list'])).stdout).toMatch(
      new RegExp(`^${ID}\\s+dexcomshare\\s+running \\(active\\)`, 'm'),
    );
    expect(share.stats.failedLogins).toBe(2);

    const ok = await cli(['check-login', ID]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`login ok: ${ID} (dexcomshare)`);
  });

  it('a restarted runner keeps the source and its credentials; while it is down the CLI says how to start it', async () => {
    await runner!.stop();
    runner = undefined;
    expect(existsSync(join(dataDir, LOCAL_ENDPOINTS_FILE))).toBe(false);
    const down = await cli(['sources', 'list']);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('start the local runner (npm start)');

    // A long tick interval from here on: ticks are run by hand, so "no request after remove" cannot race a timer.
    runner = await startRealtime(runnerOptions({ tickIntervalMs: 3_600_000 }));
    expect(output.join('\n')).toContain(`source ${ID} (dexcomshare) → ${nightscout.url} (stored)`);
    expect(statSync(join(dataDir, SECRETS_FILE)).mode & 0o777).toBe(0o600);
    const ok = await cli(['check-login', ID]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('login ok');
  });

  it('sources remove: the runner sends no more requests for it', async () => {
    // Control: a source made due is polled by the next tick.
    expect(
      (await cli(['sources', 'update-credentials', ID, '--secrets-stdin'], `CONNECT_SHARE_PASSWORD=${PASSWORD}\n`))
        .code,
    ).toBe(0);
    const logins = share.stats.login;
    await tickAndSettle();
    expect(share.stats.login).toBe(logins + 1);
    expect((await state()).state).toBe('running/session:active/DexcomShare:waiting');

    // Due again, then removed before any tick: nothing may reach the vendor.
    expect(
      (await cli(['sources', 'update-credentials', ID, '--secrets-stdin'], `CONNECT_SHARE_PASSWORD=${PASSWORD}\n`))
        .code,
    ).toBe(0);
    const refused = await cli(['sources', 'remove', ID]);
    expect(refused.code).toBe(2);
    const removed = await cli(['sources', 'remove', ID, '--yes']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`removed source ${ID}`);
    const requests = share.requests.length;
    await tickAndSettle();
    expect(share.requests.length).toBe(requests);
    expect((await cli(['sources', 'list'])).stdout.trim()).toBe('no sources');
    const gone = await cli(['check-login', ID]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`no source with id ${ID}`);
  });
});
