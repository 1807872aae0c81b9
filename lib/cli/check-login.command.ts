/**
 * `check-login <id>` / `check-login --from-env`: one vendor login (authenticate + authorize) with the stored or the
 * given credentials, to tell a person whether their password works. It stores nothing (no session, no data, no state
 * change) and never retries: a second try with a bad password is how accounts get locked.
 *
 * Not offered for a vendor that declares it unavailable (`checkLogin` in its declaration): CareLink's refresh tokens
 * rotate, so a test login would consume the stored token and break the running source.
 */

import { silentLog } from '../adapters/system/system.observability.js';
import { parseConnectSource } from '../config/connect-env.config.js';
import { isSourceError } from '../domain/errors.js';
import type { SourceConfig, SourceCredentials } from '../domain/source.js';
import type { Clock } from '../ports/observability.port.js';
import { driverFor, vendorFor } from '../sources/vendor.catalog.js';
import { bool, type FlagSpecs, helpText, parseArgs, UsageError } from './argv.js';
import { type CliIo, type Output, when } from './cli.io.js';
import { contextFor, TARGET_FLAGS } from './cli.target.js';
import { secretStrings } from './read-secret.js';
import { gatherSourceValues, SOURCE_INPUT_FLAGS } from './source-input.js';
import { NotFoundError } from './sources.command.js';

const USAGE =
  'nightscout-connect check-login (<id> | --from-env | --file <path>) [--secrets-stdin | --secrets-file <path>]';
const DESCRIPTION = [
  'Tries one vendor login with the stored credentials of source <id>, or with settings and secrets given like for',
  '`sources add`. Reports ok, or the failure kind and code (authRejected, lockedOut, retryable, permanent). Stores',
  'nothing and never retries. Exit status: 0 ok, 1 login failed.',
].join('\n');

export type LoginCheck =
  | { ok: true; kind: string; sessionExpiresAt?: number }
  | { ok: false; kind: string; failure: string; code: string; message: string; lockedUntil?: number };

/** One authenticate + authorize through the driver. Errors that are not SourceErrors propagate. */
export async function checkLogin(
  config: SourceConfig,
  credentials: SourceCredentials,
  clock: Clock,
): Promise<LoginCheck> {
  const unavailable = vendorFor(config.kind).checkLogin?.unavailable;
  if (unavailable) throw new UsageError(`check-login is not available for ${config.kind}: ${unavailable}`);
  const driver = await driverFor(config);
  const settings = driver.parseSettings(config.settings);
  driver.checkCredentials(credentials);
  const ctx = { sourceId: config.id, settings, credentials, now: clock.now(), log: silentLog };
  try {
    const auth = await driver.session.authenticate(ctx);
    const grant = await driver.session.authorize(ctx, auth);
    return { ok: true, kind: config.kind, sessionExpiresAt: grant.expiresAt ?? ctx.now + driver.session.lifetimeMs };
  } catch (err) {
    if (!isSourceError(err)) throw err;
    return {
      ok: false,
      kind: config.kind,
      failure: err.kind,
      code: err.code,
      message: err.message,
      ...(err.lockedUntil !== undefined ? { lockedUntil: err.lockedUntil } : {}),
    };
  }
}

export async function runCheckLogin(argv: string[], io: CliIo, out: Output): Promise<number> {
  const specs: FlagSpecs = { ...SOURCE_INPUT_FLAGS, ...TARGET_FLAGS };
  const args = parseArgs(argv, specs);
  if (bool(args, 'help')) {
    out.line(helpText(USAGE, DESCRIPTION, specs));
    return 0;
  }
  const clock = io.clock ?? { now: () => Date.now() };
  let config: SourceConfig;
  let credentials: SourceCredentials;
  if (args.positionals.length === 1) {
    const given = Object.keys(args.flags).filter((f) => f in SOURCE_INPUT_FLAGS);
    if (given.length > 0)
      throw new UsageError(
        `check-login <id> uses the stored settings and credentials; --${given[0]} is not allowed with an id`,
      );
    const ctx = contextFor(args, io, out);
    try {
      const record = await ctx.sources().get(args.positionals[0]);
      if (!record) throw new NotFoundError(`no source with id ${args.positionals[0]} (see: sources list)`);
      config = record.config;
      credentials = await ctx.credentials().get(record.id, { fresh: true });
    } finally {
      ctx.close();
    }
  } else if (args.positionals.length === 0) {
    if (!bool(args, 'from-env') && args.flags.file === undefined && args.flags.source === undefined) {
      throw new UsageError('check-login needs a source id, or settings: --from-env, --file or --source … (see --help)');
    }
    const values = await gatherSourceValues(args, io.env, out);
    // Only the vendor login is checked: a missing Nightscout secret should not stop it.
    if (!values.CONNECT_API_SECRET && !values.CONNECT_NIGHTSCOUT_TOKEN)
      values.CONNECT_API_SECRET = 'unused-by-check-login';
    const parsed = parseConnectSource(values);
    config = parsed.config;
    credentials = parsed.credentials;
  } else {
    throw new UsageError('check-login takes at most one source id');
  }
  out.addSecrets(secretStrings(credentials));

  const result = await checkLogin(config, credentials, clock);
  if (result.ok) {
    out.line(
      `login ok: ${config.id} (${result.kind}); a session would last until ${when(result.sessionExpiresAt, clock.now())}`,
    );
    out.line('nothing was stored; the running source keeps its own session');
    return 0;
  }
  out.line(`login failed: ${config.id} (${result.kind}): ${result.failure} ${result.code}`);
  out.line(`  ${result.message}`);
  if (result.failure === 'authRejected')
    out.line('  the vendor refused these credentials; fix them, then: sources update-credentials <id> --secrets-stdin');
  if (result.failure === 'lockedOut')
    out.line(
      `  the account is locked${result.lockedUntil ? ` until about ${when(result.lockedUntil, clock.now())}` : ''}; do not retry before then`,
    );
  if (result.failure === 'retryable')
    out.line('  the vendor or the network failed (not the credentials); try again later');
  return 1;
}
