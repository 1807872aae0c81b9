// Every command line answers --help (and -h) with its usage and exit status 0, and does nothing else: no stdin read,
// no prompt, no AWS client (with no table or endpoint configured, any real work would fail with status 2).
import { describe, expect, it } from 'vitest';
import { benchHelp, parseBenchArgs } from '../../../bench/bench.args.js';
import { UsageError } from '../../../lib/cli/argv.js';
import { type CliIo, runCli } from '../../../lib/cli/cli.main.js';
import { parseArgs as parseStartArgs, main as startMain } from '../../../local/main.js';

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: {},
    stdin: async () => {
      throw new Error('stdin was read');
    },
    prompt: async () => {
      throw new Error('prompted');
    },
  };
  return { code: await runCli(argv, io), stdout, stderr };
}

describe('nightscout-connect --help', () => {
  it.each([
    [[], /Usage: nightscout-connect <command>/],
    [['sources'], /Usage: nightscout-connect sources <command>/],
    [['sources', 'add'], /Usage: nightscout-connect sources add/],
    [['sources', 'list'], /Usage: nightscout-connect sources list/],
    [['sources', 'show'], /Usage: nightscout-connect sources show <id>/],
    [['sources', 'pause'], /Usage: nightscout-connect sources pause <id>/],
    [['sources', 'resume'], /Usage: nightscout-connect sources resume <id>/],
    [['sources', 'update-credentials'], /Usage: nightscout-connect sources update-credentials <id>/],
    [['sources', 'remove'], /Usage: nightscout-connect sources remove <id> --yes/],
    [['check-login'], /Usage: nightscout-connect check-login/],
    [['dlq'], /Usage: nightscout-connect dlq redrive/],
    [['dlq', 'redrive'], /Usage: nightscout-connect dlq redrive --queue fetch\|persist/],
    [['login'], /Usage: nightscout-connect login --source minimedcarelink/],
  ])('%j answers --help and -h with its usage, status 0', async (command, usage) => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await cli([...command, flag]);
      expect(code).toBe(0);
      expect(stdout).toMatch(usage);
      expect(stderr).toBe('');
    }
  });

  it.each([
    [['sources', 'remove', 'some-id', '--yes', '--help'], /sources remove/],
    [
      [
        'sources',
        'add',
        '--source',
        'dexcomshare',
        '--nightscout-endpoint',
        'https://ns.example',
        '--secrets-stdin',
        '--help',
      ],
      /sources add/,
    ],
    [['sources', 'update-credentials', 'some-id', '--secrets-stdin', '-h'], /sources update-credentials/],
    [['dlq', 'redrive', '--queue', 'fetch', '--help'], /dlq redrive/],
    [['login', '--source', 'minimedcarelink', '--help'], /login/],
    [['check-login', 'some-id', '--help'], /check-login/],
    [['sources', 'list', '--no-such-flag', '--help'], /sources list/],
  ])('%j prints the usage and does nothing else', async (argv, usage) => {
    const { code, stdout, stderr } = await cli(argv);

    expect(code).toBe(0);
    expect(stdout).toMatch(usage);
    expect(stderr).toBe('');
  });

  it('lists the options of a subcommand, its own and the target ones', async () => {
    const { stdout } = await cli(['sources', 'remove', '--help']);

    expect(stdout).toContain('--yes');
    expect(stdout).toContain('--target aws|local');
    expect(stdout).toContain('-h, --help');
  });

  it('names the flag of a usage error, status 2', async () => {
    const { code, stderr } = await cli(['dlq', 'redrive', '--queue']);

    expect(code).toBe(2);
    expect(stderr).toContain('--queue needs a value fetch|persist');
  });
});

describe('npm start -- --help', () => {
  it('prints the usage and the options, status 0, and starts nothing', async () => {
    let out = '';
    const code = await startMain(['--demo', '--help'], (t) => {
      out += t;
    });

    expect(code).toBe(0);
    expect(out).toMatch(/Nightscout Connect, serverless: local runner/);
    expect(out).toMatch(/--simulate <duration>/);
    expect(out).toMatch(/-h, --help/);
  });

  it('parses its flags and names a bad one', () => {
    expect(parseStartArgs(['--demo', '--simulate', '2h', '--source', 'GLOOKO', '--data', '/tmp/x'])).toMatchObject({
      help: false,
      demo: true,
      simulateMs: 7_200_000,
      source: 'glooko',
      data: '/tmp/x',
    });
    expect(() => parseStartArgs(['--simulate'])).toThrow(UsageError);
    expect(() => parseStartArgs(['--simulate'])).toThrow('--simulate needs a value <duration>');
    expect(() => parseStartArgs(['--demo=yes'])).toThrow('--demo takes no value');
    expect(() => parseStartArgs(['extra'])).toThrow('npm start takes no positional arguments');
    expect(() => parseStartArgs(['--simulate', 'soon'])).toThrow(/duration like 30m/);
  });
});

describe('npm run bench -- --help', () => {
  it('answers --help and -h before anything runs', () => {
    expect(parseBenchArgs(['--quick', '--help']).help).toBe(true);
    expect(parseBenchArgs(['-h']).help).toBe(true);
    expect(benchHelp()).toMatch(/^Usage: npm run bench -- /);
    expect(benchHelp()).toContain('--only sources|bundles');
  });

  it('parses sizes and sections, and names a bad flag', () => {
    expect(
      parseBenchArgs(['--quick', '--sim-sources', '20', '--sim-hours', '1.5', '--only', 'bundles', '--out', 'x.json']),
    ).toEqual({
      help: false,
      quick: true,
      only: 'bundles',
      out: 'x.json',
      sizes: { simSources: 20, simHours: 1.5 },
    });
    expect(() => parseBenchArgs(['--sim-sources', 'ten'])).toThrow('--sim-sources must be a whole number ≥ 1');
    expect(() => parseBenchArgs(['--community-window', '301'])).toThrow(
      '--community-window must be whole seconds from 0 to 300',
    );
    expect(() => parseBenchArgs(['--only', 'cost'])).toThrow('--only accepts sources or bundles');
    expect(() => parseBenchArgs(['--quik'])).toThrow('unknown option --quik');
  });
});
