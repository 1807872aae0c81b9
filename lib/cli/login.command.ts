/**
 * `login --source <kind>`: the interactive first login of a vendor that needs a person at a browser (CareLink: CAPTCHA
 * and MFA), for vendors whose declaration has `login`. Settings come from CONNECT_* (environment, `--file`, `--set`);
 * what the login yields goes into the credential store as the source's vendor credentials, merged into what is stored,
 * and an existing source gets `credentials.changed` (which also un-parks it after an auth rejection). Tokens are never
 * printed.
 */

import { updateCredentials } from '../app/manage-sources.js';
import { parseConnectSource } from '../config/connect-env.config.js';
import { ConfigError } from '../domain/errors.js';
import type { SourceCredentials } from '../domain/source.js';
import { driverFor, VENDORS, vendorFor } from '../sources/vendor.catalog.js';
import { bool, type FlagSpecs, helpText, parseArgs, UsageError } from './argv.js';
import type { CliIo, Output } from './cli.io.js';
import { contextFor, TARGET_FLAGS } from './cli.target.js';
import { placeholderSecrets, secretStrings } from './read-secret.js';
import { gatherSourceValues, SOURCE_INPUT_FLAGS } from './source-input.js';

/** The vendors that declare an interactive login. */
export const LOGIN_VENDORS = VENDORS.filter((v) => v.login);
const LOGIN_KINDS = LOGIN_VENDORS.map((v) => v.kind);

const USAGE = `nightscout-connect login --source ${LOGIN_KINDS.join('|') || '<kind>'} [--from-env | --file <path>] [--set KEY=VALUE…]`;
const DESCRIPTION = [
  'Logs in to a vendor that needs a person in a browser and stores what the login yields (a refresh token) as the',
  "source's credentials:",
  ...LOGIN_VENDORS.map((v) => `  ${v.kind} (${v.displayName}): ${v.login?.summary}`),
  "Settings (the vendor's CONNECT_* settings, CONNECT_NIGHTSCOUT_ENDPOINT, CONNECT_SOURCE_ID…) are read from the",
  'environment unless --file is given. If the source exists it resumes with the new credentials; otherwise add it',
  'afterwards with `sources add` and the same settings (the stored credentials are kept).',
].join('\n');

export async function runLogin(argv: string[], io: CliIo, out: Output): Promise<number> {
  const specs: FlagSpecs = { ...SOURCE_INPUT_FLAGS, ...TARGET_FLAGS };
  const args = parseArgs(argv, specs);
  if (bool(args, 'help')) {
    out.line(helpText(USAGE, DESCRIPTION, specs));
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError('login takes no positional arguments');
  // Settings come from the environment by default (the same CONNECT_* the source runs with).
  if (args.flags.file === undefined && args.flags['from-env'] === undefined) args.flags['from-env'] = true;
  const values = await gatherSourceValues(args, io.env, out);
  if (!values.CONNECT_SOURCE) throw new UsageError(`say which source: --source ${LOGIN_KINDS.join(' or ')}`);
  const vendor = vendorFor(values.CONNECT_SOURCE);
  const kind = vendor.kind;
  if (!vendor.login)
    throw new UsageError(
      `login is only needed for ${LOGIN_KINDS.join(', ')}; ${kind} logs in with the stored password (check it with check-login)`,
    );
  // What the login obtains are secrets: validate everything else with placeholders standing in for them.
  const probe = parseConnectSource({ ...values, ...placeholderSecrets(kind, values) });
  const id = probe.config.id;
  const driver = await driverFor(probe.config);
  const settings = driver.parseSettings(probe.config.settings);
  const interactiveLogin = driver.login;
  if (!interactiveLogin) throw new Error(`vendor ${kind} declares a login but its driver has none`);
  const givenNightscout = Object.fromEntries(
    Object.entries({ apiSecret: values.CONNECT_API_SECRET, token: values.CONNECT_NIGHTSCOUT_TOKEN }).filter(
      (e): e is [string, string] => Boolean(e[1]),
    ),
  );

  const prompt = io.prompt;
  if (!prompt) throw new UsageError('login needs an interactive terminal');
  const ctx = contextFor(args, io, out);
  try {
    const deps = ctx.manage();
    const record = await deps.sources.get(id);
    let existing: SourceCredentials | undefined;
    try {
      existing = await deps.credentials.get(id, { fresh: true });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
    out.addSecrets(secretStrings(existing));
    await interactiveLogin({
      settings,
      prompt,
      print: (line) => out.line(line),
      store: async (vendorCredentials) => {
        out.addSecrets(secretStrings(vendorCredentials));
        const merged: SourceCredentials = {
          vendor: { ...(existing?.vendor ?? {}), ...vendorCredentials },
          nightscout: { ...(existing?.nightscout ?? {}), ...givenNightscout },
        };
        if (record) await updateCredentials(deps, id, merged);
        else await deps.credentials.put(id, merged);
      },
      now: () => ctx.clock.now(),
    });
    if (record)
      out.line(`source ${id} notified (credentials.changed): it logs in with the new tokens on its next frame`);
    else
      out.line(
        `no source ${id} yet: add it with \`nightscout-connect sources add\` and the same settings; the stored tokens are used`,
      );
    return 0;
  } finally {
    ctx.close();
  }
}
