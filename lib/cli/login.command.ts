/**
 * `login --source minimedcarelink`: the browser-assisted CareLink login (carelink-login.flow.ts). Settings come
 * from CONNECT_* (environment, `--file`, `--set`), the tokens go into the credential store as the source's vendor
 * credentials, merged into what is stored, and an existing source gets `credentials.changed` (which also un-parks it
 * after an auth rejection). Tokens are never printed.
 */
import { ConfigError } from '../domain/errors.js';
import type { SourceCredentials } from '../domain/source.js';
import { updateCredentials } from '../app/manage-sources.js';
import { parseConnectSource } from '../config/connect-env.config.js';
import { runCareLinkLoginCommand, type CareLinkVendorCredentials } from '../sources/carelink/carelink-login.flow.js';
import type { CareLinkSettings } from '../sources/carelink/carelink.settings.js';
import { canonicalKind, driverFor } from '../sources/source.registry.js';
import { UsageError, bool, helpText, parseArgs, type FlagSpecs } from './argv.js';
import { TARGET_FLAGS, contextFor } from './cli.target.js';
import type { CliIo, Output } from './cli.io.js';
import { placeholderSecrets, secretStrings } from './read-secret.js';
import { SOURCE_INPUT_FLAGS, gatherSourceValues } from './source-input.js';

const USAGE = 'nightscout-connect login --source minimedcarelink [--from-env | --file <path>] [--set KEY=VALUE…]';
const DESCRIPTION = [
  'Logs in to Medtronic CareLink in a browser (CAPTCHA and MFA need a person) and stores the resulting refresh token',
  'as the source\'s credentials. Settings (CONNECT_COUNTRY_CODE, CONNECT_CARELINK_REGION, CONNECT_NIGHTSCOUT_ENDPOINT,',
  'CONNECT_SOURCE_ID…) are read from the environment unless --file is given. If the source exists it resumes with the',
  'new tokens; otherwise add it afterwards with `sources add` and the same settings (the tokens are kept).',
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
  if (!values.CONNECT_SOURCE) throw new UsageError('say which source: --source minimedcarelink');
  const kind = canonicalKind(values.CONNECT_SOURCE);
  if (kind !== 'minimedcarelink') throw new UsageError(`login is only needed for minimedcarelink; ${kind} logs in with the stored password (check it with check-login)`);
  // The tokens are what this command obtains: validate everything else with placeholders standing in for them.
  const probe = parseConnectSource({ ...values, ...placeholderSecrets(kind, values) });
  const id = probe.config.id;
  const settings = driverFor(probe.config).parseSettings(probe.config.settings) as CareLinkSettings;
  const givenNightscout = Object.fromEntries(
    Object.entries({ apiSecret: values.CONNECT_API_SECRET, token: values.CONNECT_NIGHTSCOUT_TOKEN }).filter((e): e is [string, string] => Boolean(e[1])),
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
    await runCareLinkLoginCommand({
      settings,
      prompt,
      print: (line) => out.line(line),
      store: async (vendor: CareLinkVendorCredentials) => {
        out.addSecrets(secretStrings(vendor));
        const merged: SourceCredentials = {
          vendor: { ...(existing?.vendor ?? {}), ...vendor },
          nightscout: { ...(existing?.nightscout ?? {}), ...givenNightscout },
        };
        if (record) await updateCredentials(deps, id, merged);
        else await deps.credentials.put(id, merged);
      },
      now: () => ctx.clock.now(),
    });
    if (record) out.line(`source ${id} notified (credentials.changed): it logs in with the new tokens on its next frame`);
    else out.line(`no source ${id} yet: add it with \`nightscout-connect sources add\` and the same settings; the stored tokens are used`);
    return 0;
  } finally {
    ctx.close();
  }
}
