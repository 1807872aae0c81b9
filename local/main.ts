/**
 * `npm start`: the same handlers as in AWS, in-process.
 * - Configured (`CONNECT_*` env or `--config file.json`): embedded dynalite (kept on disk under `--data`, default
 *   `.data/`) and fauxqs 1.9.x, a real clock, a tick every minute, queue pollers standing in for Lambda's SQS event
 *   sources, and a live status view per source.
 * - Nothing configured and no source of your own stored, or `--demo`: a clearly labelled demo (simulated vendor →
 *   simulated Nightscout on 127.0.0.1). `--no-demo`: only the sources stored under `--data`, e.g. added with the CLI.
 * - Always: the services on fixed loopback ports (LOCAL_DYNAMODB_PORT/LOCAL_SQS_PORT/LOCAL_SECRETS_PORT, default
 *   4567–4569), printed and written to `<data>/local-endpoints.json`, so `nightscout-connect … --target local`
 *   manages sources while this runs; credentials live in a Secrets Manager stand-in kept in `<data>/`.
 * - `--demo --simulate 2h [--source <kind>]`: the demo on a simulated clock; prints one summary line
 *   `readings: vendor=<N> nightscout=<M> duplicates=<D>` and exits 0 (1 if a reading is missing or duplicated).
 * A bad setting stops with a message naming the variable and what is accepted; nothing is written.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bool, type FlagSpecs, optionsText, parseArgs as parseFlags, str, UsageError } from '../lib/cli/argv.js';
import { hasConfiguredSource, type ParsedSource, parseConnectSource } from '../lib/config/connect-env.config.js';
import { ConfigError } from '../lib/domain/errors.js';
import { KIND_LIST, scheduleFor } from '../lib/sources/vendor.catalog.js';
import { localPortsFrom, runRealtime } from './realtime-runner.js';
import { countReadings, type Scenario, startScenario } from './scenarios.js';
import { createSimWorld } from './sim-runner.js';

interface Args {
  /** `--help` / `-h`: print the usage and do nothing else. */
  help: boolean;
  demo: boolean;
  noDemo: boolean;
  simulateMs?: number;
  source: string;
  config?: string;
  data: string;
  verbose: boolean;
}

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!match) throw new ConfigError([`--simulate takes a duration like 30m, 2h or 1d (got "${text}")`]);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

export const START_FLAGS: FlagSpecs = {
  demo: { help: 'run the demo (simulated vendor → simulated Nightscout) even when a source is configured' },
  'no-demo': { help: 'never the demo: only the configured source and the sources stored in --data' },
  simulate: {
    value: true,
    arg: '<duration>',
    help: 'with the demo: run it on a simulated clock for 30m, 2h, 1d…, print a summary and exit',
  },
  source: { value: true, arg: '<kind>', help: "the demo's source kind (default dexcomshare)" },
  config: { value: true, arg: '<file.json>', help: 'read CONNECT_* keys from a JSON file instead of the environment' },
  data: {
    value: true,
    arg: '<dir>',
    help: 'where the embedded DynamoDB, the credentials and local-endpoints.json live (default .data)',
  },
  verbose: { help: 'print every machine step as a JSON line' },
  help: { help: 'show this help' },
};

/** `npm start` options (node:util parseArgs through lib/cli/argv.ts). Throws UsageError or ConfigError naming the flag. */
export function parseArgs(argv: string[]): Args {
  const flags = parseFlags(argv, START_FLAGS);
  const args: Args = {
    help: bool(flags, 'help'),
    demo: false,
    noDemo: false,
    source: 'dexcomshare',
    data: '.data',
    verbose: false,
  };
  if (args.help) return args;
  if (flags.positionals.length > 0)
    throw new UsageError('npm start takes no positional arguments; see npm start -- --help');
  args.demo = bool(flags, 'demo');
  args.noDemo = bool(flags, 'no-demo');
  args.verbose = bool(flags, 'verbose');
  const simulate = str(flags, 'simulate');
  if (simulate !== undefined) args.simulateMs = parseDuration(simulate);
  args.source = str(flags, 'source')?.toLowerCase() ?? args.source;
  args.config = str(flags, 'config');
  args.data = str(flags, 'data') ?? args.data;
  if (args.demo && args.noDemo) throw new ConfigError(['--demo and --no-demo contradict each other; give one']);
  return args;
}

