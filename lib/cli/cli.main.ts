/**
 * `nightscout-connect`: the management CLI (sources, check-login, dlq, login). `runCli` is the whole program with
 * injected I/O, so tests drive it in-process; `main` wires it to the real process (stdin read only when asked for
 * with --secrets-stdin, a readline prompt for `login`). Exit status: 0 ok, 1 failed, 2 usage or configuration error.
 *
 * Secrets are accepted only from stdin or files, never argv; output passes through a redactor that masks every
 * secret value this run has seen.
 */
import { createInterface } from 'node:readline/promises';
import { pathToFileURL } from 'node:url';
import { ConfigError, isSourceError, VersionConflictError } from '../domain/errors.js';
import { UsageError } from './argv.js';
import { runCheckLogin } from './check-login.command.js';
import { type CliIo, Output } from './cli.io.js';
import { runDlq } from './dlq.command.js';
import { LOGIN_VENDORS, runLogin } from './login.command.js';
import { NotFoundError, runSources } from './sources.command.js';

export type { CliIo } from './cli.io.js';

export const MAIN_HELP = `Usage: nightscout-connect <command> [options]

Manage the sources of a Nightscout Connect deployment (AWS, or --target local for the local runner/emulators).

Commands:
  sources add|list|show|pause|resume|update-credentials|remove   manage sources
  check-login <id> | --from-env                                  try one vendor login, store nothing
  dlq redrive --queue fetch|persist                              move dead-lettered messages back
${LOGIN_VENDORS.map((v) => `  ${`login --source ${v.kind}`.padEnd(63)}${v.login?.summary}\n`).join('')}
Where: --target aws|local, --table, --fetch-queue-url, --persist-queue-url, --secret-prefix, --credential-shards,
--region (or TABLE_NAME, FETCH_QUEUE_URL, PERSIST_QUEUE_URL, CREDENTIALS_SECRET_PREFIX, CREDENTIAL_SHARDS, AWS_REGION);
local: --target local finds a running \`npm start\` through .data/local-endpoints.json (--data <dir> for another
directory); --endpoint-dynamodb, --endpoint-sqs, --endpoint-secrets and the options above override what it says.

Secrets (passwords, API secrets, tokens, account names) are never taken from the command line: give them with
--secrets-stdin or --secrets-file. Run \`nightscout-connect <command> --help\` for details.
`;

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const out = new Output(io);
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        out.line(MAIN_HELP);
        return 2;
      case '--help':
      case '-h':
      case 'help':
        out.line(MAIN_HELP);
        return 0;
      case 'sources':
        return await runSources(rest, io, out);
      case 'check-login':
        return await runCheckLogin(rest, io, out);
      case 'dlq':
        return await runDlq(rest, io, out);
      case 'login':
        return await runLogin(rest, io, out);
      default:
        throw new UsageError(
          `unknown command "${command.replace(/[^\w-]/g, '')}"; commands: sources, check-login, dlq, login`,
        );
    }
  } catch (err) {
    return report(err, out);
  }
}

function report(err: unknown, out: Output): number {
  if (err instanceof UsageError) {
    out.error(`error: ${err.message}`);
    out.error('(run with --help for usage)');
    return 2;
  }
  if (err instanceof ConfigError) {
    out.error('invalid configuration:');
    for (const problem of err.problems) out.error(`  - ${problem}`);
    return 2;
  }
  if (err instanceof NotFoundError) {
    out.error(`error: ${err.message}`);
    return 1;
  }
  if (isSourceError(err)) {
    out.error(`failed: ${err.kind} ${err.code}: ${err.message}`);
    return 1;
  }
  if (err instanceof VersionConflictError) {
    out.error(`failed: ${err.message} (another writer changed it; run the command again)`);
    return 1;
  }
  // SDK errors name the operation and the problem; the redactor masks any secret value they might quote.
  const e = err as { name?: string; message?: string };
  out.error(`error: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`);
  return 1;
}

async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('reading secrets from stdin (KEY=value lines, end with Ctrl-D)…\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The real process: argv, env, stdout/stderr, stdin on demand, a readline prompt. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  let rl: ReturnType<typeof createInterface> | undefined;
  try {
    return await runCli(argv, {
      stdin: readAllStdin,
      stdout: (s) => process.stdout.write(s),
      stderr: (s) => process.stderr.write(s),
      env: process.env,
      prompt: async (question) => {
        rl ??= createInterface({
          input: process.stdin,
          output: process.stderr,
          terminal: Boolean(process.stdin.isTTY),
        });
        return rl.question(question);
      },
    });
  } finally {
    rl?.close();
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  process.exitCode = await main();
}
