/**
 * The command line of `npm run bench` (bench/run.bench.ts), parsed with the CLI's FlagSpecs (node:util parseArgs,
 * strict). Sizes given on the command line override the full or quick plan's defaults.
 */
import { bool, type FlagSpecs, helpText, parseArgs, str, UsageError } from '../lib/cli/argv.js';

/** Sections that run alone and merge their figures into an existing results file. */
export const SOLO_SECTIONS = ['sources', 'bundles'] as const;
export type SoloSection = (typeof SOLO_SECTIONS)[number];

export const BENCH_FLAGS: FlagSpecs = {
  quick: {
    help: 'smaller sizes (≤ 60 s of simulation on a 2-core machine); writes bench/results.quick.json unless --out is given',
  },
  'tick-sources': { value: true, arg: '<n>', help: 'due sources in the one-tick figure (full 10,000, quick 1,000)' },
  'sim-sources': { value: true, arg: '<n>', help: 'Dexcom sources in the simulated run (full 100, quick 10)' },
  'sim-hours': { value: true, arg: '<h>', help: 'simulated hours of that run (full 24, quick 6)' },
  'sources-per-kind': { value: true, arg: '<n>', help: 'sources of each kind in the per-kind run (full 10, quick 2)' },
  'sources-hours': { value: true, arg: '<h>', help: 'simulated hours of the per-kind run (full 24, quick 3)' },
  'community-sources': {
    value: true,
    arg: '<n>',
    help: 'sources in the community run that prices 1,000 sources (full 1,000, quick 100)',
  },
  'community-hours': { value: true, arg: '<h>', help: 'simulated hours of the community run (full 2, quick 1)' },
  'community-window': {
    value: true,
    arg: '<s>',
    help: "the event source mappings' batching window in that run (default: the construct's community default)",
  },
  only: {
    value: true,
    arg: SOLO_SECTIONS.join('|'),
    help: 'run that section alone and merge its figures into the existing results file, leaving the other sections as they were',
  },
  out: {
    value: true,
    arg: '<path>',
    help: 'results file (default bench/results.json; bench/results.quick.json with --quick)',
  },
  help: { help: 'show this help' },
};

export const BENCH_USAGE = 'npm run bench -- [--quick] [--only sources|bundles] [sizes…] [--out <path>]';
export const BENCH_DESCRIPTION = [
  'Measures the figures of docs/benchmark.md (machine step CPU, one tick, AWS requests and capacity per cycle, cost,',
  'freshness, vendor economy, bundle size and load time, per-kind freshness), prints a table (figure | value | aim |',
  'method) and writes the results file with the method beside every figure, the machine facts and the date.',
].join('\n');

export interface BenchArgs {
  help: boolean;
  quick: boolean;
  only?: SoloSection;
  out?: string;
  /** Only the sizes given on the command line. */
  sizes: Partial<
    Record<
      | 'tickSources'
      | 'simSources'
      | 'simHours'
      | 'sourcesPerKind'
      | 'sourcesHours'
      | 'communitySources'
      | 'communityHours'
      | 'communityWindowSeconds',
      number
    >
  >;
}

export function benchHelp(): string {
  return helpText(BENCH_USAGE, BENCH_DESCRIPTION, BENCH_FLAGS);
}

/** Throws UsageError naming the flag for anything the bench cannot run with. */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const args = parseArgs(argv, BENCH_FLAGS);
  if (bool(args, 'help')) return { help: true, quick: false, sizes: {} };
  if (args.positionals.length > 0) throw new UsageError('npm run bench takes no positional arguments; see --help');
  const sizes: BenchArgs['sizes'] = {};
  const number = (flag: string, key: keyof BenchArgs['sizes'], kind: 'count' | 'hours' | 'seconds') => {
    const text = str(args, flag);
    if (text === undefined) return;
    const value = Number(text);
    const ok =
      kind === 'count'
        ? Number.isInteger(value) && value >= 1
        : kind === 'hours'
          ? Number.isFinite(value) && value > 0
          : Number.isInteger(value) && value >= 0 && value <= 300;
    if (!ok) {
      throw new UsageError(
        `--${flag} must be ${kind === 'count' ? 'a whole number ≥ 1' : kind === 'hours' ? 'a number of hours > 0' : 'whole seconds from 0 to 300'}`,
      );
    }
    sizes[key] = value;
  };
  number('tick-sources', 'tickSources', 'count');
  number('sim-sources', 'simSources', 'count');
  number('sim-hours', 'simHours', 'hours');
  number('sources-per-kind', 'sourcesPerKind', 'count');
  number('sources-hours', 'sourcesHours', 'hours');
  number('community-sources', 'communitySources', 'count');
  number('community-hours', 'communityHours', 'hours');
  number('community-window', 'communityWindowSeconds', 'seconds');
  const only = str(args, 'only');
  if (only !== undefined && !(SOLO_SECTIONS as readonly string[]).includes(only)) {
    throw new UsageError(
      `--only accepts ${SOLO_SECTIONS.join(' or ')} (the sections that run alone; cost needs the simulated run)`,
    );
  }
  return {
    help: false,
    quick: bool(args, 'quick'),
    only: only as SoloSection | undefined,
    out: str(args, 'out'),
    sizes,
  };
}
