/**
 * A small argv parser (no CLI framework is installed): `--flag value`, `--flag=value`, boolean `--flag`, repeatable
 * flags, positionals, and `--` to end options. Each command declares its flags, so an unknown or misspelt flag is a
 * clear error instead of being silently ignored.
 */

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

export function parseArgs(argv: string[], specs: FlagSpecs): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg} (options are spelled --name)`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs[name];
    // Never echo an unknown option's value: someone may have tried `--password=…`.
    if (!spec) throw new UsageError(`unknown option --${name}; see --help`);
    let value: string | boolean;
    if (spec.value) {
      if (eq !== -1) value = arg.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`--${name} needs a value${spec.arg ? ` ${spec.arg}` : ''}`);
        value = next;
        i++;
      }
    } else {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      value = true;
    }
    if (spec.repeat) {
      const list = (flags[name] as string[] | undefined) ?? [];
      list.push(String(value));
      flags[name] = list;
    } else {
      if (flags[name] !== undefined) throw new UsageError(`--${name} given twice`);
      flags[name] = value;
    }
  }
  return { flags, positionals };
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

/** Help text: usage line, description, then one line per flag. */
export function helpText(usage: string, description: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => [`--${name}${spec.value ? ` ${spec.arg ?? '<value>'}` : ''}`, spec.help + (spec.repeat ? ' (repeatable)' : '')]);
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return [`Usage: ${usage}`, '', description, '', 'Options:', ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`), ''].join('\n');
}
