/**
 * `sources add|list|show|pause|resume|update-credentials|remove`: thin wrappers around the operator use cases in
 * lib/app/manage-sources.ts. Nothing here prints a credential: records hold none, and secret input is only passed on.
 */
import {
  addOrUpdateSource,
  pauseSource,
  removeSource,
  resumeSource,
  updateCredentials,
} from '../app/manage-sources.js';
import { parseConnectSource } from '../config/connect-env.config.js';
import { ConfigError } from '../domain/errors.js';
import type { SourceCredentials } from '../domain/source.js';
import type { SourceRecord, TransitionRecord } from '../ports/source.store.port.js';
import { bool, type FlagSpecs, helpText, parseArgs, UsageError } from './argv.js';
import { age, type CliIo, type Output, table, when } from './cli.io.js';
import { type CliContext, contextFor, TARGET_FLAGS } from './cli.target.js';
import { credentialsAsEnv, isSecretKey, secretStrings } from './read-secret.js';
import {
  configAsEnv,
  gatherSourceValues,
  parseWithStoredSecrets,
  readSecretInput,
  SECRET_INPUT_FLAGS,
  SOURCE_INPUT_FLAGS,
} from './source-input.js';

export const SOURCES_HELP = `Usage: nightscout-connect sources <command> [options]

Commands:
  add                        add a source, or update an existing one (settings from flags, --file or --from-env)
  list                       one line per source: id, kind, state, newest reading age, next due, last error
  show <id>                  everything about one source, with its recent transitions
  pause <id>                 stop polling (the source leaves the due index)
  resume <id>                start polling again
  update-credentials <id>    store new secrets (stdin or file); un-parks a source whose login was rejected
  remove <id> --yes          delete the source, its session and its credentials

Run \`nightscout-connect sources <command> --help\` for the options of each.
`;

const JSON_FLAG: FlagSpecs = { json: { help: 'print JSON instead of text' } };

type Runner = (ctx: CliContext, args: ReturnType<typeof parseArgs>, io: CliIo, out: Output) => Promise<number>;

interface SubCommand {
  usage: string;
  description: string;
  flags: FlagSpecs;
  /** Number of positional ids expected. */
  ids: 0 | 1;
  run: Runner;
}