const HELP = `Nightscout Connect, serverless: local runner

  npm start                                  run the source configured by CONNECT_* variables (or the demo)
  npm start -- --config source.json          read CONNECT_* keys from a JSON file instead of the environment
  npm start -- --demo [--source <kind>]      simulated vendor → simulated Nightscout, real time
  npm start -- --demo --simulate 2h          the demo on a simulated clock; prints a summary and exits
  npm start -- --no-demo                     only the sources stored in --data (add them with the CLI)
  options: --data <dir> (default .data), --verbose (every machine step as a JSON line)
  kinds: ${KIND_LIST} (the demo: those with a scenario in local/vendors/<vendor>/)

While it runs, manage sources from another terminal (it finds the services through <data>/local-endpoints.json):
  npx nightscout-connect sources add --target local --source dexcomshare --nightscout-endpoint <url> --secrets-stdin
  npx nightscout-connect sources list --target local
Ports (127.0.0.1): LOCAL_DYNAMODB_PORT (4567), LOCAL_SQS_PORT (4568), LOCAL_SECRETS_PORT (4569); 0 = any free port.
`;

function configuredSource(args: Args): ParsedSource | undefined {
  if (args.config) {
    const raw = JSON.parse(readFileSync(resolve(args.config), 'utf8')) as Record<string, string>;
    return parseConnectSource(raw);
  }
  if (hasConfiguredSource(process.env)) return parseConnectSource(process.env);
  return undefined;
}

async function runSimulatedDemo(args: Args, durationMs: number): Promise<number> {
  // Start on a reading-slot-unaligned instant so alignment is exercised, and far from any real clock.
  const start = Math.floor(Date.now() / 60_000) * 60_000 + 7_000;
  const world = await createSimWorld({ start, echo: args.verbose ? (l) => process.stdout.write(`${l}\n`) : undefined });
  let scenario: Scenario | undefined;
  try {
    scenario = await startScenario(args.source, { clock: world.clock });
    await world.addSource(scenario.config, scenario.credentials);
    const until = start + durationMs;
    await world.runUntil(until);
    const record = await world.sources.get(scenario.config.id);
    // The source backfills up to its look-back; count what the vendor published in that span, settled 10 min before the
    // end. The look-back's oldest 10 minutes are left out: the first fetch runs at the first tick, up to a minute after
    // the start, and its look-back starts from then, so a reading in that first minute is out of reach by design.
    const lookback = scheduleFor(scenario.config)[0].maxLookbackMs;
    const counts = countReadings(scenario, start - lookback + 10 * 60_000, until - 10 * 60_000);
    const stats = scenario.vendorStats();
    process.stdout.write(
      `DEMO (simulated ${args.source} → simulated Nightscout, ${formatDuration(durationMs)} on a simulated clock): ` +
        `readings: vendor=${counts.vendor} nightscout=${counts.nightscout} duplicates=${counts.duplicates} missing=${counts.missing} ` +
        `logins=${world.metrics.counts.Logins ?? 0} vendorStats=${JSON.stringify(stats)} state=${record?.status.state}\n`,
    );
    return counts.missing === 0 && counts.duplicates === 0 ? 0 : 1;
  } finally {
    await scenario?.close();
    await world.close();
  }
}

function formatDuration(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 60_000)}m`;
}

export async function main(
  argv: string[],
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) {
    write(`${HELP}\nOptions:\n${optionsText(START_FLAGS)}`);
    return 0;
  }
  const configured = args.demo ? undefined : configuredSource(args);
  if (args.simulateMs !== undefined) {
    if (configured)
      throw new ConfigError(['--simulate runs the demo only; drop CONNECT_SOURCE/--config or add --demo']);
    return runSimulatedDemo(args, args.simulateMs);
  }
  const ports = localPortsFrom(process.env);
  // 0700: the directory holds the credential file (itself 0600) and the sources' state.
  mkdirSync(args.data, { recursive: true, mode: 0o700 });
  return runRealtime({
    configured,
    demo: args.demo ? 'on' : args.noDemo ? 'off' : 'auto',
    demoKind: args.source,
    dataDir: args.data,
    verbose: args.verbose,
    ports,
  });
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]).endsWith('local/main.ts');
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== -1) process.exit(code);
    },
    (err) => {
      if (err instanceof UsageError) {
        process.stderr.write(`error: ${err.message}\n(run npm start -- --help for usage)\n`);
        process.exit(2);
      }
      if (err instanceof ConfigError) {
        process.stderr.write(
          `Configuration problem, nothing was started or written:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`,
        );
        process.exit(2);
      }
      process.stderr.write(`failed: ${err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error'}\n`);
      process.exit(1);
    },
  );
}
