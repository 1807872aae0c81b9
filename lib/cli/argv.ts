/**
 * Command lines are parsed by `node:util` `parseArgs` in strict mode: `--flag value`, `--flag=value`, boolean
 * `--flag`, repeatable flags, positionals, `--` to end options, and `-h` for `--help`. Each command declares its flags
 * as FlagSpecs (which also give its `--help`), so an unknown or misspelt flag is a clear error naming the flag instead
 * of being silently ignored. The CLI, `npm start` and `npm run bench` all parse through here.
 */
import { type ParseArgsConfig, parseArgs as parseNodeArgs } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  /** Takes a value (otherwise boolean). */
  value?: boolean;
  /** May be given more than once (values collected in order). */
  repeat?: boolean;
  /** One line for `--help`. */
  help: string;
  /** Placeholder shown in help, e.g. `<url>`. */
  arg?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
}

/** `help` answers to `-h` as well; no other flag has a short form. */
function nodeOptions(specs: FlagSpecs): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      {
        type: spec.value ? ('string' as const) : ('boolean' as const),
        multiple: Boolean(spec.repeat),
        ...(name === 'help' ? { short: 'h' } : {}),
      },
    ]),
  );
}

/**
 * Parses `argv` against `specs`. With a `help` flag declared, `--help` or `-h` anywhere before `--` wins: the result
 * is only `{ help: true }`, whatever else the line holds, so asking for help never fails and never does anything
 * else. Throws UsageError naming the flag (never echoing a value: someone may have typed `--password=…`).
 */
export function parseArgs(argv: string[], specs: FlagSpecs): ParsedArgs {
  const options = nodeOptions(specs);
  if (specs.help) {
    const end = argv.indexOf('--');
    if ((end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h'))
      return { flags: { help: true }, positionals: [] };
  }
  let parsed: ReturnType<typeof parseNodeArgs>;
  try {
    parsed = parseNodeArgs({ args: argv, options, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    throw new UsageError(explain(argv, specs, err));
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option' || specs[token.name]?.repeat) continue;
    // parseArgs keeps the last of a repeated single-value flag; here a second one is a mistake.
    if (seen.has(token.name)) throw new UsageError(`--${token.name} given twice`);
    seen.add(token.name);
  }
  return { flags: parsed.values as ParsedArgs['flags'], positionals: parsed.positionals };
}

/** Our message for what strict parsing rejected, found from the tokens of a lenient pass over the same line. */
function explain(argv: string[], specs: FlagSpecs, err: unknown): string {
  const { tokens } = parseNodeArgs({
    args: argv,
    options: nodeOptions(specs),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = specs[token.name];
    const flag = token.rawName.startsWith('--') ? `--${token.name}` : token.rawName;
    if (!spec)
      return token.rawName.startsWith('--')
        ? `unknown option ${flag}; see --help`
        : `unknown option ${flag} (options are spelled --name); see --help`;
    if (
      spec.value &&
      (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && token.value !== '-'))
    ) {
      return `${flag} needs a value${spec.arg ? ` ${spec.arg}` : ''}`;
    }
    if (!spec.value && token.inlineValue) return `${flag} takes no value`;
  }
  return (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ? 'unknown option; see --help'
    : 'invalid command line; see --help';
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.flags[name];
  return Array.isArray(v) ? v : [];
}

/** One indented line per flag: `--name <arg>` and its help, aligned. */
export function optionsText(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => [
    `${name === 'help' ? '-h, ' : ''}--${name}${spec.value ? ` ${spec.arg ?? '<value>'}` : ''}`,
    spec.help + (spec.repeat ? ' (repeatable)' : ''),
  ]);
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}\n`).join('');
}

/** Help text: usage line, description, then one line per flag. */
export function helpText(usage: string, description: string, specs: FlagSpecs): string {
  return [`Usage: ${usage}`, '', description, '', 'Options:', optionsText(specs)].join('\n');
}