const SUBCOMMANDS: Record<string, SubCommand> = {
  add: {
    usage:
      'nightscout-connect sources add (--source <kind> --nightscout-endpoint <url> [--set KEY=VALUE…] | --file <path> | --from-env) [--secrets-stdin | --secrets-file <path>]',
    description: [
      'Adds a source (or updates the settings and credentials of an existing one with the same id) and prints its id',
      'and next due time. Settings are validated like CONNECT_* variables. Secrets (passwords, API secrets, tokens,',
      'account names) are never accepted as flags: give them on stdin or in a file, e.g.',
      "  printf 'CONNECT_SHARE_ACCOUNT_NAME=%s\\nCONNECT_SHARE_PASSWORD=%s\\nCONNECT_API_SECRET=%s\\n' … | nightscout-connect sources add … --secrets-stdin",
      'Secrets left out are kept from the credentials already stored for the same source id.',
    ].join('\n'),
    flags: SOURCE_INPUT_FLAGS,
    ids: 0,
    run: async (ctx, args, io, out) => {
      const values = await gatherSourceValues(args, io.env, out);
      if (!values.CONNECT_SOURCE)
        throw new UsageError('say which source: --source <kind>, --file <path> or --from-env (with CONNECT_SOURCE)');
      const deps = ctx.manage();
      const parsed = await parseWithStoredSecrets(values, deps.credentials);
      out.addSecrets(secretStrings(parsed.credentials));
      const { created, record } = await addOrUpdateSource(deps, parsed.config, parsed.credentials);
      const now = ctx.clock.now();
      out.line(
        `${created ? 'added' : 'updated'} source ${record.id} (${record.config.kind} → ${record.config.nightscout.endpoint}, API ${record.config.nightscout.apiVersion})`,
      );
      if (parsed.reusedStored) out.line('secrets not given were kept from the stored credentials');
      out.line(`state:    ${record.status.state}`);
      out.line(
        `next due: ${record.status.nextWakeAt === undefined ? 'not scheduled' : when(record.status.nextWakeAt, now)}`,
      );
      return 0;
    },
  },
  list: {
    usage: 'nightscout-connect sources list [--json]',
    description: 'Lists every source: id, kind, state, age of the newest reading, next due time and last error.',
    flags: JSON_FLAG,
    ids: 0,
    run: async (ctx, args, _io, out) => {
      const records = await ctx.sources().list();
      const now = ctx.clock.now();
      if (bool(args, 'json')) {
        out.line(
          JSON.stringify(
            records.map((r) => ({
              id: r.id,
              kind: r.config.kind,
              status: r.status,
              nextDueAt: r.status.nextWakeAt ?? null,
            })),
            null,
            2,
          ),
        );
        return 0;
      }
      if (records.length === 0) {
        out.line('no sources');
        return 0;
      }
      const rows = [['ID', 'KIND', 'STATE', 'NEWEST READING', 'NEXT DUE', 'LAST ERROR']];
      for (const r of records) {
        rows.push([
          r.id,
          r.config.kind,
          shortState(r),
          r.status.newestReadingAt === undefined ? '-' : `${age(r.status.newestReadingAt, now)} old`,
          r.status.nextWakeAt === undefined ? '-' : when(r.status.nextWakeAt, now),
          r.status.lastError ? `${r.status.lastError.kind} ${r.status.lastError.code}` : '-',
        ]);
      }
      for (const line of table(rows)) out.line(line);
      return 0;
    },
  },
  show: {
    usage: 'nightscout-connect sources show <id> [--json]',
    description:
      'Shows one source: state, newest reading, next due, last error, session expiry, lockout, why it is parked, and recent transitions.',
    flags: JSON_FLAG,
    ids: 1,
    run: async (ctx, args, _io, out) => {
      const record = await mustGet(ctx, args.positionals[0]);
      if (bool(args, 'json')) {
        const { snapshot: _snapshot, ...rest } = record;
        out.line(JSON.stringify({ ...rest, recent: await ctx.sources().recentTransitions(record.id) }, null, 2));
        return 0;
      }
      const recent = await ctx.sources().recentTransitions(record.id);
      for (const line of describeRecord(record, recent, ctx.clock.now())) out.line(line);
      return 0;
    },
  },
  pause: {
    usage: 'nightscout-connect sources pause <id>',
    description: 'Pauses a source: no more polling, and it leaves the due index (the tick no longer reads it).',
    flags: {},
    ids: 1,
    run: async (ctx, args, _io, out) => stateChange(ctx, out, args.positionals[0], 'paused', pauseSource),
  },
  resume: {
    usage: 'nightscout-connect sources resume <id>',
    description: 'Resumes a paused source.',
    flags: {},
    ids: 1,
    run: async (ctx, args, _io, out) => stateChange(ctx, out, args.positionals[0], 'resumed', resumeSource),
  },
  'update-credentials': {
    usage: 'nightscout-connect sources update-credentials <id> (--secrets-stdin | --secrets-file <path>)',
    description: [
      'Stores new secrets for a source (only the keys you give change; the rest are kept), drops its vendor session',
      'and sends credentials.changed, which un-parks a source whose login was rejected.',
    ].join('\n'),
    flags: SECRET_INPUT_FLAGS,
    ids: 1,
    run: async (ctx, args, _io, out) => {
      const id = args.positionals[0];
      if (!bool(args, 'secrets-stdin') && args.flags['secrets-file'] === undefined)
        throw new UsageError('give the new secrets with --secrets-stdin or --secrets-file');
      const given = await readSecretInput(args, out);
      if (Object.keys(given).length === 0) throw new UsageError('no secrets given');
      const settingsKeys = Object.keys(given).filter((k) => !isSecretKey(k));
      if (settingsKeys.length > 0)
        throw new UsageError(
          `update-credentials only changes secrets; ${settingsKeys.join(', ')} ${settingsKeys.length === 1 ? 'is a setting' : 'are settings'}: use sources add`,
        );
      const deps = ctx.manage();
      const record = await mustGet(ctx, id);
      let stored: SourceCredentials | undefined;
      try {
        stored = await deps.credentials.get(id, { fresh: true });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
      }
      const parsed = parseConnectSource({
        ...configAsEnv(record.config),
        ...(stored ? credentialsAsEnv(record.config.kind, stored) : {}),
        ...given,
      });
      if (parsed.config.id !== id) throw new Error(`internal: credentials parsed for ${parsed.config.id}, not ${id}`);
      out.addSecrets(secretStrings(parsed.credentials));
      const updated = await updateCredentials(deps, id, parsed.credentials);
      const now = ctx.clock.now();
      out.line(`credentials of ${id} updated (${Object.keys(given).join(', ')})`);
      if (updated) {
        out.line(`state:    ${updated.status.state}`);
        out.line(
          `next due: ${updated.status.nextWakeAt === undefined ? 'not scheduled' : when(updated.status.nextWakeAt, now)}`,
        );
      }
      return 0;
    },
  },
  remove: {
    usage: 'nightscout-connect sources remove <id> --yes',
    description: 'Deletes a source, its vendor session and its stored credentials. Data already in Nightscout stays.',
    flags: { yes: { help: 'confirm the removal' } },
    ids: 1,
    run: async (ctx, args, _io, out) => {
      const id = args.positionals[0];
      if (!bool(args, 'yes'))
        throw new UsageError(`removing ${id} deletes its state and credentials; add --yes to confirm`);
      await mustGet(ctx, id);
      await removeSource(ctx.manage(), id);
      out.line(`removed source ${id} (its session and credentials too)`);
      return 0;
    },
  },
};

export async function runSources(argv: string[], io: CliIo, out: Output): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === 'help' || name === '-h') {
    out.line(SOURCES_HELP);
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub)
    throw new UsageError(
      `unknown command "sources ${name.replace(/[^\w-]/g, '')}"; commands: ${Object.keys(SUBCOMMANDS).join(', ')}`,
    );
  const specs = { ...sub.flags, ...TARGET_FLAGS };
  const args = parseArgs(rest, specs);
  if (bool(args, 'help')) {
    out.line(helpText(sub.usage, sub.description, specs));
    return 0;
  }
  if (args.positionals.length !== sub.ids) {
    throw new UsageError(
      sub.ids === 1 ? `sources ${name} needs exactly one source id` : `sources ${name} takes no positional arguments`,
    );
  }
  const ctx = contextFor(args, io, out);
  try {
    return await sub.run(ctx, args, io, out);
  } finally {
    ctx.close();
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

async function mustGet(ctx: CliContext, id: string): Promise<SourceRecord> {
  const record = await ctx.sources().get(id);
  if (!record) throw new NotFoundError(`no source with id ${id} (see: sources list)`);
  return record;
}

async function stateChange(
  ctx: CliContext,
  out: Output,
  id: string,
  verb: string,
  apply: typeof pauseSource,
): Promise<number> {
  await mustGet(ctx, id);
  const applied = await apply(ctx.manage(), id);
  if (!applied) throw new NotFoundError(`no source with id ${id}`);
  const now = ctx.clock.now();
  out.line(`${applied.changed ? verb : `already ${verb}`}: ${id}`);
  out.line(`state:    ${applied.record.status.state}`);
  out.line(
    `next due: ${applied.record.status.nextWakeAt === undefined ? 'not scheduled' : when(applied.record.status.nextWakeAt, now)}`,
  );
  return 0;
}

/** A compact state for the list: the operation and the session region, which is what an operator acts on. */
export function shortState(record: SourceRecord): string {
  const { operation, sessionMode } = record.status;
  if (operation === 'paused') return 'paused';
  if (sessionMode === 'rejected') return 'auth-rejected';
  if (sessionMode === 'lockedOut') return 'locked-out';
  return `running (${sessionMode})`;
}

export function describeRecord(record: SourceRecord, recent: TransitionRecord[], now: number): string[] {
  const s = record.status;
  const settings = Object.entries(record.config.settings)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
  const lines = [
    `id:              ${record.id}`,
    `kind:            ${record.config.kind}`,
    `nightscout:      ${record.config.nightscout.endpoint} (API ${record.config.nightscout.apiVersion})`,
    `settings:        ${settings || '-'}`,
    `state:           ${s.state}`,
    `newest reading:  ${s.newestReadingAt === undefined ? 'none yet' : when(s.newestReadingAt, now)}`,
    `last success:    ${when(s.lastSuccessAt, now)}`,
    `next due:        ${s.nextWakeAt === undefined ? 'not scheduled (paused or parked)' : when(s.nextWakeAt, now)}`,
    `last error:      ${s.lastError ? `${s.lastError.kind} ${s.lastError.code}${s.lastError.loop ? ` in ${s.lastError.loop}` : ''} at ${when(s.lastError.at, now)}` : '-'}`,
    `session expires: ${when(s.sessionExpiresAt, now)}`,
    `locked until:    ${when(s.lockedUntil, now)}`,
    `parked:          ${s.parkedReason ?? '-'}`,
    `version:         ${record.version} (machine v${record.machineVersion})`,
    'recent transitions (oldest first):',
  ];
  if (recent.length === 0)
    lines.push('  none (routine fetch cycles are not traced; notable transitions are kept 14 days)');
  for (const t of recent) {
    lines.push(
      `  ${new Date(t.at).toISOString()}  ${t.event}  ${t.from} → ${t.to}${t.effects.length ? `  [${t.effects.join(', ')}]` : ''}`,
    );
  }
  return lines;
}
